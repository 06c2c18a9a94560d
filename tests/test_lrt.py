"""Likelihood-ratio tests (``anova(m1, m2, ...)``) against lme4 (tests/fixtures/
make_interval_fixtures.R, cases anova_*), and the checks of the input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import FIXTURES

import interlace_jax as ij
from interlace_jax.inference import likelihood_ratio_table

CASES = ["anova_sleepstudy", "anova_cake", "anova_penicillin_ml"]


@pytest.fixture(scope="module")
def anova_case():
    cache = {}

    def get(case):
        if case not in cache:
            ref = json.loads((FIXTURES / "intervals" / f"{case}.json").read_text())
            data = ij.datasets.load(ref["data"])
            fits = [ij.fit(m["formula"], data, method="REML" if m["REML"] else "ML")
                    for m in ref["models"]]
            cache[case] = (fits, ref)
        return cache[case]

    return get


@pytest.mark.parametrize("case", CASES)
def test_anova_matches_lme4(anova_case, case):
    fits, ref = anova_case(case)
    names = [m["name"] for m in ref["models"]]
    table = ij.anova(*fits, names=names)
    assert list(table.index) == [r["name"] for r in ref["rows"]]
    assert list(table.columns) == ["npar", "AIC", "BIC", "logLik", "deviance", "Chisq", "Df",
                                   "Pr(>Chisq)"]
    rows = ref["rows"]
    np.testing.assert_array_equal(table["npar"], [r["npar"] for r in rows])
    for col, key in [("AIC", "AIC"), ("BIC", "BIC"), ("logLik", "logLik"),
                     ("deviance", "deviance")]:
        np.testing.assert_allclose(table[col], [r[key] for r in rows], rtol=0, atol=1e-6)
    assert np.isnan(table["Chisq"].iloc[0]) and np.isnan(table["Df"].iloc[0])
    np.testing.assert_allclose(table["Chisq"].iloc[1:], [r["Chisq"] for r in rows[1:]],
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(table["Df"].iloc[1:], [r["Df"] for r in rows[1:]])
    np.testing.assert_allclose(table["Pr(>Chisq)"].iloc[1:], [r["p"] for r in rows[1:]],
                               rtol=1e-4)
    heading = list(table.attrs["heading"])
    if ref["refit_message"]:
        assert heading[0] == "refitting model(s) with ML (instead of REML)"
        assert table.attrs["refitted"] == tuple(names)
        heading = heading[1:]
    else:
        assert table.attrs["refitted"] == ()
    lme4_heading = [h for h in ref["heading"] if not h.startswith("Data:")]
    assert heading == lme4_heading  # "Models:" and "name: formula" in table order
    printed = str(table)
    assert printed.startswith("\n".join(table.attrs["heading"]))
    assert all(name in printed for name in names)


def test_refit_does_not_change_the_reml_fits(anova_case):
    fits, _ = anova_case("anova_sleepstudy")
    ij.anova(*fits, names=["a", "b"])
    assert all(m.reml for m in fits)
    assert fits[0].refit_ml().reml is False
    assert fits[0].refit_ml() is fits[0].refit_ml()  # cached


def test_default_names_and_printing(anova_case):
    fits, _ = anova_case("anova_sleepstudy")
    table = ij.anova(fits[1], fits[0])  # order of rows by npar, not by argument
    assert list(table.index) == ["MODEL2", "MODEL1"]
    text = str(table)
    assert "***" in text and "Signif. codes" in text
    assert "MODEL2: Reaction ~ Days + (1 | Subject)" in text
    plain = table[["AIC", "BIC"]]  # operations give ordinary DataFrames
    assert type(plain) is not type(table)


def test_without_refit_the_reml_criteria_are_compared(anova_case):
    fits, _ = anova_case("anova_sleepstudy")
    table = ij.anova(*fits, refit=False)
    np.testing.assert_allclose(table["logLik"], [m.llf for m in fits])
    assert "refitting" not in str(table)


def test_table_arithmetic():
    """Rows by npar (stable), chisq clipped at 0, p undefined for Df = 0."""
    tab = likelihood_ratio_table([-10.0, -12.0, -9.0, -9.5], [5, 3, 5, 7], nobs=100)
    np.testing.assert_array_equal(tab.order, [1, 0, 2, 3])
    np.testing.assert_allclose(tab.chisq[1:], [4.0, 2.0, 0.0])
    np.testing.assert_array_equal(tab.df[1:], [2.0, 0.0, 2.0])
    assert np.isnan(tab.p[2]) and tab.p[3] == pytest.approx(1.0)
    np.testing.assert_allclose(tab.bic, -2 * tab.loglik + np.log(100) * tab.npar)


# ----- bad input -------------------------------------------------------------------------------

def test_refuses_models_on_different_data(anova_case):
    fits, _ = anova_case("anova_sleepstudy")
    data = ij.datasets.load("sleepstudy")
    fewer = ij.fit("Reaction ~ Days + (1 | Subject)", data[data["Days"] > 0])
    with pytest.raises(ij.ModelError, match="same size of dataset"):
        ij.anova(fits[0], fewer)
    logged = ij.fit("np.log(Reaction) ~ Days + (1 | Subject)", data)
    with pytest.raises(ij.ModelError, match="same response"):
        ij.anova(fits[0], logged)
    data["w"] = 1.0 + (data["Days"] % 2)
    weighted = ij.fit("Reaction ~ Days + (1 | Subject)", data, weights="w")
    with pytest.raises(ij.ModelError, match="prior weights"):
        ij.anova(fits[0], weighted)


def test_refuses_bad_arguments(anova_case):
    fits, _ = anova_case("anova_sleepstudy")
    with pytest.raises(ij.ModelError, match="two or more"):
        ij.anova(fits[0])
    with pytest.raises(ij.ModelError, match="LMMResult"):
        ij.anova(fits[0], "m2")
    with pytest.raises(ij.ModelError, match="distinct names"):
        ij.anova(*fits, names=["a"])
    with pytest.raises(ij.ModelError, match="distinct names"):
        ij.anova(*fits, names=["a", "a"])
