"""Start values of theta: the additive ANOVA start lands near the optimum for crossed and
nested intercept terms, per-level regressions near it for random slopes, and the batched
starts equal the single ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import interlace_jax as ij
from interlace_jax._x64 import x64
from interlace_jax.models import lmm_deviance
from interlace_jax.optim import start_candidates, start_candidates_many


def _crossed(rng, n_resp=3):
    subj, item = (a.ravel() for a in np.meshgrid(np.arange(30), np.arange(20), indexing="ij"))
    df = pd.DataFrame({"subj": [f"s{s}" for s in subj], "item": [f"i{i}" for i in item],
                       "x": rng.normal(size=subj.size)})
    for j in range(n_resp):
        df[f"y{j}"] = (0.3 * df["x"] + rng.normal(size=30)[subj] + 0.5 * rng.normal(size=20)[item]
                       + rng.normal(size=subj.size))
    return df, "~ x + (1 | subj) + (1 | item)"


def _nested(rng):
    school, klass = np.repeat(np.arange(10), 60), np.repeat(np.arange(60), 10)
    df = pd.DataFrame({"school": school.astype(str), "klass": klass.astype(str),
                       "x": rng.normal(size=600)})
    df["y0"] = 2 * rng.normal(size=10)[school] + rng.normal(size=60)[klass] + rng.normal(size=600)
    return df, "~ x + (1 | school) + (1 | klass)"


@pytest.mark.parametrize("design", [_crossed, _nested])
def test_the_additive_start_is_near_the_optimum(rng, design):
    df, rhs = design(rng)
    fit = ij.fit("y0" + rhs, df)
    y = fit.frame.y - fit.frame.offset
    lme4, one_way, additive = start_candidates(fit._terms, fit.frame.X, y, fit.frame.weights)
    optimum = np.asarray(fit.theta_fit.theta)
    np.testing.assert_array_equal(lme4, [1.0, 1.0])
    assert np.max(np.abs(additive / optimum - 1)) < 0.15
    # the one-way start puts the other factor's variance into the within variance
    assert np.max(np.abs(additive / optimum - 1)) < np.max(np.abs(one_way / optimum - 1))


def test_starts_of_many_responses_equal_single_starts(rng):
    df, rhs = _crossed(rng)
    fit = ij.fit("y0" + rhs, df)
    ys = df[["y0", "y1", "y2"]].to_numpy()
    many = start_candidates_many(fit._terms, fit.frame.X, ys, fit.frame.weights)
    for j in range(3):
        single = start_candidates(fit._terms, fit.frame.X, ys[:, j], fit.frame.weights)
        np.testing.assert_allclose(many[j], single, rtol=1e-12)


def test_per_level_regressions_start_random_slopes_near_the_optimum():
    df = ij.datasets.load("sleepstudy")
    fit = ij.fit("Reaction ~ Days + (Days | Subject)", df)
    y = fit.frame.y - fit.frame.offset
    starts = start_candidates(fit._terms, fit.frame.X, y, fit.frame.weights)
    assert starts.shape == (3, 3)  # lme4's, one-way (= lme4's here), per-level regressions
    with x64():  # the REML criterion at each start
        values = [float(lmm_deviance(s, fit._data, True)) for s in starts]
    optimum = fit.theta_fit.objective
    assert values[0] - optimum > 25.0  # lme4's start
    assert 0.0 <= values[2] - optimum < 0.1
    np.testing.assert_allclose(starts[2], fit.theta_fit.theta, rtol=0.1, atol=0.01)


def test_regression_starts_of_many_responses_equal_single_starts(rng):
    df = ij.datasets.load("sleepstudy")
    ys = df["Reaction"].to_numpy()[:, None] + rng.normal(scale=20.0, size=(len(df), 3))
    fit = ij.fit("Reaction ~ Days + (Days | Subject)", df)
    many = start_candidates_many(fit._terms, fit.frame.X, ys, fit.frame.weights)
    for j in range(3):
        single = start_candidates(fit._terms, fit.frame.X, ys[:, j], fit.frame.weights)
        np.testing.assert_allclose(many[j], single, rtol=1e-12)
