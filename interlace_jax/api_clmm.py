"""``clmm``: cumulative link mixed models, build -> objective -> optimise -> result."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from interlace_jax._errors import ConvergenceWarning, ModelError
from interlace_jax._x64 import x64
from interlace_jax.api_glmm import objective_for
from interlace_jax.families import LINKS, Link
from interlace_jax.formula import ordinal_model_frame, parse_formula
from interlace_jax.models._laplace import zero_effects
from interlace_jax.models._ordinal import ORDINAL_LINKS, CumulativeLink, ordinal_data
from interlace_jax.models._thresholds import Thresholds, thresholds_of
from interlace_jax.optim._fit_glmm import fit_glmm
from interlace_jax.results._clmm_result import ClmmResult
from interlace_jax.terms import ReTerm, diagonal_mask


def link_of(link: str | Link) -> Link:
    """The Link object of a cumulative link model's ``link=`` (a name or a Link)."""
    name = link.name if isinstance(link, Link) else link
    if not isinstance(name, str) or name not in ORDINAL_LINKS:
        raise ModelError(f"unknown link {link!r} for a cumulative link model; choose one of "
                         f"{ORDINAL_LINKS}")
    return link if isinstance(link, Link) else LINKS[name]()


def _start(start: dict | None, ordered: list[ReTerm], thresholds: Thresholds, link: Link,
           codes: np.ndarray, weights: np.ndarray, p: int) -> np.ndarray:
    """(theta, beta, tau): lme4's theta start (1 on diagonals), beta = 0 and the cut points of
    the marginal cumulative proportions (the fit without covariates or random effects)."""
    theta0 = np.concatenate([diagonal_mask(t.size).astype(float) for t in ordered])
    counts = np.bincount(codes, weights=weights, minlength=thresholds.n_categories)
    cumulative = np.cumsum(counts)[:-1] / counts.sum()
    with x64():
        cuts = np.asarray(link.link(np.clip(cumulative, 1e-6, 1 - 1e-6)))
    alpha0 = thresholds.alpha_fitting(cuts)
    pieces = {"theta": theta0, "beta": np.zeros(p), "thresholds": alpha0}
    if start is not None:
        unknown = set(start) - set(pieces)
        if unknown:
            raise ModelError(f"start= takes keys 'theta', 'beta', 'thresholds' (ordinal's "
                             f"threshold parameters); unknown: {sorted(unknown)}")
        for key, default in pieces.items():
            value = np.asarray(start.get(key, default), float).ravel()
            if value.shape != default.shape or not np.all(np.isfinite(value)):
                raise ModelError(f"start[{key!r}] must be {default.size} finite numbers")
            pieces[key] = value
        ordered_cuts = thresholds.jacobian @ pieces["thresholds"]
        if np.any(np.diff(ordered_cuts) <= 0):
            raise ModelError("start['thresholds'] must give increasing cut points")
    return np.concatenate([pieces["theta"], pieces["beta"],
                           thresholds.tau_of(pieces["thresholds"])])


def clmm(
    formula: str,
    data: Any,
    link: str | Link = "logit",
    threshold: str = "flexible",
    *,
    levels: Sequence | None = None,
    groups: str | list[str] | None = None,
    random: list[str] | None = None,
    weights: Any = None,
    offset: Any = None,
    nAGQ: int = 1,
    optimizer: str = "lbfgsb",
    start: dict | None = None,
) -> ClmmResult:
    """Fit a cumulative link mixed model by maximum likelihood, as ordinal's ``clmm``.

    ``P(Y <= j | b) = F(theta_j - x'beta - z'b)`` with ``b ~ N(0, Sigma)``, F the inverse of
    the link, and K - 1 increasing thresholds theta (ordinal's sign convention; the formula's
    intercept is replaced by the thresholds).

    Args:
        formula: lme4 formula with an ordered response, e.g.
            ``"rating ~ temp + contact + (1 | judge)"``.
        data: a pandas, polars or pyarrow data frame.
        link: ``"logit"`` (default), ``"probit"``, ``"cloglog"``, ``"loglog"`` or
            ``"cauchit"``.
        threshold: ``"flexible"`` (default), ``"symmetric"`` or ``"equidistant"``.
        levels: the response's categories from lowest to highest; needed unless the response
            is a pandas ordered Categorical or a polars Enum.
        groups, random: random-intercept shorthand and extra terms, as in :func:`fit`.
        weights: case weights (a column name or an array).
        offset: a column name or array added to the linear predictor.
        nAGQ: 1 for the Laplace approximation; more for adaptive Gauss-Hermite quadrature
            with that many nodes (one grouping factor only).
        optimizer: ``"lbfgsb"`` (default) or ``"newton"``, as in :func:`glmer`.
        start: optional starting values: a dict with ``theta`` (lme4's order), ``beta`` and
            ``thresholds`` (ordinal's threshold parameters).

    Returns:
        A :class:`ClmmResult`.
    """
    link_obj = link_of(link)
    parsed = parse_formula(formula, random=random, groups=groups)
    if not parsed.bars:
        raise ModelError(f"no random-effects terms in {formula!r}: add a term such as (1 | g)")
    oframe = ordinal_model_frame(parsed, data, levels=levels, weights=weights, offset=offset)
    frame = oframe.frame
    thresholds = thresholds_of(threshold, len(oframe.categories))
    terms = [ReTerm(t.group, t.refs, t.z, t.levels, t.z_names) for t in frame.terms]
    codes = oframe.codes
    with x64():
        model = ordinal_data(terms, frame.X, codes, frame.weights, frame.offset,
                             CumulativeLink(link_obj, thresholds))
        ordered = [terms[i] for i in model.plan.order]
        objective = objective_for(nAGQ, ordered)
        x0 = _start(start, ordered, thresholds, link_obj, codes, frame.weights,
                    frame.X.shape[1])
        fit, u = fit_glmm(model, objective, x0, tuple(t.size for t in ordered),
                          zero_effects(model), optimizer)
    result = ClmmResult(formula=formula, frame=frame, categories=oframe.categories, data=model,
                        terms=ordered, fit=fit, u=u, n_agq=int(nAGQ))
    if not result.converged:
        warnings.warn("; ".join(m for m in result.convergence_messages if "singular" not in m),
                      ConvergenceWarning, stacklevel=2)
    return result
