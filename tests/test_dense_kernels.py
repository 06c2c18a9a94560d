"""The LAPACK-free kernels against numpy: Cholesky (unrolled and loop), triangular solves,
Jacobi eigendecomposition; under jit, vmap and grad."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from interlace_jax.linalg import cholesky, solve_lower, solve_lower_transposed, symmetric_eigen


def _spd(rng, n, batch=()):
    a = rng.normal(size=(*batch, n, n))
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


@pytest.mark.parametrize("n", [1, 3, 8, 12, 17, 43])  # 17, 43: the loop split once, twice
@pytest.mark.parametrize("lapack", [True, False])
def test_cholesky_and_solves_match_numpy(rng, n, lapack):
    a = _spd(rng, n, (4,))
    b = rng.normal(size=(4, n, 2))
    low = jax.jit(lambda m: cholesky(m, lapack))(a)
    np.testing.assert_allclose(low, np.linalg.cholesky(a), rtol=1e-10, atol=1e-12)
    x = solve_lower(low, b, lapack)
    np.testing.assert_allclose(np.asarray(low) @ np.asarray(x), b, atol=1e-10)
    xt = solve_lower_transposed(low, b, lapack)
    np.testing.assert_allclose(np.swapaxes(np.asarray(low), -1, -2) @ np.asarray(xt), b,
                               atol=1e-10)


def test_cholesky_of_an_indefinite_matrix_is_not_finite():
    a = jnp.asarray(np.diag([1.0, -1.0, 2.0]))
    assert not np.all(np.isfinite(cholesky(a)))
    for n in (10, 40):  # the negative pivot in the last (split: Schur) block
        assert not np.all(np.isfinite(cholesky(jnp.asarray(np.diag(np.r_[np.ones(n - 1), -1.0])),
                                               lapack=False)))


@pytest.mark.parametrize("n", [10, 40])
def test_loop_cholesky_differentiates_like_lapack(rng, n):
    a = jnp.asarray(_spd(rng, n))

    def logdet(m, lapack):
        return 2 * jnp.sum(jnp.log(jnp.diagonal(cholesky(m, lapack))))

    def sym(g):  # the kernels read one triangle; compare derivatives along symmetric directions
        return 0.5 * (g + g.T)

    loop, lapack = jax.grad(logdet)(a, False), jax.grad(logdet)(a, True)
    np.testing.assert_allclose(sym(loop), sym(lapack), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(sym(loop), np.linalg.inv(np.asarray(a)), rtol=1e-8)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
def test_jacobi_eigendecomposition_matches_numpy(rng, n):
    a = rng.normal(size=(n, n))
    a = a + a.T
    a[0, 0] *= 100
    w, v = jax.jit(symmetric_eigen)(jnp.asarray(a))
    np.testing.assert_allclose(np.sort(w), np.linalg.eigvalsh(a), atol=1e-10 * np.abs(a).max())
    np.testing.assert_allclose(np.asarray(v) @ np.diag(w) @ np.asarray(v).T, a, atol=1e-10 *
                               np.abs(a).max())
    batched = jax.vmap(symmetric_eigen)(jnp.stack([jnp.asarray(a)] * 3))[0]
    np.testing.assert_allclose(batched, np.stack([w] * 3), rtol=1e-12)
    with pytest.raises(ValueError, match="n <="):
        symmetric_eigen(jnp.eye(9))
