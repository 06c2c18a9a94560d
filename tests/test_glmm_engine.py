"""The Laplace engine against a dense brute-force Laplace approximation, autodiff against
finite differences, quadrature against the Laplace value and brute-force integration, and the
jit/vmap transformations."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import optimize, stats

from helpers import dense_z_lambda, random_term
from interlace_jax.families import Binomial, Gamma, Poisson
from interlace_jax.models._glmm_data import glmm_data
from interlace_jax.models._laplace import laplace_deviance, zero_effects
from interlace_jax.models._quadrature import QuadratureDeviance
from interlace_jax.terms import n_theta


def _design(rng, family, n=120):
    """Crossed design: a vector term (1 + x | g) with 12 levels and (1 | h) with 5 levels."""
    terms = [random_term(rng, n, 12, 2, "g"), random_term(rng, n, 5, 1, "h")]
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    eta = 0.3 + 0.5 * X[:, 1] + rng.normal(size=n) * 0.3
    weights = np.ones(n)
    if isinstance(family, Binomial):
        weights = rng.integers(1, 6, n).astype(float)
        y = rng.binomial(weights.astype(int), 1 / (1 + np.exp(-eta))) / weights
    elif isinstance(family, Poisson):
        y = rng.poisson(np.exp(eta)).astype(float)
    else:
        y = rng.gamma(4.0, np.exp(eta) / 4.0)
    return terms, X, y, weights


def _dense_laplace(terms, X, y, weights, family, x):
    """-2 log L by the Laplace approximation, with dense matrices and scipy's optimiser."""
    sizes = [t.size for t in terms]  # already in computation order
    k = sum(n_theta(s) for s in sizes)
    theta, beta = x[:k], x[k : k + X.shape[1]]
    phi = np.exp(x[-1]) if family.has_dispersion else 1.0
    Z, lam = dense_z_lambda(terms, theta)
    zl = Z @ lam

    def loglik(u):
        eta = X @ beta + zl @ u
        mu = family.link.inverse(eta)
        return (jnp.sum(family.log_density(y, mu, weights, phi))
                + np.sum(family.log_constant(y, weights)))

    h = jax.jit(jax.value_and_grad(lambda u: -loglik(u) + 0.5 * u @ u))
    u = optimize.minimize(lambda v: [np.asarray(a) for a in h(v)], np.zeros(zl.shape[1]),
                          jac=True, method="BFGS", options=dict(gtol=1e-10)).x
    eta = X @ beta + zl @ u
    eps = 1e-5
    curv = -(np.array([loglik_i for loglik_i in _pointwise(family, y, weights, phi, eta + eps)])
             - 2 * np.array(_pointwise(family, y, weights, phi, eta))
             + np.array(_pointwise(family, y, weights, phi, eta - eps))) / eps**2
    if family.fisher_laplace:
        curv = np.asarray(family.fisher_weights(jnp.asarray(eta), weights, phi))
    H = zl.T @ (curv[:, None] * zl) + np.eye(zl.shape[1])
    return -2 * float(loglik(u)) + u @ u + np.linalg.slogdet(H)[1]


def _pointwise(family, y, weights, phi, eta):
    mu = family.link.inverse(jnp.asarray(eta))
    return list(np.asarray(family.log_density(y, mu, weights, phi)))


_deviance = jax.jit(laplace_deviance)


@pytest.mark.parametrize("family", [Binomial(link="probit"), Poisson(), Gamma(link="log")])
def test_laplace_matches_a_dense_brute_force_laplace(family):
    rng = np.random.default_rng(3)
    terms, X, y, weights = _design(rng, family)
    data = glmm_data(terms, X, y, weights, np.zeros(len(y)), family)
    ordered = [terms[i] for i in data.plan.order]
    x = np.array([0.8, 0.2, 0.5, 0.6, 0.25, 0.4] + ([np.log(0.3)] if family.has_dispersion
                                                    else []))
    ours = float(_deviance(jnp.asarray(x), data, zero_effects(data))[0])
    dense = _dense_laplace(ordered, X, y, weights, family, x)
    assert ours == pytest.approx(dense, rel=1e-7, abs=1e-6)


def test_gradient_matches_finite_differences():
    rng = np.random.default_rng(4)
    terms, X, y, weights = _design(rng, Binomial(link="probit"))
    data = glmm_data(terms, X, y, weights, np.zeros(len(y)), Binomial(link="probit"))
    x = jnp.asarray([0.8, 0.2, 0.5, 0.6, 0.25, 0.4])
    grad = np.asarray(jax.jit(jax.grad(lambda z: laplace_deviance(z, data)[0]))(x))
    eps = 1e-5
    fd = np.array([(_deviance(x + eps * e, data, zero_effects(data))[0]
                    - _deviance(x - eps * e, data, zero_effects(data))[0]) / (2 * eps)
                   for e in np.eye(x.size)])
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-6)


