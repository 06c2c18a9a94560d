"""``coxme``: Cox models with Gaussian random effects, build -> objective -> optimise -> result."""

from __future__ import annotations

import warnings
from typing import Any

import jax
import numpy as np

from interlace_jax._errors import ConvergenceWarning, ModelError
from interlace_jax._x64 import x64
from interlace_jax.formula import RandomTermData, build_survival_frame, parse_formula
from interlace_jax.models._cox_data import TIES, cox_data
from interlace_jax.models._cox_laplace import (
    cox_laplace_deviance,
    mode_summary,
    theta_all,
    zero_start,
)
from interlace_jax.optim import FEW_CALLS
from interlace_jax.optim._fit_cox import fit_cox
from interlace_jax.results._coxme_result import CoxmeResult, CoxTerm
from interlace_jax.terms import ReTerm, diagonal_mask, n_theta, tril_positions

#: coxme's default ``sparse``: a random intercept with at least this many levels ...
SPARSE_DEFAULT = (50, 0.02)  # ... of which those holding at most this fraction of the rows

#: Evaluated once per fit: compiled for compile time.
_mode_summary = jax.jit(mode_summary, compiler_options=FEW_CALLS)


def coxme_group(term: RandomTermData) -> tuple[str, tuple[str, ...]]:
    """coxme's name and level labels of a term: ``(1 | center/trt)`` gives the groups
    ``center/trt`` (levels ``c01/active``, ...) and ``center``; other terms keep theirs."""
    nested = "/" in term.source.split("|")[-1]
    if not nested or len(term.factors) < 2:
        return term.group, term.levels
    k = len(term.factors)
    levels = tuple("/".join(reversed(lab.split(":"))) if lab.count(":") == k - 1 else lab
                   for lab in term.levels)
    return "/".join(reversed(term.factors)), levels


def sparse_levels(term: RandomTermData, sparse) -> np.ndarray:
    """Levels of the first term that coxme's ``sparse = (min_levels, max_fraction)`` rule
    treats as sparse: a random intercept with at least ``min_levels`` levels (more than, for
    the inner factor of a nested term) some of which hold at most ``max_fraction`` of the rows;
    those levels are sparse."""
    if sparse is None or sparse is False or term.z_names != ("(Intercept)",):
        return np.zeros(0, np.int64)
    min_levels, max_fraction = sparse
    n_levels = len(term.levels)
    fraction = np.bincount(term.refs, minlength=n_levels) / term.refs.size
    nested = "/" in term.source.split("|")[-1] and len(term.factors) > 1
    enough = n_levels > min_levels if nested else n_levels >= min_levels
    if not enough or not np.any(fraction <= max_fraction):
        return np.zeros(0, np.int64)
    return np.flatnonzero(fraction <= max_fraction)


def _check_sparse(sparse):
    if sparse is None or sparse is False:
        return None
    try:
        min_levels, max_fraction = (float(v) for v in sparse)
    except (TypeError, ValueError):
        raise ModelError(f"sparse must be (min_levels, max_fraction) or None, got {sparse!r}"
                         ) from None
    if min_levels < 1 or not 0 < max_fraction <= 1:
        raise ModelError(f"sparse = {sparse!r}: need min_levels >= 1 and 0 < max_fraction <= 1")
    return min_levels, max_fraction


def _fixed_theta(vfixed, groups: list[str], sizes: list[int]) -> dict[int, np.ndarray]:
    """{term index: theta} from vfixed: a variance for every term, or {group: variance or
    covariance matrix}."""
    if vfixed is None:
        return {}
    if not isinstance(vfixed, dict):
        vfixed = {g: vfixed for g in groups}
    unknown = set(vfixed) - set(groups)
    if unknown:
        raise ModelError(f"vfixed names unknown groups {sorted(unknown)}; the groups are "
                         f"{groups}")
    out = {}
    for i, (group, size) in enumerate(zip(groups, sizes)):
        if group not in vfixed:
            continue
        cov = np.atleast_2d(np.asarray(vfixed[group], dtype=float))
        if cov.shape != (size, size) or not np.all(np.isfinite(cov)):
            raise ModelError(f"vfixed[{group!r}] must be a finite {'variance' if size == 1 else f'{size}x{size} covariance matrix'}")
        if np.any(np.diag(cov) < 0) or not np.allclose(cov, cov.T):
            raise ModelError(f"vfixed[{group!r}] must be a variance >= 0 (or a symmetric "
                             "positive semi-definite covariance matrix)")
        rows, cols = tril_positions(size)
        if np.all(cov == 0):
            out[i] = np.zeros(n_theta(size))
            continue
        try:
            out[i] = np.linalg.cholesky(cov)[rows, cols]
        except np.linalg.LinAlgError:
            raise ModelError(f"vfixed[{group!r}] is not positive definite") from None
    return out


