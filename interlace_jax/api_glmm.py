"""``glmer`` and ``glmmTMB``: generalised linear mixed models, build -> objective -> optimise ->
result. Both run the same path (:func:`_fit_glmm`); they differ in the Laplace convention
(lme4's expected information vs TMB's observed one), the extra parts glmmTMB allows
(``ziformula``, ``dispformula``) and the result's presentation."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from interlace_jax._errors import ConvergenceWarning, ModelError
from interlace_jax._x64 import x64
from interlace_jax.families import Family, family_of, zero_model_for
from interlace_jax.formula import build_model_frame, parse_formula, parse_part
from interlace_jax.models._glmm_data import LME4, TMB, Convention, glmm_data
from interlace_jax.models._laplace import laplace_deviance, zero_effects
from interlace_jax.models._params import ParamLayout
from interlace_jax.optim._fit_glmm import fit_glmm
from interlace_jax.optim._fit_glmm_nagq0 import fit_glmm_nagq0
from interlace_jax.optim._glm_start import PartsStart, parts_start
from interlace_jax.results._glmm_result import GLMMResult
from interlace_jax.results._glmmtmb_result import GLMMTMBResult
from interlace_jax.terms import ReTerm, diagonal_mask


def _check_nagq(n_agq, smallest: int) -> None:
    if isinstance(n_agq, bool) or not isinstance(n_agq, (int, np.integer)) or n_agq < smallest:
        raise ModelError(f"nAGQ must be a whole number >= {smallest}, got {n_agq!r}")


def objective_for(n_agq: int, terms: list[ReTerm]):
    """The deviance function of all outer parameters for nAGQ: Laplace for 1, adaptive
    Gauss-Hermite beyond (nAGQ = 0 has none: its fixed effects follow theta)."""
    if isinstance(n_agq, (int, np.integer)) and n_agq == 0:
        raise ModelError("nAGQ = 0 (lme4's first stage, fixed effects at the joint penalised "
                         "mode) is available for glmer() fits only; use nAGQ >= 1 here")
    _check_nagq(n_agq, 1)
    if n_agq == 1:
        return laplace_deviance
    from interlace_jax.models._quadrature import quadrature_deviance_for

    return quadrature_deviance_for(int(n_agq), terms)


def _start(start: dict | None, family: Family, layout: ParamLayout, constant_disp: bool,
           ordered: list[ReTerm], parts: PartsStart) -> np.ndarray:
    """x0 = (theta, beta, beta_zi, beta_disp, psi): lme4's theta start (1 on diagonals) and
    the GLMs' coefficients, with the user's ``start=`` blocks in their place."""
    blocks = {"theta": np.concatenate([diagonal_mask(t.size).astype(float) for t in ordered]),
              "beta": parts.beta, "beta_zi": parts.zi, "beta_disp": parts.disp,
              "psi": parts.psi}
    if start is None:
        return np.concatenate(list(blocks.values()))
    allowed = {"theta", "beta"} | {k for k, n in (("beta_zi", layout.n_zi),
                                                   ("beta_disp", layout.n_disp),
                                                   ("psi", layout.n_psi)) if n}
    if constant_disp:
        allowed.add("phi")
    start = dict(start)
    unknown = set(start) - allowed
    if unknown:
        raise ModelError(f"start= takes keys {sorted(allowed)} for this model; unknown: "
                         f"{sorted(unknown)}")
    sizes = {k: v.size for k, v in blocks.items()}
    for key, value in start.items():
        value = np.atleast_1d(np.asarray(value, dtype=float)).ravel()
        if key == "phi":
            key, value = "beta_disp", np.log(value)
        elif key == "beta_disp":
            value = family.dispersion_sign * value  # given on glmmTMB's scale
        blocks[key] = value
    x = np.concatenate(list(blocks.values()))
    if (any(blocks[k].size != sizes[k] for k in blocks) or not np.all(np.isfinite(x))):
        extra = ", ".join(f"{sizes[k]} {k}" for k in ("beta_zi", "beta_disp", "psi")
                          if sizes[k])
        raise ModelError(f"start= must give {sizes['theta']} theta and {sizes['beta']} beta "
                         f"values{f' ({extra})' if extra else ''} (and a positive phi), all "
                         "finite")
    return x


def _part(frame, name: str):
    """(X (n, k), offset (n,)) of the frame's part ``name``, or (None, None)."""
    part = frame.parts.get(name)
    return (None, None) if part is None else (part.X, part.offset)


