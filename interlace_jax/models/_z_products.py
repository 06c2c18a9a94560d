r"""``Z'WZ`` for weights that change on the device (the GLMM's working weights).

The LMM computes every cross-product once on the host (:mod:`~interlace_jax.models._crossprod`).
In a GLMM the weights ``W`` depend on the random effects, so the inner Newton iteration forms
``Z'WZ`` anew at each step: this module keeps the per-observation index arrays that make that a
handful of ``segment_sum`` calls over the n observations (level codes and per-term model
matrices, never a dense Z), and returns a :class:`DesignProducts` with no fixed-effects
columns, ready for :func:`~interlace_jax.linalg.factorize`.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from interlace_jax.linalg import BlockPlan, CouplingIndex
from interlace_jax.models._crossprod import DesignProducts, ResponseProducts, no_gram_groups
from interlace_jax.models._response_map import ResponseMap
from interlace_jax.terms import ReTerm


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class ZProductMap:
    """Per-observation index arrays of ``Z'WZ`` (n observations, computation order).

    Attributes:
        entry: per rest term t, (n,) coupling entry of each observation (see CouplingIndex).
        rest_target: (K, n) flat index ``row * q_rest + col`` in the dense rest block of each
            of the K = (sum of rest S_t)^2 products of rest-term columns.
        rest_zz: (K, n) the matching products ``z_t[i, s] * z_u[i, r]``.
        entry_first, scalar_first, scalar_row, pair_a, pair_b, pair_target, dense_index: the
            coupling index arrays of :class:`~interlace_jax.linalg.CouplingIndex`.
    """

    entry: tuple
    rest_target: jax.Array
    rest_zz: jax.Array
    entry_first: tuple
    scalar_first: jax.Array
    scalar_row: jax.Array
    pair_a: jax.Array
    pair_b: jax.Array
    pair_target: jax.Array
    dense_index: jax.Array


def z_product_map(plan: BlockPlan, index: CouplingIndex, ordered: list[ReTerm]) -> ZProductMap:
    """The ZProductMap of the terms in computation order (host, numpy)."""
    q = plan.n_rest
    wide = q * q >= 2**31
    columns = []
    for term, lay in zip(ordered[1:], plan.terms[1:]):
        rows = lay.offset + term.refs.astype(np.int64)[:, None] * term.size + np.arange(term.size)
        columns.extend((rows[:, s], term.z[:, s]) for s in range(term.size))
    targets = [row_a * q + row_b for row_a, _ in columns for row_b, _ in columns]
    products = [z_a * z_b for _, z_a in columns for _, z_b in columns]
    n = ordered[0].refs.size
    return ZProductMap(
        entry=tuple(e.astype(np.int32) for e in index.obs_entry),
        rest_target=(np.stack(targets).astype(np.int64 if wide else np.int32) if targets
                     else np.zeros((0, n), np.int32)),
        rest_zz=np.stack(products) if products else np.zeros((0, n)),
        entry_first=index.entry_first,
        scalar_first=index.scalar_first,
        scalar_row=index.scalar_row,
        pair_a=index.pair_a,
        pair_b=index.pair_b,
        pair_target=index.pair_target,
        dense_index=index.dense_index,
    )


def weighted_z_products(w: jax.Array, zmap: ZProductMap, rmap: ResponseMap) -> DesignProducts:
    """The DesignProducts of ``Z'WZ`` for weights w (n,), with zero fixed-effects columns."""
    plan = rmap.plan
    first_n, s1, q = plan.terms[0].n_levels, plan.terms[0].size, plan.n_rest
    wz1 = rmap.first_z * w[:, None]
    a11 = jax.ops.segment_sum(wz1[:, :, None] * rmap.first_z[:, None, :], rmap.first_refs,
                              num_segments=first_n)
    entry_b = tuple(
        jax.ops.segment_sum(z[:, :, None] * wz1[:, None, :], entry, num_segments=lay.n_entries)
        for z, entry, lay in zip(rmap.rest_z, zmap.entry, plan.terms[1:])
    )
    arr = jax.ops.segment_sum((zmap.rest_zz * w[None, :]).ravel(), zmap.rest_target.ravel(),
                              num_segments=q * q).reshape(q, q)
    dtype = w.dtype
    return DesignProducts(
        a11=a11, xz1=jnp.zeros((first_n, 0, s1), dtype), arr=arr, arx=jnp.zeros((q, 0), dtype),
        xx=jnp.zeros((0, 0), dtype), entry_b=entry_b, entry_first=zmap.entry_first,
        scalar_first=zmap.scalar_first, scalar_row=zmap.scalar_row, pair_a=zmap.pair_a,
        pair_b=zmap.pair_b, pair_target=zmap.pair_target, pair_value=jnp.zeros(0, dtype),
        pair_level=jnp.zeros(0, jnp.int32), dense_index=zmap.dense_index,
        **no_gram_groups(q),
        n_obs=jnp.asarray(w.shape[0], dtype), log_weights_sum=jnp.zeros((), dtype),
    )


def empty_response(plan: BlockPlan, dtype) -> ResponseProducts:
    """ResponseProducts of a zero response with no fixed effects (only the Z blocks matter)."""
    return ResponseProducts(
        yz1=jnp.zeros((plan.terms[0].n_levels, plan.terms[0].size), dtype),
        yr=jnp.zeros(plan.n_rest, dtype), xy=jnp.zeros(0, dtype), yy=jnp.ones((), dtype))
