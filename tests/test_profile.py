"""Profile-likelihood confidence intervals against lme4's ``confint(m, method = "profile")``
(tests/fixtures/make_interval_fixtures.R) and against a brute-force profile of a dense
deviance, independent of lme4 and of our parametrisation.

lme4 interpolates its profile with splines, so its limits carry an interpolation error of about
1e-4 relative (up to 5e-4 seen); the bar is 1e-3 relative (1e-3 absolute for correlations).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import FIXTURES
from helpers import dense_z_lambda
from scipy import optimize, stats

import interlace_jax as ij

CASES = ["sleepstudy_slopes_reml", "sleepstudy_slopes_ml", "penicillin_crossed", "dyestuff",
         "dyestuff2_singular", "categorical_slope"]


def _interval_ref(case: str) -> dict:
    return json.loads((FIXTURES / "intervals" / f"{case}.json").read_text())


@pytest.fixture
def fitted(lme4_fit):
    """case -> the session's fitted model of that case (profiles are cached on it)."""
    return lambda case: lme4_fit(case)[0]


def _check_against(ci, block):
    assert list(ci.attrs["parameter_names"].values()) == block["descriptive_names"]
    n_var = sum(name.startswith(".sig") for name in block["names"])
    assert list(ci.index[:n_var]) == block["names"][:n_var]
    names = block["descriptive_names"]
    for j, (name, lo, hi) in enumerate(zip(names, block["lower"], block["upper"])):
        for ours, theirs in zip(ci.iloc[j].to_numpy(), (lo, hi)):
            scale = 1.0 if name.startswith("cor_") else max(abs(theirs), 1e-3)
            assert abs(ours - theirs) <= 1e-3 * scale, (name, ours, theirs)


@pytest.mark.parametrize("case", CASES)
def test_profile_intervals_match_lme4(fitted, case):
    ref = _interval_ref(case)
    m = fitted(case)
    ci = m.conf_int(method="profile", level=ref["profile"]["level"])
    _check_against(ci, ref["profile"])
    assert ci.attrs["method"] == "profile"
    assert ci.attrs["criterion"] == "ML deviance"
    assert ci.attrs["refitted_ml"] is ref["REML"]
    assert "ML" in ci.attrs["heading"]
    assert ci.attrs["messages"] == ()


@pytest.mark.parametrize("case", ["dyestuff", "sleepstudy_slopes_reml"])
def test_profile_intervals_at_other_levels(fitted, case):
    ref = _interval_ref(case)["profile_extra"]
    ci = fitted(case).conf_int(method="profile", level=ref["level"])
    expected = {0.8: ["10 %", "90 %"], 0.9: ["5 %", "95 %"]}[ref["level"]]
    assert ci.columns.tolist() == expected
    _check_against(ci, ref)


def test_reml_fit_is_profiled_at_its_ml_refit(fitted):
    """lme4 profiles the ML deviance of REML fits: the same intervals as the ML fit's."""
    reml, ml = fitted("sleepstudy_slopes_reml"), fitted("sleepstudy_slopes_ml")
    a, b = reml.conf_int(method="profile"), ml.conf_int(method="profile")
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=1e-6)
    est = reml.conf_int(method="profile").attrs["estimates"]
    assert est[".sigma"] == pytest.approx(ml.sigma, rel=1e-6)
    assert reml.refit_ml().llf == pytest.approx(_interval_ref("sleepstudy_slopes_reml")
                                                ["ml_logLik"], abs=1e-6)


def test_singular_sd_has_lower_limit_zero(fitted):
    ci = fitted("dyestuff2_singular").conf_int(method="profile")
    assert ci.loc[".sig01"].iloc[0] == 0.0
    assert ci.loc[".sig01"].iloc[1] > 0.0


def test_fixed_effect_limit_is_where_the_ml_deviance_rises_by_z2(fitted):
    """At the upper limit c of Days, the ML fit with Days' coefficient held at c (an offset,
    through the public fit()) has deviance d-hat + z^2."""
    m = fitted("sleepstudy_slopes_ml")
    ci = m.conf_int(method="profile")
    data = ij.datasets.load("sleepstudy")
    for c in ci.loc["Days"]:
        data["off"] = c * data["Days"]
        held = ij.fit("Reaction ~ 1 + offset(off) + (Days | Subject)", data, method="ML")
        rise = (-2 * held.llf) - (-2 * m.llf)
        assert rise == pytest.approx(stats.norm.ppf(0.975) ** 2, abs=1e-6)


