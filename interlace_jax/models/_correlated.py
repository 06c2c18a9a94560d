r"""A linear mixed model with correlated residuals as an ordinary one, re-weighted on the device.

With residual covariance ``sigma^2 W^{-1/2} R(rho) W^{-1/2}`` (``R`` block diagonal by
correlation group, see :mod:`interlace_jax.models._correlation`) and ``F'F = R^{-1}``, the rows
``F W^{1/2} [Z X y]`` follow an ordinary LMM with independent unit-variance residuals, and

.. math:: d(\theta, \rho) = d_{\text{whitened}}(\theta) + \log|R(\rho)|

(ML and REML alike). ``F`` mixes only rows of the same correlation group. When every
correlation group lies within one level of every random-effects grouping factor (the
correlation is nested in the random effects, as nlme's ``lme`` requires), a whitened row of
``Z_t`` is still non-zero only at that level: the level codes, the block plan and its coupling
index stay as they are, and only the per-observation model matrices change. The cross-products
of :class:`~interlace_jax.models.DesignProducts` and
:class:`~interlace_jax.models.ResponseProducts` are then recomputed from the whitened rows at each
evaluation (segment sums over the level codes, O(n) work), so the correlation parameters enter
the same pure objective as theta, with exact derivatives. Models without ``correlation=`` keep
:class:`~interlace_jax.models.LMMData` and its products computed once on the host.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import jax
import jax.numpy as jnp
import numpy as np

from interlace_jax._errors import ModelError
from interlace_jax.linalg import BlockPlan, make_plan
from interlace_jax.models._crossprod import (
    DesignProducts,
    LMMData,
    ResponseProducts,
    design_products,
)
from interlace_jax.terms import ReTerm


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class ObservationRows:
    """The rows of the model, before whitening (n observations, computation order).

    Attributes:
        stacked: (n, K) ``sqrt(w) [Z_1 Z_2 ... X y]``: the model matrices of the terms, X and
            the response (minus any offset), each row times the square root of its weight.
        first_refs: int32 (n,) level of the first term of each observation.
        rest_rows: int32 (n, R) rows in the dense rest block of the other terms' R = sum S_t
            columns of ``stacked``.
        rest_pairs: (n, R, R) flat index ``row_a * q_rest + row_b`` of each product of two
            such columns in ``Z_rest'Z_rest``.
        obs_entry: per other term, int32 (n,) its coupling entry with the first term.
    """

    stacked: jax.Array
    first_refs: jax.Array
    rest_rows: jax.Array
    rest_pairs: jax.Array
    obs_entry: tuple


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class CorrelatedLMMData:
    """Everything the objective of a model with correlated residuals reads.

    Its parameter vector is ``(theta, correlation parameters)`` (unconstrained); :meth:`at`
    returns the equivalent :class:`LMMData` at those parameters.

    Attributes:
        rows: the model's ObservationRows.
        template: the DesignProducts of the model without correlation (its index arrays,
            ``n_obs`` and ``log_weights_sum`` are kept; its products are replaced).
        layout: the structure's layout of the observations in their correlation groups.
        structure: the correlation structure (static).
        plan: the static block plan.
        n_theta: number of theta parameters (static).
    """

    rows: ObservationRows
    template: DesignProducts
    layout: object
    structure: object = field(metadata=dict(static=True))
    plan: BlockPlan = field(metadata=dict(static=True))
    n_theta: int = field(metadata=dict(static=True))

    @property
    def n_correlation(self) -> int:
        return self.structure.n_params

    @property
    def n_obs(self):
        return self.template.n_obs

    def at(self, params: jax.Array) -> tuple[jax.Array, LMMData, jax.Array]:
        """(theta, LMMData of the whitened model, log|R|) at params (n_theta + n_corr,)."""
        theta, corr = params[: self.n_theta], params[self.n_theta :]
        design, response, log_det = whitened_products(corr, self)
        return theta, LMMData(design, response, self.plan), log_det


def _term_columns(plan: BlockPlan) -> tuple[int, ...]:
    """Column offsets of the terms in ``stacked`` (computation order), and of X."""
    sizes = [lay.size for lay in plan.terms]
    return tuple(np.cumsum([0, *sizes]).tolist())


def whitened_products(corr: jax.Array, data: CorrelatedLMMData):
    """(DesignProducts, ResponseProducts, log|R|) of the whitened rows at the unconstrained
    correlation parameters corr (n_corr,).

    Few large segment sums rather than one per product: the exact-Hessian pass differentiates
    this twice, and its compile time grows with the number of operations.
    """
    plan, rows = data.plan, data.rows
    m, log_det = data.structure.whiten(corr, data.layout, rows.stacked)
    bounds = _term_columns(plan)
    s1, p, q = plan.terms[0].size, plan.n_fixed, plan.n_rest
    z1, zr, xy = m[:, :s1], m[:, s1 : bounds[-1]], m[:, bounds[-1] :]  # xy: (n, p + 1)
    first = jnp.concatenate([z1, xy], axis=1)
    per_level = jax.ops.segment_sum(first[:, :, None] * z1[:, None, :], rows.first_refs,
                                    num_segments=plan.terms[0].n_levels)  # (L1, S1+p+1, S1)
    entry_b = tuple(
        jax.ops.segment_sum(zr[:, lo - s1 : hi - s1, None] * z1[:, None, :], entry,
                            num_segments=lay.n_entries)
        for lay, entry, lo, hi in zip(plan.terms[1:], rows.obs_entry, bounds[1:-1], bounds[2:]))
    if q:
        arr = jax.ops.segment_sum((zr[:, :, None] * zr[:, None, :]).ravel(),
                                  rows.rest_pairs.ravel(), num_segments=q * q).reshape(q, q)
        rxy = jax.ops.segment_sum((zr[:, :, None] * xy[:, None, :]).reshape(-1, p + 1),
                                  rows.rest_rows.ravel(), num_segments=q)  # (q, p + 1)
    else:
        arr, rxy = jnp.zeros((0, 0)), jnp.zeros((0, p + 1))
    cross = xy.T @ xy
    design = replace(data.template, a11=per_level[:, :s1], xz1=per_level[:, s1 : s1 + p],
                     arr=arr, arx=rxy[:, :p], xx=cross[:p, :p], entry_b=entry_b)
    response = ResponseProducts(yz1=per_level[:, -1], yr=rxy[:, p], xy=cross[:p, p],
                                yy=cross[p, p])
    return design, response, log_det


def check_nested(terms: list[ReTerm], groups: np.ndarray, group_name: str) -> None:
    """ModelError unless every correlation group lies within one level of every term.

    Whitening mixes the rows of a correlation group; the block structure of the factor stays
    valid only when those rows share their level of each random-effects grouping factor.
    """
    n_groups = int(groups.max()) + 1
    for term in terms:
        pairs = np.unique(groups.astype(np.int64) * term.n_levels + term.refs)
        if pairs.size != n_groups:
            split = np.bincount(pairs // term.n_levels, minlength=n_groups)
            level = int(np.flatnonzero(split > 1)[0])
            raise ModelError(
                f"the correlation groups ({group_name!r}) must be nested in every "
                f"random-effects grouping factor, as nlme's lme requires: correlation group "
                f"number {level + 1} spans several levels of {term.group!r}. Use a correlation "
                f"group within {term.group!r} (e.g. group={term.group!r} or an interaction "
                "with it); crossed random effects with correlated residuals are not supported")


def check_identifiable(terms: list[ReTerm], groups: np.ndarray, structure) -> None:
    """ModelError for compound symmetry on the same grouping as a random intercept.

    ``CompoundSymmetry(group=g)`` adds ``sigma^2 rho`` to every covariance within a group; a
    random-effects term whose levels are exactly the groups and whose model matrix contains a
    constant does the same, so only the sum is identified and rho is meaningless.
    """
    if not structure.exchangeable:
        return
    n_groups = int(groups.max()) + 1
    for term in terms:
        same_partition = (term.n_levels == n_groups and np.unique(
            groups.astype(np.int64) * term.n_levels + term.refs).size == n_groups)
        if not same_partition:
            continue
        coef = np.linalg.lstsq(term.z, np.ones(term.z.shape[0]), rcond=None)[0]
        if np.allclose(term.z @ coef, 1.0, rtol=0, atol=1e-8):
            raise ModelError(
                f"{structure.describe()} together with a random intercept on the same grouping "
                f"({term.group!r}) is not identifiable: both add one constant covariance within "
                "each group, so rho would be meaningless. Drop the random intercept (compound "
                "symmetry alone also allows negative within-group correlation), or drop "
                "correlation= (the random intercept alone is the same model for rho >= 0)")


def correlated_lmm_data(terms: list[ReTerm], X: np.ndarray, y: np.ndarray, weights: np.ndarray,
                        structure, groups: np.ndarray, levels: tuple,
                        time: np.ndarray | None) -> CorrelatedLMMData:
    """The CorrelatedLMMData of a model. Call inside ``jax.enable_x64(True)``.

    Args:
        terms: random-effects terms in the user's order.
        X: (n, p) fixed-effects matrix; y: (n,) response minus any offset; weights: (n,).
        structure: one of :data:`~interlace_jax.models._correlation.STRUCTURES`.
        groups: int (n,) correlation group codes into ``levels``.
        time: (n,) times, or None (the data's order within groups).

    Raises:
        DataError, ModelError: bad time values, groups of one observation only, correlation
            groups not nested in the random effects, or a non-identifiable combination.
    """
    layout = structure.layout(groups, levels, time)
    check_nested(terms, groups, structure.group)
    check_identifiable(terms, groups, structure)
    plan, index = make_plan(terms, X.shape[1])
    ordered = [terms[i] for i in plan.order]
    root = np.sqrt(weights)[:, None]
    stacked = root * np.column_stack([*(t.z for t in ordered), X, y])
    rest_rows = [lay.offset + t.refs[:, None] * t.size + np.arange(t.size)[None, :]
                 for t, lay in zip(ordered[1:], plan.terms[1:])]
    n = X.shape[0]
    rest = np.concatenate(rest_rows, axis=1) if rest_rows else np.zeros((n, 0), np.int64)
    q = plan.n_rest
    pair_dtype = np.int64 if q * q >= 2**31 else np.int32
    pairs = rest[:, :, None].astype(pair_dtype) * q + rest[:, None, :]
    rows = ObservationRows(
        stacked=stacked,
        first_refs=ordered[0].refs.astype(np.int32),
        rest_rows=rest.astype(np.int32),
        rest_pairs=pairs,
        obs_entry=tuple(e.astype(np.int32) for e in index.obs_entry),
    )
    template = design_products(plan, index, terms, X, weights, grouped_update=False)
    n_theta = sum(t.n_theta for t in terms)
    return jax.device_put(CorrelatedLMMData(rows, template, layout, structure, plan, n_theta))
