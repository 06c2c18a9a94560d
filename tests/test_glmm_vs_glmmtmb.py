"""glmmTMB() against glmmTMB (tests/fixtures/glmm/tmb_*.json, written by
make_glmmtmb_fixtures.R).

How the comparison is judged (see tests/fixtures/glmm/README.md):

* The objective first: at glmmTMB's own parameters (its optimum and a perturbed point, mapped
  from glmmTMB's internal parameterisation: log SDs and correlation transforms of the random
  effects, ``betad``, ``psi``) our Laplace approximation equals glmmTMB's ``obj$fn``; TMB's
  inner Newton is converged, so the agreement is tight.
* The fit must reach a log-likelihood no worse than glmmTMB's (1e-4). glmmTMB stops nlminb at
  a relative tolerance, with max |gradient| up to 4.5e-3 in these fits, so its estimates are
  only as precise as that: they are compared within 2e-4 relative or 0.2 % of their standard
  error, whichever is larger (the largest deviations seen: 6.6e-5 relative, and 2.1e-4 of an
  SE for a dispersion intercept of 0.005).
* Standard errors against glmmTMB's exact ``vcov`` (sdreport's Hessian) within 1e-4 relative
  (7e-6 seen): ours come from central differences of exact gradients at our optimum.
* Each family's log-density against the fixture's ``density_check`` (a model without random
  effects whose log-likelihood the R script recomputes from the density formulas) and, where
  scipy has the distribution, against scipy.stats.

Every fit is made once (lru_cache) and its compiled objective reused for the objective checks.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

import interlace_jax as ij
from conftest import load_reference, reference_data
from interlace_jax import DataError, FormulaError, ModelError
from interlace_jax.families import (
    Beta,
    Gamma,
    Hurdle,
    NegativeBinomial1,
    NegativeBinomial2,
    NoZeroModel,
    OrderedBeta,
    Poisson,
    StudentT,
    TruncatedNegativeBinomial1,
    TruncatedNegativeBinomial2,
    TruncatedPoisson,
    ZeroInflation,
    family_of,
)
from interlace_jax.formula import build_model_frame, parse_formula, parse_part
from interlace_jax.models._laplace import laplace_deviance
from interlace_jax.optim._fit_glmm import _compiled

GLMM = Path(__file__).parent / "fixtures" / "glmm"
CASES = sorted(p.stem for p in GLMM.glob("tmb_*.json"))
PARTS = ("cond", "zi", "disp")
#: glmmTMB's family(m)$family -> the name of its family function (what glmmTMB() is given)
FAMILY_FUNCTION = {"beta": "beta_family", "t": "t_family"}


def reference(case: str) -> dict:
    return load_reference(case, "glmm")


def fixture_data(ref: dict) -> pd.DataFrame:
    return reference_data(ref, "glmm")


def _formulas(ref: dict) -> tuple[str | None, str | None]:
    zi = None if ref["ziformula"] == "~0" else ref["ziformula"]
    disp = None if ref["dispformula"] == "~1" else ref["dispformula"]
    return zi, disp


@lru_cache(maxsize=None)
def fitted(case: str):
    ref = reference(case)
    zi, disp = _formulas(ref)
    model = ij.glmmTMB(ref["formula"], fixture_data(ref),
                       FAMILY_FUNCTION.get(ref["family"], ref["family"]), link=ref["link"],
                       ziformula=zi, dispformula=disp)
    return model, ref


def glmmtmb_x(model, ref: dict, par: list[float]) -> np.ndarray:
    """Our outer parameters from glmmTMB's internal vector ``par`` (labels in the fixture)."""
    labels = ref["par"]["labels"]
    lay = model._data.layout
    x = np.zeros(lay.size)

    def values(prefix):
        return [v for lab, v in zip(labels, par) if lab.startswith(prefix)
                and "log_sd(" not in lab and "corr_t(" not in lab]

    x[lay.beta] = values("cond:")
    x[lay.zi] = values("zi:")
    x[lay.disp] = model.family.dispersion_sign * np.asarray(values("disp:"))
    x[lay.psi] = values("psi[")
    by_group: dict[str, list[float]] = {}
    for lab, v in zip(labels, par):
        if "log_sd(" in lab or "corr_t(" in lab:
            by_group.setdefault(lab.rsplit("|", 1)[1].rstrip(")"), []).append(v)
    theta = []
    for term in model._terms:  # lme4's order: Lambda's lower-triangular columns
        v = np.asarray(by_group[term.group])
        if term.size == 1:
            theta.append(np.exp(v[0]))
        else:
            assert term.size == 2
            sd, corr = np.exp(v[:2]), v[2] / np.sqrt(1.0 + v[2] ** 2)
            theta += [sd[0], sd[1] * corr, sd[1] * np.sqrt(1.0 - corr**2)]
    x[lay.theta] = theta
    return x


