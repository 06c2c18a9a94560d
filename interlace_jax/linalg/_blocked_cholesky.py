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

from interlace_jax.linalg._dense_kernels import cholesky, solve_lower, solve_lower_transposed
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


def lower_solve(l11: jnp.ndarray, rhs: jnp.ndarray, lapack: bool = True) -> jnp.ndarray:
    """Solve ``l11[i] x[i] = rhs[i]`` for lower-triangular blocks l11 (m, S, S), rhs (m, S, k).

    For S = 1 (scalar first term, the common case) this is a division; small S are unrolled
    (:mod:`~interlace_jax.linalg._dense_kernels`).
    """
    if l11.shape[-1] == 1:
        return rhs / l11
    return solve_lower(l11, rhs, lapack)


def upper_solve(l11: jnp.ndarray, rhs: jnp.ndarray, lapack: bool = True) -> jnp.ndarray:
    """Solve ``l11[i]' x[i] = rhs[i]`` for l11 (m, S, S) lower-triangular, rhs (m, S, k)."""
    if l11.shape[-1] == 1:
        return rhs / l11
    return solve_lower_transposed(l11, rhs, lapack)


def _rest_scale(lams: list, plan: BlockPlan) -> jnp.ndarray | None:
    """(q_rest,) the diagonal of Lambda_rest when every rest term is scalar, else None."""
    if not plan.scalar_rest:
        return None
    return jnp.concatenate([jnp.broadcast_to(lam[0, 0], (lay.n_levels,))
                            for lam, lay in zip(lams, plan.terms[1:])])


def scale_rest_rows(mat: jnp.ndarray, lams: list, plan: BlockPlan) -> jnp.ndarray:
    """Lambda_rest' @ mat for mat of shape (q_rest, m).

    When every rest term is scalar, Lambda_rest is diagonal and this is one elementwise product
    with the vector of per-row lambdas; otherwise it is done term by term.
    """
    scale = _rest_scale(lams, plan)
    if scale is not None:
        return scale[:, None] * mat
    parts = []
    rest = plan.terms[1:]
    for lam, lay in zip(lams, rest):
        block = mat[lay.offset : lay.offset + lay.n_levels * lay.size]
        block = block.reshape(lay.n_levels, lay.size, -1)
        parts.append(jnp.einsum("as,lam->lsm", lam, block).reshape(lay.n_levels * lay.size, -1))
    return jnp.concatenate(parts, axis=0)


def _coupling_rows(lams: list, l11: jnp.ndarray, design, plan: BlockPlan) -> jnp.ndarray:
    """(R, S1) rows of L21 for the rest random effects, ordered (term, entry, s)."""
    lam1, s1 = lams[0], plan.terms[0].size
    rows = []
    for lam_t, b_t, first_t, lay in zip(lams[1:], design.entry_b, design.entry_first,
                                        plan.terms[1:]):
        c_t = jnp.einsum("as,eab,bc->ecs", lam_t, b_t, lam1)  # (E_t, S1, S_t)
        c_t = lower_solve(l11[first_t], c_t, plan.lapack)
        rows.append(jnp.swapaxes(c_t, 1, 2).reshape(lay.n_entries * lay.size, s1))
    return jnp.concatenate(rows, axis=0)


def factorize(lams: list, design, response, plan: BlockPlan) -> BlockedFactor:
    """Blocked Cholesky factor for the relative covariance factors ``lams``.

    Args:
        lams: per term in computation order, its (S_t, S_t) lower-triangular factor.
        design: DesignProducts; response: ResponseProducts; plan: the static BlockPlan.
    """
    lam1, lams_rest = lams[0], lams[1:]
    s1, q = plan.terms[0].size, plan.n_rest
    m11 = jnp.einsum("as,kab,bt->kst", lam1, design.a11, lam1) + jnp.eye(s1, dtype=lam1.dtype)
    l11 = jnp.sqrt(m11) if s1 == 1 else cholesky(m11, plan.lapack)
    g = jnp.concatenate([design.xz1, response.yz1[:, None, :]], axis=1)  # (L1, p+1, S1)
    first_xy = lower_solve(l11, jnp.einsum("kas,st->kta", g, lam1), plan.lapack)  # (L1, S1, p+1)
    xy_top = jnp.concatenate([design.xx, response.xy[:, None]], axis=1)
    xyxy = jnp.concatenate([xy_top, jnp.append(response.xy, response.yy)[None, :]], axis=0)
    if q == 0:
        coupling = jnp.zeros((0, s1), dtype=lam1.dtype)
        xyxy = xyxy - jnp.einsum("ksa,ksb->ab", first_xy, first_xy)
        return BlockedFactor(l11, coupling, first_xy, cholesky(xyxy, plan.lapack))
    coupling = _coupling_rows(lams, l11, design, plan)
    zxy = jnp.concatenate([design.arx, response.yr[:, None]], axis=1)
    zxy = scale_rest_rows(zxy, lams_rest, plan)
    if plan.dense_coupling:
        dense = jnp.block([[_scaled_rest(design.arr, lams_rest, plan), zxy], [zxy.T, xyxy]])
        update = (_grouped_gram(lams, m11, design, response, plan)
                  if design.gram_by_group.shape[0] else
                  _dense_gram(coupling, first_xy, design, plan))
        return BlockedFactor(l11, coupling, first_xy, cholesky(dense - update, plan.lapack))
    # Sparse pair products: each update is subtracted from its part before the parts are
    # assembled (assembling [base] and [update] first and subtracting doubled InstEval's
    # evaluation time, 35 -> 72 ms).
    # The pair products fill the upper triangle (see make_plan), the block gets the transposed
    # sums: the Cholesky factorisation reads only the lower triangle (symmetrising cost
    # InstEval 2.5 of 19 ms per evaluation).
    if design.pair_value.shape[0]:  # grouped on the host, unscaled: see grouped_pairs
        w = lam1[0, 0] ** 2 / m11[:, 0, 0]
        upper = _pair_sum(design.pair_value * w[design.pair_level], design.pair_target, q)
        if not plan.scalar_rest:  # a vector-valued Lambda_t mixes the triangles
            upper = upper + upper.T - jnp.diag(jnp.diagonal(upper))
        zz = _scaled_rest(design.arr - upper, lams_rest, plan)
    else:
        products = jnp.sum(coupling[design.pair_a] * coupling[design.pair_b], axis=1)
        zz = _scaled_rest(design.arr, lams_rest, plan) - _pair_sum(
            products, design.pair_target, q).T
    zxy = zxy - jax.ops.segment_sum(
        jnp.einsum("rs,rsm->rm", coupling, first_xy[design.scalar_first]),
        design.scalar_row,
        num_segments=q,
    )
    xyxy = xyxy - jnp.einsum("ksa,ksb->ab", first_xy, first_xy)
    dense = jnp.block([[zz, zxy], [zxy.T, xyxy]])
    return BlockedFactor(l11, coupling, first_xy, cholesky(dense, plan.lapack))


