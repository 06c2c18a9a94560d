"""The blocked lower Cholesky factor of ``[Lambda'Z'WZ Lambda + I, ...; X'W..., y'W...]``.

Pure JAX, driven by the static :class:`BlockPlan` (MixedModels.jl's ``updateL!`` without the
mutation, so ``grad``, ``hessian``, ``vmap`` and ``jit`` all run the same code).

Layout of the factor, in computation order::

    L = [ L11   0     ]   L11: block-diagonal, (L1, S1, S1)
        [ L21   Lrest ]   L21: sparse coupling rows (``coupling``) and ``first_xy`` for [X y]
                          Lrest: dense lower factor of the rest block, (q_rest + p + 1)^2

The last row of ``Lrest`` belongs to y: its last diagonal squared is the penalised residual sum
of squares, and solving with the rest of the factor gives beta and the conditional modes.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from jax.scipy.linalg import solve_triangular

from interlace_jax.linalg._plan import BlockPlan


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class BlockedFactor:
    """The blocked Cholesky factor.

    Attributes:
        l11: (L1, S1, S1) lower Cholesky factor of each first-term level's block.
        coupling: (R, S1) coupling rows of L21 for the rest random effects; row r belongs to
            first-term level ``scalar_first[r]`` and rest row ``scalar_row[r]``.
        first_xy: (L1, S1, p + 1) the [X y] rows of L21, transposed per level.
        rest: (q_rest + p + 1, q_rest + p + 1) lower factor of the dense rest block.
    """

    l11: jax.Array
    coupling: jax.Array
    first_xy: jax.Array
    rest: jax.Array


def _scale_rows(mat: jnp.ndarray, lams: list, plan: BlockPlan) -> jnp.ndarray:
    """Lambda_rest' @ mat for mat of shape (q_rest, m), term by term."""
    parts = []
    for lam, lay in zip(lams, plan.terms[1:]):
        block = mat[lay.offset : lay.offset + lay.n_levels * lay.size]
        block = block.reshape(lay.n_levels, lay.size, -1)
        parts.append(jnp.einsum("as,lam->lsm", lam, block).reshape(lay.n_levels * lay.size, -1))
    return jnp.concatenate(parts, axis=0)


def _dense_rest(lams_rest: list, design, response, plan: BlockPlan) -> jnp.ndarray:
    """The rest block before the Schur update: [[Lr'ArrLr + I, Lr'[ArX Ary]], [.., [X y]'[X y]]]."""
    p = plan.n_fixed
    xy_top = jnp.concatenate([design.xx, response.xy[:, None]], axis=1)
    xy_bottom = jnp.concatenate([response.xy, response.yy[None]])[None, :]
    xyxy = jnp.concatenate([xy_top, xy_bottom], axis=0)
    if plan.n_rest == 0:
        return xyxy
    zz = _scale_rows(_scale_rows(design.arr, lams_rest, plan).T, lams_rest, plan)
    zz = zz + jnp.eye(plan.n_rest, dtype=zz.dtype)
    zxy = _scale_rows(jnp.concatenate([design.arx, response.yr[:, None]], axis=1), lams_rest, plan)
    del p
    return jnp.block([[zz, zxy], [zxy.T, xyxy]])


def factorize(lams: list, design, response, plan: BlockPlan) -> BlockedFactor:
    """Blocked Cholesky factor for the relative covariance factors ``lams``.

    Args:
        lams: per term in computation order, its (S_t, S_t) lower-triangular factor.
        design: DesignProducts; response: ResponseProducts; plan: the static BlockPlan.
    """
    lam1, lams_rest = lams[0], lams[1:]
    s1 = plan.terms[0].size
    m11 = jnp.einsum("as,kab,bt->kst", lam1, design.a11, lam1) + jnp.eye(s1, dtype=lam1.dtype)
    l11 = jnp.linalg.cholesky(m11)
    g = jnp.concatenate([design.xz1, response.yz1[:, None, :]], axis=1)  # (L1, p+1, S1)
    first_xy = solve_triangular(l11, jnp.einsum("kas,st->kta", g, lam1), lower=True)
    dense = _dense_rest(lams_rest, design, response, plan)
    if plan.n_rest == 0:
        coupling = jnp.zeros((0, s1), dtype=lam1.dtype)
    else:
        rows = []
        for lam_t, b_t, first_t, lay in zip(lams_rest, design.entry_b, design.entry_first,
                                            plan.terms[1:]):
            c_t = jnp.einsum("as,eab,bc->ecs", lam_t, b_t, lam1)  # (E_t, S1, S_t)
            c_t = solve_triangular(l11[first_t], c_t, lower=True)
            rows.append(jnp.swapaxes(c_t, 1, 2).reshape(lay.n_entries * lay.size, s1))
        coupling = jnp.concatenate(rows, axis=0)
        q = plan.n_rest
        products = jnp.sum(coupling[design.pair_a] * coupling[design.pair_b], axis=1)
        zz_update = jax.ops.segment_sum(
            products, design.pair_target, num_segments=q * q, indices_are_sorted=True
        ).reshape(q, q)
        zxy_update = jax.ops.segment_sum(
            jnp.einsum("rs,rsm->rm", coupling, first_xy[design.scalar_first]),
            design.scalar_row,
            num_segments=q,
        )
        n = dense.shape[0]
        update = jnp.zeros((n, n), dtype=dense.dtype)
        update = update.at[:q, :q].set(zz_update).at[:q, q:].set(zxy_update)
        update = update.at[q:, :q].set(zxy_update.T)
        dense = dense - update
    xy_update = jnp.einsum("ksa,ksb->ab", first_xy, first_xy)
    dense = dense.at[plan.n_rest :, plan.n_rest :].add(-xy_update)
    return BlockedFactor(l11, coupling, first_xy, jnp.linalg.cholesky(dense))
