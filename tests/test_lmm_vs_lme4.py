"""Parity with lme4 on committed fixtures (tests/fixtures/make_lmm_fixtures.R).

Comparison as a statistician would: the objective first (ours never worse than lme4's by more
than 1e-6); then theta at a tolerance that lme4's own convergence justifies: 1e-4, or more where
lme4 stopped short of the optimum by a gap ``delta`` in the objective, which allows theta to be off
by up to ``sqrt(2 delta / lambda_min(H))``. Every other estimate is a deterministic function of
theta, so it is compared tightly at lme4's theta (testing our algebra without the optimizer), and
at our own optimum within the same tolerance as theta.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import interlace_jax as ij
from interlace_jax.models import lmm_deviance, lmm_solution

CASES = [
    "sleepstudy_slopes_reml",
    "sleepstudy_slopes_ml",
    "sleepstudy_uncorrelated",
    "penicillin_crossed",
    "penicillin_crossed_ml",
    "pastes_nested",
    "dyestuff",
    "dyestuff2_singular",
    "cake",
    "cake_ordered",
    "sleepstudy_factor_days",
    "sleepstudy_r_functions",
    "sleepstudy_no_fixed",
    "sleepstudy_weighted",
    "sleepstudy_offset",
    "categorical_slope",
    "crossed_unbalanced",
    "many_levels_nested_weighted",
    "many_levels_rater_slope",
]
RTOL = 1e-4


def _close(ours, ref, rtol=RTOL, scale=None):
    ours, ref = np.asarray(ours, float), np.asarray(ref, float)
    scale = np.max(np.abs(ref), initial=0.0) if scale is None else scale
    np.testing.assert_allclose(ours, ref, rtol=rtol, atol=rtol * max(scale, 1e-12))


@pytest.mark.parametrize("case", CASES)
def test_objective_not_worse_than_lme4(lme4_fit, case):
    result, ref = lme4_fit(case)
    assert result.objective <= ref["objective"] + 1e-6
    assert result.objective == pytest.approx(ref["objective"], abs=1e-3)
    assert result.converged, result.convergence_messages


@pytest.mark.parametrize("case", CASES)
def test_deviance_function_matches_lme4_devfun(lme4_fit, case):
    """Our objective at lme4's theta points equals lme4's devfun there (no optimizer involved)."""
    result, ref = lme4_fit(case)
    with ij.x64():
        for check in ref["devfun_checks"]:
            value = float(lmm_deviance(jnp.asarray(check["theta"], dtype=jnp.float64),
                                       result._data, result.reml))
            assert value == pytest.approx(check["value"], rel=1e-10), check["label"]


def _theta_tolerance(result, ref) -> float:
    """Absolute theta tolerance: 1e-4, widened by lme4's objective gap to our optimum."""
    with ij.x64():
        at_ref = float(lmm_deviance(jnp.asarray(list(ref["theta"].values())), result._data,
                                    result.reml))
    gap = max(at_ref - result.objective, 0.0)
    interior = ~result.theta_fit.report.boundary
    h = result.theta_fit.hessian[np.ix_(interior, interior)]
    lam_min = np.linalg.eigvalsh(h).min() if h.size else 1.0
    return max(RTOL, 2.0 * np.sqrt(2.0 * gap / lam_min))


@pytest.mark.parametrize("case", CASES)
def test_theta_matches_lme4(lme4_fit, case):
    result, ref = lme4_fit(case)
    tol = _theta_tolerance(result, ref)
    assert tol < 5e-3, "lme4 stopped far from our optimum: look at this case"
    np.testing.assert_allclose(result.theta, list(ref["theta"].values()), rtol=0, atol=tol)


@pytest.mark.parametrize("case", CASES)
def test_estimates_at_lme4_theta_match_lme4(lme4_fit, case):
    """beta, SEs, sigma and the conditional modes at lme4's theta: our algebra, exactly."""
    result, ref = lme4_fit(case)
    with ij.x64():
        sol = lmm_solution(jnp.asarray(list(ref["theta"].values())), result._data, result.reml)
    tight = 1e-7
    _close(sol.beta, list(ref["beta"].values()), rtol=tight)
    se = np.sqrt(np.diag(float(sol.sigma) ** 2 * np.asarray(sol.beta_cov_unscaled)))
    _close(se, list(ref["beta_se"].values()), rtol=tight)
    assert float(sol.sigma) == pytest.approx(ref["sigma"], rel=tight)


