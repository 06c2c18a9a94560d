"""simulate() for GLMMs: moments of the drawn responses against the model's, within
Monte-Carlo error; the samplers of each family against their means and variances."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import interlace_jax as ij


@pytest.fixture(scope="module")
def poisson_fit():
    rng = np.random.default_rng(2)
    g = np.repeat(np.arange(20), 10)
    x = rng.normal(size=200)
    b = rng.normal(size=(20, 2)) * [0.5, 0.3]
    y = rng.poisson(np.exp(0.5 + 0.4 * x + b[g, 0] + b[g, 1] * x))
    df = pd.DataFrame({"y": y, "x": x, "g": g.astype(str)})
    return ij.glmer("y ~ x + (1 + x | g)", df, "poisson")


def test_poisson_glmm_moments(poisson_fit):
    m = poisson_fit
    ys = ij.simulate(m, 3000, seed=5)
    cov = m._covariances[0].cov  # Var(b) = Lambda Lambda'
    z = np.column_stack([np.ones(m.nobs), m.frame.X[:, 1]])
    marginal = np.exp(m.frame.X @ m.fe_params.to_numpy()
                      + 0.5 * np.einsum("is,st,it->i", z, cov, z))
    se = ys.std(axis=1) / np.sqrt(ys.shape[1])
    assert np.max(np.abs(ys.mean(axis=1) - marginal) / se) < 4.5
    fixed = ij.simulate(m, 3000, seed=5, use_u=True)
    se = fixed.std(axis=1) / np.sqrt(3000)
    assert np.max(np.abs(fixed.mean(axis=1) - m.fittedvalues.to_numpy()) / se) < 4.5


def test_seed_chunks_and_newparams(poisson_fit):
    a = ij.simulate(poisson_fit, 10, seed=3, chunk_size=3)
    b = ij.simulate(poisson_fit, 10, seed=3)
    np.testing.assert_array_equal(a, b)
    zero = ij.simulate(poisson_fit, 2000, seed=1, include_re=False,
                       newparams={"beta": [0.0, 0.0]})
    assert zero.mean() == pytest.approx(1.0, abs=0.01)
    with pytest.raises(ij.ModelError, match="no dispersion parameter"):
        ij.simulate(poisson_fit, 2, newparams={"phi": 2.0})


@pytest.mark.parametrize("family, phi, var", [
    (ij.Gamma(link="log"), 0.3, lambda mu, phi: phi * mu**2),
    (ij.InverseGaussian(link="log"), 0.2, lambda mu, phi: phi * mu**3),
    (ij.Gaussian(link="log"), 0.5, lambda mu, phi: phi + 0 * mu),
    (ij.Poisson(), 1.0, lambda mu, phi: mu),
])
def test_family_samplers(family, phi, var):
    mu = jnp.full(200_000, 1.7)
    with ij.x64():
        y = np.asarray(family.sample(jax.random.key(0), mu, jnp.ones_like(mu), phi))
    assert y.mean() == pytest.approx(1.7, rel=0.01)
    assert y.var() == pytest.approx(float(var(1.7, phi)), rel=0.03)


def test_binomial_sampler_returns_proportions():
    with ij.x64():
        y = np.asarray(ij.Binomial().sample(jax.random.key(1), jnp.full(50_000, 0.3),
                                            jnp.full(50_000, 4.0), 1.0))
    assert set(np.unique(y * 4)) <= {0.0, 1.0, 2.0, 3.0, 4.0}
    assert y.mean() == pytest.approx(0.3, abs=0.005)


def test_glmm_bootstrap_replicate_equals_a_single_fit():
    """Replicate i refits the response simulate() draws with key i; a glmer fit of that
    response gives the same estimates (to optimiser tolerance)."""
    cbpp = ij.datasets.load("cbpp")
    formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
    m = ij.glmer(formula, cbpp, "binomial")
    boot = ij.bootstrap(m, 3, seed=11, chunk_size=3)
    assert boot.n_failed == 0
    ys = ij.simulate(m, 3, seed=11)
    for i in range(3):
        df = cbpp.assign(incidence=np.round(ys[:, i] * cbpp["size"]))
        single = ij.glmer(formula, df, "binomial")
        row = boot.replicates.iloc[i]
        np.testing.assert_allclose(row[list(m.fe_params.index)].to_numpy(dtype=float),
                                   single.fe_params.to_numpy(), rtol=1e-4, atol=1e-5)
        assert row["sd_(Intercept)|herd"] == pytest.approx(single.theta[0], rel=1e-3, abs=1e-4)
        assert row["deviance"] == pytest.approx(single.deviance, rel=1e-8)
    assert list(boot.observed.index)[-2:] == ["sd_(Intercept)|herd", "deviance"]
