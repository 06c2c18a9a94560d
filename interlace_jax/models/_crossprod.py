"""Cross-products of ``[Z X y]`` computed once on the host, with the y-dependent parts apart.

Every quantity the LMM objective needs is a weighted cross-product of the columns of Z (never
formed: level codes and per-term model matrices), X and y. They are computed here once; the
objective only rescales them by Lambda(theta). The parts that involve y live in
:class:`ResponseProducts`, so refitting to a new response (bootstrap, simulation, many
responses) changes only those small arrays and ``jax.vmap`` batches only them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import numpy as np

from interlace_jax.linalg._content_memo import ContentMemo
from interlace_jax.linalg._plan import BlockPlan, CouplingIndex, make_plan
from interlace_jax.terms import ReTerm


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class DesignProducts:
    """The y-independent cross-products and the coupling index (shapes in computation order).

    Attributes:
        a11: (L1, S1, S1) per-level blocks of Z1'WZ1.
        xz1: (L1, p, S1) per-level blocks of X'WZ1.
        arr: (q_rest, q_rest) dense Z_rest'WZ_rest.
        arx: (q_rest, p) Z_rest'WX.
        xx: (p, p) X'WX.
        entry_b: per rest term t, (E_t, S_t, S1) blocks of Z_t'WZ1 at the coupling entries.
        entry_first: per rest term t, (E_t,) level of term 1 of each entry.
        scalar_first, scalar_row, dense_index: see CouplingIndex.
        pair_a, pair_b, pair_target: the Schur update's pair products, see CouplingIndex;
            for grouped pairs (``pair_value`` non-empty) pair_a and pair_b are empty and
            pair_target (P',) holds the grouped pairs' sorted targets.
        pair_value, pair_level: the grouped pairs of a scalar first term with fixed products
            (:func:`grouped_pairs`): (P',) the unscaled products ``b_a b_b`` summed over the
            pairs with the same target and the same first-term diagonal, and (P',) one
            first-term level of that diagonal; empty when the pairs are not grouped.
        gram_by_group, gram_group_level, gram_u: the Schur-complement update of a plan with
            dense coupling and a scalar first term, grouped by that term's diagonal
            (:func:`gram_groups`): (G, Q, Q) sums of ``u_k u_k'`` over the first-term levels
            k of each group, (G,) one level of each group, and (L1, Q) the unscaled rows
            ``u_k = [Z_rest'W z1_k, X'W z1_k]`` (Q = q_rest + p); G = 0 (empty arrays) when
            grouping does not pay.
        n_obs: () number of observations, as a float.
        log_weights_sum: () sum of log prior weights (0 when unweighted).
    """

    a11: jax.Array
    xz1: jax.Array
    arr: jax.Array
    arx: jax.Array
    xx: jax.Array
    entry_b: tuple
    entry_first: tuple
    scalar_first: jax.Array
    scalar_row: jax.Array
    pair_a: jax.Array
    pair_b: jax.Array
    pair_target: jax.Array
    pair_value: jax.Array
    pair_level: jax.Array
    dense_index: jax.Array
    gram_by_group: jax.Array
    gram_group_level: jax.Array
    gram_u: jax.Array
    n_obs: jax.Array
    log_weights_sum: jax.Array


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class ResponseProducts:
    """The cross-products that involve y (batch these with vmap for many responses).

    Attributes:
        yz1: (L1, S1) per-level Z1'Wy.
        yr: (q_rest,) Z_rest'Wy.
        xy: (p,) X'Wy.
        yy: () y'Wy.
    """

    yz1: jax.Array
    yr: jax.Array
    xy: jax.Array
    yy: jax.Array


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class LMMData:
    """Everything the LMM objective reads: design and response products plus the static plan.

    The objective's parameters are theta alone; :meth:`at` is the identity that models with
    residual correlation (:class:`~interlace_jax.models.CorrelatedLMMData`) implement with
    whitening.
    """

    design: DesignProducts
    response: ResponseProducts
    plan: BlockPlan = field(metadata=dict(static=True))

    #: number of residual correlation parameters after theta in the parameter vector
    n_correlation = 0

    @property
    def n_obs(self):
        return self.design.n_obs

    def at(self, params: jax.Array) -> tuple[jax.Array, "LMMData", float]:
        """(theta, the LMMData, log|R| = 0) at params = theta (n_theta,)."""
        return params, self, 0.0


#: total size of the products above which :func:`lmm_data` places them on the device
DEVICE_BYTES = 1 << 20


def _sum_by(index: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    return np.bincount(index, weights=values, minlength=size)


def _per_level(refs: np.ndarray, left: np.ndarray, right: np.ndarray, n_levels: int) -> np.ndarray:
    """(n_levels, A, B) sums over observations of outer products left[i] right[i]'."""
    a, b = left.shape[1], right.shape[1]
    out = np.empty((n_levels, a, b))
    for i in range(a):
        for j in range(b):
            out[:, i, j] = _sum_by(refs, left[:, i] * right[:, j], n_levels)
    return out


def _rest_rows(term: ReTerm, offset: int) -> np.ndarray:
    """(n, S) row in the dense rest block of each observation's S random effects."""
    return offset + term.refs[:, None] * term.size + np.arange(term.size)[None, :]


def _rest_cross(rest: list[tuple[ReTerm, int]], cols: np.ndarray, n_rest: int) -> np.ndarray:
    """(q_rest, m) Z_rest' cols for weighted columns ``cols`` (n, m)."""
    out = np.zeros((n_rest, cols.shape[1]))
    for term, offset in rest:
        rows = _rest_rows(term, offset)
        for s in range(term.size):
            for j in range(cols.shape[1]):
                out[:, j] += _sum_by(rows[:, s], term.z[:, s] * cols[:, j], n_rest)
    return out


def _gram_fields(by_group: np.ndarray, group_level: np.ndarray, u: np.ndarray) -> dict:
    return dict(gram_by_group=by_group, gram_group_level=group_level, gram_u=u)


def no_gram_groups(n_rest_fixed: int) -> dict:
    """The empty (G = 0) grouped-update fields of :class:`DesignProducts` for Q columns."""
    return _gram_fields(np.zeros((0, n_rest_fixed, n_rest_fixed)), np.zeros(0, np.int32),
                        np.zeros((0, n_rest_fixed)))


def gram_groups(plan: BlockPlan, index: CouplingIndex, a11: np.ndarray, entry_b: list,
                xz1: np.ndarray) -> dict:
    """The fields gram_by_group, gram_group_level and gram_u of :class:`DesignProducts`.

    With a scalar first term, its level k enters the Schur-complement update of the dense
    rest block as ``w_k Lambda~' u_k u_k' Lambda~`` with ``w_k = theta_1^2 / (theta_1^2 a11_k
    + 1)`` (Lambda~ = diag(Lambda_rest, I_p)): levels with equal ``a11_k`` (the same number of
    observations, without weights) share ``w_k``, so the update is a sum over G groups of
    fixed matrices. For a balanced crossed design G = 1, and the L1 x Q x Q product of the
    dense coupling becomes Q x Q work. Used when G <= L1 / 2 and the G Q x Q sums hold at most
    4 times the L1 x Q rows; else empty.
    """
    q, p = plan.n_rest, xz1.shape[1]
    n_first = plan.terms[0].n_levels
    if not plan.dense_coupling or plan.terms[0].size != 1:
        return no_gram_groups(q + p)
    _, group_level, group = np.unique(a11[:, 0, 0], return_index=True, return_inverse=True)
    n_groups, width = group_level.size, q + p
    if 2 * n_groups > n_first or n_groups * width > 4 * n_first:
        return no_gram_groups(q + p)
    u = np.zeros((n_first, width))
    for lay, b, first, level in zip(plan.terms[1:], entry_b, index.entry_first,
                                    index.entry_level):
        for s in range(lay.size):
            np.add.at(u, (first, lay.offset + level * lay.size + s), b[:, s, 0])
    u[:, q:] = xz1[:, :, 0]
    members = [u[group == g] for g in range(n_groups)]
    return _gram_fields(np.stack([m.T @ m for m in members]), group_level.astype(np.int32), u)


def ungrouped_pairs(index: CouplingIndex) -> dict:
    """The pair fields of :class:`DesignProducts` for products formed on the device."""
    return dict(pair_a=index.pair_a, pair_b=index.pair_b, pair_target=index.pair_target,
                pair_value=np.zeros(0), pair_level=np.zeros(0, np.int32))


def grouped_pairs(plan: BlockPlan, index: CouplingIndex, a11: np.ndarray,
                  entry_b: list) -> dict:
    """The pair fields of :class:`DesignProducts` with the pair products summed on the host.

    With a scalar first term, the coupling row of entry (level k of term 1, rest row r) is
    ``lambda_r b_kr theta_1 / sqrt(theta_1^2 a11_k + 1)``, so the pair (a, b) of rows that
    share level k adds ``lambda_a lambda_b b_a b_b w_k`` to its target, with
    ``w_k = theta_1^2 / (theta_1^2 a11_k + 1)``. ``b_a b_b`` is fixed, and so is the grouping
    of the pairs by target and by ``a11_k`` (levels with equal diagonals share w_k): each
    group's products are summed once here, and a factorisation gathers one w per group
    and sums the groups into their targets, the Lambda scaling applied to the whole block
    afterwards. InstEval: 1.8 million pairs become 1.1 million groups and the update takes
    2.7 instead of 7.3 ms. Pairs arrive ordered by target and, within it, by a11 (see
    :func:`~interlace_jax.linalg.make_plan`'s ``weights``); groups are runs of equal
    (target, a11), so another order only makes more of them.
    """
    if plan.terms[0].size != 1 or plan.dense_coupling or index.pair_a.size == 0:
        return ungrouped_pairs(index)
    b = np.concatenate([e[:, :, 0].ravel() for e in entry_b])  # scalar rows (term, entry, s)
    # the pairs themselves follow from the scalar rows and a11 (make_plan)
    return GROUPED_PAIRS_MEMO.get((index.scalar_first, index.scalar_row, a11, b), plan.n_rest,
                                  lambda: _group_pairs(index, a11, b))


#: the grouped pairs of the two most recent designs (InstEval: 40 ms to sum)
GROUPED_PAIRS_MEMO = ContentMemo(2)


def _group_pairs(index: CouplingIndex, a11: np.ndarray, b: np.ndarray) -> dict:
    """The grouped pair fields from the pairs (sorted by target), the first-term diagonals
    a11 (L1, 1, 1) and the unscaled coupling values b (R,) of the scalar rows."""
    _, level_of, group = np.unique(a11[:, 0, 0], return_index=True, return_inverse=True)
    pair_group = group[index.scalar_first[index.pair_a]]
    target = index.pair_target
    starts = np.flatnonzero(np.concatenate(
        [[True], (target[1:] != target[:-1]) | (pair_group[1:] != pair_group[:-1])]))
    return dict(pair_a=np.zeros(0, np.int32), pair_b=np.zeros(0, np.int32),
                pair_target=target[starts],
                pair_value=np.add.reduceat(b[index.pair_a] * b[index.pair_b], starts),
                pair_level=level_of[pair_group[starts]].astype(np.int32))


def design_products(
    plan: BlockPlan, index: CouplingIndex, terms: list[ReTerm], X: np.ndarray, weights: np.ndarray,
    *, grouped_update: bool = True,
) -> DesignProducts:
    """Compute the y-independent products.

    Args:
        plan, index: from :func:`interlace_jax.linalg.make_plan` for ``terms``.
        terms: random-effects terms in the user's order.
        X: (n, p) fixed-effects model matrix (full column rank).
        weights: (n,) positive prior weights.
        grouped_update: precompute the grouped Schur-complement update (:func:`gram_groups`,
            :func:`grouped_pairs`) where it pays; False for a template whose products are
            replaced on the device.
    """
    ordered = [terms[i] for i in plan.order]
    first, rest = ordered[0], ordered[1:]
    wz1 = first.z * weights[:, None]
    q = plan.n_rest
    rest_offsets = [(t, lay.offset) for t, lay in zip(rest, plan.terms[1:])]
    arr = np.zeros((q, q))
    entry_b = []
    for (term, offset), lay, obs_entry in zip(rest_offsets, plan.terms[1:], index.obs_entry):
        entry_b.append(_per_level(obs_entry, term.z, wz1, lay.n_entries))
        rows_t = _rest_rows(term, offset)
        wzt = term.z * weights[:, None]
        for other, other_offset in rest_offsets:
            rows_u = _rest_rows(other, other_offset)
            for s in range(term.size):
                for r in range(other.size):
                    flat = rows_t[:, s].astype(np.int64) * q + rows_u[:, r]
                    arr += _sum_by(flat, wzt[:, s] * other.z[:, r], q * q).reshape(q, q)
    wx = X * weights[:, None]
    a11 = _per_level(first.refs, first.z, wz1, first.n_levels)
    xz1 = _per_level(first.refs, X, wz1, first.n_levels)
    grouped = (gram_groups(plan, index, a11, entry_b, xz1) if grouped_update
               else no_gram_groups(q + X.shape[1]))
    pairs = grouped_pairs(plan, index, a11, entry_b) if grouped_update else (
        ungrouped_pairs(index))
    return DesignProducts(
        a11=a11,
        xz1=xz1,
        arr=arr,
        arx=_rest_cross(rest_offsets, wx, q),
        xx=X.T @ wx,
        entry_b=tuple(entry_b),
        entry_first=index.entry_first,
        scalar_first=index.scalar_first,
        scalar_row=index.scalar_row,
        dense_index=index.dense_index,
        **pairs,
        **grouped,
        n_obs=np.asarray(float(X.shape[0])),
        log_weights_sum=np.asarray(float(np.sum(np.log(weights)))),
    )


def response_products(
    plan: BlockPlan, terms: list[ReTerm], X: np.ndarray, y: np.ndarray, weights: np.ndarray
) -> ResponseProducts:
    """Compute the products that involve y (n,), for the same terms, X and weights."""
    ordered = [terms[i] for i in plan.order]
    first, rest = ordered[0], ordered[1:]
    wy = (weights * y)[:, None]
    rest_offsets = [(t, lay.offset) for t, lay in zip(rest, plan.terms[1:])]
    return ResponseProducts(
        yz1=_per_level(first.refs, wy, first.z, first.n_levels)[:, 0, :],
        yr=_rest_cross(rest_offsets, wy, plan.n_rest)[:, 0],
        xy=X.T @ wy[:, 0],
        yy=np.asarray(float(y @ wy[:, 0])),
    )


def lmm_data(terms: list[ReTerm], X: np.ndarray, y: np.ndarray, weights: np.ndarray) -> LMMData:
    """Plan the blocks and compute all cross-products for terms, X (n, p), y (n,), weights (n,).

    ``y`` is the response minus any offset. Products of more than ``DEVICE_BYTES`` in all are
    placed on the default device once, so that repeated objective evaluations do not copy them
    again; smaller ones stay NumPy arrays, which a compiled call takes at no visible cost,
    while placing them costs tens of microseconds per array (most of a warm sleepstudy fit's
    set-up). Use inside ``jax.enable_x64(True)`` (as the facade does) so that they stay
    float64.
    """
    plan, index = make_plan(terms, X.shape[1], weights)
    data = LMMData(
        design_products(plan, index, terms, X, weights),
        response_products(plan, terms, X, y, weights),
        plan,
    )
    size = sum(leaf.nbytes for leaf in jax.tree_util.tree_leaves(data))
    return jax.device_put(data) if size > DEVICE_BYTES else data
