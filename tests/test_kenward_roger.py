"""Kenward-Roger's adjusted covariance and df against pbkrtest (tests/fixtures/inference) and
against a dense brute-force implementation of pbkrtest's formulas (tests/helpers.py).

At lme4's optimum (the fixture's theta and sigma) the exact-derivative route reproduces
pbkrtest to about 1e-10; our own optimum differs from lme4's in theta by up to 1e-4 relative,
so the fitted results are compared at SE_RTOL and DF_RTOL (measured: at most 5e-5 and 7e-6),
below the brief's 1e-3 and below the size of the adjustment itself."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import load_inference
from helpers import dense_kenward_roger, random_term

import interlace_jax as ij
from interlace_jax.inference import covariance_parameters, kenward_roger, kr_ddf
from interlace_jax.models import lmm_data

SE_RTOL, DF_RTOL = 2e-4, 1e-4

CASES = [
    "sleepstudy_slopes_reml",
    "penicillin_crossed",
    "pastes_nested",
    "cake",
    "crossed_unbalanced",
    "categorical_slope",
    "dyestuff2_singular",
    "factorial_unbalanced",
]


def _normalised(cov, ref):
    """Largest |cov - ref| relative to sqrt(ref_ii ref_jj) (off-diagonals may be near 0)."""
    sd = np.sqrt(np.diag(ref))
    return np.max(np.abs(cov - ref) / np.outer(sd, sd))


def _coefficient_df(kr, p):
    return np.array([kr_ddf(np.eye(p)[j], kr)[0] for j in range(p)])


@pytest.mark.parametrize("case", CASES)
def test_exact_derivatives_reproduce_pbkrtest_at_its_optimum(lme4_fit, case):
    result, _ = lme4_fit(case)
    fx = load_inference(case)
    varpar = np.asarray(fx["varpar"])  # lme4's theta and sigma
    with ij.x64():
        kr = kenward_roger(varpar[:-1], varpar[-1], result._data)
    ref_adj = np.asarray(fx["kenward_roger_vcov_adj"])
    ref_df = np.array([r["df"] for r in fx["kenward_roger"].values()])
    # 1e-7 covers the boundary shift of the singular fit (dyestuff2_singular)
    tol = 1e-7 if kr.shifted else 1e-9
    assert kr.shifted == (case == "dyestuff2_singular")
    assert _normalised(kr.vcov, np.asarray(fx["vcov_beta"])) < tol
    assert _normalised(kr.vcov_adj, ref_adj) < tol
    np.testing.assert_allclose(_coefficient_df(kr, len(ref_df)), ref_df, rtol=tol)


@pytest.mark.parametrize("case", CASES)
def test_kenward_roger_fit_matches_pbkrtest(kr_fit, case):
    result, _ = kr_fit(case)
    fx = load_inference(case)
    ref = list(fx["kenward_roger"].values())
    assert result.df_method == "kenward-roger"
    adj = np.asarray(fx["kenward_roger_vcov_adj"])
    assert _normalised(result.cov_params().to_numpy(), adj) < 2 * SE_RTOL
    np.testing.assert_allclose(result.bse.to_numpy(), [r["se"] for r in ref], rtol=SE_RTOL)
    np.testing.assert_allclose(result.fe_df.to_numpy(), [r["df"] for r in ref], rtol=DF_RTOL)
    np.testing.assert_allclose(result.tvalues.to_numpy(), [r["t"] for r in ref], rtol=SE_RTOL)
    ours, theirs = result.pvalues.to_numpy(), np.array([r["p"] for r in ref])
    tiny = theirs < 1e-8  # compared on the log scale, as in test_satterthwaite.py
    np.testing.assert_allclose(ours[~tiny], theirs[~tiny], rtol=5e-3)
    np.testing.assert_allclose(np.log(ours[tiny]), np.log(theirs[tiny]), rtol=1e-3)
    np.testing.assert_allclose(result.bse.to_numpy(),
                               np.sqrt(np.diag(result.kenward_roger.vcov_adj)))
    text = str(result.summary())
    assert "t-tests use Kenward-Roger's method" in text


@pytest.mark.parametrize("case", ["crossed_unbalanced", "categorical_slope"])
def test_the_comparison_would_catch_unadjusted_numbers(kr_fit, case):
    """The adjustment is larger than the tolerances: unadjusted SEs, or Satterthwaite's df in
    place of Kenward-Roger's, fail the comparisons above."""
    result, _ = kr_fit(case)
    ref = list(load_inference(case)["kenward_roger"].values())
    se_plain = np.sqrt(np.diag(result.kenward_roger.vcov))
    assert np.max(np.abs(se_plain / [r["se"] for r in ref] - 1)) > 2 * SE_RTOL
    sat = load_inference(case)["satterthwaite"].values()
    assert np.max(np.abs(np.array([r["df"] for r in sat]) / [r["df"] for r in ref] - 1)) > 1e-3