def test_every_glmmtmb_family_and_zero_model_has_a_case():
    families = {reference(c)["family"] for c in CASES}
    assert {"nbinom2", "nbinom1", "truncated_poisson", "truncated_nbinom2", "beta", "ordbeta",
            "Gamma", "gaussian", "t", "poisson", "binomial"} <= families


@pytest.mark.parametrize("case", CASES)
def test_objective_at_glmmtmb_parameters(case):
    """-log L (Laplace) at glmmTMB's parameters equals glmmTMB's obj$fn."""
    model, ref = fitted(case)
    value_and_grad = _compiled(laplace_deviance)[0]  # compiled by the fit already
    with ij.x64():
        for check in ref["objective_checks"]:
            x = jnp.asarray(glmmtmb_x(model, ref, check["par"]))
            (deviance, _), _ = value_and_grad(x, model._data, model._u)
            assert 0.5 * float(deviance) == pytest.approx(check["value"], rel=1e-10, abs=1e-7), \
                check["label"]


@pytest.mark.parametrize("case", CASES)
def test_fit_reaches_glmmtmbs_loglik_and_estimates(case):
    model, ref = fitted(case)
    assert model.converged, model.convergence_messages
    assert model.llf >= ref["logLik"] - 1e-4
    assert model.llf == pytest.approx(ref["logLik"], abs=1e-4)
    assert model.n_params == ref["df"]
    assert model.aic == pytest.approx(ref["AIC"], abs=2e-4)
    assert model.bic == pytest.approx(ref["BIC"], abs=2e-4)
    for part in PARTS:
        theirs = ref["fixef"][part]
        ours = model.params(part)
        assert len(ours) == len(theirs), part
        if not theirs:
            continue
        est = np.array(list(theirs.values()))
        se = _reference_se(ref, part)
        tol = np.maximum(2e-4 * np.abs(est), 2e-3 * se)
        np.testing.assert_array_less(np.abs(ours.to_numpy() - est), tol, err_msg=part)


def _reference_se(ref: dict, part: str) -> np.ndarray:
    """glmmTMB's SEs of a part (a constant dispersion's from vcov(full = TRUE))."""
    table = ref["coef_table"][part]
    if table:
        return np.array([row["se"] for row in table.values()])
    full = ref["vcov_full"]
    k = full["names"].index("d~(Intercept)")
    return np.array([np.sqrt(full["matrix"][k][k])])


@pytest.mark.parametrize("case", CASES)
def test_standard_errors_match_glmmtmbs_exact_vcov(case):
    model, ref = fitted(case)
    for part in PARTS:
        if ref["fixef"][part]:
            ours = model.bse if part == "cond" else getattr(model, f"bse_{part}")
            np.testing.assert_allclose(ours.to_numpy(), _reference_se(ref, part), rtol=1e-4,
                                       err_msg=part)
    for part, vcov in ref["vcov"].items():
        np.testing.assert_allclose(model.cov_params(part).to_numpy(), np.asarray(vcov["matrix"]),
                                   rtol=1e-4, atol=1e-4 * np.max(np.abs(vcov["matrix"])),
                                   err_msg=part)


@pytest.mark.parametrize("case", CASES)
def test_sigma_family_params_and_random_effects(case):
    model, ref = fitted(case)
    if ref.get("sigma") is None:
        assert np.isnan(model.sigma)
    else:
        assert model.sigma == pytest.approx(ref["sigma"], rel=2e-4)
    assert set(model.family_params) == set(ref["family_params"])
    for name, value in ref["family_params"].items():
        assert model.family_params[name] == pytest.approx(value, rel=2e-4)
    covs = {c.group: c for c in model._covariances}
    for group, vc in ref["varcorr"]["cond"].items():
        sd = np.sqrt(np.diag(covs[group].cov))
        np.testing.assert_allclose(sd, list(vc["sd"].values()), rtol=1e-3)
        if vc["corr"] is not None:
            np.testing.assert_allclose(covs[group].corr, np.asarray(vc["corr"]), atol=2e-3)
        modes = ref["ranef"]["cond"][group]
        ours = model.random_effects[group].loc[list(modes["levels"])].to_numpy()
        np.testing.assert_allclose(ours, np.asarray(modes["values"]), atol=2e-4)