def test_jit_and_vmap_over_responses():
    rng = np.random.default_rng(5)
    terms, X, y, weights = _design(rng, Poisson())
    data = glmm_data(terms, X, y, weights, np.zeros(len(y)), Poisson())
    x = jnp.asarray([0.8, 0.2, 0.5, 0.6, 0.25, 0.4])
    ys = jnp.stack([data.y, jnp.asarray(rng.poisson(2.0, len(y)), float)])

    def dev(yy):
        return laplace_deviance(x, data.__class__(**{**data.__dict__, "y": yy}))[0]

    batched = jax.jit(jax.vmap(dev))(ys)
    single = jax.jit(dev)
    assert float(batched[0]) == pytest.approx(float(single(ys[0])), rel=1e-10)
    assert float(batched[1]) == pytest.approx(float(single(ys[1])), rel=1e-10)


def test_row_order_and_inner_start_do_not_change_the_deviance():
    rng = np.random.default_rng(6)
    terms, X, y, weights = _design(rng, Binomial())
    x = jnp.asarray([0.8, 0.2, 0.5, 0.6, 0.25, 0.4])
    data = glmm_data(terms, X, y, weights, np.zeros(len(y)), Binomial())
    perm = rng.permutation(len(y))
    shuffled = [t.__class__(t.group, t.refs[perm], t.z[perm], t.levels, t.z_names) for t in terms]
    data_p = glmm_data(shuffled, X[perm], y[perm], weights[perm], np.zeros(len(y)), Binomial())
    value, mode = _deviance(x, data, zero_effects(data))
    assert float(_deviance(x, data_p, zero_effects(data))[0]) == pytest.approx(float(value),
                                                                             rel=1e-11)
    # the inner search's start does not change the value
    start = (mode[0] + 0.3, mode[1] - 0.2)
    assert float(_deviance(x, data, start)[0]) == pytest.approx(float(value), rel=1e-12)


def _one_term(rng, size, n_levels=15, per_level=8):
    n = n_levels * per_level
    refs = np.repeat(np.arange(n_levels), per_level).astype(np.int32)
    xcol = rng.normal(size=n)
    z = np.column_stack([np.ones(n), xcol][:size])
    from interlace_jax.terms import ReTerm

    term = ReTerm("g", refs, z, tuple(range(n_levels)), ("(Intercept)", "x")[:size])
    X = np.column_stack([np.ones(n), xcol])
    b = rng.normal(size=(n_levels, size)) * 0.8
    eta = -0.2 + 0.7 * xcol + np.sum(z * b[refs], axis=1)
    y = rng.binomial(1, 1 / (1 + np.exp(-eta))).astype(float)
    return term, X, y


def test_one_node_quadrature_is_the_laplace_approximation():
    rng = np.random.default_rng(7)
    term, X, y = _one_term(rng, 2)
    data = glmm_data([term], X, y, np.ones(len(y)), np.zeros(len(y)), Binomial())
    x = jnp.asarray([0.9, 0.3, 0.5, -0.1, 0.6])
    laplace = float(jax.jit(laplace_deviance)(x, data)[0])
    assert float(jax.jit(QuadratureDeviance(1))(x, data)[0]) == pytest.approx(laplace, rel=1e-12)


def test_vector_quadrature_converges_to_brute_force_integration():
    rng = np.random.default_rng(8)
    term, X, y = _one_term(rng, 2)
    data = glmm_data([term], X, y, np.ones(len(y)), np.zeros(len(y)), Binomial())
    x = np.array([0.9, 0.3, 0.5, -0.1, 0.6])
    lam = np.array([[x[0], 0.0], [x[1], x[2]]])
    # brute force: a fine tensor grid on [-7, 7]^2 of the standard normal u, per level
    grid = np.linspace(-7, 7, 401)
    du = grid[1] - grid[0]
    u1, u2 = np.meshgrid(grid, grid, indexing="ij")
    u = np.stack([u1.ravel(), u2.ravel()], axis=1)
    log_phi = stats.norm.logpdf(u).sum(axis=1)
    total = 0.0
    for k in range(term.n_levels):
        rows = term.refs == k
        eta = (X[rows] @ x[3:])[:, None] + term.z[rows] @ (lam @ u.T)
        ll = np.sum(y[rows, None] * eta - np.log1p(np.exp(eta)), axis=0)
        total += np.log(np.sum(np.exp(ll + log_phi)) * du * du)
    exact = -2 * total
    errors = [abs(float(jax.jit(QuadratureDeviance(n))(jnp.asarray(x), data)[0]) - exact)
              for n in (1, 3, 9, 15)]
    assert errors[-1] < 1e-6
    assert errors[0] > errors[-1]
