"""The fitted cumulative link mixed model: statsmodels-style attributes, clmm's printing."""

from __future__ import annotations

import math
from functools import cached_property, partial

import jax
import numpy as np
import pandas as pd
from scipy import stats

from interlace_jax._errors import DataError, ModelError
from interlace_jax._x64 import x64
from interlace_jax.families import Link
from interlace_jax.formula import ModelFrame, model_matrices_for
from interlace_jax.inference import ConditionalCovariance
from interlace_jax.models import lmm_data
from interlace_jax.models._laplace import laplace_curvature
from interlace_jax.models._ordinal import OrdinalData, category_probabilities
from interlace_jax.models._thresholds import Thresholds
from interlace_jax.optim import Status
from interlace_jax.optim._fit_glmm import GLMMFit
from interlace_jax.results._effects import (
    covariances_by_group,
    effects_by_group,
    host_linear_predictor,
    standard_errors_by_group,
    term_effects,
)
from interlace_jax.results._names import variance_parameter_names
from interlace_jax.results._varcorr import TermCovariance, term_covariances, varcorr_frame
from interlace_jax.terms import ReTerm, diagonal_mask

PREDICT_TYPES = ("prob", "class", "linear")


def _wald(estimate: pd.Series, se: pd.Series) -> tuple[pd.Series, pd.Series]:
    """z statistics and two-sided normal p-values."""
    z = (estimate / se).rename("zvalues")
    p = pd.Series(2 * stats.norm.sf(np.abs(z.to_numpy())), index=z.index, name="pvalues")
    return z, p



@partial(jax.jit, static_argnums=0)
def _alpha_and_jacobian(thresholds: Thresholds, tau: jax.Array) -> tuple:
    """(alpha (n_alpha,), d alpha / d tau (n_alpha, n_alpha)) at tau, as one program."""
    return thresholds.alpha_of(tau), jax.jacfwd(thresholds.alpha_of)(tau)

