"""The observation-level design on the device: new responses to products, effects to predictors.

:func:`~interlace_jax.models.lmm_data` computes every cross-product once on the host. A batch of
new responses (parametric bootstrap, simulation, many response columns) changes only the
:class:`~interlace_jax.models.ResponseProducts`; :func:`response_products_of` computes them in
JAX from a :class:`ResponseMap` (level codes, per-term model matrices, X and the weights, never a
dense Z), so that ``jax.vmap`` over responses runs the whole refit on the device.
:func:`linear_predictor` is the other direction, ``X beta + Z b``, used to simulate responses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from interlace_jax.linalg import BlockPlan
from interlace_jax.models._crossprod import ResponseProducts
from interlace_jax.models._lmm import split_theta
from interlace_jax.terms import ReTerm


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class ResponseMap:
    """Per-observation arrays of a model (shapes for n observations, computation order).

    Attributes:
        x: (n, p) fixed-effects model matrix.
        weights: (n,) prior weights.
        first_refs: (n,) level of the first term of each observation.
        first_z: (n, S1) model matrix of the first term.
        rest_rows: per other term t, (n, S_t) rows in the dense rest block.
        rest_z: per other term t, (n, S_t) its model matrix.
        plan: the static block plan (segment counts).
    """

    x: jax.Array
    weights: jax.Array
    first_refs: jax.Array
    first_z: jax.Array
    rest_rows: tuple
    rest_z: tuple
    plan: BlockPlan = field(metadata=dict(static=True))


def response_map(plan: BlockPlan, ordered: list[ReTerm], X: np.ndarray,
                 weights: np.ndarray) -> ResponseMap:
    """The ResponseMap of the terms in computation order (``plan.order`` applied), X (n, p) and
    weights (n,). Call inside ``jax.enable_x64(True)`` so that the arrays stay float64."""
    first, rest = ordered[0], ordered[1:]
    rows = tuple(
        (lay.offset + t.refs[:, None] * t.size + np.arange(t.size)[None, :]).astype(np.int32)
        for t, lay in zip(rest, plan.terms[1:])
    )
    return jax.device_put(ResponseMap(
        x=np.asarray(X, dtype=np.float64),
        weights=np.asarray(weights, dtype=np.float64),
        first_refs=first.refs.astype(np.int32),
        first_z=np.asarray(first.z, dtype=np.float64),
        rest_rows=rows,
        rest_z=tuple(np.asarray(t.z, dtype=np.float64) for t in rest),
        plan=plan,
    ))


def z_transpose_times(v: jax.Array, rmap: ResponseMap) -> tuple[jax.Array, jax.Array]:
    """``Z' v`` for v (n,) as (first term (L1, S1), other terms (q_rest,) in rest-block order)."""
    plan = rmap.plan
    first = jax.ops.segment_sum(rmap.first_z * v[:, None], rmap.first_refs,
                                num_segments=plan.terms[0].n_levels)
    rest = jnp.zeros(plan.n_rest, dtype=v.dtype)
    for rows, z in zip(rmap.rest_rows, rmap.rest_z):
        rest = rest + jax.ops.segment_sum((z * v[:, None]).ravel(), rows.ravel(),
                                          num_segments=plan.n_rest)
    return first, rest


def response_products_of(y: jax.Array, rmap: ResponseMap) -> ResponseProducts:
    """The ResponseProducts of a response y (n,) (already minus any offset); vmap-able over y."""
    wy = rmap.weights * y
    yz1, yr = z_transpose_times(wy, rmap)
    return ResponseProducts(yz1=yz1, yr=yr, xy=rmap.x.T @ wy, yy=wy @ y)


def linear_predictor(beta: jax.Array, b_first: jax.Array, b_rest: jax.Array,
                     rmap: ResponseMap) -> jax.Array:
    """``X beta + Z b`` (n,) for beta (p,), the first term's effects b_first (L1, S1) and the
    other terms' effects b_rest (q_rest,) in rest-block order."""
    eta = rmap.x @ beta + jnp.sum(rmap.first_z * b_first[rmap.first_refs], axis=1)
    for rows, z in zip(rmap.rest_rows, rmap.rest_z):
        eta = eta + jnp.sum(z * b_rest[rows], axis=1)
    return eta


def effects_from_spherical(theta: jax.Array, u_first: jax.Array, u_rest: jax.Array,
                           plan: BlockPlan) -> tuple[jax.Array, jax.Array]:
    """``b = Lambda(theta) u`` as (b_first (L1, S1), b_rest (q_rest,)) from the spherical
    effects u_first (L1, S1) and u_rest (q_rest,); theta (n_theta,) in computation order."""
    lams = split_theta(theta, plan)
    b_first = u_first @ lams[0].T
    parts = [
        (u_rest[lay.offset : lay.offset + lay.n_levels * lay.size]
         .reshape(lay.n_levels, lay.size) @ lam.T).ravel()
        for lay, lam in zip(plan.terms[1:], lams[1:])
    ]
    b_rest = jnp.concatenate(parts) if parts else jnp.zeros(0, dtype=u_first.dtype)
    return b_first, b_rest
