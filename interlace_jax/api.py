"""The user-facing entry points: each is build -> objective -> optimise -> result (lme4's shape)."""

from __future__ import annotations

import warnings
from functools import partial
from typing import Any

import numpy as np

from interlace_jax._errors import ConvergenceWarning, ModelError
from interlace_jax._x64 import x64
from interlace_jax.formula import build_model_frame, check_response_varies, parse_formula
from interlace_jax.inference import kenward_roger
from interlace_jax.models import check_structure, correlated_lmm_data, lmm_data
from interlace_jax.optim import fit_theta, start_candidates, with_correlation_starts
from interlace_jax.results import LMMResult, check_df_method
from interlace_jax.terms import ReTerm


def _reml(method: str) -> bool:
    value = str(method).upper()
    if value not in ("REML", "ML"):
        raise ModelError(f"method must be 'REML' or 'ML', not {method!r}")
    return value == "REML"


def _check_theta0(theta0, terms: list[ReTerm]) -> np.ndarray:
    """The user's theta0 as a float array, checked against the terms (computation order)."""
    size = sum(t.n_theta for t in terms)
    theta0 = np.asarray(theta0, dtype=float).ravel()
    if theta0.size != size or not np.all(np.isfinite(theta0)):
        raise ModelError(
            f"theta0 must be {size} finite numbers (lme4's theta order), got {theta0}"
        )
    return theta0