# ----- an lme4-free check: brute force on a dense deviance, including a bound -----------------

@pytest.fixture(scope="module")
def six_subjects():
    """Six subjects of sleepstudy, ML: the correlation's profile ends at the bound 1."""
    data = ij.datasets.load("sleepstudy")
    keep = data["Subject"].astype(str).isin(["308", "309", "310", "330", "331", "332"])
    data = data[keep].reset_index(drop=True)
    data["Subject"] = data["Subject"].astype(str)
    return ij.fit("Reaction ~ Days + (Days | Subject)", data, method="ML")


def _dense_ml_deviance(m, sd1, rho, sd2, sigma):
    """-2 log L with beta profiled, from V = Z Sigma Z' + sigma^2 I (dense)."""
    term = m._terms[0]
    Z, _ = dense_z_lambda([term], np.array([1.0, 0.0, 1.0]))
    cov = np.array([[sd1**2, rho * sd1 * sd2], [rho * sd1 * sd2, sd2**2]])
    V = Z @ np.kron(np.eye(term.n_levels), cov) @ Z.T + sigma**2 * np.eye(m.nobs)
    X, y = m.frame.X, m.frame.y
    vinv = np.linalg.inv(V)
    beta = np.linalg.solve(X.T @ vinv @ X, X.T @ vinv @ y)
    r = y - X @ beta
    return np.linalg.slogdet(V)[1] + r @ vinv @ r + m.nobs * np.log(2 * np.pi)


def _brute_profile(m, which, value, start):
    """min of the dense deviance over (sd1, rho, sd2, sigma) with parameter ``which`` held."""
    free = [i for i in range(4) if i != which]
    bounds = [(0, None), (-1, 1), (0, None), (1e-3, None)]

    def f(x):
        full = np.array(start, dtype=float)
        full[free] = x
        full[which] = value
        return _dense_ml_deviance(m, *full)

    res = optimize.minimize(f, np.asarray(start)[free], method="L-BFGS-B",
                            bounds=[bounds[i] for i in free],
                            options=dict(ftol=1e-14, gtol=1e-9, maxiter=2000))
    return res.fun


def test_profile_matches_brute_force_and_stops_at_the_correlation_bound(six_subjects):
    m = six_subjects
    ci = m.conf_int(method="profile")
    est = ci.attrs["estimates"]
    start = [est[".sig01"], est[".sig02"], est[".sig03"], est[".sigma"]]
    d_hat = _dense_ml_deviance(m, *start)
    assert d_hat == pytest.approx(-2 * m.llf, abs=1e-8)
    z2 = stats.norm.ppf(0.975) ** 2
    # the correlation's upper limit is the bound: even at rho = 1 the deviance rises by < z^2
    assert ci.loc[".sig02"].iloc[1] == 1.0
    assert _brute_profile(m, 1, 1.0, start) - d_hat < z2
    # every finite limit is where the brute-force profile has risen by z^2
    for j, name in enumerate([".sig01", ".sig02", ".sig03", ".sigma"]):
        for limit in ci.loc[name]:
            if name == ".sig02" and limit == 1.0:
                continue
            rise = _brute_profile(m, j, limit, start) - d_hat
            assert rise == pytest.approx(z2, abs=2e-4), (name, limit)


# ----- arguments --------------------------------------------------------------------------------

def test_bad_method_and_level(fitted):
    m = fitted("dyestuff")
    with pytest.raises(ij.ModelError, match="unknown conf_int method"):
        m.conf_int(method="bayes")
    for level in (0.0, 1.0, 1.5, -0.2):
        with pytest.raises(ij.ModelError, match=r"\(0, 1\)"):
            m.conf_int(method="profile", level=level)
    with pytest.raises(ij.ModelError, match=r"\(0, 1\)"):
        m.conf_int(alpha=1.2)


def test_wald_stays_the_default(fitted):
    m = fitted("dyestuff")
    default, wald = m.conf_int(), m.conf_int(method="wald", level=0.95)
    assert default.columns.tolist() == [0, 1]
    np.testing.assert_allclose(default.to_numpy(), wald.to_numpy())
    np.testing.assert_allclose(m.conf_int(alpha=0.1).to_numpy(),
                               m.conf_int(level=0.9).to_numpy())
