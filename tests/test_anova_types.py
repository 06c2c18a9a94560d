"""Anova tables of types 1, 2 and 3 with Satterthwaite's and Kenward-Roger's df against
lmerTest's anova() (tests/fixtures/inference), their hypothesis matrices, invariance to the
coding of factors, and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import FIXTURES, load_inference, load_reference

import interlace_jax as ij
from interlace_jax.inference import doolittle_rows, zapsmall

CASES = [
    "sleepstudy_slopes_reml",
    "sleepstudy_slopes_ml",
    "cake",
    "crossed_unbalanced",
    "categorical_slope",
    "sleepstudy_weighted",
    "factorial_unbalanced",
]
TABLES = [(case, kind, ddf) for case in CASES for kind in (1, 2, 3)
          for ddf in ("satterthwaite", "kr")
          if ddf == "satterthwaite" or f"anova_type{kind}_kr" in load_inference(case)]
COLUMNS = {"Sum Sq": "SumSq", "Mean Sq": "MeanSq", "NumDF": "NumDF", "DenDF": "DenDF",
           "F value": "F"}
# measured: at most 3e-4 (DenDF of the weighted fit, whose theta differs most from lme4's)
RTOL = 1e-3


@pytest.mark.parametrize(("case", "kind", "ddf"), TABLES)
def test_anova_matches_lmertest(lme4_fit, case, kind, ddf):
    result, _ = lme4_fit(case)
    expected = load_inference(case)[f"anova_type{kind}_{ddf}"]
    table = result.anova(type=kind, ddf="kenward-roger" if ddf == "kr" else ddf)
    assert list(table.columns) == ["Sum Sq", "Mean Sq", "NumDF", "DenDF", "F value", "Pr(>F)"]
    assert list(table.index) == [row["term"] for row in expected]
    for ours, key in COLUMNS.items():
        np.testing.assert_allclose(table[ours], [r[key] for r in expected], rtol=RTOL,
                                   err_msg=ours)
    ours, theirs = table["Pr(>F)"].to_numpy(), np.array([r["p"] for r in expected])
    tiny = theirs < 1e-8
    np.testing.assert_allclose(ours[~tiny], theirs[~tiny], rtol=5e-3)
    np.testing.assert_allclose(np.log(ours[tiny]), np.log(theirs[tiny]), rtol=1e-3)
    method = "Kenward-Roger's" if ddf == "kr" else "Satterthwaite's"
    assert table.attrs["heading"] == (f"Type {'I' * kind} Analysis of Variance Table with "
                                      f"{method} method")


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("kind", [1, 2, 3])
def test_hypotheses_match_lmertest(lme4_fit, case, kind):
    result, _ = lme4_fit(case)
    expected = load_inference(case)[f"anova_type{kind}_hypotheses"]
    hypotheses = result.anova(type=kind).attrs["hypotheses"]
    assert list(hypotheses) == list(expected)
    for term, L in hypotheses.items():
        assert list(L.columns) == list(result.fe_params.index)
        np.testing.assert_allclose(L.to_numpy(), np.asarray(expected[term]), atol=1e-10,
                                   err_msg=f"type {kind}, term {term}")


def test_the_comparison_would_catch_wrong_hypotheses(lme4_fit):
    """lmerTest's type III test of temp in recipe * temp (the slope averaged over recipes) is
    not the test of the temp coefficient, nor the type II test; the tolerance tells them apart."""
    result, _ = lme4_fit("cake")
    expected = {r["term"]: r for r in load_inference("cake")["anova_type3_satterthwaite"]}
    naive = result.f_test(np.eye(6)[3])["F value"].iloc[0]
    assert abs(naive / expected["temp"]["F"] - 1) > 100 * RTOL
    fact, _ = lme4_fit("factorial_unbalanced")
    type3 = {r["term"]: r["F"] for r in load_inference("factorial_unbalanced")[
        "anova_type3_satterthwaite"]}
    type2 = fact.anova(type=2)["F value"]
    assert abs(type2["a"] / type3["a"] - 1) > 10 * RTOL


def _refit(case, formula):
    ref = load_reference(case)
    data = pd.read_csv(FIXTURES / "lmm" / ref["data"][len("file:"):])
    for col, levels in ref["csv_factors"].items():
        data[col] = pd.Categorical(data[col].astype(str), categories=levels)
    return ij.fit(formula, data)


@pytest.mark.parametrize("kind", [1, 2, 3])
def test_tables_do_not_depend_on_the_coding_of_factors(lme4_fit, kind):
    """Sum-to-zero contrasts give other coefficients but the same hypotheses about terms (type 3
    goes through lmerTest's re-coding in treatment contrasts and back)."""
    treatment, _ = lme4_fit("factorial_unbalanced")
    summed = _refit("factorial_unbalanced",
                    "y ~ C(a, contr.sum) * b + C(a, contr.sum) * x + (1 | subj)")
    assert "C(a, contr.sum)[S.p]" in summed.fe_params.index
    for ddf in ("satterthwaite", "kenward-roger"):
        a = treatment.anova(type=kind, ddf=ddf)
        b = summed.anova(type=kind, ddf=ddf)
        assert list(b.index) == ["C(a, contr.sum)", "b", "x", "C(a, contr.sum):b",
                                 "C(a, contr.sum):x"]
        # Satterthwaite's DenDF of a q-df test depends on the rows of L, not only on their
        # span; lmerTest's type 1 and 2 rows follow the coding (in R too: a:b in type 1 gets
        # DenDF 72.187 with treatment and 72.200 with sum contrasts)
        same = (["Sum Sq", "Mean Sq", "NumDF", "F value"]
                if kind < 3 and ddf == "satterthwaite" else list(a.columns))
        np.testing.assert_allclose(b[same].to_numpy(), a[same].to_numpy(), rtol=1e-5)
    if kind == 1:
        np.testing.assert_allclose(summed.anova(type=1)["DenDF"].iloc[3], 72.200, atol=5e-4)


def test_type3_needs_the_margins_of_interactions(lme4_fit):
    """formulaic codes ``1 + a:b`` with columns that leave a factor out; lmerTest's type III
    contrasts are not defined for it, types 1 and 2 are."""
    result = _refit("factorial_unbalanced", "y ~ x + a:b + (1 | subj)")
    with pytest.raises(ij.ModelError, match="'a:b'.*margins"):
        result.anova(type=3)
    for kind in (1, 2):
        assert result.anova(type=kind).notna().all().all()


def test_intercept_only_model_has_an_empty_table(lme4_fit):
    result, _ = lme4_fit("penicillin_crossed")
    for kind in (1, 2, 3):
        table = result.anova(type=kind)
        assert table.shape == (0, 6)


@pytest.mark.parametrize("kind", [0, 4, "IV", None])
def test_bad_type(lme4_fit, kind):
    result, _ = lme4_fit("cake")
    with pytest.raises(ij.ModelError, match="type"):
        result.anova(type=kind)


def test_roman_and_string_types(lme4_fit):
    result, _ = lme4_fit("cake")
    np.testing.assert_array_equal(result.anova("II").to_numpy(), result.anova(2).to_numpy())
    np.testing.assert_array_equal(result.anova("III").to_numpy(), result.anova().to_numpy())


def test_doolittle_is_the_unit_lower_triangular_factor(rng):
    a = rng.normal(size=(6, 4))
    xtx = a.T @ a
    rows = doolittle_rows(xtx)
    chol = np.linalg.cholesky(xtx)
    unit = chol / np.diag(chol)  # L D^{1/2} -> unit lower triangular L
    np.testing.assert_allclose(rows, unit.T, atol=1e-12)
    assert np.all(np.tril(rows, -1) == 0)


def test_zapsmall_rounds_like_r():
    """R 4.2.2: zapsmall(c(1/3, 1e-10, -2)) - 1/3 is -3.3e-08 (7 decimals: round(7 - 0.30)),
    with 10 in place of -2 it is -3.3e-07 (6 decimals)."""
    np.testing.assert_array_equal(zapsmall(np.array([1 / 3, 1e-10, -2.0])),
                                  [0.3333333, 0.0, -2.0])
    np.testing.assert_array_equal(zapsmall(np.array([1 / 3, 1e-10, 10.0])), [0.333333, 0, 10])
    np.testing.assert_array_equal(zapsmall(np.array([123.456789, 1e-6])), [123.45679, 0.0])
    np.testing.assert_array_equal(zapsmall(np.zeros(2)), [0.0, 0.0])
