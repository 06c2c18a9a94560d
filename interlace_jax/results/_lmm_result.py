"""The fitted linear mixed model: statsmodels ``MixedLMResults`` attributes, lme4 printing."""

from __future__ import annotations

from functools import cached_property

import jax.numpy as jnp
import numpy as np
import pandas as pd
from scipy import stats

from interlace_jax._errors import DataError, ModelError
from interlace_jax._x64 import x64
from interlace_jax.formula import ModelFrame, model_matrices_for
from interlace_jax.inference import (
    ConditionalCovariance,
    KenwardRoger,
    coefficient_df,
    kr_ddf,
    varpar_covariance,
)
from interlace_jax.inference import kenward_roger as kenward_roger_at
from interlace_jax.models import LMMData
from interlace_jax.optim import Status, ThetaFit, exact_derivatives
from interlace_jax.results._convergence import ConvergenceCheck, convergence_check
from interlace_jax.results._df_methods import DF_METHODS, check_df_method
from interlace_jax.results._effects import (
    covariances_by_group,
    effects_by_group,
    host_linear_predictor,
    standard_errors_by_group,
    term_effects,
)
from interlace_jax.results._inference_tables import (
    anova_table,
    contrast_matrix,
    ftest_frame,
    inference_for,
    right_hand_side,
    ttest_frame,
)
from interlace_jax.results._fit_statistics import FitStatistics
from interlace_jax.results._names import variance_parameter_names
from interlace_jax.results._varcorr import TermCovariance, term_covariances, varcorr_frame
from interlace_jax.terms import ReTerm

__all__ = ["DF_METHODS", "LMMResult", "check_df_method"]