def fit(
    formula: str,
    data: Any,
    groups: str | list[str] | None = None,
    method: str = "REML",
    random: list[str] | None = None,
    optimizer: str = "auto",
    theta0: np.ndarray | None = None,
    weights: Any = None,
    offset: Any = None,
    correlation: Any = None,
    df_method: str = "satterthwaite",
) -> LMMResult:
    """Fit a linear mixed model by profiled REML (default) or ML, as lme4's ``lmer``.

    Args:
        formula: lme4 formula, e.g. ``"Reaction ~ Days + (Days | Subject)"``; the fixed part
            goes through formulaic (``np.log(x)``, ``C(f)``, ``a * b``, ``offset(z)``).
        data: a pandas, polars or pyarrow data frame (anything narwhals reads eagerly).
        groups: column name(s) for random intercepts, shorthand for ``(1 | g)`` terms.
        method: ``"REML"`` or ``"ML"``.
        random: extra lme4 terms, e.g. ``["(1 + x | g1)", "(1 | g2)"]``.
        optimizer: ``"auto"`` (default: exact-Hessian Newton, or scipy's derivative-free
            ``"cobyqa"`` when the crossed-effects dense block is large), ``"newton"``,
            ``"lbfgs"`` (optax L-BFGS in JAX), ``"lbfgsb"`` (scipy, exact gradients),
            ``"cobyqa"`` or ``"bobyqa"`` (Py-BOBYQA, optional extra).
        theta0: starting theta in lme4's order (terms by decreasing number of levels); by
            default the best (lowest objective) of lme4's start and moment estimates: one-way
            and additive ANOVA for ``(1 | g)`` terms, per-level regressions for terms with
            slopes (see :mod:`interlace_jax.optim._start`).
        weights: prior weights: a column name or an array of one value per row.
        offset: a column name or array added to the linear predictor.
        correlation: a residual correlation structure within groups, nlme's
            ``correlation=``: ``AR1(group="Subject")`` (the data's order within each group,
            ``corAR1(form = ~ 1 | Subject)``), ``AR1(time="week", group="Subject")`` (integer
            positions, gaps allowed), ``CAR1(time="t", group="Subject")`` (continuous time,
            ``corCAR1``) or ``CompoundSymmetry(group="Subject")`` (``corCompSymm``). Its
            parameter is estimated with theta (``result.correlation_params``); the correlation
            groups must be nested in every random-effects grouping factor. See
            docs/correlation.md.
        df_method: ``"satterthwaite"`` (default), ``"kenward-roger"`` (REML fits only: the
            adjusted covariance and df of pbkrtest, from exact derivatives; with prior
            weights it uses the weighted covariance, which pbkrtest ignores), ``"residual"``
            or ``"normal"``.

    Returns:
        An :class:`LMMResult`.

    Example:
        >>> import interlace_jax as ij
        >>> m = ij.fit("Reaction ~ Days + (Days | Subject)", ij.datasets.load("sleepstudy"))
        >>> round(m.llf, 3)
        -871.814
    """
    reml = _reml(method)
    df_method = check_df_method(df_method)
    structure = check_structure(correlation)
    if df_method == "kenward-roger" and not reml:
        raise ModelError(
            f"df_method='kenward-roger' needs a REML fit, but method={method!r}; use "
            "method='REML' (pbkrtest refits by REML), or Satterthwaite's df for an ML fit")
    if df_method == "kenward-roger" and structure is not None:
        raise ModelError(
            "df_method='kenward-roger' is not available with correlation= (pbkrtest's method "
            "needs a covariance linear in its parameters); use df_method='satterthwaite'")
    parsed = parse_formula(formula, random=random, groups=groups)
    if not parsed.bars:
        raise ModelError(
            f"no random-effects terms in {formula!r}: add a term such as (1 | g), "
            "or pass groups= or random="
        )
    frame = build_model_frame(parsed, data, weights=weights, offset=offset,
                              series=None if structure is None else structure.columns())
    if frame.trials is not None:
        raise ModelError(f"the response {parsed.response!r} is a binomial cbind(successes, "
                         "failures): fit it with interlace_jax.glmer(..., family='binomial')")
    check_response_varies(frame.y - frame.offset, frame.X, frame.weights, parsed.response)
    terms = [ReTerm(t.group, t.refs, t.z, t.levels, t.z_names) for t in frame.terms]
    with x64():
        y = frame.y - frame.offset
        if structure is None:
            model = lmm_data(terms, frame.X, y, frame.weights)
        else:
            series = frame.series
            model = correlated_lmm_data(terms, frame.X, y, frame.weights, structure,
                                        series.refs, series.levels, series.time)
        ordered = [terms[i] for i in model.plan.order]
        start = (start_candidates(ordered, frame.X, y, frame.weights) if theta0 is None
                 else _check_theta0(theta0, ordered))
        if structure is not None:
            start = with_correlation_starts(start, structure.start_values(model.layout))
        theta_fit = fit_theta(model, reml=reml, theta0=start, optimizer=optimizer)
        kr = (kenward_roger(theta_fit.theta, float(theta_fit.solution.sigma), model)
              if df_method == "kenward-roger" else None)
    result = LMMResult(
        formula=formula, frame=frame, data=model, terms=ordered, theta_fit=theta_fit,
        reml=reml, df_method=df_method, kenward_roger=kr,
        correlation=structure,
    )
    if not result.converged:
        warnings.warn(
            "; ".join(m for m in result.convergence_messages if "singular" not in m),
            ConvergenceWarning, stacklevel=2,
        )
    return result


def refit_ml(result: LMMResult) -> LMMResult:
    """The same model fitted by ML (lme4's ``refitML``), starting from the fit's theta.

    ML fits are returned as they are. Used by :func:`interlace_jax.anova` and by profile
    intervals, which compare and profile ML likelihoods.
    """
    if not result.reml:
        return result
    with x64():
        theta_fit = fit_theta(result._data, reml=False, theta0=result.theta_fit.theta,
                              optimizer=result.theta_fit.optimizer)
    refit = LMMResult(
        formula=result.formula, frame=result.frame, data=result._data, terms=result._terms,
        theta_fit=theta_fit, reml=False, df_method=result.df_method,
        data_name=result.data_name, correlation=result.correlation,
    )
    if not refit.converged:
        warnings.warn(
            "ML refit: " + "; ".join(m for m in refit.convergence_messages if "singular" not in m),
            ConvergenceWarning, stacklevel=3,
        )
    return refit


lmer = partial(fit)
lmer.__doc__ = "Alias of :func:`fit` under lme4's name."
