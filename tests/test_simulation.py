"""simulate and bootstrap: draws with the model's moments, replicates equal to single fits,
chunk-independence, failure counting, and lme4's bootMer distribution (within Monte-Carlo
error)."""

from __future__ import annotations

import json
import warnings

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import interlace_jax as ij
from conftest import FIXTURES
from interlace_jax.simulation import BootstrapResult, bootstrap, simulate

FORMULA = "Reaction ~ Days + (Days | Subject)"


@pytest.fixture(scope="module")
def sleep():
    return ij.datasets.load("sleepstudy")


@pytest.fixture(scope="module")
def model(sleep):
    return ij.fit(FORMULA, sleep)


@pytest.fixture(scope="module")
def boot(model):
    return bootstrap(model, 2000, seed=7)


def test_simulated_moments_match_the_model(model):
    ys = simulate(model, 4000, seed=1)
    assert ys.shape == (model.nobs, 4000)
    X = model.frame.X
    mean = X @ model.fe_params.to_numpy()
    se = ys.std(axis=1) / np.sqrt(ys.shape[1])
    assert np.max(np.abs(ys.mean(axis=1) - mean) / se) < 5.0
    # covariance of one subject's 10 rows: Z_i G Z_i' + sigma^2 I
    G = model.varcov.to_numpy()
    Zi = np.column_stack([np.ones(10), np.arange(10.0)])
    expected = Zi @ G @ Zi.T + model.scale * np.eye(10)
    empirical = np.cov(ys[:10])
    rel = np.abs(empirical - expected) / np.sqrt(np.outer(np.diag(expected), np.diag(expected)))
    assert np.max(rel) < 0.1  # Monte-Carlo SD of a correlation-scale entry is ~1/sqrt(4000)


def test_simulation_options_and_reproducibility(model):
    a = simulate(model, 5, seed=3)
    b = simulate(model, 5, seed=3, chunk_size=2)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, simulate(model, 5, seed=4))
    fixed = simulate(model, 2000, seed=5, include_re=False)
    assert abs(fixed.var(axis=1).mean() / model.scale - 1) < 0.05
    cond = simulate(model, 2000, seed=5, use_u=True)
    se = model.sigma / np.sqrt(2000)
    assert np.max(np.abs(cond.mean(axis=1) - model.fittedvalues.to_numpy())) < 5 * se
    frame = simulate(model, 2, seed=3, as_frame=True)
    assert list(frame.columns) == ["sim_1", "sim_2"] and len(frame) == model.nobs
    new = simulate(model, 2000, seed=5, newparams={"beta": {"Intercept": 0.0, "Days": 0.0}})
    assert abs(new.mean()) < 5.0


@pytest.mark.parametrize("kwargs, match", [
    (dict(nsim=0), "nsim"),
    (dict(nsim=2, newparams={"beta": [1.0]}), "beta"),
    (dict(nsim=2, newparams={"gamma": 1.0}), "unknown keys"),
    (dict(nsim=2, newparams={"sigma": -1.0}), "sigma"),
    (dict(nsim=2, use_u=True, include_re=False), "use_u"),
])
def test_simulate_rejects_bad_arguments(model, kwargs, match):
    with pytest.raises(ij.ModelError, match=match):
        simulate(model, **kwargs)


def test_bootstrap_replicate_equals_a_single_fit_of_its_response(model, sleep, boot):
    ys = simulate(model, 3, seed=7)
    small = bootstrap(model, 3, seed=7)
    for i in range(3):
        data = sleep.assign(Reaction=ys[:, i])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ij.ConvergenceWarning)
            single = ij.fit(FORMULA, data)
        row = small.replicates.iloc[i]
        np.testing.assert_allclose(row[["Intercept", "Days"]].to_numpy(float),
                                   single.fe_params.to_numpy(), rtol=1e-6)
        assert row["deviance"] == pytest.approx(single.deviance, abs=1e-6)
        assert row["sigma"] == pytest.approx(single.sigma, rel=1e-6)
    # the first replicates of a larger run are the same: keys do not depend on nsim's chunks
    cols = ["Intercept", "Days", "sigma", "deviance"]
    np.testing.assert_allclose(small.replicates[cols].to_numpy(float),
                               boot.replicates[cols].to_numpy(float)[:3], rtol=1e-8)