@pytest.mark.parametrize("case", CASES)
def test_estimates_match_lme4(lme4_fit, case):
    result, ref = lme4_fit(case)
    rtol = max(RTOL, 10 * _theta_tolerance(result, ref))
    _close(result.fe_params.to_numpy(), list(ref["beta"].values()), rtol=rtol)
    _close(result.bse.to_numpy(), list(ref["beta_se"].values()), rtol=rtol)
    assert result.sigma == pytest.approx(ref["sigma"], rel=rtol)
    assert result.llf == pytest.approx(ref["logLik"], rel=1e-8, abs=1e-6)
    assert result.aic == pytest.approx(ref["AIC"], abs=1e-5)
    assert result.bic == pytest.approx(ref["BIC"], abs=1e-5)
    assert result.nobs == ref["nobs"]
    assert list(result.frame.x_names) == list(ref["beta"])


@pytest.mark.parametrize("case", CASES)
def test_conditional_modes_and_fitted_values(lme4_fit, case):
    result, ref = lme4_fit(case)
    scale = result.sigma * max(1.0, 10 * _theta_tolerance(result, ref) / RTOL)
    for group, block in ref["ranef"].items():
        ours = result.random_effects[group]
        assert [str(v) for v in ours.index] == block["levels"]
        assert list(ours.columns) == block["columns"]
        _close(ours.to_numpy(), np.asarray(block["values"]), scale=scale)
    _close(result.fittedvalues.to_numpy(), ref["fitted"], scale=scale)
    _close(result.resid.to_numpy(), ref["resid"], scale=scale)


@pytest.mark.parametrize("case", CASES)
def test_singularity_flag(lme4_fit, case):
    result, ref = lme4_fit(case)
    assert result.is_singular == ref["singular"]


def test_singular_fit_has_exact_zero_and_message(lme4_fit):
    result, _ = lme4_fit("dyestuff2_singular")
    assert result.theta[0] == 0.0
    assert "singular" in str(result.summary())


def test_varcorr_matches_lme4(lme4_fit):
    result, ref = lme4_fit("sleepstudy_slopes_reml")
    ours = result.varcorr
    expected = ref["varcorr"]
    assert len(ours) == len(expected)
    for (_, row), exp in zip(ours.iterrows(), expected):
        assert row["grp"] == exp["grp"]
        assert row["vcov"] == pytest.approx(exp["vcov"], rel=2 * RTOL)
        assert row["sdcor"] == pytest.approx(exp["sdcor"], rel=2 * RTOL, abs=1e-4)


def test_predict_new_data_with_unseen_level(lme4_fit):
    import pandas as pd

    result, ref = lme4_fit("sleepstudy_slopes_reml")
    newdata = pd.DataFrame(ref["predict_new"]["newdata"])
    _close(result.predict(newdata), ref["predict_new"]["re"], scale=result.sigma)
    _close(result.predict(newdata, include_re=False), ref["predict_new"]["fixed_only"],
           scale=result.sigma)
    with pytest.raises(ij.DataError, match="999"):
        result.predict(newdata, allow_new_levels=False)


def test_insteval_large_crossed_design_matches_lme4():
    """73,421 rows, 2,972 x 1,128 x 28 crossed levels: the derivative-free path for large dense
    blocks reaches lme4's optimum (lme4 itself takes about half a minute here)."""
    from conftest import load_reference

    ref = load_reference("insteval_ml")
    result = ij.fit(ref["formula"], ij.datasets.load("InstEval"), method="ML",
                    df_method="normal")
    assert result.theta_fit.optimizer == "cobyqa" and not result.theta_fit.exact_derivatives
    assert result.objective <= ref["objective"] + 1e-6
    assert result.llf == pytest.approx(ref["logLik"], rel=1e-9)
    np.testing.assert_allclose(result.theta, list(ref["theta"].values()), atol=1e-4)
    _close(result.fe_params.to_numpy(), list(ref["beta"].values()), rtol=1e-4)
    _close(result.bse.to_numpy(), list(ref["beta_se"].values()), rtol=1e-4)
    assert result.converged, result.convergence_messages