@pytest.mark.parametrize("case", CASES)
def test_fitted_values_and_predictions(case):
    model, ref = fitted(case)
    k = ref["n_head"]
    close = dict(rtol=5e-4, atol=1e-5)
    np.testing.assert_allclose(model.fittedvalues.to_numpy()[:k], ref["fitted_head"], **close)
    np.testing.assert_allclose(model.predict()[:k], ref["eta_head"], **close)
    np.testing.assert_allclose(model.predict(type="conditional")[:k], ref["cond_mean_head"],
                               **close)
    np.testing.assert_allclose(model.resid.to_numpy()[:k], ref["resid_response_head"],
                               rtol=5e-3, atol=1e-4)
    # Pearson residuals where glmmTMB 1.1.5's are the variance of the response: it divides
    # t's by sqrt(sigma), only warns for ordbeta, gives NA with a Gaussian dispersion formula
    # and evaluates a truncated count's variance at the truncated mean instead of mu (ours is
    # the exact variance, checked against scipy below)
    if (ref["family"] not in ("t", "ordbeta") and not ref["family"].startswith("truncated")
            and None not in ref["resid_pearson_head"]):
        np.testing.assert_allclose(model.resid_pearson.to_numpy()[:k], ref["resid_pearson_head"],
                                   rtol=5e-3, atol=1e-4)
    new = ref.get("predict_new")
    if new is None:
        return
    newdata = pd.DataFrame(new["newdata"])
    for key, include_re in (("re", True), ("fixed", False)):
        for kind, expected in new[key].items():
            ours = model.predict(newdata, type=kind, include_re=include_re)
            np.testing.assert_allclose(ours, expected, **close, err_msg=f"{key} {kind}")


@pytest.mark.parametrize("case", CASES)
def test_log_density_of_the_model_without_random_effects(case):
    """The family's density (with the zero model and dispersion model) reproduces glmmTMB's
    log-likelihood of the fixed-effects-only model at glmmTMB's estimates."""
    ref = reference(case)
    check = ref["density_check"]
    fam = family_of(FAMILY_FUNCTION.get(ref["family"], ref["family"]), ref["link"])
    zi, disp = _formulas(ref)
    specs = tuple(parse_part(n, t) for n, t in (("zi", zi), ("disp", disp)) if t is not None)
    frame = build_model_frame(parse_formula(check["formula"]), fixture_data(ref), parts=specs,
                              factor_response=fam.name == "binomial", residual_variance=False)
    coef = check["fixef"]
    eta = frame.X @ np.array(list(coef["cond"].values()))
    zeros = ZeroInflation() if coef["zi"] and not fam.zero_truncated else (
        Hurdle() if coef["zi"] else NoZeroModel())
    zeta = frame.parts["zi"].X @ np.array(list(coef["zi"].values())) if coef["zi"] else None
    phi = 1.0
    if coef["disp"]:
        X_disp = frame.parts["disp"].X if "disp" in frame.parts else np.ones((len(eta), 1))
        phi = np.exp(fam.dispersion_sign * (X_disp @ np.array(list(coef["disp"].values()))))
    with ij.x64():
        mu = fam.link.inverse(jnp.asarray(eta))
        ll = zeros.log_density(fam, frame.y, mu, frame.weights, phi, jnp.asarray(check["psi"]),
                               zeta)
        total = float(jnp.sum(ll)) + float(np.sum(zeros.log_constant(fam, frame.y,
                                                                       frame.weights)))
    assert total == pytest.approx(check["logLik_glmmTMB"], rel=1e-11, abs=1e-9)


# ----- densities against scipy.stats -------------------------------------------------------
RNG = np.random.default_rng(20240611)
COUNTS = RNG.poisson(3.0, 40).astype(float)
MU = RNG.uniform(0.3, 7.0, 40)
ONES = np.ones(40)


def _full(family, y, mu, phi, psi=()):
    """The whole log-density (with the data-only part) of each y."""
    w = np.ones_like(y)
    with ij.x64():
        dens = family.log_density(y, jnp.asarray(mu), w, phi, jnp.asarray(psi))
        return np.asarray(dens) + family.log_constant(y, w)


