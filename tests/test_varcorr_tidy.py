"""VarCorr printing and frame, broom.mixed's tidy/glance, and check_convergence, against lme4,
lmerTest and broom.mixed (tests/fixtures/make_interval_fixtures.R)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import FIXTURES

import interlace_jax as ij
from interlace_jax.results._varcorr import term_covariances

CASES = ["sleepstudy_slopes_reml", "sleepstudy_slopes_ml", "penicillin_crossed",
         "sleepstudy_uncorrelated", "pastes_nested", "crossed_unbalanced", "categorical_slope",
         "dyestuff", "dyestuff2_singular"]


def _ref(case):
    return json.loads((FIXTURES / "intervals" / f"{case}.json").read_text())


def _at_lme4_estimates(result, ref, comp):
    """VarCorr of lme4's own theta and sigma (so that the printed digits must agree)."""
    terms = result._terms
    covs = term_covariances(np.asarray(list(ref["theta"].values())), ref["sigma"],
                            [t.group for t in terms], [t.z_names for t in terms],
                            [t.size for t in terms])
    return ij.VarCorr.from_covariances(covs, ref["sigma"], comp=comp)


@pytest.mark.parametrize("case", CASES)
def test_varcorr_prints_as_lme4(lme4_fit, case):
    result, _ = lme4_fit(case)
    ref = _ref(case)
    assert str(_at_lme4_estimates(result, ref, "Std.Dev.")).split("\n") == ref["varcorr_print"]
    both = _at_lme4_estimates(result, ref, ("Variance", "Std.Dev."))
    assert str(both).split("\n") == ref["varcorr_print_both"]
    # at our own estimates the layout is the same (the last digits may differ)
    ours = str(ij.VarCorr(result)).split("\n")
    assert [len(line) for line in ours] == [len(line) for line in ref["varcorr_print"]]


@pytest.mark.parametrize("case", CASES)
def test_varcorr_frame_matches_lme4(lme4_fit, case):
    result, _ = lme4_fit(case)
    expected = pd.DataFrame(_ref(case)["varcorr_frame"])
    ours = ij.VarCorr(result).as_frame()
    pd.testing.assert_frame_equal(ours, result.varcorr)
    assert ours["grp"].tolist() == expected["grp"].tolist()
    for col in ("var1", "var2"):
        assert ours[col].fillna("NA").tolist() == expected[col].fillna("NA").tolist()
    # lme4's estimates differ from ours by its distance to the optimum (up to 6e-4 in theta for
    # categorical_slope, see test_lmm_vs_lme4): relative to the largest variance
    np.testing.assert_allclose(ours["vcov"], expected["vcov"], rtol=0,
                               atol=2e-4 * expected["vcov"].abs().max())
    np.testing.assert_allclose(ours["sdcor"], expected["sdcor"], rtol=2e-4, atol=5e-4)


def test_varcorr_access_and_arguments(lme4_fit):
    result, _ = lme4_fit("sleepstudy_uncorrelated")
    vc = ij.VarCorr(result)
    assert vc.keys() == ["Subject", "Subject.1"]
    assert vc["Subject.1"].columns.tolist() == ["Days"]
    assert vc.sigma == result.sigma
    with pytest.raises(KeyError, match="Subject.2"):
        vc["Subject.2"]
    with pytest.raises(ij.ModelError, match="comp"):
        ij.VarCorr(result, comp="Corr")
    with pytest.raises(ij.ModelError, match="comp"):
        ij.VarCorr(result, comp=())
    assert "Variance" in vc.format(comp="Variance") and "Std.Dev." not in vc.format(
        comp="Variance")


# ----- tidy and glance ----------------------------------------------------------------------

def _broom(rows) -> pd.DataFrame:
    return pd.DataFrame(rows).astype({"group": object})


@pytest.mark.parametrize("case", CASES)
def test_tidy_matches_broom_mixed(lme4_fit, case):
    result, lmm_ref = lme4_fit(case)
    expected = _broom(_ref(case)["tidy"])
    ours = result.tidy(conf_int=True)
    assert ours.columns.tolist() == expected.columns.tolist()
    for col in ("effect", "term"):
        assert ours[col].tolist() == expected[col].tolist()
    assert ours["group"].fillna("NA").tolist() == expected["group"].fillna("NA").tolist()
    numeric = ["estimate", "std.error", "statistic", "df", "p.value", "conf.low", "conf.high"]
    got, want = ours[numeric].to_numpy(float), expected[numeric].to_numpy(float)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    fin = ~np.isnan(want)
    # estimates move with lme4's theta (see test_lmm_vs_lme4); df and p as test_satterthwaite
    np.testing.assert_allclose(got[fin], want[fin], rtol=5e-3, atol=2e-4)
    assert ours.columns.tolist()[:8] == list(result.tidy().columns)