def _fit_glmm(formula: str, data: Any, fam: Family, *, convention: Convention,
              ziformula: str | None, dispformula: str | None, groups, random, weights, offset,
              n_agq: int, optimizer: str, start: dict | None, result_class: type) -> GLMMResult:
    """The one GLMM path of :func:`glmer` and :func:`glmmTMB`."""
    parsed = parse_formula(formula, random=random, groups=groups)
    if not parsed.bars:
        raise ModelError(f"no random-effects terms in {formula!r}: add a term such as (1 | g)")
    specs = tuple(parse_part(name, text) for name, text in (("zi", ziformula),
                                                            ("disp", dispformula))
                  if text is not None)
    if dispformula is not None and not fam.has_dispersion:
        raise ModelError(
            f"dispformula={dispformula!r}: the {fam.name} family has no dispersion parameter, "
            "so a dispersion model cannot be estimated (leave dispformula out)")
    frame = build_model_frame(parsed, data, weights=weights, offset=offset,
                              factor_response=fam.name == "binomial", residual_variance=False,
                              parts=specs)
    if frame.trials is not None and fam.name != "binomial":
        raise ModelError(f"a cbind(successes, failures) response needs the binomial family, "
                         f"not {fam.name!r}")
    X_zi, offset_zi = _part(frame, "zi")
    X_disp, offset_disp = _part(frame, "disp")
    if X_disp is not None and X_disp.shape[1] == 0:
        raise ModelError(f"dispformula={dispformula!r} has no coefficients; a fixed dispersion "
                         "is not supported (use '~1' for a constant one)")
    zeros = zero_model_for(fam, X_zi is not None and X_zi.shape[1] > 0)
    zeros.check_response(fam, frame.y, frame.weights, f"the response {parsed.response!r}")
    terms = [ReTerm(t.group, t.refs, t.z, t.levels, t.z_names) for t in frame.terms]
    n = frame.y.shape[0]
    with x64():
        model = glmm_data(terms, frame.X, frame.y, frame.weights, frame.offset, fam,
                          X_zi=X_zi, offset_zi=offset_zi, X_disp=X_disp,
                          offset_disp=offset_disp, zeros=zeros, convention=convention)
        ordered = [terms[i] for i in model.plan.order]
        _check_nagq(n_agq, 0)
        layout = model.layout
        if n_agq == 0 and layout.n_zi + layout.n_disp + layout.n_psi:
            raise ModelError(
                f"nAGQ = 0 needs a family without a dispersion or other parameters and no "
                f"ziformula/dispformula (as lme4's), not the {fam.name} family here; use "
                "nAGQ = 1")
        objective = objective_for(n_agq, ordered) if n_agq else None
        empty = np.zeros((n, 0))
        parts = parts_start(fam, zeros, frame.X, frame.y, frame.weights, frame.offset,
                            X_zi if zeros.has_zero_part else empty,
                            np.zeros(n) if offset_zi is None else offset_zi,
                            (X_disp if X_disp is not None else np.ones((n, 1)))
                            if fam.has_dispersion else empty,
                            np.zeros(n) if offset_disp is None else offset_disp)
        x0 = _start(start, fam, model.layout, model.disp.constant, ordered, parts)
        sizes = tuple(t.size for t in ordered)
        if n_agq == 0:
            fit, u = fit_glmm_nagq0(model, x0, sizes, zero_effects(model))
        else:
            fit, u = fit_glmm(model, objective, x0, sizes, zero_effects(model), optimizer)
    result = result_class(formula=formula, frame=frame, data=model, terms=ordered, fit=fit, u=u,
                          n_agq=int(n_agq))
    if not result.converged:
        warnings.warn("; ".join(m for m in result.convergence_messages if "singular" not in m),
                      ConvergenceWarning, stacklevel=3)
    return result


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
            with that many nodes per dimension (a single grouping factor only); 0 for lme4's
            faster first stage: theta optimised with the fixed effects at the joint penalised
            mode (families without a dispersion parameter; ``optimizer`` is then COBYQA).
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
    return _fit_glmm(formula, data, fam, convention=LME4, ziformula=None, dispformula=None,
                     groups=groups, random=random, weights=weights, offset=offset, n_agq=nAGQ,
                     optimizer=optimizer, start=start, result_class=GLMMResult)


def glmmTMB(
    formula: str,
    data: Any,
    family: str | Family = "gaussian",
    *,
    ziformula: str | None = None,
    dispformula: str | None = None,
    link: str | None = None,
    groups: str | list[str] | None = None,
    random: list[str] | None = None,
    weights: Any = None,
    offset: Any = None,
    optimizer: str = "lbfgsb",
    start: dict | None = None,
) -> GLMMTMBResult:
    """Fit a generalised linear mixed model by maximum likelihood, as glmmTMB's ``glmmTMB``
    (TMB's Laplace approximation, with the observed Hessian in the random effects).

    Args:
        formula: lme4 formula of the conditional mean.
        data: a pandas, polars or pyarrow data frame.
        family: a name as glmmTMB spells it (``"gaussian"``, ``"poisson"``, ``"binomial"``,
            ``"Gamma"``, ``"nbinom2"``, ``"nbinom1"``, ``"truncated_poisson"``,
            ``"truncated_nbinom2"``, ``"truncated_nbinom1"``, ``"beta_family"``,
            ``"ordbeta"``, ``"t_family"``) or a family object such as
            ``NegativeBinomial2(link="log")``.
        ziformula: one-sided formula of the zero part's logit, e.g. ``"~1"`` or ``"~ x"``:
            zero inflation, or with a ``truncated_*`` family a hurdle model. None or ``"~0"``:
            none. Fixed effects only.
        dispformula: one-sided formula of the log-dispersion, e.g. ``"~ h"`` (glmmTMB's
            scale: log size for nbinom2, log variance for gaussian, log shape for Gamma, log
            precision for beta, log scale for t). None: a constant dispersion (``"~1"``), for
            families that have one.
        link, groups, random, weights, offset, optimizer: as in :func:`glmer` (prior weights
            multiply the log-likelihood, as in glmmTMB).
        start: optional starting values: ``theta`` (lme4's order), ``beta``, ``beta_zi``,
            ``beta_disp`` (glmmTMB's scale), ``phi`` (a constant dispersion in the family's own
            parameterisation) and ``psi`` (the family parameters: log df for t, the two
            cutpoints for ordbeta).

    Returns:
        A :class:`GLMMTMBResult`: ``fe_params`` are the conditional model's, ``fe_params_zi``
        and ``fe_params_disp`` the other parts'; ``sigma`` and ``llf`` as glmmTMB defines them.
    """
    fam = family_of(family, link)
    return _fit_glmm(formula, data, fam, convention=TMB, ziformula=ziformula,
                     dispformula=dispformula, groups=groups, random=random, weights=weights,
                     offset=offset, n_agq=1, optimizer=optimizer, start=start,
                     result_class=GLMMTMBResult)
