"""The fitted generalised linear mixed model: statsmodels-style attributes, glmer's printing."""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd
from scipy import stats

from interlace_jax._errors import DataError, ModelError
from interlace_jax._x64 import x64
from interlace_jax.families import Family, on_host
from interlace_jax.formula import ModelFrame, model_matrices_for
from interlace_jax.models._glmm_data import GLMMData
from interlace_jax.optim import Status
from interlace_jax.optim._fit_glmm import GLMMFit
from interlace_jax.inference import ConditionalCovariance
from interlace_jax.models import lmm_data
from interlace_jax.models._laplace import laplace_curvature
from interlace_jax.results._effects import (
    covariances_by_group,
    effects_by_group,
    host_linear_predictor,
    standard_errors_by_group,
    term_effects,
)
from interlace_jax.results._fit_statistics import FitStatistics
from interlace_jax.results._names import variance_parameter_names
from interlace_jax.results._varcorr import TermCovariance, term_covariances, varcorr_frame
from interlace_jax.terms import ReTerm

RESIDUAL_TYPES = ("deviance", "pearson", "response", "working")
PREDICT_TYPES = ("link", "response")


class GLMMResult(FitStatistics):
    """A fitted GLMM (returned by :func:`interlace_jax.glmer`).

    The numbers follow lme4's ``glmer`` (TMB's for families with a dispersion parameter):
    ``llf`` is ``logLik()`` (Laplace or adaptive Gauss-Hermite), ``deviance`` is ``-2 llf``,
    ``cov_params()`` is the inverse of half the Hessian of that deviance in (theta, beta[, log
    phi]) restricted to beta (lme4's ``vcov(use.hessian = TRUE)``), z tests use the normal
    distribution. ``theta`` is lme4's ``getME(m, "theta")``: the random effects are
    ``b = Lambda(theta) u`` with ``u ~ N(0, I)``, so their covariance is ``Lambda Lambda'`` (not
    scaled by the dispersion). Fixed-effect names are formulaic's, as in statsmodels;
    ``summary()`` prints lme4's.
    """

    PREDICT_TYPES = PREDICT_TYPES
    RESIDUAL_TYPES = RESIDUAL_TYPES
    #: GLMMs are fitted by maximum likelihood (lme4's ``isREML()`` is FALSE).
    reml = False

    def __init__(self, *, formula: str, frame: ModelFrame, data: GLMMData, terms: list[ReTerm],
                 fit: GLMMFit, u: tuple, n_agq: int, data_name: str | None = None):
        self.formula = formula
        self.frame = frame
        self._data = data
        self._terms = terms  # computation (lme4) order
        self.fit = fit
        self._u = u
        self.n_agq = n_agq
        self.data_name = data_name

    # ----- parameters -----------------------------------------------------------------
    @property
    def family(self) -> Family:
        return self._data.family

    @property
    def theta(self) -> np.ndarray:
        """(n_theta,) relative covariance parameters in lme4's order."""
        return self.fit.x[self._data.layout.theta]

    @cached_property
    def fe_params(self) -> pd.Series:
        """Fixed-effect estimates (link scale), indexed by formulaic column names."""
        return pd.Series(self.fit.x[self._data.layout.beta],
                         index=list(self.frame.x_names_formulaic), name="fe_params")

    @property
    def dispersion(self) -> float | np.ndarray:
        """The dispersion phi in the family's parameterisation (lme4's families: Var(y) =
        phi V(mu) / w); 1 for binomial and Poisson; with a dispersion formula one value per
        observation (n,)."""
        return self._dispersion_at(*self._part_arrays(None, "disp"))

    @property
    def psi(self) -> np.ndarray:
        """(n_psi,) the family's own parameters (Student-t log df, ordered-beta cutpoints)."""
        return self.fit.x[self._data.layout.psi]

    # ----- the extra parts' predictors (host) ---------------------------------------------
    def _part_arrays(self, design, name: str) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(X, offset) of part ``name`` on the fitted rows (design None) or a NewDesign."""
        if design is None:
            part = self.frame.parts.get(name)
            return (None, None) if part is None else (part.X, part.offset)
        return design.parts.get(name, (None, None))

    def _dispersion_at(self, X_disp, offset_disp) -> float | np.ndarray:
        lay = self._data.layout
        if not lay.has_dispersion:
            return 1.0
        coef = self.fit.x[lay.disp]
        if self._data.disp.constant:
            return float(np.exp(coef[0]))
        return np.exp(X_disp @ coef + offset_disp)

    def _zero_predictor_at(self, X_zi, offset_zi) -> np.ndarray | float | None:
        """The zero part's logit (None without a zero part)."""
        if not self._data.zeros.has_zero_part:
            return None
        coef = self.fit.x[self._data.layout.zi]
        if self._data.zi.constant:
            return float(coef[0])
        return X_zi @ coef + offset_zi

    @property
    def scale(self) -> float:
        """statsmodels' ``scale``: the dispersion phi."""
        return self.dispersion

    @cached_property
    def _parameter_cov(self) -> np.ndarray:
        """Inverse of half the deviance's Hessian over the interior outer parameters (NaN rows
        and columns for theta at the boundary)."""
        h = 0.5 * (self.fit.hessian + self.fit.hessian.T)
        keep = ~self.fit.report.boundary
        cov = np.full_like(h, np.nan)
        try:
            inner = np.linalg.inv(0.5 * h[np.ix_(keep, keep)])
        except np.linalg.LinAlgError:
            inner = np.full((keep.sum(), keep.sum()), np.nan)
        cov[np.ix_(keep, keep)] = inner
        return cov

    def cov_params(self) -> pd.DataFrame:
        """(p, p) covariance of the fixed effects (lme4's ``vcov``)."""
        block = self._data.layout.beta
        names = list(self.frame.x_names_formulaic)
        return pd.DataFrame(self._parameter_cov[block, block], index=names, columns=names)

    @property
    def tvalues(self) -> pd.Series:
        """z statistics estimate / SE."""
        return (self.fe_params / self.bse).rename("zvalues")

    zvalues = tvalues

    @property
    def pvalues(self) -> pd.Series:
        """Two-sided normal p-values of the z statistics (lme4's ``Pr(>|z|)``)."""
        return pd.Series(2 * stats.norm.sf(np.abs(self.tvalues.to_numpy())),
                         index=self.fe_params.index, name="pvalues")

    def conf_int(self, alpha: float = 0.05, level: float | None = None) -> pd.DataFrame:
        """Wald intervals of the fixed effects (lme4's ``confint(method = "Wald")``)."""
        level = 1.0 - alpha if level is None else level
        if not 0.0 < level < 1.0:
            raise ModelError(f"level must be in (0, 1), got {level}")
        q = stats.norm.ppf(0.5 * (1.0 + level))
        est, se = self.fe_params.to_numpy(), self.bse.to_numpy()
        out = pd.DataFrame({0: est - q * se, 1: est + q * se}, index=self.fe_params.index)
        out.attrs.update(method="wald", level=level)
        return out

    # ----- random effects ---------------------------------------------------------------
    @cached_property
    def _term_effects(self) -> list[np.ndarray]:
        return term_effects(self.theta, self._u[0], self._u[1], self._data.plan)

    @cached_property
    def random_effects(self) -> dict[str, pd.DataFrame]:
        """Conditional modes per grouping factor: a DataFrame (levels x effect names)."""
        return effects_by_group(self._terms, self._term_effects)

    @cached_property
    def random_effects_cov(self) -> dict[str, np.ndarray]:
        """Conditional covariances of the random effects given the data at the estimates
        (lme4's ``condVar``): per grouping factor (n_levels, S, S), the blocks of
        ``Lambda (Lambda'Z'WZ Lambda + I)^{-1} Lambda'`` with W the Laplace curvature at the
        conditional modes (lme4's PIRLS weights for its families)."""
        with x64():
            weights = np.asarray(laplace_curvature(tuple(np.asarray(a) for a in self._u),
                                                   np.asarray(self.fit.x), self._data))
            ordered = [self._terms[i] for i in np.argsort(self._data.plan.order)]
            linear = lmm_data(ordered, self.frame.X, np.zeros(self.nobs), weights)
            cond = ConditionalCovariance(self.theta, linear, 1.0)
        return covariances_by_group(cond, self._terms)

    @property
    def random_effects_se(self) -> dict[str, pd.DataFrame]:
        """Conditional standard deviations of the random effects, shaped as ``random_effects``."""
        return standard_errors_by_group(self.random_effects, self.random_effects_cov)

    @cached_property
    def _covariances(self) -> list[TermCovariance]:
        return term_covariances(self.theta, 1.0, [t.group for t in self._terms],
                                [t.z_names for t in self._terms], [t.size for t in self._terms])

    @property
    def varcorr(self) -> pd.DataFrame:
        """lme4's ``as.data.frame(VarCorr(m))`` (no residual row: a GLMM has none)."""
        return varcorr_frame(self._covariances, 1.0).iloc[:-1].reset_index(drop=True)

    @property
    def theta_names(self) -> tuple[str, ...]:
        return variance_parameter_names([t.group for t in self._terms],
                                        [t.z_names for t in self._terms]).theta

    # ----- fit statistics ---------------------------------------------------------------

    @property
    def n_params(self) -> int:
        """Parameters counted by logLik's df: theta, beta, the zero part's and dispersion's
        coefficients and the family parameters."""
        return int(self.fit.x.size)

    @property
    def llf(self) -> float:
        """``logLik()``: the Laplace (nAGQ = 1) or adaptive Gauss-Hermite log-likelihood."""
        return -0.5 * self.fit.deviance

    @property
    def deviance(self) -> float:
        """-2 llf, the ``deviance`` column of glmer's summary."""
        return self.fit.deviance

    @property
    def converged(self) -> bool:
        return self.fit.converged

    @property
    def convergence_messages(self) -> tuple[str, ...]:
        msgs = list(self.fit.report.messages)
        if self.fit.status != Status.CONVERGED:
            msgs.insert(0, f"optimizer ({self.fit.optimizer}): {Status(self.fit.status).message}")
        if self.is_singular:
            msgs.append("boundary (singular) fit: see is_singular")
        return tuple(msgs)

    # ----- fitted values and residuals --------------------------------------------------
    def _eta(self, X, offset, term_refs, term_z, include_re: bool) -> np.ndarray:
        return host_linear_predictor(self.fe_params.to_numpy(), X, offset,
                                     self._term_effects if include_re else None, term_refs,
                                     term_z)

    def _mu(self, eta: np.ndarray) -> np.ndarray:
        return on_host(self.family.link, "inverse", eta)

    def _mean(self, eta: np.ndarray, design=None, part: str = "response") -> np.ndarray:
        """The mean of the response (``part="response"``, with the zero part) or of the
        conditional (count) part (``"conditional"``), for rows of linear predictor eta on the
        fitted rows (design None) or a NewDesign."""
        phi = self._dispersion_at(*self._part_arrays(design, "disp"))
        mu = self._mu(eta)
        if part == "conditional":
            return on_host(self.family, "mean", mu, phi, self.psi)
        zeta = self._zero_predictor_at(*self._part_arrays(design, "zi"))
        return on_host(self._data.zeros, "mean", mu, phi, self.psi, zeta,
                       static=(self.family,))

    @cached_property
    def _fitted_eta(self) -> np.ndarray:
        return self._eta(self.frame.X, self.frame.offset, [t.refs for t in self._terms],
                         [t.z for t in self._terms], True)

    @cached_property
    def fittedvalues(self) -> pd.Series:
        """Means of the response of the kept rows (lme4's and glmmTMB's ``fitted()``): mu, or
        with a zero part the mean of the zero-inflated (hurdle) response."""
        return pd.Series(self._mean(self._fitted_eta), index=self.frame.row_index,
                         name="fittedvalues")

    def residuals(self, type: str = "deviance") -> pd.Series:
        """Residuals of the kept rows, lme4's ``residuals(m, type)``: ``"deviance"`` (the
        default for GLMMs), ``"pearson"``, ``"response"`` (y - mu) or ``"working"``."""
        if type not in self.RESIDUAL_TYPES:
            raise ModelError(f"unknown residual type {type!r}; choose one of "
                             f"{self.RESIDUAL_TYPES}")
        y, w = self.frame.y, self.frame.weights
        mu, eta = self.fittedvalues.to_numpy(), self._fitted_eta
        fam = self.family
        if type == "deviance":
            unit = on_host(fam, "unit_deviance", y, mu, w)
            values = np.sign(y - mu) * np.sqrt(np.maximum(unit, 0.0))
        elif type == "pearson":
            variance = on_host(fam, "pearson_variance", mu, w, self.dispersion, self.psi)
            values = (y - mu) / np.sqrt(variance)
        elif type == "working":
            values = (y - mu) / on_host(fam.link, "mu_eta", eta)
        else:
            values = y - mu
        return pd.Series(values, index=self.frame.row_index, name=f"resid_{type}")

    @property
    def resid(self) -> pd.Series:
        """Deviance residuals (lme4's default ``residuals()`` for a GLMM)."""
        return self.residuals("deviance")

    @property
    def resid_pearson(self) -> pd.Series:
        return self.residuals("pearson")

    @property
    def resid_response(self) -> pd.Series:
        return self.residuals("response")

    def predict(self, newdata=None, *, type: str = "link", include_re: bool = True,
                allow_new_levels: bool = True) -> np.ndarray:
        """Predictions on the link (``type="link"``) or response (``"response"``) scale.

        Args:
            newdata: any dataframe with the model's columns; None for the fitted rows.
            include_re: add the conditional modes (lme4's ``re.form = NULL``); False gives the
                population-level prediction (``re.form = NA``).
            allow_new_levels: unseen levels get zero random effects; when False they raise.
        """
        if type not in self.PREDICT_TYPES:
            raise ModelError(f"type must be one of {self.PREDICT_TYPES}, not {type!r}")
        design = None
        if newdata is None:
            terms = self._terms
            eta = self._eta(self.frame.X, self.frame.offset, [t.refs for t in terms],
                            [t.z for t in terms], include_re)
        else:
            design = model_matrices_for(self.frame, newdata)
            ordered = [design.terms[i] for i in self._data.plan.order]
            if include_re and not allow_new_levels:
                for term, nt in zip(self._terms, ordered):
                    if nt.unseen_levels:
                        raise DataError(
                            f"new levels of grouping factor {term.group!r}: "
                            f"{', '.join(map(str, nt.unseen_levels[:5]))}; pass "
                            "allow_new_levels=True to predict them at the population level")
            eta = self._eta(design.X, design.offset, [t.refs for t in ordered],
                            [t.z for t in ordered], include_re)
        return self._predicted(type, eta, design)

    def _predicted(self, type: str, eta: np.ndarray, design) -> np.ndarray:
        """The prediction of a PREDICT_TYPES entry from the linear predictor eta (m,)."""
        return eta if type == "link" else self._mean(eta, design)

    # ----- printing ---------------------------------------------------------------------
    def summary(self):
        from interlace_jax.results._glmm_summary import GLMMSummary

        return GLMMSummary(self)

    def __repr__(self) -> str:
        return (f"<GLMMResult {self.formula!r} family={self.family!r} "
                f"logLik={self.llf:.4f}>")

    def __str__(self) -> str:
        return str(self.summary())