@pytest.mark.parametrize("case", ["sleepstudy_slopes_reml", "penicillin_crossed"])
def test_tidy_profile_intervals(lme4_fit, case):
    """ran_pars rows as broom.mixed's profile intervals; fixed rows as lme4's confint(profile)
    (broom.mixed keeps lmerTest's t intervals for the fixed rows even with conf.method =
    "profile")."""
    result, _ = lme4_fit(case)
    ref = _ref(case)
    expected = _broom(ref["tidy_profile"])
    ours = result.tidy(conf_int=True, conf_method="profile")
    assert ours["term"].tolist() == expected["term"].tolist()
    ran = (ours["effect"] == "ran_pars").to_numpy()
    np.testing.assert_allclose(ours.loc[ran, ["conf.low", "conf.high"]].to_numpy(float),
                               expected.loc[ran, ["conf.low", "conf.high"]].to_numpy(float),
                               rtol=1e-3)
    p = int((~ran).sum())
    np.testing.assert_allclose(ours.loc[~ran, "conf.low"], ref["profile"]["lower"][-p:],
                               rtol=1e-3)
    np.testing.assert_allclose(ours.loc[~ran, "conf.high"], ref["profile"]["upper"][-p:],
                               rtol=1e-3)


def test_tidy_effects_argument(lme4_fit):
    result, _ = lme4_fit("sleepstudy_slopes_reml")
    assert set(result.tidy(effects="fixed")["effect"]) == {"fixed"}
    assert set(result.tidy(effects=("ran_pars",))["effect"]) == {"ran_pars"}
    with pytest.raises(ij.ModelError, match="effects"):
        result.tidy(effects=("ran_vals",))


@pytest.mark.parametrize("case", CASES)
def test_glance_matches_broom_mixed(lme4_fit, case):
    result, _ = lme4_fit(case)
    expected = _ref(case)["glance"]
    ours = result.glance()
    assert ours.columns.tolist() == list(expected)
    assert len(ours) == 1
    row = ours.iloc[0]
    for key, value in expected.items():
        assert row[key] == pytest.approx(value, rel=2e-4, abs=1e-5), key


# ----- convergence ------------------------------------------------------------------------------

def test_check_convergence_report(lme4_fit):
    result, ref = lme4_fit("sleepstudy_slopes_reml")
    check = result.check_convergence()
    assert isinstance(check, ij.ConvergenceCheck)
    assert check.converged and check.messages == ()
    assert check.parameters == tuple(ref["theta"])
    assert check.boundary == () and not check.singular
    assert check.scaled_gradient < 2e-3 and np.max(np.abs(check.gradient)) < 1e-4
    assert np.all(check.hessian_eigenvalues > 0)
    text = repr(check)
    assert "converged" in text and "Subject.Days.(Intercept)" in text


def test_check_convergence_at_the_boundary(lme4_fit):
    result, ref = lme4_fit("dyestuff2_singular")
    check = result.check_convergence()
    assert check.boundary == tuple(ref["theta"]) == ("Batch.(Intercept)",)
    assert check.singular
    assert any("singular" in m for m in check.messages)
    assert "at boundary: Batch.(Intercept)" in repr(check)


def test_varcorr_of_models_without_a_residual():
    # lme4's VarCorr of a binomial glmer fit has no Residual row; clmm and coxme neither
    cbpp = ij.datasets.load("cbpp")
    m = ij.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp,
                 family="binomial")
    vc = ij.VarCorr(m)
    assert vc.sigma is None and "Residual" not in str(vc)
    group, name, sd = str(vc).splitlines()[1].split()
    assert (group, name) == ("herd", "(Intercept)") and abs(float(sd) - 0.642) < 1e-3
    pd.testing.assert_frame_equal(vc.as_frame(), m.varcorr)
    wine = ij.datasets.load("wine")
    c = ij.clmm("rating ~ temp + contact + (1 | judge)", wine)
    assert "Residual" not in str(ij.VarCorr(c)) and "judge" in str(ij.VarCorr(c))
