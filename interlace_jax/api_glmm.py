"""``glmer``: generalised linear mixed models, build -> objective -> optimise -> result."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from interlace_jax._errors import ConvergenceWarning, ModelError
from interlace_jax._x64 import x64
from interlace_jax.families import Family, family_of
from interlace_jax.formula import build_model_frame, parse_formula
from interlace_jax.models._glmm_data import glmm_data
from interlace_jax.models._laplace import laplace_deviance, zero_effects
from interlace_jax.optim._fit_glmm import fit_glmm
from interlace_jax.optim._glm_start import GLMStart, glm_start
from interlace_jax.results._glmm_result import GLMMResult
from interlace_jax.terms import ReTerm, diagonal_mask


def objective_for(n_agq: int, terms: list[ReTerm]):
    """The deviance function for nAGQ: Laplace for 1, adaptive Gauss-Hermite beyond."""
    if isinstance(n_agq, bool) or not isinstance(n_agq, (int, np.integer)) or n_agq < 1:
        raise ModelError(f"nAGQ must be a whole number >= 1, got {n_agq!r}")
    if n_agq == 1:
        return laplace_deviance
    from interlace_jax.models._quadrature import quadrature_deviance_for

    return quadrature_deviance_for(int(n_agq), terms)


def _start(start, family: Family, frame, ordered: list[ReTerm], glm: GLMStart) -> np.ndarray:
    """(theta, beta, log phi): lme4's theta start (1 on diagonals) and the GLM's beta."""
    theta0 = np.concatenate([diagonal_mask(t.size).astype(float) for t in ordered])
    beta0, phi0 = glm.beta, glm.phi
    x0 = np.concatenate([theta0, beta0, [np.log(phi0)] if family.has_dispersion else []])
    if start is None:
        return x0
    start = dict(start)
    unknown = set(start) - {"theta", "beta", "phi"}
    if unknown:
        raise ModelError(f"start= takes keys 'theta', 'beta', 'phi'; unknown: {sorted(unknown)}")
    pieces = [np.asarray(start.get("theta", theta0), float).ravel(),
              np.asarray(start.get("beta", beta0), float).ravel()]
    if family.has_dispersion:
        pieces.append(np.log(np.atleast_1d(np.asarray(start.get("phi", phi0), float))))
    x = np.concatenate(pieces)
    if x.size != x0.size or not np.all(np.isfinite(x)):
        raise ModelError(f"start= must give {theta0.size} theta and {beta0.size} beta values"
                         " (and a positive phi), all finite")
    return x


def glmer(
    formula: str,
    data: Any,
    family: str | Family = "binomial",
    *,
    link: str | None = None,
    groups: str | list[str] | None = None,
    random: list[str] | None = None,
    weights: Any = None,
    offset: Any = None,
    nAGQ: int = 1,
    optimizer: str = "lbfgsb",
    start: dict | None = None,
) -> GLMMResult:
    """Fit a generalised linear mixed model by maximum likelihood, as lme4's ``glmer``.

    Args:
        formula: lme4 formula; a binomial response may be 0/1, a proportion with
            ``weights=`` trials, or ``cbind(successes, failures)``.
        data: a pandas, polars or pyarrow data frame.
        family: a name as R spells it (``"binomial"``, ``"poisson"``, ``"Gamma"``,
            ``"inverse_gaussian"``, ``"gaussian"``) or a family object such as
            ``Binomial(link="probit")``.
        link: a link name for a family given by name (``"probit"``, ``"log"``, ...).
        groups, random: random-intercept shorthand and extra terms, as in :func:`fit`.
        weights: prior weights (binomial: numbers of trials), a column name or an array.
        offset: a column name or array added to the linear predictor.
        nAGQ: 1 for the Laplace approximation; more for adaptive Gauss-Hermite quadrature
            with that many nodes per dimension (a single grouping factor only).
        optimizer: ``"lbfgsb"`` (default: scipy's L-BFGS-B with exact gradients; the Hessian
            at the optimum from central differences of exact gradients) or ``"newton"``
            (exact Hessians throughout; more to compile). See
            :mod:`interlace_jax.optim._fit_glmm`.
        start: optional starting values, a dict with ``theta`` (lme4's order), ``beta`` and
            ``phi``.

    Returns:
        A :class:`GLMMResult`.
    """
    fam = family_of(family, link)
    if fam.name == "gaussian" and fam.link.name == "identity":
        raise ModelError("family='gaussian' with the identity link is a linear mixed model: "
                         "use interlace_jax.fit (lmer), which profiles beta and sigma exactly")
    parsed = parse_formula(formula, random=random, groups=groups)
    if not parsed.bars:
        raise ModelError(f"no random-effects terms in {formula!r}: add a term such as (1 | g)")
    frame = build_model_frame(parsed, data, weights=weights, offset=offset,
                              factor_response=fam.name == "binomial", residual_variance=False)
    if frame.trials is not None and fam.name != "binomial":
        raise ModelError(f"a cbind(successes, failures) response needs the binomial family, "
                         f"not {fam.name!r}")
    fam.check_response(frame.y, frame.weights, f"the response {parsed.response!r}")
    terms = [ReTerm(t.group, t.refs, t.z, t.levels, t.z_names) for t in frame.terms]
    with x64():
        model = glmm_data(terms, frame.X, frame.y, frame.weights, frame.offset, fam)
        ordered = [terms[i] for i in model.plan.order]
        objective = objective_for(nAGQ, ordered)
        glm = glm_start(fam, frame.X, frame.y, frame.weights, frame.offset)
        x0 = _start(start, fam, frame, ordered, glm)
        fit, u = fit_glmm(model, objective, x0, tuple(t.size for t in ordered),
                          zero_effects(model), optimizer)
    result = GLMMResult(formula=formula, frame=frame, data=model, terms=ordered, fit=fit, u=u,
                        n_agq=int(nAGQ))
    if not result.converged:
        warnings.warn("; ".join(m for m in result.convergence_messages if "singular" not in m),
                      ConvergenceWarning, stacklevel=2)
    return result
