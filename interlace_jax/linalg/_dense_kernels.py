"""Cholesky factors and triangular solves of small dense blocks without LAPACK.

jaxlib runs a batched LAPACK kernel (``potrf``, ``trsm``, ``syevd``) by splitting the batch over
XLA's CPU intra-op thread pool and waiting for the pieces. Under ``jax.vmap`` of a whole fit
(many such kernels inside ``lax.while_loop``) two kernels can each occupy a pool thread while
waiting for pieces queued behind the other, and the computation never finishes; on a 2-core
machine this happens at a batch of 1,000 sleepstudy refits. The kernels here are plain
``jax.numpy`` (fused elementwise work that vmap batches for free), so a batched fit never calls
LAPACK:

* sizes up to :data:`UNROLL_MAX` are unrolled at trace time (per-level blocks of vector-valued
  terms, the fixed-effects block, Hessians of a few parameters);
* larger blocks use column loops (``lax.fori_loop``; above :data:`LOOP_MAX` rows split
  recursively in two), chosen by the plan's ``lapack=False`` for batched fits; single fits
  keep LAPACK for them.

All functions take arrays with any leading batch dimensions.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.linalg import solve_triangular

#: Largest matrix size factored or solved with trace-time unrolled loops.
UNROLL_MAX = 8


def _cholesky_unrolled(a: jnp.ndarray) -> jnp.ndarray:
    n = a.shape[-1]
    if n == 0:  # a model without fixed effects has an empty X block
        return a
    cols = []
    for j in range(n):
        v = a[..., :, j]
        for k in range(j):
            v = v - cols[k] * cols[k][..., j : j + 1]
        d = jnp.sqrt(v[..., j : j + 1])
        mask = jnp.arange(n) >= j
        cols.append(jnp.where(mask, v / d, 0.0))
    return jnp.stack(cols, axis=-1)


def _panel(a: jnp.ndarray, columns: int) -> jnp.ndarray:
    """The first ``columns`` columns (..., n, columns) of the Cholesky factor of a (..., n, n),
    by a column loop."""
    n = a.shape[-1]
    idx = jnp.arange(n)

    def column(j, low):
        v = a[..., :, j] - jnp.einsum("...ik,...k->...i", low, low[..., j, :])
        d = jnp.sqrt(jnp.take(v, j, axis=-1))[..., None]
        col = jnp.where(idx > j, v / d, jnp.where(idx == j, d, 0.0))
        return low.at[..., :, j].set(col)

    return jax.lax.fori_loop(0, columns, column, jnp.zeros(a.shape[:-1] + (columns,), a.dtype))


#: Largest block factored by one column loop; larger ones are split in two
#: (:func:`_cholesky_loop`). 24 compiles a batched fit ~0.8 s faster, runs it ~10% slower.
LOOP_MAX = 16


def _cholesky_loop(a: jnp.ndarray) -> jnp.ndarray:
    """Cholesky factor by column loops, split recursively in two above LOOP_MAX: the left half
    of the columns by a loop over them, then the factor of the Schur complement of the lower
    right block. A single loop would multiply by the whole factor at every column, about
    twice the flops of the triangle, and reread it each time; the split halves that at every
    level (in a batch: 43 rows 15 -> 11 us, 82 rows 175 -> 54 us per matrix)."""
    n = a.shape[-1]
    if n <= LOOP_MAX:
        return _panel(a, n)
    half = n // 2
    left = _panel(a, half)
    below = left[..., half:, :]
    schur = a[..., half:, half:] - jnp.einsum("...ik,...jk->...ij", below, below)
    top = jnp.concatenate([left[..., :half, :], jnp.zeros(a.shape[:-2] + (half, n - half),
                                                        a.dtype)], axis=-1)
    return jnp.concatenate([top, jnp.concatenate([below, _cholesky_loop(schur)], axis=-1)],
                           axis=-2)


def _from_lower(a: jnp.ndarray) -> jnp.ndarray:
    """The symmetric matrix with the lower triangle of a (..., n, n)."""
    return jnp.tril(a) + jnp.swapaxes(jnp.tril(a, -1), -1, -2)


@jax.custom_jvp
def _lapack_cholesky(a: jnp.ndarray) -> jnp.ndarray:
    return jax.lax.linalg.cholesky(a, symmetrize_input=False)


@_lapack_cholesky.defjvp
def _lapack_cholesky_jvp(primals, tangents):
    # jax's rule takes the whole tangent as the symmetric perturbation: give it the one of the
    # lower triangle (also for the primal, so that derivatives of any order see it).
    return jax.jvp(lambda a: jax.lax.linalg.cholesky(_from_lower(a), symmetrize_input=False),
                   primals, tangents)


def cholesky(a: jnp.ndarray, lapack: bool = True) -> jnp.ndarray:
    """Lower Cholesky factor of the symmetric matrix given by the lower triangle of a
    (..., n, n); NaN where it is not positive definite.

    Unrolled for n <= UNROLL_MAX; above it LAPACK when ``lapack`` else a column loop. Every
    one reads only the lower triangle, and derivatives are with respect to it: the strict
    upper triangle may hold anything (the LMM's rest block leaves its fill-in out there), and
    no symmetrising pass is needed (on InstEval's 1,159-row block 2 of 20 ms per evaluation).
    """
    n = a.shape[-1]
    if n <= UNROLL_MAX:
        return _cholesky_unrolled(a)
    return _lapack_cholesky(a) if lapack else _cholesky_loop(a)


def _forward(low: jnp.ndarray, b: jnp.ndarray) -> jnp.ndarray:
    """Unrolled solve of low x = b, low (..., n, n) lower, b (..., n, k)."""
    if low.shape[-1] == 0:
        return b
    rows = []
    for i in range(low.shape[-1]):
        r = b[..., i, :]
        for k in range(i):
            r = r - low[..., i, k : k + 1] * rows[k]
        rows.append(r / low[..., i, i : i + 1])
    return jnp.stack(rows, axis=-2)


def _backward(low: jnp.ndarray, b: jnp.ndarray) -> jnp.ndarray:
    """Unrolled solve of low' x = b, low (..., n, n) lower, b (..., n, k)."""
    n = low.shape[-1]
    if n == 0:
        return b
    rows = [None] * n
    for i in reversed(range(n)):
        r = b[..., i, :]
        for k in range(i + 1, n):
            r = r - low[..., k, i : i + 1] * rows[k]
        rows[i] = r / low[..., i, i : i + 1]
    return jnp.stack(rows, axis=-2)


def _substitute_loop(low: jnp.ndarray, b: jnp.ndarray, transpose: bool) -> jnp.ndarray:
    """Row loop solving low x = b (or low' x = b), low (n, n) lower, b (n, k)."""
    n = low.shape[-1]
    tri = jnp.swapaxes(low, -1, -2) if transpose else low

    def row(step, x):
        i = n - 1 - step if transpose else step
        r = jnp.take(b, i, axis=-2) - jnp.einsum("...k,...km->...m", jnp.take(tri, i, axis=-2), x)
        return x.at[..., i, :].set(r / jnp.take(jnp.take(tri, i, axis=-2), i, axis=-1)[..., None])

    return jax.lax.fori_loop(0, n, row, jnp.zeros_like(b))


def solve_lower(low: jnp.ndarray, b: jnp.ndarray, lapack: bool = True) -> jnp.ndarray:
    """x with ``low x = b`` for low (..., n, n) lower triangular and b (..., n, k)."""
    if low.shape[-1] <= UNROLL_MAX:
        return _forward(low, b)
    return solve_triangular(low, b, lower=True) if lapack else _substitute_loop(low, b, False)


def solve_lower_transposed(low: jnp.ndarray, b: jnp.ndarray, lapack: bool = True) -> jnp.ndarray:
    """x with ``low' x = b`` for low (..., n, n) lower triangular and b (..., n, k)."""
    if low.shape[-1] <= UNROLL_MAX:
        return _backward(low, b)
    if lapack:  # transposed in the solve, not as a copy (InstEval's 1,158^2 block: ~2 ms)
        return jax.lax.linalg.triangular_solve(low, b, left_side=True, lower=True,
                                               transpose_a=True)
    return _substitute_loop(low, b, True)


def symmetric_eigen(a: jnp.ndarray, sweeps: int = 10) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Eigenvalues (n,) and eigenvectors (n, n) (columns) of a symmetric a (n, n), n <= UNROLL_MAX,
    by cyclic Jacobi rotations unrolled at trace time (quadratically convergent; ``sweeps``
    sweeps reach rounding level for these sizes)."""
    n = a.shape[-1]
    if n > UNROLL_MAX:
        raise ValueError(f"symmetric_eigen is for n <= {UNROLL_MAX}, got {n}")
    vecs = jnp.eye(n, dtype=a.dtype)
    eye = jnp.eye(n, dtype=a.dtype)
    for _ in range(sweeps):
        for p in range(n - 1):
            for q in range(p + 1, n):
                apq = a[p, q]
                zero = apq == 0.0
                ratio = (a[q, q] - a[p, p]) / jnp.where(zero, 1.0, 2.0 * apq)
                t = jnp.where(ratio >= 0, 1.0, -1.0) / (jnp.abs(ratio) + jnp.sqrt(ratio**2 + 1))
                t = jnp.where(zero, 0.0, t)
                c = 1.0 / jnp.sqrt(t**2 + 1.0)
                s = t * c
                rot = (eye.at[p, p].set(c).at[q, q].set(c).at[p, q].set(s).at[q, p].set(-s))
                a = rot.T @ a @ rot
                vecs = vecs @ rot
    return jnp.diagonal(a), vecs