@pytest.mark.parametrize("family, scipy_logpmf", [
    (NegativeBinomial2(), lambda y, mu, phi: stats.nbinom.logpmf(y, phi, phi / (phi + mu))),
    (NegativeBinomial1(), lambda y, mu, phi: stats.nbinom.logpmf(y, mu / phi, 1 / (1 + phi))),
])
def test_negative_binomials_match_scipy(family, scipy_logpmf):
    phi = 1.7
    np.testing.assert_allclose(_full(family, COUNTS, MU, phi), scipy_logpmf(COUNTS, MU, phi),
                               rtol=1e-12, atol=1e-12)
    with ij.x64():
        log_p0 = np.asarray(family.log_zero_probability(jnp.asarray(MU), ONES, phi))
    np.testing.assert_allclose(log_p0, scipy_logpmf(0.0, MU, phi), rtol=1e-12)


@pytest.mark.parametrize("family, untruncated", [
    (TruncatedPoisson(), lambda y, mu, phi: stats.poisson(mu)),
    (TruncatedNegativeBinomial2(), lambda y, mu, phi: stats.nbinom(phi, phi / (phi + mu))),
    (TruncatedNegativeBinomial1(), lambda y, mu, phi: stats.nbinom(mu / phi, 1 / (1 + phi))),
])
def test_truncated_counts_match_scipy(family, untruncated):
    y, phi = COUNTS + 1.0, 1.3
    dist = untruncated(y, MU, phi)
    np.testing.assert_allclose(_full(family, y, MU, phi), dist.logpmf(y) - dist.logsf(0),
                               rtol=1e-12, atol=1e-12)
    with ij.x64():
        mean = np.asarray(family.mean(jnp.asarray(MU), phi))
        variance = np.asarray(family.pearson_variance(jnp.asarray(MU), ONES, phi))
    grid = np.arange(1.0, 400.0)
    pmf = np.exp(dist.logpmf(grid[:, None]) - dist.logsf(0))
    np.testing.assert_allclose(mean, (grid[:, None] * pmf).sum(0), rtol=1e-9)
    np.testing.assert_allclose(variance, (grid[:, None] ** 2 * pmf).sum(0) - mean**2, rtol=1e-8)


def test_log_gamma_derivative_chain_matches_scipy():
    import jax

    from interlace_jax.families._special import log_gamma

    x = np.logspace(-6, 5, 200)
    with ij.x64():
        function = log_gamma
        for order in range(3):  # elementwise: the gradient of the sum is the derivative
            function = jax.grad(lambda v, f=function: jnp.sum(f(v)))
            np.testing.assert_allclose(np.asarray(function(jnp.asarray(x))),
                                       special.polygamma(order, x), rtol=1e-13)
        np.testing.assert_allclose(np.asarray(log_gamma(jnp.asarray(x))), special.gammaln(x),
                                   rtol=1e-15, atol=1e-12)


def test_beta_student_t_and_gamma_match_scipy():
    y = RNG.uniform(0.01, 0.99, 40)
    mu = RNG.uniform(0.1, 0.9, 40)
    np.testing.assert_allclose(_full(Beta(), y, mu, 12.0),
                               stats.beta.logpdf(y, 12.0 * mu, 12.0 * (1 - mu)), rtol=1e-12)
    z, loc = RNG.normal(size=40) * 2, RNG.normal(size=40)
    np.testing.assert_allclose(_full(StudentT(), z, loc, 0.8, [np.log(3.7)]),
                               stats.t.logpdf(z, 3.7, loc, 0.8), rtol=1e-12)
    # Gamma: phi = 1 / shape; glmmTMB models log(shape) = -log(phi) and sigma = 1 / sqrt(shape)
    g = RNG.gamma(4.0, 0.5, 40)
    np.testing.assert_allclose(_full(Gamma(link="log"), g, MU, 0.25),
                               stats.gamma.logpdf(g, 4.0, scale=MU / 4.0), rtol=1e-12)
    assert Gamma().dispersion_sign == -1.0 and Gamma().sigma(0.25) == pytest.approx(0.5)