def test_conf_int_uses_kenward_roger_df_and_se(kr_fit):
    from scipy import stats

    result, _ = kr_fit("categorical_slope")
    ci = result.conf_int()
    q = stats.t.ppf(0.975, result.fe_df.to_numpy())
    np.testing.assert_allclose(ci[1] - ci[0], 2 * q * result.bse.to_numpy())


def _small_design(rng, weighted):
    n = 90
    slopes = random_term(rng, n, 12, 2, group="g")
    crossed = random_term(rng, n, 5, 1, group="h")
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.integers(0, 2, n)])
    y = X @ [1.0, 0.5, -0.3] + rng.normal(size=n)
    w = rng.uniform(0.5, 2.0, n) if weighted else np.ones(n)
    return [slopes, crossed], X, y, w


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("theta", [[0.8, 0.3, 0.5, 1.2], [0.8, 0.3, 0.5, 0.0],
                                   [0.8, 0.5, 0.0, 1.2]])
def test_matches_a_dense_implementation_of_pbkrtest(rng, weighted, theta):
    """At any theta, also a singular one (a zero variance, or a rank-one 2 x 2 block), and
    with prior weights (Sigma = sigma^2 W^-1 + Z D Z', which pbkrtest does not handle)."""
    terms, X, y, w = _small_design(rng, weighted)
    theta, sigma = np.asarray(theta), 0.9
    with ij.x64():
        data = lmm_data(terms, X, y, w)
        assert data.plan.order == (0, 1)
        kr = kenward_roger(theta, sigma, data)
    phi, phi_adj, P, weight, info = dense_kenward_roger(terms, X, theta, sigma, w)
    tol = 1e-6 if kr.shifted else 1e-9
    assert kr.shifted == (0.0 in theta)
    assert _normalised(kr.vcov, phi) < (1e-8 if kr.shifted else 1e-12)
    assert _normalised(kr.vcov_adj, phi_adj) < tol
    np.testing.assert_allclose(kr.jacobian, P, rtol=tol, atol=tol * np.abs(P).max())
    np.testing.assert_allclose(kr.information, info, rtol=tol, atol=tol * np.abs(info).max())
    np.testing.assert_allclose(kr.weight, weight, rtol=1e-5 if kr.shifted else 1e-8)
    np.testing.assert_allclose(kr.varpar, covariance_parameters(theta, sigma, [2, 1]))


def test_one_row_df_is_the_satterthwaite_form_with_expected_information(lme4_fit):
    """For q = 1, Kenward-Roger's df is 2 (l'Phi l)^2 / (g' W g), g_i = l'Phi P_i Phi l, and
    its F scaling is 1."""
    result, _ = lme4_fit("categorical_slope")
    kr = result.kenward_roger
    l = np.array([0.0, 1.0, -1.0, 0.5])
    g = np.einsum("a,ab,ibc,cd,d->i", l, kr.vcov, kr.jacobian, kr.vcov, l)
    ddf, scaling = kr_ddf(l, kr)
    np.testing.assert_allclose(ddf, 2 * (l @ kr.vcov @ l) ** 2 / (g @ kr.weight @ g), rtol=1e-10)
    np.testing.assert_allclose(scaling, 1.0, rtol=1e-10)


def test_kenward_roger_for_an_ml_fit_is_refused(lme4_fit):
    data = ij.datasets.load("sleepstudy")
    with pytest.raises(ij.ModelError, match="REML"):
        ij.fit("Reaction ~ Days + (Days | Subject)", data, method="ML",
               df_method="kenward-roger")
    ml, _ = lme4_fit("sleepstudy_slopes_ml")
    for call in (lambda: ml.anova(ddf="kenward-roger"), lambda: ml.kenward_roger,
                 lambda: ml.t_test([0, 1], ddf="Kenward-Roger")):
        with pytest.raises(ij.ModelError, match="fitted by ML"):
            call()


def test_weighted_fit_gives_kenward_roger_of_the_weighted_model(lme4_fit):
    """pbkrtest ignores prior weights; we use the weighted covariance (checked against the
    dense implementation above), so the adjustment is small but the numbers are defined."""
    result, _ = lme4_fit("sleepstudy_weighted")
    kr = result.kenward_roger
    np.testing.assert_allclose(kr.vcov, result.cov_params().to_numpy(), rtol=1e-8)
    # each subject has every Days value: the design is balanced, the adjustment vanishes
    np.testing.assert_allclose(kr.vcov_adj, kr.vcov, rtol=1e-6)
    np.testing.assert_allclose(_coefficient_df(kr, 2), 17.0, rtol=1e-3)
