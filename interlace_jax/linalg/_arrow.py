r"""Cholesky factor of an "arrowhead" matrix: a diagonal leading block and dense other rows.

.. math::

    H = \begin{bmatrix} \mathrm{diag}(D) & B' \\ B & E \end{bmatrix}
      = L L', \qquad
    L = \begin{bmatrix} \mathrm{diag}(d) & 0 \\ L_{21} & L_{22} \end{bmatrix},

with ``d = sqrt(D)``, ``L21 = B diag(d)^{-1}`` and ``L22`` the Cholesky factor of the Schur
complement ``E - L21 L21'``. This is the storage of coxme's ``bdsmatrix`` for a Cox model with
a "sparse" random intercept: its many levels on the diagonal (their mutual coupling dropped, as
coxme does), every other random effect and the fixed effects dense. With an empty diagonal
block it is a plain dense Cholesky factor.

The random effects come first within each block (diagonal block, then the dense random effects,
then the fixed effects), so the log-determinant of the random-effects part is the sum over the
leading pivots.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from interlace_jax.linalg._dense_kernels import cholesky, solve_lower, solve_lower_transposed


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class ArrowFactor:
    """Cholesky factor of an arrowhead matrix of size m + k.

    Attributes:
        d: (m,) square roots of the diagonal block.
        l21: (k, m) the dense rows' coupling to the diagonal block, ``B diag(d)^{-1}``.
        l22: (k, k) lower Cholesky factor of the Schur complement ``E - l21 l21'``.
    """

    d: jax.Array
    l21: jax.Array
    l22: jax.Array


def arrow_factor(diag: jax.Array, coupling: jax.Array, dense: jax.Array) -> ArrowFactor:
    """Factor ``[[diag(D), B'], [B, E]]`` from D (m,), B (k, m), E (k, k); NaN if not PD."""
    d = jnp.sqrt(diag)
    l21 = coupling / d[None, :]
    k = dense.shape[0]
    if k == 0:
        return ArrowFactor(d, l21, dense)
    return ArrowFactor(d, l21, cholesky(dense - l21 @ l21.T))


def arrow_solve(factor: ArrowFactor, r_diag: jax.Array, r_dense: jax.Array
                ) -> tuple[jax.Array, jax.Array]:
    """``H^{-1} r`` for r = (r_diag (m, ...), r_dense (k, ...)); the same layout back."""
    d = factor.d.reshape(factor.d.shape + (1,) * (r_diag.ndim - 1))
    y_diag = r_diag / d
    if factor.l22.shape[0] == 0:
        return y_diag / d, r_dense
    vec = r_dense.ndim == 1
    rhs = r_dense - jnp.tensordot(factor.l21, y_diag, axes=1)
    rhs = rhs[:, None] if vec else rhs
    x_dense = solve_lower_transposed(factor.l22, solve_lower(factor.l22, rhs))
    x_dense = x_dense[:, 0] if vec else x_dense
    x_diag = (y_diag - jnp.tensordot(factor.l21.T, x_dense, axes=1)) / d
    return x_diag, x_dense


def arrow_log_det(factor: ArrowFactor, n_lead: int) -> jax.Array:
    """() log-determinant of the leading block: the diagonal block and the first ``n_lead``
    dense rows (the random effects, when the fixed effects come last)."""
    return 2.0 * (jnp.sum(jnp.log(factor.d))
                  + jnp.sum(jnp.log(jnp.diagonal(factor.l22)[:n_lead])))


def arrow_inverse_diagonal(factor: ArrowFactor) -> jax.Array:
    """(m + k,) the diagonal of ``H^{-1}`` (squared column norms of ``L^{-1}``)."""
    k = factor.l22.shape[0]
    if k == 0:
        return 1.0 / factor.d**2
    inv22 = solve_lower(factor.l22, jnp.eye(k, dtype=factor.l22.dtype))
    moved = inv22 @ factor.l21
    return jnp.concatenate([(1.0 + jnp.sum(moved**2, axis=0)) / factor.d**2,
                            jnp.sum(inv22**2, axis=0)])
