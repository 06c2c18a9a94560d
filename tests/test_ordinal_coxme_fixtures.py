"""The R reference fixtures for clmm (ordinal) and coxme (tests/fixtures/make_clmm_fixtures.R and
make_coxme_fixtures.R): every case loads, has the fields its README documents, is internally
consistent (the identities below hold for the numbers R wrote) and names data that can be read
with the number of rows it was fitted on. No model is fitted here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from interlace_jax import datasets

FIXTURES = Path(__file__).parent / "fixtures"
CLMM_CASES = sorted(p.stem for p in (FIXTURES / "clmm").glob("*.json"))
COXME_CASES = sorted(p.stem for p in (FIXTURES / "coxme").glob("*.json"))

CLMM_KEYS = {
    "case", "formula", "data", "link", "threshold", "nAGQ", "use_matrix", "y_levels", "logLik",
    "df", "AIC", "BIC", "nobs", "alpha", "beta", "thresholds", "tJac", "thresholds_se",
    "st_scale", "par_names", "par", "vcov", "vcov_names", "se", "coef_table", "ST", "varcorr",
    "ranef", "fitted", "gradient", "max_grad", "hessian", "cond_H", "optimizer",
    "objective_checks", "seconds", "seconds_all", "fit_warnings", "ordinal_version", "R_version",
}
COXME_KEYS = {
    "case", "formula", "data", "ties", "control", "n", "n_events", "na_action", "loglik",
    "penalty", "loglik_fitted", "df", "coefficients", "se", "z", "p", "vcov", "vcov_names",
    "varcorr", "ranef", "linear_predictor_head", "means", "iter", "n_sparse_random_effects",
    "seconds", "seconds_all", "fit_warnings", "tight", "loglik_checks", "coxph",
    "coxme_version", "bdsmatrix_version", "survival_version", "R_version",
}


def _load(kind: str, case: str) -> dict:
    return json.loads((FIXTURES / kind / f"{case}.json").read_text())


def _data(kind: str, ref: dict) -> pd.DataFrame:
    source = ref["data"]
    if not source.startswith("file:"):
        return datasets.load(source)
    frame = pd.read_csv(FIXTURES / kind / source[len("file:") :])
    ordered = set(ref.get("csv_ordered", []))
    for col, levels in ref.get("csv_factors", {}).items():
        frame[col] = pd.Categorical(frame[col].astype(str), categories=levels,
                                    ordered=col in ordered)
        assert not frame[col].isna().any(), col
    return frame


def test_the_expected_cases_exist():
    assert {"wine_logit", "wine_probit", "wine_equidistant", "wine_agq10", "soup_nested",
            "wine_cloglog", "sim_slopes"} <= set(CLMM_CASES)
    assert {"rats_efron", "rats_breslow", "kidney", "lung_inst", "nested_center_trt",
            "counting_process", "rats_strata"} <= set(COXME_CASES)


@pytest.mark.parametrize("kind", ["clmm", "coxme"])
def test_fixture_files_are_small(kind):
    for path in (FIXTURES / kind).glob("*.json"):
        assert path.stat().st_size < 300_000, path.name


@pytest.mark.parametrize("case", CLMM_CASES)
def test_clmm_fixture(case):
    ref = _load("clmm", case)
    assert CLMM_KEYS <= set(ref), CLMM_KEYS - set(ref)
    assert ref["case"] == case

    ll, k, n = ref["logLik"], ref["df"], ref["nobs"]
    assert ref["AIC"] == pytest.approx(-2 * ll + 2 * k, rel=1e-12)
    assert ref["BIC"] == pytest.approx(-2 * ll + np.log(n) * k, rel=1e-12)
    assert ref["objective_checks"][0]["label"] == "optimum"
    assert ref["objective_checks"][0]["value"] == pytest.approx(-ll, rel=1e-7)
    assert all(c["value"] > -ll for c in ref["objective_checks"][1:])
    assert len(ref["par"]) == len(ref["par_names"]) == k

    # parameters in clmm's order: alpha, beta, ST
    alpha, beta = ref["alpha"], ref["beta"]
    assert ref["par_names"][: len(alpha) + len(beta)] == list(alpha) + list(beta)
    theta = np.asarray(ref["tJac"]) @ np.asarray(list(alpha.values()))
    np.testing.assert_allclose(theta, list(ref["thresholds"].values()), rtol=1e-12, atol=1e-12)
    assert np.all(np.diff(theta) > 0)
    assert len(theta) == len(ref["y_levels"]) - 1

    vcov = np.asarray(ref["vcov"])
    np.testing.assert_allclose(vcov, vcov.T, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(np.sqrt(np.diag(vcov)), [ref["se"][v] for v in ref["vcov_names"]],
                               rtol=1e-12)
    assert set(ref["vcov_names"]) <= set(ref["par_names"])

    for g, r in ref["ranef"].items():
        values, condvar = np.asarray(r["values"]), np.asarray(r["condvar"])
        assert values.shape == (len(r["levels"]), len(r["columns"])) == condvar.shape, g
        assert np.all(condvar > 0)
        assert g in ref["varcorr"]

    fitted = np.asarray(ref["fitted"])
    assert fitted.shape == (n,) and np.all((fitted > 0) & (fitted <= 1))

    if "predict_new" in ref:
        rows = len(ref["predict_new"]["newdata"])
        for kind in ("conditional", "population"):
            pred = ref["predict_new"][kind]
            prob = np.asarray(pred["prob"])
            assert prob.shape == (rows, len(ref["y_levels"]))
            np.testing.assert_allclose(prob.sum(axis=1), 1.0, rtol=1e-12)
            assert [ref["y_levels"][i] for i in prob.argmax(axis=1)] == pred["class"]

    data = _data("clmm", ref)
    response = ref["formula"].split("~")[0].strip()
    assert len(data) == n
    assert list(data[response].cat.categories) == ref["y_levels"]
    assert data[response].cat.ordered


@pytest.mark.parametrize("case", COXME_CASES)
def test_coxme_fixture(case):
    ref = _load("coxme", case)
    assert COXME_KEYS <= set(ref), COXME_KEYS - set(ref)
    assert ref["case"] == case

    ll = ref["loglik"]
    assert ref["loglik_fitted"] == pytest.approx(ll["penalized"] + ref["penalty"], rel=1e-12)
    # at coxme's estimate the integrated loglik beats the model without random effects (variance
    # 0) and the same model with the variances halved or doubled
    assert ll["integrated"] > ref["coxph"]["loglik"][1]
    assert ref["coxph"]["loglik"][0] == pytest.approx(ll["null"], rel=1e-12)
    checks = ref["loglik_checks"]
    assert checks[0]["loglik"]["integrated"] == pytest.approx(ll["integrated"], abs=1e-3)
    assert all(c["loglik"]["integrated"] < checks[0]["loglik"]["integrated"] for c in checks[1:])
    assert ref["tight"]["loglik"]["integrated"] == pytest.approx(ll["integrated"], abs=1e-3)

    names = ref["vcov_names"]
    assert names == list(ref["coefficients"]) == list(ref["coxph"]["coefficients"])
    vcov = np.asarray(ref["vcov"])
    np.testing.assert_allclose(vcov, vcov.T, rtol=1e-10, atol=1e-14)
    se = np.sqrt(np.diag(vcov))
    np.testing.assert_allclose(se, [ref["se"][v] for v in names], rtol=1e-12)
    np.testing.assert_allclose([ref["coefficients"][v] / ref["se"][v] for v in names],
                               [ref["z"][v] for v in names], rtol=1e-12)

    for vc in ref["varcorr"]:
        assert all(v > 0 for v in vc["variance"].values())
    groups = {r["group"]: np.asarray(r["values"]) for r in ref["ranef"]}
    assert set(groups) == {vc["group"] for vc in ref["varcorr"]}
    for r in ref["ranef"]:
        assert groups[r["group"]].shape == (len(r["levels"]), len(r["columns"]))

    data = _data("coxme", ref)
    assert len(data) == ref["n"] + len(ref["na_action"])
    assert ref["n_events"] <= ref["n"]