class ClmmResult:
    """A fitted cumulative link mixed model (returned by :func:`interlace_jax.clmm`).

    The numbers follow ordinal's ``clmm``: ``P(Y <= j | b) = F(theta_j - x'beta - z'b)``;
    ``fe_params`` are the location coefficients beta, ``thresholds`` the threshold parameters
    as clmm reports them (``m$alpha``: the cut points for flexible thresholds, ``threshold.1``
    and ``spacing`` for equidistant ones, ``central``/``spacing`` for symmetric ones) and
    ``cut_points`` the K - 1 cut points theta (``m$Theta``). ``llf`` is ``logLik()`` (Laplace or
    adaptive Gauss-Hermite); standard errors come from the inverse of the observed information
    (the Hessian of -llf in all parameters), z tests use the normal distribution.
    ``theta`` are the relative covariance parameters in lme4's order: ``b = Lambda(theta) u``
    with ``u ~ N(0, I)`` (no residual scale: the latent variable's scale is fixed by F).
    """

    #: cumulative link mixed models are fitted by maximum likelihood.
    reml = False

    def __init__(self, *, formula: str, frame: ModelFrame, categories: tuple, data: OrdinalData,
                 terms: list[ReTerm], fit: GLMMFit, u: tuple, n_agq: int,
                 data_name: str | None = None):
        self.formula = formula
        self.frame = frame
        self.categories = tuple(categories)
        self._data = data
        self._terms = terms  # computation (lme4) order
        self.fit = fit
        self._u = u
        self.n_agq = n_agq
        self.data_name = data_name

    # ----- model --------------------------------------------------------------------------
    @property
    def link(self) -> Link:
        return self._data.conditional.link

    @property
    def threshold(self) -> str:
        """The threshold structure's name (``"flexible"``, ``"symmetric"``, ``"equidistant"``)."""
        return self._thresholds.name

    @property
    def _thresholds(self) -> Thresholds:
        return self._data.conditional.thresholds

    # ----- parameters -----------------------------------------------------------------------
    @property
    def theta(self) -> np.ndarray:
        """(n_theta,) relative covariance parameters in lme4's order."""
        return self.fit.x[: self._data.layout.n_theta]

    @property
    def _tau(self) -> np.ndarray:
        return self.fit.x[self._data.layout.psi]

    @cached_property
    def _alpha_jacobian(self) -> np.ndarray:
        """(n_alpha, n_alpha) d alpha / d tau at the estimate."""
        return self._alpha_and_jacobian[1]

    @cached_property
    def _alpha_and_jacobian(self) -> tuple[np.ndarray, np.ndarray]:
        with x64():
            return jax.device_get(_alpha_and_jacobian(self._thresholds, self._tau))

    @cached_property
    def fe_params(self) -> pd.Series:
        """Location coefficients beta, indexed by formulaic column names (no intercept)."""
        return pd.Series(self.fit.x[self._data.layout.beta],
                         index=list(self.frame.x_names_formulaic), name="fe_params")

    @cached_property
    def thresholds(self) -> pd.Series:
        """Threshold parameters as clmm reports them (``m$alpha``), with ordinal's names."""
        alpha = self._alpha_and_jacobian[0]
        return pd.Series(alpha, index=self._thresholds.alpha_names(self._labels),
                         name="thresholds")

    @cached_property
    def cut_points(self) -> pd.Series:
        """The K - 1 increasing cut points theta (``m$Theta``), named ``"1|2"``, ...."""
        return pd.Series(self._thresholds.jacobian @ self.thresholds.to_numpy(),
                         index=[f"{a}|{b}" for a, b in zip(self._labels[:-1], self._labels[1:])],
                         name="cut_points")

    @property
    def _labels(self) -> list[str]:
        return [str(c) for c in self.categories]

    @property
    def params(self) -> pd.Series:
        """All threshold parameters then the location coefficients (ordinal's ``coef()``)."""
        return pd.concat([self.thresholds, self.fe_params]).rename("params")

    @cached_property
    def _outer_cov(self) -> np.ndarray:
        """Inverse of half the deviance's Hessian over the interior outer parameters (NaN rows
        and columns for theta at the boundary)."""
        h = 0.5 * (self.fit.hessian + self.fit.hessian.T)
        keep = ~self.fit.report.boundary
        cov = np.full_like(h, np.nan)
        try:
            cov[np.ix_(keep, keep)] = np.linalg.inv(0.5 * h[np.ix_(keep, keep)])
        except np.linalg.LinAlgError:
            pass
        return cov

    @cached_property
    def _coef_cov(self) -> np.ndarray:
        """Covariance of (alpha, beta) by the delta method from (tau, beta)."""
        lay = self._data.layout
        index = np.concatenate([np.arange(lay.size)[lay.psi], np.arange(lay.size)[lay.beta]])
        transform = np.eye(index.size)
        transform[: lay.n_psi, : lay.n_psi] = self._alpha_jacobian
        return transform @ self._outer_cov[np.ix_(index, index)] @ transform.T

    def cov_params(self) -> pd.DataFrame:
        """Covariance of the threshold parameters and the location coefficients (ordinal's
        ``vcov`` without the random-effect parameters), in the order of ``params``."""
        names = list(self.params.index)
        return pd.DataFrame(self._coef_cov, index=names, columns=names)

    @cached_property
    def _se(self) -> np.ndarray:
        return np.sqrt(np.diag(self._coef_cov))

    @property
    def bse(self) -> pd.Series:
        """Standard errors of the location coefficients."""
        return pd.Series(self._se[self._data.layout.n_psi :], index=self.fe_params.index,
                         name="bse")

    @property
    def tvalues(self) -> pd.Series:
        """z statistics of the location coefficients."""
        return _wald(self.fe_params, self.bse)[0]

    zvalues = tvalues

    @property
    def pvalues(self) -> pd.Series:
        """Two-sided normal p-values of the location coefficients (clmm's ``Pr(>|z|)``)."""
        return _wald(self.fe_params, self.bse)[1]

    @property
    def thresholds_bse(self) -> pd.Series:
        """Standard errors of the threshold parameters."""
        return pd.Series(self._se[: self._data.layout.n_psi], index=self.thresholds.index,
                         name="bse")

    @property
    def thresholds_zvalues(self) -> pd.Series:
        return _wald(self.thresholds, self.thresholds_bse)[0]

    @property
    def thresholds_pvalues(self) -> pd.Series:
        return _wald(self.thresholds, self.thresholds_bse)[1]

    @property
    def cut_points_bse(self) -> pd.Series:
        """Delta-method standard errors of the cut points."""
        n_alpha = self._data.layout.n_psi
        jac = self._thresholds.jacobian
        cov = jac @ self._coef_cov[:n_alpha, :n_alpha] @ jac.T
        return pd.Series(np.sqrt(np.diag(cov)), index=self.cut_points.index, name="bse")

    def conf_int(self, alpha: float = 0.05, level: float | None = None) -> pd.DataFrame:
        """Wald intervals of the threshold parameters and location coefficients (ordinal's
        ``confint(method = "Wald")``), in the order of ``params``."""
        level = 1.0 - alpha if level is None else level
        if not 0.0 < level < 1.0:
            raise ModelError(f"level must be in (0, 1), got {level}")
        q = stats.norm.ppf(0.5 * (1.0 + level))
        est = self.params.to_numpy()
        out = pd.DataFrame({0: est - q * self._se, 1: est + q * self._se},
                           index=self.params.index)
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
        """Conditional covariances of the random effects (ordinal's ``condVar``): per grouping
        factor (n_levels, S, S), the blocks of ``Lambda (Lambda'Z'WZ Lambda + I)^{-1}
        Lambda'`` with W the observed curvature at the conditional modes."""
        with x64():
            weights = np.asarray(laplace_curvature(tuple(np.asarray(a) for a in self._u),
                                                   np.asarray(self.fit.x), self._data))
            ordered = [self._terms[i] for i in np.argsort(self._data.plan.order)]
            # only the Z rows of this factor are used; no X, and a response of ones keeps the
            # last pivot positive (a zero response would make the dense block singular)
            n = self.frame.y.shape[0]
            linear = lmm_data(ordered, np.zeros((n, 0)), np.ones(n), weights)
            cond = ConditionalCovariance(self.theta, linear, 1.0)
        return covariances_by_group(cond, self._terms)

    @property
    def random_effects_se(self) -> dict[str, pd.DataFrame]:
        """Conditional standard deviations, shaped as ``random_effects``."""
        return standard_errors_by_group(self.random_effects, self.random_effects_cov)

    @cached_property
    def _covariances(self) -> list[TermCovariance]:
        return term_covariances(self.theta, 1.0, [t.group for t in self._terms],
                                [t.z_names for t in self._terms], [t.size for t in self._terms])

    @property
    def varcorr(self) -> pd.DataFrame:
        """Variances, covariances, SDs and correlations of the random effects (lme4's
        ``as.data.frame(VarCorr(m))`` layout; no residual row)."""
        return varcorr_frame(self._covariances, 1.0).iloc[:-1].reset_index(drop=True)

    @property
    def theta_names(self) -> tuple[str, ...]:
        return variance_parameter_names([t.group for t in self._terms],
                                        [t.z_names for t in self._terms]).theta

    # ----- fit statistics ---------------------------------------------------------------
    @property
    def nobs(self) -> float:
        """Number of observations: the sum of the case weights (ordinal's ``nobs``, which BIC
        uses), the number of rows when there are no weights."""
        total = float(np.sum(self.frame.weights))
        return int(total) if total.is_integer() else total

    @property
    def n_dropped(self) -> int:
        return int(self.frame.n_dropped)

    @property
    def ngroups(self) -> dict[str, int]:
        return {t.group: t.n_levels for t in self._terms}

    @property
    def n_params(self) -> int:
        """Parameters counted by logLik's df: thresholds, coefficients and theta."""
        return int(self.fit.x.size)

    @property
    def llf(self) -> float:
        """``logLik()``: the Laplace (nAGQ = 1) or adaptive Gauss-Hermite log-likelihood."""
        return -0.5 * self.fit.deviance

    @property
    def deviance(self) -> float:
        """-2 llf."""
        return self.fit.deviance

    @property
    def aic(self) -> float:
        return -2 * self.llf + 2 * self.n_params

    @property
    def bic(self) -> float:
        return -2 * self.llf + math.log(self.nobs) * self.n_params

    @property
    def converged(self) -> bool:
        return self.fit.converged

    @property
    def is_singular(self) -> bool:
        diag = np.concatenate([diagonal_mask(t.size) for t in self._terms])
        return bool(np.any(np.abs(self.theta[diag]) < 1e-4))

    @property
    def convergence_messages(self) -> tuple[str, ...]:
        msgs = list(self.fit.report.messages)
        if self.fit.status != Status.CONVERGED:
            msgs.insert(0, f"optimizer ({self.fit.optimizer}): {Status(self.fit.status).message}")
        if self.is_singular:
            msgs.append("boundary (singular) fit: see is_singular")
        return tuple(msgs)

    # ----- predictions ------------------------------------------------------------------
    def _linear(self, X, offset, term_refs, term_z, include_re: bool) -> np.ndarray:
        return host_linear_predictor(self.fe_params.to_numpy(), X, offset,
                                     self._term_effects if include_re else None, term_refs,
                                     term_z)

    def _probabilities(self, eta: np.ndarray) -> np.ndarray:
        with x64():
            return np.asarray(category_probabilities(
                self.link, self.cut_points.to_numpy(), np.asarray(eta)))

    @cached_property
    def fittedvalues(self) -> pd.Series:
        """Probability of the observed category given the conditional modes, for the kept
        rows (ordinal's ``fitted()``)."""
        eta = self._linear(self.frame.X, self.frame.offset, [t.refs for t in self._terms],
                           [t.z for t in self._terms], True)
        prob = self._probabilities(eta)[np.arange(eta.size), self.frame.y.astype(np.int64)]
        return pd.Series(prob, index=self.frame.row_index, name="fittedvalues")

    def predict(self, newdata=None, *, type: str = "prob", include_re: bool = True,
                allow_new_levels: bool = True):
        """Predictions for new data (or the fitted rows).

        Args:
            newdata: any dataframe with the model's predictor columns; None for the fitted rows.
            type: ``"prob"``: a DataFrame (m, K) of category probabilities, columns the
                categories; ``"class"``: the most probable category of each row (a pandas
                ordered Categorical Series); ``"linear"``: the linear predictor x'beta (+ z'b),
                an array (m,).
            include_re: condition on the conditional modes of the random effects; False gives
                probabilities at b = 0 (every random effect at its mean).
            allow_new_levels: unseen levels get zero random effects; when False they raise.
        """
        if type not in PREDICT_TYPES:
            raise ModelError(f"type must be one of {PREDICT_TYPES}, not {type!r}")
        if newdata is None:
            eta = self._linear(self.frame.X, self.frame.offset, [t.refs for t in self._terms],
                               [t.z for t in self._terms], include_re)
            index = pd.Index(self.frame.row_index)
        else:
            design = model_matrices_for(self.frame, newdata)
            ordered = [design.terms[i] for i in self._data.plan.order]
            if include_re and not allow_new_levels:
                for term, nt in zip(self._terms, ordered):
                    if nt.unseen_levels:
                        raise DataError(
                            f"new levels of grouping factor {term.group!r}: "
                            f"{', '.join(map(str, nt.unseen_levels[:5]))}; pass "
                            "allow_new_levels=True to predict them at b = 0")
            eta = self._linear(design.X, design.offset, [t.refs for t in ordered],
                               [t.z for t in ordered], include_re)
            index = pd.RangeIndex(eta.size)
        if type == "linear":
            return eta
        prob = pd.DataFrame(self._probabilities(eta), index=index, columns=list(self.categories))
        if type == "prob":
            return prob
        dtype = pd.CategoricalDtype(list(self.categories), ordered=True)
        return pd.Series(pd.Categorical.from_codes(np.argmax(prob.to_numpy(), axis=1), dtype=dtype),
                         index=index, name="class")

    # ----- printing ---------------------------------------------------------------------
    def summary(self):
        from interlace_jax.results._clmm_summary import ClmmSummary

        return ClmmSummary(self)

    def __repr__(self) -> str:
        return (f"<ClmmResult {self.formula!r} link={self.link.name!r} "
                f"threshold={self.threshold!r} logLik={self.llf:.4f}>")

    def __str__(self) -> str:
        return str(self.summary())
