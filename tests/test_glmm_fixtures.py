"""The GLMM reference fixtures (tests/fixtures/glmm, written by make_glmm_fixtures.R and
make_glmmtmb_fixtures.R) are complete and self-consistent, and their data load as R fitted them.

These tests check the references only; the GLMM engine is compared against them elsewhere.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from interlace_jax import datasets

GLMM = Path(__file__).parent / "fixtures" / "glmm"

LME4_CASES = [
    "cbpp_laplace",
    "cbpp_agq25",
    "cbpp_proportion_weights",
    "cbpp_probit",
    "grouseticks",
    "verbagg",
    "gamma_log",
    "poisson_offset_slope",
    "binary_slope",
]
TMB_CASES = [
    "tmb_nbinom2",
    "tmb_nbinom2_slope",
    "tmb_nbinom1",
    "tmb_zip_intercept",
    "tmb_zip_x",
    "tmb_zinb2",
    "tmb_hurdle_poisson",
    "tmb_hurdle_nbinom2",
    "tmb_beta",
    "tmb_ordbeta",
    "tmb_gamma_log",
    "tmb_gaussian_disp",
    "tmb_nbinom2_disp",
    "tmb_student_t",
    "tmb_cbpp_logit",
    "tmb_cbpp_probit",
    "tmb_verbagg",
]
BRUTE_FORCE = "agq_bruteforce_slope"
#: nAGQ = 0 fits (their own, shorter layout; tested in test_glmm_vs_lme4.py)
NAGQ0_CASES = ["cbpp_nagq0", "grouseticks_nagq0", "cbpp_probit_nagq0"]

LME4_KEYS = {
    "case", "formula", "data", "family", "link", "nAGQ", "weights", "logLik", "df", "AIC",
    "BIC", "nobs", "minus2logLik", "deviance", "devcomp", "loglik_convention", "theta",
    "re_sd_link_scale", "beta", "beta_se", "coef_table", "vcov", "vcov_names", "sigma",
    "varcorr", "ranef", "n_head", "fitted_head", "eta_head", "resid_response_head",
    "resid_pearson_head", "resid_deviance_head", "predict_new", "ngrps", "singular",
    "converged_messages", "optimizer_code", "fit_warnings", "derivs", "devfun_checks",
    "seconds", "lme4_version", "R_version",
}
TMB_KEYS = {
    "case", "formula", "ziformula", "dispformula", "data", "family", "link", "sigma",
    "sigma_definition", "family_params", "logLik", "df", "AIC", "BIC", "nobs", "fixef",
    "coef_table", "vcov", "vcov_full", "varcorr", "ranef", "par", "n_head", "fitted_head",
    "eta_head", "cond_mean_head", "resid_response_head", "resid_pearson_head", "predict_new",
    "density_check", "convergence", "fit_warnings", "objective_checks", "seconds",
    "timing_runs", "glmmTMB_version", "TMB_version", "R_version",
}


def _load(case: str) -> dict:
    return json.loads((GLMM / f"{case}.json").read_text())


def _data(ref: dict) -> pd.DataFrame:
    """The rows a reference was fitted on: shipped dataset or CSV, plus derived columns."""
    source = ref["data"]
    if source.startswith("file:"):
        frame = pd.read_csv(GLMM / source[len("file:"):])
        for col, levels in ref.get("csv_factors", {}).items():
            frame[col] = pd.Categorical(frame[col].astype(str), categories=levels)
    else:
        frame = datasets.load(source)
    for col, spec in ref.get("derived_columns", {}).items():
        frame[col] = np.asarray(spec["values"], dtype=float)
    return frame


def test_every_fixture_file_is_listed():
    listed = set(LME4_CASES) | set(TMB_CASES) | set(NAGQ0_CASES) | {BRUTE_FORCE}
    assert {p.stem for p in GLMM.glob("*.json")} == listed


@pytest.mark.parametrize("case", LME4_CASES)
def test_lme4_fixture(case):
    ref = _load(case)
    assert LME4_KEYS <= ref.keys()
    assert ref["case"] == case
    frame = _data(ref)
    assert len(frame) == ref["nobs"]
    # lme4's information criteria and -2 logLik are consistent with logLik
    assert ref["minus2logLik"] == pytest.approx(-2 * ref["logLik"], rel=1e-14)
    assert ref["AIC"] == pytest.approx(-2 * ref["logLik"] + 2 * ref["df"], rel=1e-12)
    assert ref["BIC"] == pytest.approx(
        -2 * ref["logLik"] + math.log(ref["nobs"]) * ref["df"], rel=1e-12)
    p = len(ref["beta"])
    assert ref["vcov_names"] == list(ref["beta"])
    vcov = np.asarray(ref["vcov"])
    assert vcov.shape == (p, p)
    np.testing.assert_allclose(np.sqrt(np.diag(vcov)), list(ref["beta_se"].values()), rtol=1e-12)
    assert len(ref["derivs"]["gradient"]) == len(ref["theta"]) + p
    for check in ref["devfun_checks"]:
        assert len(check["theta"]) == len(ref["theta"]) and len(check["beta"]) == p
    # the optimum's devfun value (default PIRLS tolerance) is what glmer reported; the converged
    # (tight tolerance) value of the same function differs by the PIRLS truncation only
    optimum = ref["devfun_checks"][0]
    assert optimum["value"] == pytest.approx(ref["minus2logLik"], rel=1e-9)
    for check in ref["devfun_checks"]:
        assert abs(check["value_tight"] - check["value"]) < 0.02
    for grp, block in ref["ranef"].items():
        assert np.asarray(block["values"]).shape == (ref["ngrps"][grp], len(block["columns"]))
        assert np.asarray(block["condsd"]).shape == np.asarray(block["values"]).shape
    heads = [ref[k] for k in ("fitted_head", "eta_head", "resid_response_head",
                              "resid_pearson_head", "resid_deviance_head")]
    assert all(len(h) == ref["n_head"] for h in heads)
    n_new = len(ref["predict_new"]["newdata"])
    for key in ("link_re", "response_re", "link_fixed", "response_fixed"):
        assert len(ref["predict_new"][key]) == n_new


def test_grouseticks_scaled_height_is_reproducible():
    """The derived column sHEIGHT = scale(HEIGHT) is recomputable from the recorded centre/scale."""
    ref = _load("grouseticks")
    spec = ref["derived_columns"]["sHEIGHT"]
    height = datasets.load("grouseticks")["HEIGHT"].to_numpy(dtype=float)
    np.testing.assert_allclose((height - spec["center"]) / spec["scale"], spec["values"],
                               rtol=0, atol=1e-14)
    assert height.mean() == pytest.approx(spec["center"], rel=1e-14)
    assert height.std(ddof=1) == pytest.approx(spec["scale"], rel=1e-13)


def test_agq25_constant_is_the_saturated_binomial_loglik():
    """lme4's nAGQ > 1 logLik omits sum(log dbinom(y, n, y / n)); the exact value restores it."""
    ref = _load("cbpp_agq25")
    frame = _data(ref)
    y = frame["incidence"].to_numpy(dtype=float)
    n = frame["size"].to_numpy(dtype=float)
    p = y / n
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = (
            np.array([math.lgamma(a + 1) - math.lgamma(b + 1) - math.lgamma(a - b + 1)
                      for a, b in zip(n, y)])
            + np.where(y > 0, y * np.log(p), 0.0)
            + np.where(n > y, (n - y) * np.log1p(-p), 0.0)
        )
    assert terms.sum() == pytest.approx(ref["saturated_loglik"], rel=1e-12)
    assert ref["logLik"] + ref["saturated_loglik"] == pytest.approx(
        ref["exact_loglik_at_optimum"], abs=1e-6)