def test_chunked_and_unchunked_bootstraps_agree(model, boot):
    chunked = bootstrap(model, 2000, seed=7, chunk_size=500)
    numeric = [c for c in boot.replicates.columns if c not in ("status", "converged")]
    np.testing.assert_allclose(chunked.replicates[numeric].to_numpy(float),
                               boot.replicates[numeric].to_numpy(float), rtol=1e-8, atol=1e-8)


def test_replicate_keys_are_the_keys_of_a_split_of_nsim():
    """Drawn as a prefix of a power-of-two split, the keys are those of split(key, nsim)."""
    import jax

    from interlace_jax.simulation._chunks import replicate_keys

    for nsim in (1, 2, 5, 100, 1000):
        expected = jax.random.split(jax.random.key(11), nsim)
        np.testing.assert_array_equal(jax.random.key_data(replicate_keys(11, nsim)),
                                      jax.random.key_data(expected))


def test_default_chunks_shrink_as_the_model_grows(model):
    """Model-sized chunks: sleepstudy's small fits 64 per chunk, a 2,000-row crossed design
    with a 43-row dense block 8, never outside 8..128."""
    from interlace_jax.simulation._chunks import fit_chunk_size

    assert fit_chunk_size(model._data.plan, model.nobs) == 64
    rng = np.random.default_rng(0)
    subj, item = np.meshgrid(np.arange(50), np.arange(40), indexing="ij")
    crossed = pd.DataFrame({"y": rng.normal(size=2000), "x": rng.normal(size=2000),
                            "subj": subj.ravel().astype(str), "item": item.ravel().astype(str)})
    big = ij.fit("y ~ x + (1 | subj) + (1 | item)", crossed, df_method="normal")
    assert fit_chunk_size(big._data.plan, big.nobs) == 8
    assert fit_chunk_size(model._data.plan, 10) == 128


def _lme4_bootstrap():
    ref = json.loads((FIXTURES / "simulation" / "bootstrap_sleepstudy.json").read_text())
    names = ["Intercept", "Days", *ref["names"][2:]]
    reps = pd.DataFrame(np.asarray(ref["replicates"], dtype=float), columns=names)
    return ref, names, reps


def test_bootstrap_distribution_agrees_with_lme4_bootmer(model, boot):
    """Means, SDs and percentile limits against lme4's 2,000 bootMer replicates.

    Both are Monte-Carlo estimates from 2,000 replicates, so they differ by sampling error
    only: means within 4 standard errors of the difference; SDs within 4 standard errors
    (relative SE of an SD ~ 1/sqrt(2(n-1)) per run); the 2.5% and 97.5% quantiles within 4
    standard errors, sqrt(p(1-p)/n) / f(q) per run with the density f at the quantile
    estimated from the pooled replicates."""
    ref, names, theirs = _lme4_bootstrap()
    assert boot.n_failed == 0
    ours = boot.replicates.loc[boot.replicates["converged"], names]
    np.testing.assert_allclose(boot.observed[names].to_numpy(float), ref["observed"], rtol=1e-4)
    n1, n2 = len(ours), len(theirs.dropna())
    for name in names:
        a, b = ours[name].to_numpy(float), theirs[name].dropna().to_numpy(float)
        se_mean = np.sqrt(a.var() / n1 + b.var() / n2)
        assert abs(a.mean() - b.mean()) < 4 * se_mean, name
        se_sd = np.sqrt(1 / (2 * (n1 - 1)) + 1 / (2 * (n2 - 1)))
        assert abs(a.std() / b.std() - 1) < 4 * se_sd, name
        pooled = np.concatenate([a, b])
        for p, limit in zip((0.025, 0.975), ref["percentile_95"][ref["names"][names.index(name)]]):
            q = np.quantile(pooled, p)
            width = np.quantile(pooled, min(p + 0.01, 1)) - np.quantile(pooled, max(p - 0.01, 0))
            density = 0.02 / max(width, 1e-12)
            se_q = np.sqrt(p * (1 - p) * (1 / n1 + 1 / n2)) / density
            assert abs(np.quantile(a, p) - limit) < 4 * se_q + 1e-12, (name, p, q)


