"""glmer's errors for bad input: clear messages naming the problem, raised before any JAX."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import interlace_jax as ij
from interlace_jax import DataError, ModelError


@pytest.fixture(scope="module")
def counts():
    rng = np.random.default_rng(1)
    g = np.repeat([f"g{i}" for i in range(10)], 6)
    return pd.DataFrame({"y": rng.poisson(3, 60), "x": rng.normal(size=60), "g": g,
                         "h": np.tile(["a", "b", "c"], 20), "n": 5})


@pytest.mark.parametrize("family, response, match", [
    ("poisson", "-y", "negative values"),
    ("poisson", "y + 0.5", "non-integer"),
    ("binomial", "y", r"\[0, 1\]"),
    ("binomial", "y / 40", "whole numbers of successes"),
    ("Gamma", "y", "positive"),
])
def test_response_outside_the_support(counts, family, response, match):
    with pytest.raises(DataError, match=match):
        ij.glmer(f"{response} ~ x + (1 | g)", counts, family)


def test_unknown_family_and_link(counts):
    with pytest.raises(ModelError, match="unknown family 'poison'"):
        ij.glmer("y ~ x + (1 | g)", counts, "poison")
    with pytest.raises(ModelError, match="link 'logit' is not available for the poisson"):
        ij.glmer("y ~ x + (1 | g)", counts, "poisson", link="logit")
    with pytest.raises(ModelError, match="conflicts"):
        ij.glmer("y ~ x + (1 | g)", counts, ij.Poisson(), link="sqrt")


def test_model_errors(counts):
    with pytest.raises(ModelError, match="needs the binomial family"):
        ij.glmer("cbind(y, n) ~ x + (1 | g)", counts, "poisson")
    with pytest.raises(ModelError, match="single random-effects term"):
        ij.glmer("y ~ x + (1 | g) + (1 | h)", counts, "poisson", nAGQ=5)
    with pytest.raises(ModelError, match="nAGQ must be a whole number"):
        ij.glmer("y ~ x + (1 | g)", counts, "poisson", nAGQ=-1)
    with pytest.raises(ModelError, match="nAGQ must be a whole number"):
        ij.glmer("y ~ x + (1 | g)", counts, "poisson", nAGQ=1.5)
    with pytest.raises(ModelError, match="use interlace_jax.fit"):
        ij.glmer("y ~ x + (1 | g)", counts, "gaussian")
    with pytest.raises(ModelError, match="no random-effects terms"):
        ij.glmer("y ~ x", counts, "poisson")
    with pytest.raises(ModelError, match="unknown optimizer"):
        ij.glmer("y ~ x + (1 | g)", counts, "poisson", optimizer="nelder")
    with pytest.raises(ModelError, match="start= must give 1 theta and 2 beta"):
        ij.glmer("y ~ x + (1 | g)", counts, "poisson", start={"beta": [1.0]})


def test_lmm_rejects_a_cbind_response(counts):
    with pytest.raises(ModelError, match="glmer"):
        ij.fit("cbind(y, n) ~ x + (1 | g)", counts)


def test_one_level_grouping_factor(counts):
    with pytest.raises(ModelError, match="at least 2"):
        ij.glmer("y ~ x + (1 | one)", counts.assign(one="a"), "poisson")