@pytest.mark.parametrize("case", TMB_CASES)
def test_glmmtmb_fixture(case):
    ref = _load(case)
    assert TMB_KEYS <= ref.keys()
    assert ref["case"] == case
    frame = _data(ref)
    assert len(frame) == ref["nobs"]
    assert ref["AIC"] == pytest.approx(-2 * ref["logLik"] + 2 * ref["df"], rel=1e-12)
    assert set(ref["fixef"]) == {"cond", "zi", "disp"}
    for part, coefs in ref["fixef"].items():
        if part == "disp" and ref["dispformula"] == "~1":
            # glmmTMB's summary and vcov leave out a constant dispersion; vcov_full has it
            assert ref["coef_table"]["disp"] == {} and "disp" not in ref["vcov"]
            assert "d~(Intercept)" in ref["vcov_full"]["names"] or not coefs
            continue
        assert list(ref["coef_table"][part]) == list(coefs)
        if coefs:  # glmmTMB prefixes the names of the zi and disp parts: "zi~x", "d~x"
            names = [n.split("~", 1)[-1] for n in ref["vcov"][part]["names"]]
            assert names == list(coefs)
    assert (len(ref["fixef"]["zi"]) > 0) == (ref["ziformula"] != "~0")
    par = ref["par"]
    assert len(par["names"]) == len(par["labels"]) == len(par["values"]) == ref["df"]
    # glmmTMB's objective is -logLik at the optimum
    assert ref["objective_checks"][0]["value"] == pytest.approx(-ref["logLik"], rel=1e-9)
    check = ref["density_check"]
    assert check["logLik_by_hand"] == pytest.approx(check["logLik_glmmTMB"], rel=1e-10)
    assert len(ref["timing_runs"]) == 3
    assert ref["seconds"] == pytest.approx(float(np.median(ref["timing_runs"])))