def test_conf_int_boot_has_lme4_rows(model):
    ci = model.conf_int(method="boot", nsim=200, seed=7)
    assert list(ci.index) == [".sig01", ".sig02", ".sig03", ".sigma", "Intercept", "Days"]
    assert list(ci.columns) == ["2.5 %", "97.5 %"]
    assert ci.attrs["nsim"] == 200 and ci.attrs["method"] == "boot"
    assert np.all(ci["2.5 %"] < ci["97.5 %"])
    est = model.fe_params
    assert ci.loc["Days", "2.5 %"] < est["Days"] < ci.loc["Days", "97.5 %"]


def test_user_statistic_is_a_jax_function_of_the_refit(model):
    res = bootstrap(model, 3, seed=7, statistic=lambda f: jnp.stack(
        [f.solution.beta[1] / f.solution.sigma, f.solution.deviance]))
    reps = res.replicates
    np.testing.assert_allclose(reps["stat_0"], reps["Days"] / reps["sigma"], rtol=1e-12)
    np.testing.assert_allclose(reps["stat_1"], reps["deviance"], rtol=1e-12)


def test_failed_replicates_are_counted_and_left_out_of_intervals():
    reps = pd.DataFrame({"b": [1.0, 2.0, 3.0, 100.0], "deviance": [1.0, 1.0, 1.0, 1.0],
                         "status": ["CONVERGED"] * 3 + ["MAX_STEPS"],
                         "converged": [True, True, True, False]})
    res = BootstrapResult(reps, pd.Series({"b": 2.0, "deviance": 1.0}), seed=0)
    assert res.n_failed == 1 and res.nsim == 4
    ci = res.conf_int(level=0.5)
    assert ci.attrs["n_used"] == 3
    assert ci.loc["b"].max() <= 3.0
    assert "1 not converged" in repr(res)
    with pytest.raises(ij.ModelError, match="method"):
        res.conf_int(method="bca")
    with pytest.raises(ij.ModelError, match="level"):
        res.conf_int(level=1.5)


@pytest.mark.parametrize("nsim", [0, -3, 2.5, True])
def test_bootstrap_rejects_a_bad_number_of_replicates(model, nsim):
    with pytest.raises(ij.ModelError, match="nsim"):
        bootstrap(model, nsim)


@pytest.mark.parametrize("chunk_size", [0, -1, 1.5, "four"])
def test_bootstrap_rejects_a_bad_chunk_size(model, chunk_size):
    with pytest.raises(ij.ModelError, match="chunk_size must be a positive integer"):
        bootstrap(model, 4, chunk_size=chunk_size)


def test_bootstrap_statistic_must_return_numbers(model):
    with pytest.raises(ij.ModelError, match="statistic must return a number"):
        bootstrap(model, 4, statistic=lambda fit: "beta")
    with pytest.raises(ij.ModelError, match="statistic must return a number"):
        bootstrap(model, 4, statistic=lambda fit: fit.solution.beta[:, None] * fit.theta)


def test_simulate_and_bootstrap_name_the_models_they_take():
    wine = ij.datasets.load("wine")
    ordinal = ij.clmm("rating ~ temp + contact + (1 | judge)", wine)
    for fn in (bootstrap, ij.simulate):
        with pytest.raises(ij.ModelError, match="takes a fit of interlace_jax.fit, glmer"):
            fn(ordinal, 2)
