"""General linear hypotheses (t_test, f_test, contrast) against lmerTest's contest, contest1D
and contest(joint = FALSE) on the cake fit (tests/fixtures/inference/contrast_cake.json), with
Satterthwaite's and Kenward-Roger's df; the accepted forms of L; bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import load_inference
from scipy import stats

import interlace_jax as ij

RTOL = 1e-4  # measured: at most 2e-6 (df of contest); p-values amplify, compared at 1e-3


@pytest.fixture(scope="module")
def cake(lme4_fit):
    return lme4_fit("cake")[0]


@pytest.fixture(scope="module")
def ref():
    return load_inference("contrast_cake")


def _check_f(table, expected):
    row = table.iloc[0]
    for ours, key in (("Sum Sq", "SumSq"), ("Mean Sq", "MeanSq"), ("NumDF", "NumDF"),
                      ("DenDF", "DenDF"), ("F value", "F")):
        np.testing.assert_allclose(row[ours], expected[key], rtol=RTOL, err_msg=ours)
    np.testing.assert_allclose(row["Pr(>F)"], expected["p"], rtol=1e-3)


def _check_t(table, expected):
    for (_, row), exp in zip(table.iterrows(), expected):
        for ours, key in (("Estimate", "estimate"), ("Std. Error", "se"), ("df", "df"),
                          ("t value", "t")):
            np.testing.assert_allclose(row[ours], exp[key], rtol=RTOL, err_msg=ours)
        np.testing.assert_allclose(row["Pr(>|t|)"], exp["p"], rtol=1e-3)


def test_names_and_design_match_the_fixture(cake, ref):
    assert list(cake.frame.x_names) == ref["coef_names"]


def test_satterthwaite_contest(cake, ref):
    L = np.asarray(ref["L"])
    _check_f(cake.f_test(L), ref["contest"])
    _check_f(cake.contrast(L), ref["contest"])
    _check_t(cake.t_test(L[0]), [ref["contest1D"]])
    _check_t(cake.t_test(L), ref["contest_rows"])
    _check_t(cake.contrast(L, joint=False), ref["contest_rows"])


def test_kenward_roger_contest(cake, ref):
    L = np.asarray(ref["L"])
    _check_f(cake.f_test(L, ddf="kenward-roger"), ref["kenward_roger"]["contest"])
    _check_t(cake.t_test(L[0], ddf="Kenward-Roger"), [ref["kenward_roger"]["contest1D"]])


def test_a_wrong_df_would_be_caught(cake, ref):
    """Satterthwaite's and Kenward-Roger's joint df, and the F with and without Kenward-Roger's
    scaling, differ by more than the tolerance."""
    L = np.asarray(ref["L"])
    sat = cake.f_test(L)["DenDF"].iloc[0]
    assert abs(sat / ref["kenward_roger"]["contest"]["DenDF"] - 1) > 0.2
    kr_unscaled = cake.f_test(L, ddf="kenward-roger")["Mean Sq"].iloc[0] / cake.scale
    assert abs(kr_unscaled / ref["kenward_roger"]["contest"]["F"] - 1) > 10 * RTOL


def test_forms_of_L_agree(cake, ref):
    L = np.asarray(ref["L"])
    expected = cake.t_test(L)
    lme4 = [{"temp": 1, "recipeB:temp": 1}, {"recipeB": 1, "recipeB:temp": 200}]
    formulaic = [{"temp": 1.0, "recipe[T.B]:temp": 1.0},
                 {"recipe[T.B]": 1.0, "recipe[T.B]:temp": 200.0}]
    for form in (lme4, formulaic):
        got = pd.concat([cake.t_test(row) for row in form])
        np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-12)
    series = pd.Series(formulaic[0])
    np.testing.assert_allclose(cake.t_test(series).to_numpy(), expected.iloc[:1].to_numpy())
    frame = pd.DataFrame(lme4, index=["slope B", "B - A at 200"]).fillna(0.0)
    table = cake.t_test(frame)
    assert list(table.index) == ["slope B", "B - A at 200"]
    np.testing.assert_allclose(table.to_numpy(), expected.to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(cake.f_test(frame).to_numpy(), cake.f_test(L).to_numpy())


def test_one_row_f_is_the_square_of_t(cake):
    l = np.array([0, 1, -1, 0, 0, 0.0])
    for ddf in ("satterthwaite", "kenward-roger", "residual", "normal"):
        t, f = cake.t_test(l, ddf=ddf).iloc[0], cake.f_test(l, ddf=ddf).iloc[0]
        np.testing.assert_allclose(f["F value"], t["t value"] ** 2, rtol=1e-10)
        np.testing.assert_allclose(f["DenDF"], t["df"], rtol=1e-10)
        np.testing.assert_allclose(f["Pr(>F)"], t["Pr(>|t|)"], rtol=1e-8)


def test_rhs(cake, ref):
    L = np.asarray(ref["L"])
    rhs = np.array([0.1, -1.0])
    t = cake.t_test(L, rhs=rhs)
    base = cake.t_test(L)
    np.testing.assert_allclose(t["t value"], (base["Estimate"] - rhs) / base["Std. Error"])
    # L beta = rhs is L (beta - b0) = 0 for any b0 with L b0 = rhs
    b0 = np.linalg.lstsq(L, rhs, rcond=None)[0]
    for ddf in ("satterthwaite", "kenward-roger"):
        f = cake.f_test(L, rhs=rhs, ddf=ddf).iloc[0]
        d = L @ (cake.fe_params.to_numpy() - b0)
        V = (cake.kenward_roger.vcov_adj if ddf == "kenward-roger"
             else cake.cov_params().to_numpy())
        wald = d @ np.linalg.solve(L @ V @ L.T, d)
        np.testing.assert_allclose(f["Mean Sq"] / cake.scale, wald / 2, rtol=1e-10)


def test_rank_deficient_L(cake, ref):
    """A repeated (linearly dependent) row changes nothing for Kenward-Roger (pbkrtest tests the
    row space) and leaves the Satterthwaite F and NumDF unchanged."""
    L = np.asarray(ref["L"])
    L3 = np.vstack([L, L[0] + 2 * L[1]])
    kr, kr3 = cake.f_test(L, ddf="kenward-roger"), cake.f_test(L3, ddf="kenward-roger")
    np.testing.assert_allclose(kr3.to_numpy(), kr.to_numpy(), rtol=1e-8)
    sat, sat3 = cake.f_test(L).iloc[0], cake.f_test(L3).iloc[0]
    assert sat3["NumDF"] == 2
    np.testing.assert_allclose(sat3["F value"], sat["F value"], rtol=1e-8)


def test_residual_and_normal_df(cake, ref):
    L = np.asarray(ref["L"])
    res = cake.f_test(L, ddf="residual").iloc[0]
    assert res["DenDF"] == cake.nobs - 6
    z = cake.f_test(L, ddf="normal").iloc[0]
    assert np.isinf(z["DenDF"])
    np.testing.assert_allclose(z["Pr(>F)"], stats.chi2.sf(2 * z["F value"], 2))
    np.testing.assert_allclose(z["F value"], res["F value"])


@pytest.mark.parametrize(
    ("L", "kwargs", "match"),
    [
        (np.ones(5), {}, "6 columns"),
        (np.ones((2, 7)), {}, "6 columns"),
        (np.ones((2, 3, 6)), {}, "6 columns"),
        ({"temperature": 1.0}, {}, "'temperature'"),
        (pd.DataFrame({"recipeD": [1.0]}), {}, "'recipeD'"),
        (np.zeros((0, 6)), {}, "no rows"),
        (np.array([np.nan, 0, 0, 1, 0, 0]), {}, "non-finite"),
        (np.eye(6)[:2], {"rhs": [1.0, 2.0, 3.0]}, "rhs"),
        (np.eye(6)[:2], {"ddf": "bogus"}, "bogus"),
    ],
)
def test_bad_input_gives_a_clear_error(cake, L, kwargs, match):
    for method in (cake.t_test, cake.f_test):
        with pytest.raises(ij.ModelError, match=match):
            method(L, **kwargs)