def test_ordered_beta_is_a_distribution_on_the_closed_unit_interval():
    fam = OrderedBeta()
    k1, k2, phi, eta = -1.2, 1.9, 6.0, 0.4
    mu = special.expit(eta)
    log_p = _full(fam, np.array([0.0, 1.0]), np.array([mu, mu]), phi, [k1, k2])
    assert np.exp(log_p[0]) == pytest.approx(1 - special.expit(eta - k1), rel=1e-12)
    assert np.exp(log_p[1]) == pytest.approx(special.expit(eta - k2), rel=1e-12)
    grid = np.linspace(0.0, 1.0, 20001)[1:-1]
    inner = np.exp(_full(fam, grid, np.full(grid.size, mu), phi, [k1, k2]))
    mass = np.sum(inner) * (grid[1] - grid[0]) + np.exp(log_p).sum()
    assert mass == pytest.approx(1.0, abs=1e-3)
    between = special.expit(eta - k1) - special.expit(eta - k2)
    np.testing.assert_allclose(inner, between * stats.beta.pdf(grid, mu * phi, (1 - mu) * phi),
                               rtol=1e-10)


def test_zero_inflation_and_hurdle_mixtures():
    zeta = np.linspace(-2.0, 1.5, 40)
    p = special.expit(zeta)
    with ij.x64():
        zi = np.asarray(ZeroInflation().log_density(Poisson(), COUNTS, jnp.asarray(MU), ONES,
                                                    1.0, (), jnp.asarray(zeta)))
        hurdle = np.asarray(Hurdle().log_density(TruncatedPoisson(), COUNTS, jnp.asarray(MU),
                                                 ONES, 1.0, (), jnp.asarray(zeta)))
    zi = zi + ZeroInflation().log_constant(Poisson(), COUNTS, ONES)
    hurdle = hurdle + Hurdle().log_constant(TruncatedPoisson(), COUNTS, ONES)
    pois = stats.poisson(MU)
    expected = np.where(COUNTS == 0, np.log(p + (1 - p) * pois.pmf(0)),
                        np.log1p(-p) + pois.logpmf(COUNTS))
    np.testing.assert_allclose(zi, expected, rtol=1e-12)
    expected = np.where(COUNTS == 0, np.log(p), np.log1p(-p) + pois.logpmf(COUNTS)
                        - pois.logsf(0))
    np.testing.assert_allclose(hurdle, expected, rtol=1e-12)


# ----- results and printing ----------------------------------------------------------------
def test_summary_in_glmmtmbs_layout():
    model, _ = fitted("tmb_hurdle_nbinom2")
    text = str(model.summary())
    assert " Family: truncated_nbinom2  ( log )" in text
    assert "Zero inflation:" in text and "~x" in text
    assert "Zero-inflation model:" in text and "Conditional model:" in text
    assert "Dispersion parameter for truncated_nbinom2 family (): 1.3" in text
    model, _ = fitted("tmb_nbinom2_disp")
    text = str(model.summary())
    assert "Dispersion model:" in text and "Dispersion:" in text
    assert "Dispersion parameter" not in text
    model, _ = fitted("tmb_student_t")
    assert "Dispersion estimate for t family (sigma^2): 0.642" in str(model.summary())
    model, _ = fitted("tmb_nbinom2")
    assert "Dispersion parameter for nbinom2 family (): 1.47" in str(model.summary())


def test_part_attributes():
    model, _ = fitted("tmb_zip_x")
    assert list(model.fe_params_zi.index) == ["Intercept", "x"]
    assert model.fe_params_disp.empty and model.bse_disp.empty
    assert list(model.coef_table("zi").index) == ["(Intercept)", "x"]
    model, _ = fitted("tmb_gamma_log")
    # glmmTMB's Gamma dispersion coefficient is log(shape): sigma = exp(-betad / 2)
    assert model.sigma == pytest.approx(np.exp(-0.5 * model.fe_params_disp.iloc[0]))
    assert model.dispersion == pytest.approx(model.sigma**2)


# ----- bad input ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def counts():
    rng = np.random.default_rng(2)
    g = np.repeat([f"g{i}" for i in range(12)], 8)
    y = rng.poisson(2.0, 96).astype(float)
    return pd.DataFrame({"y": y, "x": rng.normal(size=96), "g": g,
                         "u": rng.uniform(0.05, 0.95, 96), "pos": y + 1})