class LMMResult(FitStatistics):
    """A fitted linear mixed model (returned by :func:`interlace_jax.fit`).

    Attributes follow statsmodels' ``MixedLMResults`` (``fe_params``, ``bse``, ``tvalues``,
    ``pvalues``, ``random_effects``, ``scale``, ``llf``, ...) with lme4's definitions of the
    numbers: ``llf`` is ``logLik()`` (the REML log-likelihood for REML fits), ``aic``/``bic``
    use it with ``p + n_theta + 1`` parameters, and ``theta`` is lme4's ``getME(m, "theta")``.

    Fixed-effect names are formulaic's (``Intercept``, ``recipe[T.B]``), as in statsmodels;
    ``summary()`` prints lme4's names (``(Intercept)``, ``recipeB``).

    With ``df_method="kenward-roger"``, ``cov_params()``, ``bse``, ``tvalues``, ``pvalues``,
    ``fe_df``, ``conf_int()`` and ``summary()`` use Kenward-Roger's adjusted covariance and
    df (pbkrtest's ``vcovAdj``, lmerTest's ``summary(m, ddf = "Kenward-Roger")``).

    A fit with ``correlation=`` keeps the structure in ``correlation`` and its estimated
    parameter in ``correlation_params``; the parameter counts in ``n_params`` (AIC, BIC,
    likelihood-ratio df) and in Satterthwaite's variance parameters.
    """

    def __init__(
        self,
        *,
        formula: str,
        frame: ModelFrame,
        data: LMMData,
        terms: list[ReTerm],
        theta_fit: ThetaFit,
        reml: bool,
        df_method: str,
        data_name: str | None = None,
        kenward_roger: KenwardRoger | None = None,
        correlation=None,
    ):
        self.formula = formula
        self.correlation = correlation  # the residual correlation structure, or None
        self.frame = frame
        self._data = data
        self._terms = terms  # computation (lme4) order
        self.theta_fit = theta_fit
        self.reml = reml
        self.method = "REML" if reml else "ML"
        self.df_method = df_method
        self.data_name = data_name
        self._solution = theta_fit.solution
        self._profiles: dict[float, pd.DataFrame] = {}
        self._ml_refit: LMMResult | None = None
        if kenward_roger is not None:
            self.__dict__["kenward_roger"] = kenward_roger  # the cached_property's slot

    # ----- parameters -----------------------------------------------------------------
    @property
    def theta(self) -> np.ndarray:
        """(n_theta,) relative covariance parameters in lme4's order."""
        return self.theta_fit.theta[: sum(t.n_theta for t in self._terms)]

    @cached_property
    def correlation_params(self) -> pd.Series:
        """The residual correlation parameters (nlme's ``coef(m$modelStruct$corStruct,
        unconstrained = FALSE)``: ``Phi`` for AR1/CAR1, ``Rho`` for CompoundSymmetry); an
        empty Series for a fit without ``correlation=``."""
        if self.correlation is None:
            return pd.Series([], dtype=float, name="correlation_params")
        k = self.correlation.n_params
        with x64():
            values = self.correlation.natural(jnp.asarray(self.theta_fit.theta[-k:]),
                                              self._data.layout)
        return pd.Series(np.asarray(values), index=list(self.correlation.names),
                         name="correlation_params")

    @cached_property
    def _data_at_optimum(self) -> LMMData:
        """The LMMData of the model with any correlation parameters at their estimates."""
        with x64():
            return self._data.at(jnp.asarray(self.theta_fit.theta))[1]

    @property
    def sigma(self) -> float:
        """Residual standard deviation."""
        return float(self._solution.sigma)

    @property
    def scale(self) -> float:
        """Residual variance sigma^2 (statsmodels' ``scale``)."""
        return self.sigma**2

    @cached_property
    def fe_params(self) -> pd.Series:
        """Fixed-effect estimates, indexed by formulaic column names."""
        return pd.Series(
            np.asarray(self._solution.beta), index=list(self.frame.x_names_formulaic),
            name="fe_params",
        )

    @cached_property
    def _vcov_unadjusted(self) -> np.ndarray:
        """(p, p) sigma^2 (R_X'R_X)^{-1}, lme4's ``vcov()``."""
        return self.scale * np.asarray(self._solution.beta_cov_unscaled)

    def cov_params(self) -> pd.DataFrame:
        """(p, p) covariance of the fixed effects: sigma^2 (R_X'R_X)^{-1} (lme4's ``vcov``), or
        Kenward-Roger's adjusted covariance (pbkrtest's ``vcovAdj``) when
        ``df_method="kenward-roger"``."""
        names = list(self.frame.x_names_formulaic)
        cov = (self.kenward_roger.vcov_adj if self.df_method == "kenward-roger"
               else self._vcov_unadjusted)
        return pd.DataFrame(cov, index=names, columns=names)

    @cached_property
    def kenward_roger(self) -> KenwardRoger:
        """Kenward-Roger ingredients (adjusted covariance, its derivatives) at the optimum.

        Computed on first use (at fit time for ``df_method="kenward-roger"``) from exact
        derivatives; see :mod:`interlace_jax.inference._kenward_roger`.

        Raises:
            ModelError: for an ML fit (Kenward-Roger's method is defined for REML).
        """
        if not self.reml:
            raise ModelError(
                "Kenward-Roger's method needs a REML fit, but this model was fitted by ML "
                "(method='ML'); refit with method='REML' or use Satterthwaite's df")
        if self.correlation is not None:
            raise ModelError(
                "Kenward-Roger's method is not available for a fit with correlation=; use "
                "Satterthwaite's df")
        with x64():
            return kenward_roger_at(self.theta, self.sigma, self._data)

    @cached_property
    def _exact_derivatives(self):
        """Exact autodiff derivatives at the optimum for Satterthwaite's df (the fit's own,
        or computed now when its checks used finite differences)."""
        with x64():
            return exact_derivatives(self.theta_fit, self._data, self.reml)

    @cached_property
    def _varpar_covariance(self) -> tuple[np.ndarray, np.ndarray]:
        """Satterthwaite's (A, J): covariance of (theta, sigma) and the Jacobian of vcov(beta)."""
        return varpar_covariance(self._exact_derivatives, self.sigma)

    @property
    def tvalues(self) -> pd.Series:
        return (self.fe_params / self.bse).rename("tvalues")

    @cached_property
    def fe_df(self) -> pd.Series:
        """Denominator degrees of freedom per coefficient under ``df_method``."""
        p = len(self.fe_params)
        if self.df_method == "normal":
            values = np.full(p, np.inf)
        elif self.df_method == "residual":
            values = np.full(p, float(self.nobs - p))
        elif self.df_method == "kenward-roger":
            values = np.array([kr_ddf(row, self.kenward_roger)[0] for row in np.eye(p)])
        else:  # Satterthwaite's, computed on first use (not at fit time)
            values = coefficient_df(self._exact_derivatives, self.sigma)
        return pd.Series(values, index=self.fe_params.index, name="df")

    @property
    def pvalues(self) -> pd.Series:
        """Two-sided p-values of the t (or z, for ``df_method="normal"``) statistics."""
        t = np.abs(self.tvalues.to_numpy())
        df = self.fe_df.to_numpy()
        p = np.where(np.isinf(df), 2 * stats.norm.sf(t), 2 * stats.t.sf(t, np.where(
            np.isinf(df), 1.0, df)))
        return pd.Series(p, index=self.fe_params.index, name="pvalues")

    def conf_int(self, alpha: float = 0.05, method: str = "wald",
                 level: float | None = None, *, nsim: int = 1000,
                 seed: int = 0) -> pd.DataFrame:
        """Confidence intervals at ``level`` (default ``1 - alpha``).

        Args:
            alpha: 1 - level, statsmodels' argument (ignored when ``level`` is given).
            method: ``"wald"`` (default): fixed effects only, estimate -/+ the t quantile on
                ``fe_df`` (the normal quantile for ``df_method="normal"``) times the SE;
                columns 0 and 1, as statsmodels.
                ``"profile"``: profile-likelihood intervals of every parameter, lme4's
                ``confint(m, method = "profile")``: rows ``.sig01``, ... (random-effects SDs
                and correlations in theta's order), ``.sigma``, then the fixed effects (their
                ``fe_params`` names); columns as lme4 (``"2.5 %"``, ``"97.5 %"``). The
                criterion is the ML deviance, also for REML fits, which are refitted by ML
                first, as lme4 does; ``attrs`` records this, the ML estimates and lme4's
                descriptive names (``sd_(Intercept)|Subject``); see
                :func:`interlace_jax.results._profile_table.profile_frame`.
                ``"boot"``: percentile intervals from a parametric bootstrap of ``nsim``
                replicates (:func:`interlace_jax.bootstrap`, ``seed``), lme4's
                ``confint(m, method = "boot")``; rows and columns as for "profile";
                ``attrs`` records nsim, the number of refits that failed (left out) and seed.
            level: confidence level in (0, 1).
            nsim, seed: bootstrap replicates and seed (``method="boot"`` only).
        """
        level = _check_level(alpha, level)
        method = str(method).lower()
        if method == "profile":
            if level not in self._profiles:
                from interlace_jax.results._profile_table import profile_frame

                self._profiles[level] = profile_frame(self, level)
            return self._profiles[level].copy()
        if method in ("boot", "bootstrap"):
            from interlace_jax.simulation import bootstrap

            boot = bootstrap(self, nsim, seed=seed)
            table = boot.conf_int(level=level)
            names = self._variance_names
            rows = [*names.descriptive, *self.fe_params.index]
            out = table.loc[rows].set_axis([*names.profile, *self.fe_params.index])
            out.attrs.update(method="boot", level=level, nsim=boot.nsim,
                             n_failed=boot.n_failed, seed=seed,
                             parameter_names=dict(zip(names.profile, names.descriptive)))
            return out
        if method != "wald":
            raise ModelError(f"unknown conf_int method {method!r}; choose 'wald', 'profile' "
                             "or 'boot'")
        df = self.fe_df.to_numpy()
        upper = 0.5 * (1.0 + level)
        q = np.where(np.isinf(df), stats.norm.ppf(upper),
                     stats.t.ppf(upper, np.where(np.isinf(df), 1.0, df)))
        est, se = self.fe_params.to_numpy(), self.bse.to_numpy()
        out = pd.DataFrame({0: est - q * se, 1: est + q * se}, index=self.fe_params.index)
        out.attrs.update(method="wald", level=level)
        return out

    # ----- random effects ---------------------------------------------------------------
    @cached_property
    def _term_effects(self) -> list[np.ndarray]:
        """Per term (computation order) the conditional modes b_t, shape (L_t, S_t)."""
        sol = self._solution
        return term_effects(self.theta, sol.u_first, sol.u_rest, self._data.plan)

    @cached_property
    def random_effects(self) -> dict[str, pd.DataFrame]:
        """Conditional modes per grouping factor: a DataFrame (levels x effect names).

        Terms on the same grouping factor (e.g. from ``||``) are joined into one frame.
        """
        return effects_by_group(self._terms, self._term_effects)

    @cached_property
    def random_effects_cov(self) -> dict[str, np.ndarray]:
        """Conditional covariances of the random effects (lme4's ``condVar``/``postVar``).

        Per grouping factor an array (n_levels, S, S), levels and effects in the order of
        ``random_effects[group]``'s rows and columns: ``Var(b_level | y)`` with beta and the
        variance parameters at their estimates, on the scale of ``sigma^2`` (lme4's
        ``attr(ranef(m, condVar = TRUE)[[g]], "postVar")``). For a factor with several terms
        (``||``) the blocks between the terms are included; lme4 gives only the per-term
        blocks on the diagonal. See :mod:`interlace_jax.inference._condvar` for the cost.
        """
        cond = ConditionalCovariance(self.theta, self._data_at_optimum, self.sigma)
        return covariances_by_group(cond, self._terms)

    @property
    def random_effects_se(self) -> dict[str, pd.DataFrame]:
        """Conditional standard deviations of the random effects, shaped as ``random_effects``
        (lme4's ``condsd`` of ``as.data.frame(ranef(m, condVar = TRUE))``)."""
        return standard_errors_by_group(self.random_effects, self.random_effects_cov)

    @cached_property
    def _covariances(self) -> list[TermCovariance]:
        return term_covariances(
            self.theta, self.sigma, [t.group for t in self._terms],
            [t.z_names for t in self._terms], [t.size for t in self._terms],
        )

    @property
    def varcorr(self) -> pd.DataFrame:
        """lme4's ``as.data.frame(VarCorr(m))``: grp, var1, var2, vcov, sdcor (see also
        :class:`interlace_jax.VarCorr` for the printed table)."""
        return varcorr_frame(self._covariances, self.sigma)

    @property
    def variance_components(self) -> pd.Series:
        """Variance of each random effect, indexed by (group, effect name)."""
        idx, vals = [], []
        for c in self._covariances:
            for i, name in enumerate(c.names):
                idx.append((c.group, name))
                vals.append(c.cov[i, i])
        return pd.Series(vals, index=pd.MultiIndex.from_tuples(idx, names=["group", "name"]),
                         name="variance")

    @property
    def varcov(self) -> pd.DataFrame:
        """Block-diagonal covariance of one level's random effects across all terms."""
        labels, blocks = [], []
        for c in self._covariances:
            labels += [f"{c.group}:{n}" for n in c.names]
            blocks.append(c.cov)
        size = len(labels)
        out = np.zeros((size, size))
        o = 0
        for b in blocks:
            out[o : o + len(b), o : o + len(b)] = b
            o += len(b)
        return pd.DataFrame(out, index=labels, columns=labels)

    # ----- fit statistics ---------------------------------------------------------------

    @property
    def n_params(self) -> int:
        """Parameters counted by logLik's df: fixed effects + theta + correlation parameters
        + sigma."""
        return len(self.fe_params) + self.theta_fit.theta.size + 1

    @property
    def objective(self) -> float:
        """The REML criterion (REML fits) or the deviance -2 logLik (ML fits) at the optimum."""
        return self.theta_fit.objective

    @property
    def llf(self) -> float:
        """lme4's ``logLik()``: REML log-likelihood for REML fits, log-likelihood for ML."""
        return -0.5 * self.objective

    @property
    def deviance(self) -> float:
        """-2 llf (the REML criterion for REML fits, as lme4's ``REMLcrit``)."""
        return self.objective

    @property
    def converged(self) -> bool:
        return self.theta_fit.converged

    @cached_property
    def _variance_names(self):
        """VarianceParameterNames of theta and sigma (lme4, profile and broom.mixed names)."""
        return variance_parameter_names([t.group for t in self._terms],
                                        [t.z_names for t in self._terms])

    @property
    def theta_names(self) -> tuple[str, ...]:
        """lme4's names of theta (``getME(m, "theta")``), e.g. ``Subject.Days.(Intercept)``."""
        return self._variance_names.theta

    def check_convergence(self) -> ConvergenceCheck:
        """The convergence diagnostics: gradient, scaled gradient, Hessian eigenvalues,
        parameters at the boundary, optimizer status and messages (printable)."""
        names = self.theta_names
        if self.correlation is not None:  # unconstrained, nlme's parameterisation
            names += tuple(f"corStruct.{n}" for n in self.correlation.names)
        return convergence_check(self, names)

    @property
    def convergence_messages(self) -> tuple[str, ...]:
        msgs = list(self.theta_fit.report.messages)
        if self.theta_fit.status != Status.CONVERGED:
            msgs.insert(0, f"optimizer ({self.theta_fit.optimizer}): "
                           f"{Status(self.theta_fit.status).message}")
        if self.is_singular:
            msgs.append("boundary (singular) fit: see is_singular")
        return tuple(msgs)

    # ----- fitted values ----------------------------------------------------------------
    def _linear_predictor(self, X, offset, term_refs, term_z, include_re: bool) -> np.ndarray:
        return host_linear_predictor(self.fe_params.to_numpy(), X, offset,
                                     self._term_effects if include_re else None, term_refs, term_z)

    @cached_property
    def fittedvalues(self) -> pd.Series:
        """Conditional fitted values X beta + Z b + offset, one per kept row."""
        fitted = self._linear_predictor(
            self.frame.X, self.frame.offset, [t.refs for t in self._terms],
            [t.z for t in self._terms], True,
        )
        return pd.Series(fitted, index=self.frame.row_index, name="fittedvalues")

    @property
    def resid(self) -> pd.Series:
        """Response residuals y - fitted (unweighted, as lme4's ``residuals()``)."""
        return pd.Series(self.frame.y - self.fittedvalues.to_numpy(), index=self.frame.row_index,
                         name="resid")

    def predict(self, newdata=None, *, include_re: bool = True,
                allow_new_levels: bool = True) -> np.ndarray:
        """Predictions for ``newdata`` (or the fitted data when None).

        Args:
            newdata: any dataframe with the model's columns.
            include_re: add the conditional modes of the random effects (lme4's
                ``re.form = NULL``); False gives the population-level prediction (``re.form = NA``).
            allow_new_levels: levels not seen in fitting get zero random effects (lme4's
                ``allow.new.levels = TRUE``); when False they raise DataError.
        """
        if newdata is None:
            if include_re:
                return self.fittedvalues.to_numpy()
            return self.frame.X @ self.fe_params.to_numpy() + self.frame.offset
        design = model_matrices_for(self.frame, newdata)
        ordered = [design.terms[i] for i in self._data.plan.order]
        if include_re and not allow_new_levels:
            for term, nt in zip(self._terms, ordered):
                if nt.unseen_levels:
                    raise DataError(
                        f"new levels of grouping factor {term.group!r}: "
                        f"{', '.join(map(str, nt.unseen_levels[:5]))}; "
                        "pass allow_new_levels=True to predict them at the population level"
                    )
        return self._linear_predictor(design.X, design.offset, [t.refs for t in ordered],
                                      [t.z for t in ordered], include_re)

    def refit_ml(self) -> "LMMResult":
        """The same model fitted by ML (lme4's ``refitML``); an ML fit returns itself."""
        if self._ml_refit is None:
            from interlace_jax.api import refit_ml

            self._ml_refit = refit_ml(self)
        return self._ml_refit

    def tidy(self, effects=("fixed", "ran_pars"), conf_int: bool = False,
             conf_level: float = 0.95, conf_method: str = "wald") -> pd.DataFrame:
        """broom.mixed's ``tidy(m)``: one row per fixed effect, then per variance parameter.

        Columns effect, group, term, estimate, std.error, statistic, df, p.value (the fixed
        effects' t tests under ``df_method``; NaN for ``ran_pars``), plus conf.low, conf.high
        when ``conf_int``. Terms use lme4's names: ``(Intercept)``; ``sd__(Intercept)``,
        ``cor__(Intercept).Days``, ``sd__Observation`` (group ``Residual``). Intervals come
        from :meth:`conf_int` with ``conf_method``: ``"wald"`` gives the fixed effects' t
        intervals (as broom.mixed for lmerTest fits) and NaN for ``ran_pars``; ``"profile"``
        gives profile intervals for all rows.
        """
        from interlace_jax.results._tidy import tidy_frame

        return tidy_frame(self, effects, conf_int, conf_level, conf_method)

    def glance(self) -> pd.DataFrame:
        """broom.mixed's ``glance(m)``: nobs, sigma, logLik, AIC, BIC, the criterion
        (``REMLcrit`` for REML fits, ``deviance`` for ML fits, as broom.mixed) and df.residual
        (nobs minus the number of parameters)."""
        from interlace_jax.results._tidy import glance_frame

        return glance_frame(self)
    # ----- tests ----------------------------------------------------------------------------
    def anova(self, type=3, ddf: str | None = None) -> pd.DataFrame:
        """F-tests of the fixed-effects terms, lmerTest's ``anova(m, type, ddf)``.

        Args:
            type: 1 (sequential), 2 or 3 (lmerTest's type I, II and III hypotheses, built from
                the model's terms; see :mod:`interlace_jax.inference._anova`).
            ddf: ``"satterthwaite"``, ``"kenward-roger"`` (REML fits only), ``"residual"`` or
                ``"normal"``; by default the fit's ``df_method``.

        Returns:
            A DataFrame indexed by term with columns ``Sum Sq``, ``Mean Sq``, ``NumDF``,
            ``DenDF``, ``F value``, ``Pr(>F)``; ``attrs["hypotheses"]`` holds each term's
            hypothesis matrix.

        Example:
            >>> import interlace_jax as ij
            >>> m = ij.fit("angle ~ recipe * temp + (1 | recipe:replicate)",
            ...            ij.datasets.load("cake"))
            >>> m.anova().round(3)["F value"].tolist()
            [0.096, 94.163, 0.042]
        """
        return anova_table(self, type, ddf)

    def t_test(self, L, rhs=None, ddf: str | None = None) -> pd.DataFrame:
        """One t-test of ``l' beta = rhs`` per row of ``L`` (lmerTest's ``contest1D``).

        Args:
            L: a (p,) or (m, p) array over the coefficients, a dict or Series keyed by
                coefficient names (formulaic's or lme4's), or a DataFrame with such columns.
            rhs: a scalar or (m,) right-hand sides (default 0).
            ddf: ``"satterthwaite"``, ``"kenward-roger"`` (REML fits only), ``"residual"`` or
                ``"normal"``; by default the fit's ``df_method``.

        Returns:
            A DataFrame with columns ``Estimate``, ``Std. Error``, ``df``, ``t value``,
            ``Pr(>|t|)``, one row per contrast.
        """
        rows, labels = contrast_matrix(L, self)
        tests = inference_for(self, ddf)
        return ttest_frame(tests.ttests(rows, right_hand_side(rhs, rows.shape[0])), labels)

    def f_test(self, L, rhs=None, ddf: str | None = None) -> pd.DataFrame:
        """The joint F-test of ``L beta = rhs`` (lmerTest's ``contest``, ``joint = TRUE``).

        Takes the same ``L``, ``rhs`` and ``ddf`` as :meth:`t_test`; returns a one-row
        DataFrame with columns ``Sum Sq``, ``Mean Sq``, ``NumDF``, ``DenDF``, ``F value``,
        ``Pr(>F)``.
        """
        rows, _ = contrast_matrix(L, self)
        tests = inference_for(self, ddf)
        return ftest_frame(tests.ftest(rows, right_hand_side(rhs, rows.shape[0])))

    def contrast(self, L, rhs=None, joint: bool = True, ddf: str | None = None) -> pd.DataFrame:
        """lmerTest's ``contest``: the joint F-test (``joint=True``, :meth:`f_test`) or one
        t-test per row (``joint=False``, :meth:`t_test`)."""
        return self.f_test(L, rhs, ddf) if joint else self.t_test(L, rhs, ddf)

    def emmeans(self, specs, by=None, at=None, df_method: str | None = None,
                level: float = 0.95, weights: str = "equal"):
        """Estimated marginal means of this fit: :func:`interlace_jax.emmeans`."""
        from interlace_jax.results._emmeans import emmeans

        return emmeans(self, specs, by=by, at=at, df_method=df_method, level=level,
                       weights=weights)

    def summary(self):
        """lme4-style summary (an object whose ``str()`` is the printed table)."""
        from interlace_jax.results._summary import LMMSummary

        return LMMSummary(self)

    def __repr__(self) -> str:
        return f"<LMMResult {self.method}: {self.formula} (nobs={self.nobs})>"

    def __str__(self) -> str:
        return str(self.summary())


def _check_level(alpha: float, level: float | None) -> float:
    """The confidence level from ``level`` or ``1 - alpha``, checked to lie in (0, 1)."""
    level = 1.0 - float(alpha) if level is None else float(level)
    if not 0.0 < level < 1.0:
        raise ModelError(f"the confidence level must be in (0, 1), got {level!r}")
    return level