@pytest.mark.parametrize("case", ["tmb_cbpp_logit", "tmb_cbpp_probit"])
def test_laplace_hessian_conventions(case):
    """glmmTMB's Laplace uses the observed Hessian, lme4's the expected (Fisher) one: equal for
    the canonical logit link, different for probit."""
    lap = _load(case)["laplace_at_lme4_optimum"]
    assert lap["glmmTMB_minus2loglik"] == pytest.approx(lap["laplace_observed_hessian"], abs=1e-5)
    assert lap["lme4_minus2loglik_tight"] == pytest.approx(lap["laplace_expected_hessian"],
                                                           abs=1e-5)
    gap = abs(lap["laplace_observed_hessian"] - lap["laplace_expected_hessian"])
    assert (gap < 1e-6) if case == "tmb_cbpp_logit" else (gap > 1e-2)


def test_bruteforce_reference_converges():
    ref = _load(BRUTE_FORCE)
    frame = _data(ref)
    assert len(frame) == 15 * 8 and set(frame["y"]) == {0, 1}
    assert not ref["lme4_fit"]["singular"]
    for point in ref["points"]:
        gh = point["loglik_gh"]
        nodes = sorted(gh, key=int)
        assert nodes[0] == "1" and gh["1"] == point["laplace_loglik"]
        assert gh["100"] == pytest.approx(point["loglik_exact"], abs=1e-9)
        errors = [abs(gh[k] - point["loglik_exact"]) for k in nodes]
        assert errors[-4] < 1e-6 < errors[0]  # 20 nodes already close; Laplace is not
        assert sum(point["group_loglik_exact"]) == pytest.approx(point["loglik_exact"], abs=1e-10)
        assert -point["lme4_laplace_minus2loglik_tight"] / 2 == pytest.approx(
            point["laplace_loglik"], abs=1e-5)
        sigma = np.asarray(point["Sigma"])
        assert sigma.shape == (2, 2) and np.all(np.linalg.eigvalsh(sigma) > 0)