def _start_scales(terms: list[ReTerm], free: tuple[int, ...]) -> np.ndarray:
    """Scale of each estimated theta's start: 1 for intercepts, 1 / SD for slope columns."""
    out = []
    for t in free:
        term = terms[t]
        scale = np.ones(n_theta(term.size))
        diag = np.flatnonzero(diagonal_mask(term.size))
        for s, pos in enumerate(diag):
            sd = np.std(term.z[:, s])
            if term.z_names[s] != "(Intercept)" and sd > 0:
                scale[pos] = 1.0 / sd
        out.append(scale)
    return np.concatenate(out) if out else np.zeros(0)


def coxme(
    formula: str,
    data: Any,
    *,
    ties: str = "efron",
    offset: Any = None,
    vfixed: Any = None,
    sparse: tuple[float, float] | None = SPARSE_DEFAULT,
    optimizer: str = "lbfgsb",
    data_name: str | None = None,
) -> CoxmeResult:
    """Fit a Cox proportional hazards model with Gaussian random effects, as R's ``coxme``.

    The variance parameters maximise the Laplace approximation of the integrated partial
    likelihood, with the fixed and random effects at the maximum of the penalised partial
    likelihood for each value (Ripatti & Palmgren 2000), as coxme does.

    Args:
        formula: e.g. ``"Surv(time, status) ~ rx + (1 | litter)"``; the response is
            ``Surv(time, status)`` or ``Surv(start, stop, status)`` (status 0/1 or boolean);
            the fixed part may hold ``strata(s)`` and ``offset(expr)`` terms; random-effects
            terms as in lme4: ``(1 | g)``, ``(1 | a/b)``, ``(1 + x | g)``, several crossed.
        data: a pandas, polars or pyarrow data frame.
        ties: ``"efron"`` (default) or ``"breslow"``.
        offset: a column name or array added to the linear predictor.
        vfixed: fix variances instead of estimating them: a number (every term's variance)
            or ``{group: variance or covariance matrix}`` with coxme's group names (e.g.
            ``{"litter": 0.0}``, which gives ``survival::coxph``'s fit).
        sparse: coxme's ``sparse = c(50, 0.02)``: for a first term that is a random intercept
            with at least 50 levels, the Hessian block of its levels holding at most 2% of the
            rows is approximated by its diagonal (in the Newton steps, the log-determinant and
            the variances), as coxme does; ``None`` for the exact Laplace approximation.
        optimizer: ``"lbfgsb"`` (default) or ``"newton"`` (see :func:`glmer`).
        data_name: a name for the data in the printed summary.

    Returns:
        A :class:`CoxmeResult`.
    """
    if ties not in TIES:
        raise ModelError(f"ties must be one of {TIES}, not {ties!r}")
    sparse = _check_sparse(sparse)
    parsed = parse_formula(formula)
    if not parsed.bars:
        raise ModelError(f"no random-effects terms in {formula!r}: add a term such as (1 | g)")
    frame, surv = build_survival_frame(parsed, data, formula=formula, offset=offset)
    if surv.n_events == 0:
        raise ModelError("the data have no events (every status is 0): nothing to fit")
    names = [coxme_group(t) for t in frame.terms]
    first_sparse = sparse_levels(frame.terms[0], sparse)
    terms, cox_terms = [], []
    for i, (t, (group, levels)) in enumerate(zip(frame.terms, names)):
        position = np.arange(len(levels))
        if i == 0 and first_sparse.size:
            order = np.concatenate([first_sparse, np.setdiff1d(position, first_sparse)])
            position = np.empty_like(order)
            position[order] = np.arange(order.size)
            levels = tuple(levels[j] for j in order)
        terms.append(ReTerm(group, position[t.refs].astype(np.int32), t.z, levels, t.z_names))
        cox_terms.append(CoxTerm(group, levels, t.z_names, position))
    groups = [c.group for c in cox_terms]
    theta_fixed = _fixed_theta(vfixed, groups, [t.size for t in terms])
    with x64():
        model = cox_data(terms, frame.X, frame.offset, surv.stop, surv.start, surv.event,
                         surv.strata, ties, int(first_sparse.size), theta_fixed)
        free = model.layout.free_terms
        fit, mode = fit_cox(model, cox_laplace_deviance, tuple(terms[t].size for t in free),
                            zero_start(model), optimizer, scales=_start_scales(terms, free))
        summary = jax.device_get(_mode_summary(fit.x, model, mode))
        theta = np.asarray(theta_all(np.asarray(fit.x, dtype=float), model))
    result = CoxmeResult(formula=formula, frame=frame, survival=surv, data=model,
                         terms=cox_terms, fit=fit, theta=theta, mode=mode, summary=summary,
                         ties=ties, data_name=data_name)
    if not result.converged:
        warnings.warn("; ".join(result.convergence_messages), ConvergenceWarning, stacklevel=2)
    return result

