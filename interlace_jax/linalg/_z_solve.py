"""Solves with the random-effects part of a blocked factor: ``(Lambda'Z'WZ Lambda + I)^{-1} r``.

The GLMM's inner Newton iteration and its implicit-function-theorem derivatives solve with the
penalised Hessian of the random effects only (the fixed effects are outer parameters there), so
only the ``Z`` rows of :class:`BlockedFactor` are used: the block-diagonal ``l11``, the sparse
``coupling`` rows and the leading ``q_rest x q_rest`` corner of the dense ``rest`` block.

Vectors in random-effects space are pairs ``(first, rest)``: the first term's (L1, S1) block and
the other terms' (q_rest,) vector in rest-block order, as in :class:`~interlace_jax.models.LMMSolution`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from interlace_jax.linalg._blocked_cholesky import BlockedFactor, lower_solve, upper_solve
from interlace_jax.linalg._dense_kernels import solve_lower, solve_lower_transposed
from interlace_jax.linalg._plan import BlockPlan


def z_log_det(factor: BlockedFactor, plan: BlockPlan) -> jax.Array:
    """() log det(Lambda'Z'WZ Lambda + I) from the factor."""
    q = plan.n_rest
    value = 2.0 * jnp.sum(jnp.log(jnp.diagonal(factor.l11, axis1=1, axis2=2)))
    return value + 2.0 * jnp.sum(jnp.log(jnp.diagonal(factor.rest)[:q]))


def z_solve(factor: BlockedFactor, first: jax.Array, rest: jax.Array, design,
            plan: BlockPlan) -> tuple[jax.Array, jax.Array]:
    """``(L L')^{-1} r`` for r = (first (L1, S1), rest (q_rest,)); the same layout back.

    Args:
        factor: blocked factor of ``Lambda'Z'WZ Lambda + I`` (any X and y blocks are ignored).
        design: the DesignProducts it was factorised from (for the coupling index arrays).
    """
    q, n_first = plan.n_rest, plan.terms[0].n_levels
    x_first = lower_solve(factor.l11, first[..., None], plan.lapack)[..., 0]
    if q == 0:
        return upper_solve(factor.l11, x_first[..., None], plan.lapack)[..., 0], rest
    lzz = factor.rest[:q, :q]
    moved = jax.ops.segment_sum(
        jnp.sum(factor.coupling * x_first[design.scalar_first], axis=1),
        design.scalar_row, num_segments=q)
    x_rest = solve_lower(lzz, (rest - moved)[:, None], plan.lapack)
    y_rest = solve_lower_transposed(lzz, x_rest, plan.lapack)[:, 0]
    back = jax.ops.segment_sum(factor.coupling * y_rest[design.scalar_row][:, None],
                               design.scalar_first, num_segments=n_first)
    y_first = upper_solve(factor.l11, (x_first - back)[..., None], plan.lapack)[..., 0]
    return y_first, y_rest