def _scaled_rest(arr: jnp.ndarray, lams_rest: list, plan: BlockPlan) -> jnp.ndarray:
    """(q_rest, q_rest) ``Lambda_rest' arr' Lambda_rest + I``, arr (q_rest, q_rest).

    The transpose: LAPACK takes the block column-major and arrays arrive row-major, so reading
    arr transposed is the contiguous read (InstEval: 28 -> 20 ms per evaluation).
    """
    scale = _rest_scale(lams_rest, plan)
    if scale is not None:  # diagonal Lambda_rest: elementwise, no transposed copy
        return scale[:, None] * arr.T * scale[None, :] + jnp.eye(plan.n_rest, dtype=arr.dtype)
    scaled = scale_rest_rows(scale_rest_rows(arr, lams_rest, plan).T, lams_rest, plan)
    return scaled + jnp.eye(plan.n_rest, dtype=scaled.dtype)


def _pair_sum(products: jnp.ndarray, target: jnp.ndarray, q: int) -> jnp.ndarray:
    """(q, q) the pair products (P,) summed into their sorted flat targets (P,)."""
    return jax.ops.segment_sum(products, target, num_segments=q * q,
                               indices_are_sorted=True).reshape(q, q)


def _grouped_gram(lams: list, m11, design, response, plan: BlockPlan) -> jnp.ndarray:
    """:func:`_dense_gram` from the first term's level groups (``design.gram_by_group``, see
    :func:`~interlace_jax.models._crossprod.gram_groups`; scalar first term): level k's
    weight ``w_k = theta_1^2 / m11_k``, the groups' fixed sums weighted, the y row from the
    unscaled rows u_k, then the rest rows and columns scaled by Lambda_rest."""
    q = plan.n_rest
    w = lams[0][0, 0] ** 2 / m11[:, 0, 0]  # (L1,)
    grouped = jnp.einsum("g,gab->ab", w[design.gram_group_level], design.gram_by_group)
    wy = w * response.yz1[:, 0]
    cross = design.gram_u.T @ wy  # (q_rest + p,)
    full = jnp.block([[grouped, cross[:, None]],
                      [cross[None, :], jnp.sum(wy * response.yz1[:, 0])[None, None]]])
    rest = scale_rest_rows(scale_rest_rows(full[:q, :q], lams[1:], plan).T, lams[1:], plan)
    rest_xy = scale_rest_rows(full[:q, q:], lams[1:], plan)
    return jnp.block([[rest, rest_xy], [rest_xy.T, full[q:, q:]]])


def _dense_gram(coupling, first_xy, design, plan: BlockPlan) -> jnp.ndarray:
    """(q_rest + p + 1, q_rest + p + 1) Schur-complement update ``H'H`` of the rest block, with
    H = [C, first_xy] the (L1 S1, q_rest + p + 1) rows of L21 in dense form
    (``plan.dense_coupling``: C gathered from the coupling rows by ``design.dense_index``)."""
    n_first, s1 = plan.terms[0].n_levels, plan.terms[0].size
    padded = jnp.concatenate([coupling, jnp.zeros((1, s1), coupling.dtype)], axis=0)
    c = padded[design.dense_index].reshape(n_first, plan.n_rest, s1)
    h = jnp.concatenate([jnp.swapaxes(c, 1, 2), first_xy], axis=2).reshape(n_first * s1, -1)
    return h.T @ h
