"""fit_many equals single fits; power reproduces an exact noncentral-t power within
Monte-Carlo error; both reject bad input clearly."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import interlace_jax as ij
from interlace_jax.simulation import fit_many, power


@pytest.fixture(scope="module")
def sleep():
    data = ij.datasets.load("sleepstudy")
    rng = np.random.default_rng(0)
    return data.assign(noisy=data["Reaction"] + 30 * rng.normal(size=len(data)),
                       pure=rng.normal(size=len(data)))


@pytest.fixture(scope="module")
def many(sleep):
    return fit_many("~ Days + (Days | Subject)", sleep, ["Reaction", "noisy", "pure"])


def test_fit_many_equals_single_fits(sleep, many):
    assert many.n_failed == 0
    for name in ["Reaction", "noisy", "pure"]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ij.ConvergenceWarning)
            single = ij.fit(f"{name} ~ Days + (Days | Subject)", sleep)
        assert many.llf[name] == pytest.approx(single.llf, abs=1e-7)
        np.testing.assert_allclose(many.params.loc[name], single.fe_params, rtol=1e-7)
        np.testing.assert_allclose(many.bse.loc[name], single.bse, rtol=1e-6)
        np.testing.assert_allclose(many.df.loc[name], single.fe_df, rtol=1e-4)
        np.testing.assert_allclose(many.pvalues.loc[name], single.pvalues, rtol=1e-4)
        assert bool(many.singular[name]) == single.is_singular
    tidy = many.tidy()
    assert list(tidy.columns[:7]) == ["response", "term", "estimate", "std.error", "df",
                                      "statistic", "p.value"]
    assert len(tidy) == 6
    assert "3 responses" in repr(many)


def test_fit_many_on_a_crossed_design_equals_single_fits_whatever_the_chunks():
    """Crossed terms (a dense block, fitted with differences of exact values): the same
    optimum as single fits, and chunk sizes change nothing beyond the optimizer's tolerance."""
    rng = np.random.default_rng(5)
    subj, item = np.meshgrid(np.arange(12), np.arange(8), indexing="ij")
    keep = rng.uniform(size=subj.size) < 0.85  # unbalanced
    frame = pd.DataFrame({"subj": [f"s{s}" for s in subj.ravel()[keep]],
                          "item": [f"i{i}" for i in item.ravel()[keep]]})
    frame["x"] = rng.normal(size=len(frame))
    names = [f"y{j}" for j in range(3)]
    for j, name in enumerate(names):
        frame[name] = (0.4 * frame["x"] + rng.normal(size=12)[subj.ravel()[keep]]
                       + (0.6 - 0.25 * j) * rng.normal(size=8)[item.ravel()[keep]]
                       + rng.normal(size=len(frame)))
    many = fit_many("~ x + (1 | subj) + (1 | item)", frame, names)
    one_by_one = fit_many("~ x + (1 | subj) + (1 | item)", frame, names, chunk_size=1)
    assert many.n_failed == 0
    for name in names:
        single = ij.fit(f"{name} ~ x + (1 | subj) + (1 | item)", frame)
        assert many.llf[name] >= single.llf - 1e-9
        assert many.llf[name] == pytest.approx(single.llf, abs=1e-7)
        np.testing.assert_allclose(many.params.loc[name], single.fe_params, rtol=1e-6)
        np.testing.assert_allclose(many.bse.loc[name], single.bse, rtol=1e-5)
        np.testing.assert_allclose(many.df.loc[name], single.fe_df, rtol=1e-4)
    np.testing.assert_allclose(one_by_one.params.to_numpy(), many.params.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(one_by_one.llf.to_numpy(), many.llf.to_numpy(), rtol=1e-12)


def test_fit_many_takes_an_array_of_responses(sleep, many):
    ys = sleep[["Reaction", "noisy", "pure"]].to_numpy()
    arr = fit_many("y ~ Days + (Days | Subject)", sleep, ys)
    assert arr.responses == ["y0", "y1", "y2"]
    np.testing.assert_allclose(arr.params.to_numpy(), many.params.to_numpy(), rtol=1e-10)


@pytest.mark.parametrize("responses, match", [
    (["Reaction", "nope"], "not found"),
    (["Reaction", "Subject"], "'Subject' is not numeric"),
    (np.zeros((5, 2)), "one row per data row"),
    ([], "empty"),
])
def test_fit_many_rejects_bad_responses(sleep, responses, match):
    with pytest.raises(ij.DataError, match=match):
        fit_many("~ Days + (Days | Subject)", sleep, responses)


def test_fit_many_names_a_missing_predictor(sleep):
    with pytest.raises(ij.DataError, match="'Dayz' not found"):
        fit_many("~ Dayz + (1 | Subject)", sleep, ["Reaction"])
    with pytest.raises(ij.DataError, match="'w' not found"):
        fit_many("~ Days + (1 | Subject)", sleep, ["Reaction"], weights="w")


def test_fit_many_names_a_response_with_missing_values(sleep):
    data = sleep.assign(gap=sleep["Reaction"].where(sleep.index != 3))
    with pytest.raises(ij.DataError, match="missing"):
        fit_many("~ Days + (1 | Subject)", data, ["Reaction", "gap"])
    ys = np.column_stack([sleep["Reaction"], sleep["Reaction"]])
    ys[4, 1] = np.nan
    with pytest.raises(ij.DataError, match="'y1'"):
        fit_many("~ Days + (1 | Subject)", sleep, ys)


def _two_group_design(k: int, m: int) -> pd.DataFrame:
    return pd.DataFrame({"subj": np.repeat([f"s{i}" for i in range(2 * k)], m),
                         "group": np.repeat(["a", "b"] * k, m)})


PARAMS = dict(beta={"Intercept": 0.0, "group[T.b]": 1.0}, sd={"subj": 1.0}, sigma=1.0)


def test_power_matches_the_exact_noncentral_t_power():
    """Balanced between-subject design, random intercepts: the REML t test of the group effect
    is the two-sample t test on subject means (df 2k - 2, noncentrality
    delta / sqrt((tau^2 + sigma^2 / m) 2 / k)) whenever the subject variance estimate is
    positive, which with tau = sigma = 1, m = 5 fails with negligible probability."""
    k, m, nsim = 10, 5, 1500
    res = power("y ~ group + (1 | subj)", _two_group_design(k, m), PARAMS, nsim=nsim, seed=11)
    row = res.iloc[0]
    df, ncp = 2 * k - 2, 1.0 / np.sqrt((1 + 1 / m) * 2 / k)
    crit = stats.t.ppf(0.975, df)
    exact = stats.nct.sf(crit, df, ncp) + stats.nct.cdf(-crit, df, ncp)
    assert row["n_failed"] == 0 and row["effect"] == "group[T.b]"
    se = np.sqrt(exact * (1 - exact) / nsim)
    assert abs(row["power"] - exact) < 4 * se
    assert row["lower"] < row["power"] < row["upper"]


def test_power_curve_over_subjects_increases():
    res = power("y ~ group + (1 | subj)", _two_group_design(10, 5), PARAMS, nsim=300, seed=2,
                n_subjects=[6, 40])
    assert list(res["n_subjects"]) == [6, 40]
    assert list(res["nobs"]) == [30, 200]
    assert res["power"].iloc[1] > res["power"].iloc[0] + 0.3


@pytest.mark.parametrize("params, match", [
    (dict(PARAMS, beta={"Intercept": 0.0}), "missing"),
    (dict(PARAMS, sd={"item": 1.0}), "unknown grouping"),
    (dict(PARAMS, sigma=0.0), "sigma"),
    (dict(PARAMS, sd={"subj": [1.0, 2.0]}), "SDs"),
    (dict(PARAMS, rho=1.0), "unknown keys"),
])
def test_power_rejects_bad_parameters(params, match):
    with pytest.raises(ij.ModelError, match=match):
        power("y ~ group + (1 | subj)", _two_group_design(3, 2), params, nsim=2)


def test_power_rejects_unknown_effects_and_one_sided_formulas():
    with pytest.raises(ij.ModelError, match="not coefficients"):
        power("y ~ group + (1 | subj)", _two_group_design(3, 2), PARAMS, nsim=2,
              effects=["grp"])
    with pytest.raises(ij.ModelError, match="response"):
        power("~ group + (1 | subj)", _two_group_design(3, 2), PARAMS, nsim=2)