@pytest.mark.parametrize("family, response, error, match", [
    ("nbinom2", "-y", DataError, "negative values"),
    ("nbinom1", "y + 0.5", DataError, "non-integer"),
    ("truncated_poisson", "y", DataError, "zeros, impossible"),
    ("beta_family", "y", DataError, "strictly between 0 and 1"),
    ("beta_family", "np.round(u)", DataError, "strictly between 0 and 1"),
    ("ordbeta", "y", DataError, r"\[0, 1\]"),
    ("ordbeta", "u", ModelError, "no 0s"),
])
def test_response_outside_the_support(counts, family, response, error, match):
    with pytest.raises(error, match=match):
        ij.glmmTMB(f"{response} ~ x + (1 | g)", counts, family)


def test_parameters_that_cannot_be_identified(counts):
    with pytest.raises(ModelError, match="poisson family has no dispersion"):
        ij.glmmTMB("y ~ x + (1 | g)", counts, "poisson", dispformula="~1")
    with pytest.raises(ModelError, match="binomial family has no dispersion"):
        ij.glmmTMB("np.minimum(y, 1) ~ x + (1 | g)", counts, "binomial", dispformula="~ x")
    with pytest.raises(ModelError, match="no zeros"):
        ij.glmmTMB("pos ~ x + (1 | g)", counts, "poisson", ziformula="~1")
    with pytest.raises(ModelError, match="no zeros"):
        ij.glmmTMB("pos ~ x + (1 | g)", counts, "truncated_poisson", ziformula="~1")
    with pytest.raises(ModelError, match="probability mass at zero"):
        ij.glmmTMB("u ~ x + (1 | g)", counts, "beta_family", ziformula="~1")
    with pytest.raises(ModelError, match="fixed dispersion"):
        ij.glmmTMB("y ~ x + (1 | g)", counts, "nbinom2", dispformula="~0")


def test_part_formula_errors(counts):
    with pytest.raises(FormulaError, match="one-sided"):
        ij.glmmTMB("y ~ x + (1 | g)", counts, "poisson", ziformula="y ~ x")
    with pytest.raises(FormulaError, match="random-effects terms in ziformula"):
        ij.glmmTMB("y ~ x + (1 | g)", counts, "poisson", ziformula="~ x + (1 | g)")
    with pytest.raises(DataError, match="nope"):
        ij.glmmTMB("y ~ x + (1 | g)", counts, "nbinom2", dispformula="~ nope")
    with pytest.raises(ModelError, match="unknown family"):
        ij.glmmTMB("y ~ x + (1 | g)", counts, "nbinom3")


# ----- derivatives through the new parameter blocks ----------------------------------------
def test_gradient_through_zero_dispersion_blocks_matches_finite_differences():
    """Exact gradient of the Laplace deviance (reverse mode through the implicit-function
    derivatives, the zero part's and the dispersion's predictors, nbinom1's log-gamma chain)
    against central differences, in every block of x = (theta, beta, beta_zi, beta_disp)."""
    import jax

    from interlace_jax.models._glmm_data import TMB, glmm_data
    from interlace_jax.terms import ReTerm

    rng = np.random.default_rng(11)
    n, levels = 240, 12
    refs = np.repeat(np.arange(levels), n // levels).astype(np.int32)
    x, h = rng.normal(size=n), rng.integers(0, 2, n).astype(float)
    mu = np.exp(0.6 + 0.4 * x + rng.normal(size=levels)[refs] * 0.5)
    y = np.where(rng.uniform(size=n) < 0.2, 0.0, rng.negative_binomial(mu / 1.5, 1 / 2.5))
    term = ReTerm("g", refs, np.ones((n, 1)), tuple(range(levels)), ("(Intercept)",))
    X = np.column_stack([np.ones(n), x])
    with ij.x64():
        data = glmm_data([term], X, y, np.ones(n), np.zeros(n), NegativeBinomial1(),
                         X_zi=X, X_disp=np.column_stack([np.ones(n), h]),
                         zeros=ZeroInflation(), convention=TMB)
        assert data.layout.size == 7 and not data.zi.constant and not data.disp.constant
        x0 = jnp.asarray([0.6, 0.5, 0.35, -1.2, 0.3, 0.4, -0.2])
        value_and_grad = jax.jit(jax.value_and_grad(lambda z: laplace_deviance(z, data)[0]))
        grad = np.asarray(value_and_grad(x0)[1])
        eps = 1e-5
        fd = np.array([(value_and_grad(x0 + eps * e)[0] - value_and_grad(x0 - eps * e)[0])
                       / (2 * eps) for e in np.eye(x0.size)])
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-5)
