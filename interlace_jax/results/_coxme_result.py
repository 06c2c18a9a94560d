"""The fitted Cox mixed model: statsmodels-style attributes, coxme's numbers and printing."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from scipy import stats

from interlace_jax._errors import DataError, ModelError
from interlace_jax.formula import ModelFrame, SurvivalResponse, model_matrices_for
from interlace_jax.models._cox_data import CoxData
from interlace_jax.optim import Status
from interlace_jax.optim._fit_glmm import GLMMFit
from interlace_jax.results._varcorr import TermCovariance, varcorr_frame
from interlace_jax.terms import diagonal_mask, lambda_blocks

PREDICT_TYPES = ("lp", "risk")


@dataclass(frozen=True)
class CoxTerm:
    """One random-effects term as the result reports it (coxme's names).

    Attributes:
        group: coxme's name, e.g. ``"litter"``, ``"center/trt"`` for the inner part of
            ``(1 | center/trt)``.
        levels: the L level labels in the model's order (coxme's: sparse levels first).
        z_names: the S effect names, e.g. ``("(Intercept)", "active")``.
        position: (L_frame,) position in ``levels`` of each level of the model frame's term.
    """

    group: str
    levels: tuple[str, ...]
    z_names: tuple[str, ...]
    position: np.ndarray

    @property
    def size(self) -> int:
        return len(self.z_names)


class CoxmeResult:
    """A fitted Cox model with Gaussian random effects (returned by :func:`interlace_jax.coxme`).

    The numbers follow R's ``coxme``: ``llf`` is the Laplace-integrated log partial likelihood
    (``loglik[2]``), ``llf_penalized`` the penalised one at the estimates (``loglik[3]``: the
    partial likelihood minus ``penalty = b' Sigma^-1 b / 2``), ``llf_fitted`` the partial
    likelihood itself (printed as "Fitted"), ``llf_null`` the partial likelihood at beta = 0,
    b = 0. ``cov_params()`` is coxme's ``vcov``: the fixed effects' block of the inverse Hessian
    of the penalised partial likelihood in (b, beta) at the estimated variances (not accounting
    for their uncertainty). ``variances`` are the frailty variances (``VarCorr``).
    """

    def __init__(self, *, formula: str, frame: ModelFrame, survival: SurvivalResponse,
                 data: CoxData, terms: list[CoxTerm], fit: GLMMFit, theta: np.ndarray,
                 mode: tuple, summary: dict, ties: str, data_name: str | None = None):
        self.formula = formula
        self.frame = frame
        self.survival = survival
        self._data = data
        self.terms = terms
        self.fit = fit
        self.theta = theta
        self._u, self._beta = (np.asarray(a) for a in mode)
        self._summary = summary
        self.ties = ties
        self.data_name = data_name

    # ----- fixed effects ----------------------------------------------------------------
    @cached_property
    def fe_params(self) -> pd.Series:
        """Fixed-effect estimates (log hazard ratios), indexed by formulaic column names."""
        return pd.Series(self._beta, index=list(self.frame.x_names_formulaic), name="fe_params")

    @property
    def params(self) -> pd.Series:
        """Alias of ``fe_params``."""
        return self.fe_params

    def cov_params(self) -> pd.DataFrame:
        """(p, p) coxme's ``vcov``."""
        names = list(self.frame.x_names_formulaic)
        return pd.DataFrame(np.asarray(self._summary["vcov"]), index=names, columns=names)

    @cached_property
    def bse(self) -> pd.Series:
        return pd.Series(np.sqrt(np.diag(self.cov_params())), index=self.fe_params.index,
                         name="bse")

    @property
    def zvalues(self) -> pd.Series:
        return (self.fe_params / self.bse).rename("zvalues")

    tvalues = zvalues

    @property
    def pvalues(self) -> pd.Series:
        """Two-sided normal p-values of the Wald z statistics."""
        return pd.Series(2 * stats.norm.sf(np.abs(self.zvalues.to_numpy())),
                         index=self.fe_params.index, name="pvalues")

    @property
    def hazard_ratios(self) -> pd.Series:
        """``exp(coef)``."""
        return np.exp(self.fe_params).rename("hazard_ratios")

    def conf_int(self, alpha: float = 0.05, level: float | None = None) -> pd.DataFrame:
        """Wald intervals of the fixed effects (log hazard ratios)."""
        level = 1.0 - alpha if level is None else level
        if not 0.0 < level < 1.0:
            raise ModelError(f"level must be in (0, 1), got {level}")
        q = stats.norm.ppf(0.5 * (1.0 + level))
        est, se = self.fe_params.to_numpy(), self.bse.to_numpy()
        return pd.DataFrame({0: est - q * se, 1: est + q * se}, index=self.fe_params.index)

    # ----- variances and random effects -------------------------------------------------
    @cached_property
    def _lambdas(self) -> list[np.ndarray]:
        return lambda_blocks(self.theta, [t.size for t in self.terms])

    @cached_property
    def _covariances(self) -> list[TermCovariance]:
        return [TermCovariance(t.group, t.z_names, lam @ lam.T)
                for t, lam in zip(self.terms, self._lambdas)]

    @property
    def variances(self) -> dict[str, float | pd.DataFrame]:
        """Frailty variances per group (coxme's ``VarCorr``): a number for a scalar term, the
        covariance matrix (a DataFrame) for a vector-valued one."""
        out: dict[str, float | pd.DataFrame] = {}
        for c in self._covariances:
            if c.cov.shape == (1, 1):
                out[c.group] = float(c.cov[0, 0])
            else:
                out[c.group] = pd.DataFrame(c.cov, index=list(c.names), columns=list(c.names))
        return out

    @property
    def varcorr(self) -> pd.DataFrame:
        """lme4-style ``as.data.frame(VarCorr(m))``: grp, var1, var2, vcov, sdcor."""
        return varcorr_frame(self._covariances, 1.0).iloc[:-1].reset_index(drop=True)

    @cached_property
    def _effects(self) -> list[np.ndarray]:
        """Per term, b (L_t, S_t) = u Lambda_t'."""
        lay = self._data.layout
        out = []
        for t, lam, off, n_levels in zip(self.terms, self._lambdas, lay.offsets, lay.levels):
            u = self._u[off : off + n_levels * t.size].reshape(n_levels, t.size)
            out.append(u @ lam.T)
        return out

    @cached_property
    def random_effects(self) -> dict[str, pd.DataFrame]:
        """The random effects b (the penalised estimates, coxme's ``ranef``) per group: a
        DataFrame (levels x effect names)."""
        return {t.group: pd.DataFrame(b, index=pd.Index(t.levels, name=t.group),
                                      columns=list(t.z_names))
                for t, b in zip(self.terms, self._effects)}

    # ----- likelihoods ------------------------------------------------------------------
    @property
    def llf(self) -> float:
        """The integrated (Laplace) log partial likelihood, coxme's ``loglik[2]``."""
        return -0.5 * self.fit.deviance

    @property
    def llf_fitted(self) -> float:
        """The partial likelihood at the estimates (coxme's "Fitted")."""
        return float(self._summary["loglik"])

    @property
    def penalty(self) -> float:
        """``b' Sigma^-1 b / 2``."""
        return 0.5 * float(np.sum(self._u**2))

    @property
    def llf_penalized(self) -> float:
        """The penalised log partial likelihood, coxme's ``loglik[3]``."""
        return self.llf_fitted - self.penalty

    @property
    def llf_null(self) -> float:
        """The partial likelihood at beta = 0, b = 0 (coxme's ``loglik[1]``)."""
        return float(self._summary["loglik_null"])

    @property
    def loglik(self) -> pd.Series:
        """coxme's ``loglik`` vector: NULL, Integrated, Penalized."""
        return pd.Series([self.llf_null, self.llf, self.llf_penalized],
                         index=["NULL", "Integrated", "Penalized"], name="loglik")

    @property
    def df(self) -> tuple[float, float]:
        """coxme's degrees of freedom: (fixed effects + variance parameters, fixed effects +
        the effective number of random effects ``q - trace(H^-1 Sigma^-1)``)."""
        p, q = self._beta.size, self._u.size
        return (float(p + self.fit.x.size),
                float(p + q - np.sum(np.asarray(self._summary["inverse_diagonal_u"]))))

    @property
    def n_params(self) -> int:
        return int(self._beta.size + self.fit.x.size)

    @property
    def aic(self) -> float:
        return -2 * self.llf + 2 * self.df[0]

    @property
    def bic(self) -> float:
        """With the number of events as the sample size (coxme's ``logLik`` nobs)."""
        return -2 * self.llf + math.log(self.n_events) * self.df[0]

    @property
    def deviance(self) -> float:
        return self.fit.deviance

    # ----- sizes and convergence --------------------------------------------------------
    @property
    def nobs(self) -> int:
        return int(self.survival.stop.size)

    @property
    def n_events(self) -> int:
        return self.survival.n_events

    @property
    def n_dropped(self) -> int:
        return int(self.frame.n_dropped)

    @property
    def ngroups(self) -> dict[str, int]:
        return {t.group: len(t.levels) for t in self.terms}

    @property
    def n_sparse(self) -> int:
        """Random effects whose block of the Hessian was approximated by its diagonal."""
        return self._data.layout.n_sparse

    @property
    def converged(self) -> bool:
        return self.fit.converged

    @property
    def is_singular(self) -> bool:
        diag = np.concatenate([diagonal_mask(t.size) for t in self.terms])
        return bool(np.any(np.abs(self.theta[diag]) < 1e-4))

    @property
    def convergence_messages(self) -> tuple[str, ...]:
        msgs = list(self.fit.report.messages)
        if self.fit.status != Status.CONVERGED:
            msgs.insert(0, f"optimizer ({self.fit.optimizer}): {Status(self.fit.status).message}")
        return tuple(msgs)

    # ----- prediction -------------------------------------------------------------------
    def _linear_predictor(self, X, term_refs, term_z, include_re: bool) -> np.ndarray:
        eta = X @ self._beta
        if include_re:
            for t, b, refs, z in zip(self.terms, self._effects, term_refs, term_z):
                known = refs >= 0
                pos = t.position[np.where(known, refs, 0)]
                eta = eta + np.where(known, np.einsum("is,is->i", z, b[pos]), 0.0)
        return eta

    def predict(self, newdata=None, *, type: str = "lp", include_re: bool = True,
                allow_new_levels: bool = True) -> np.ndarray:
        """The linear predictor ``X beta + Z b`` (``type="lp"``) or the relative risk
        ``exp(lp)`` (``"risk"``), as coxme's ``predict``: not centred, without the offset.

        Args:
            newdata: any dataframe with the predictors and grouping columns (the survival
                response is not needed); None for the fitted rows.
            include_re: add the random effects; False gives the fixed part only.
            allow_new_levels: unseen levels get zero random effects; when False they raise.
        """
        if type not in PREDICT_TYPES:
            raise ModelError(f"type must be one of {PREDICT_TYPES}, not {type!r}")
        if newdata is None:
            refs = [t.refs for t in self.frame.terms]
            eta = self._linear_predictor(self.frame.X, refs, [t.z for t in self.frame.terms],
                                         include_re)
        else:
            design = model_matrices_for(self.frame, newdata)
            if include_re and not allow_new_levels:
                for term, nt in zip(self.terms, design.terms):
                    if nt.unseen_levels:
                        raise DataError(
                            f"new levels of grouping factor {term.group!r}: "
                            f"{', '.join(map(str, nt.unseen_levels[:5]))}; pass "
                            "allow_new_levels=True to give them zero random effects")
            eta = self._linear_predictor(design.X, [t.refs for t in design.terms],
                                         [t.z for t in design.terms], include_re)
        return eta if type == "lp" else np.exp(eta)

    # ----- printing ---------------------------------------------------------------------
    def summary(self):
        from interlace_jax.results._coxme_summary import CoxmeSummary

        return CoxmeSummary(self)

    def __repr__(self) -> str:
        return f"<CoxmeResult {self.formula!r} ties={self.ties!r} logLik={self.llf:.4f}>"

    def __str__(self) -> str:
        return str(self.summary())
