"""clmm against ordinal::clmm (tests/fixtures/clmm, written by make_clmm_fixtures.R).

How the comparison is judged (tests/fixtures/clmm/README.md):

* The objective first. ordinal's Laplace value on its compiled path (one scalar random-effects
  term, ``st_scale == "log_sd"``) evaluates the conditional Hessian one inner Newton step late,
  which moves it by up to ~2e-4; on its matrix path (``"cholesky"``) it is converged. So our
  Laplace deviance at ordinal's parameters is compared with ordinal's objective tightly on the
  matrix path, loosely on the compiled one, and exactly against an independent Laplace by hand
  (per judge: a 1-d mode and second derivative by finite differences, in numpy) -- and the adaptive
  quadrature against a brute-force integral.
* Then the fit: our log-likelihood is never below the exact Laplace value at ordinal's estimates
  and within 1e-4 of ordinal's reported logLik (except the cauchit, where ordinal's +-1e5
  stand-ins for the infinite outer thresholds make its logLik 3.3e-4 too low).
* Parameters within 1e-3 relative (ordinal stops at max |gradient| 1e-5 on wine, up to 6e-3 on
  soup: a few 1e-5 relative), SEs within 2e-3 (ordinal's Hessian is a finite difference).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import polars as pl
import pytest
from scipy import integrate, optimize, stats

import interlace_jax as ij
from interlace_jax.families import LINKS
from interlace_jax.models._laplace import laplace_deviance, zero_effects
from interlace_jax.models._ordinal import ORDINAL_LINKS, interval_log_prob
from interlace_jax.models._quadrature import QuadratureDeviance
from interlace_jax.optim._fit_glmm import _compiled
from interlace_jax.terms import tril_positions

FIXTURES = Path(__file__).parent / "fixtures" / "clmm"
CASES = sorted(p.stem for p in FIXTURES.glob("*.json"))
WINE = "rating ~ temp + contact + (1 | judge)"


def reference(case: str) -> dict:
    return json.loads((FIXTURES / f"{case}.json").read_text())


def fixture_data(ref: dict) -> pd.DataFrame:
    source = ref["data"]
    if not source.startswith("file:"):
        return ij.datasets.load(source)
    frame = pd.read_csv(FIXTURES / source[len("file:"):])
    for col, levels in ref["csv_factors"].items():
        frame[col] = pd.Categorical(frame[col].astype(str), categories=levels,
                                    ordered=col in ref["csv_ordered"])
    return frame


@lru_cache(maxsize=None)
def fitted(case: str):
    ref = reference(case)
    model = ij.clmm(ref["formula"], fixture_data(ref), link=ref["link"],
                    threshold=ref["threshold"], nAGQ=ref["nAGQ"])
    return model, ref


def ordinal_x(model, ref: dict, par) -> np.ndarray:
    """Our outer parameters (theta, beta, tau) for ordinal's parameter vector ``par``."""
    par = np.asarray(par, float)
    n_alpha, p = len(ref["alpha"]), len(ref["beta"])
    alpha, beta, st = par[:n_alpha], par[n_alpha:n_alpha + p], par[n_alpha + p:]
    if ref["st_scale"] == "log_sd":
        theta = np.exp(st)
    else:  # per term c(diag(L), L[lower.tri(L)]) -> lme4's column-major lower triangle
        theta, k = [], 0
        for term in model._terms:
            s = term.size
            lower = np.diag(st[k:k + s])
            strictly = [(r, c) for c in range(s) for r in range(c + 1, s)]  # R's lower.tri
            for (r, c), value in zip(strictly, st[k + s:k + s + len(strictly)]):
                lower[r, c] = value
            theta.extend(lower[tril_positions(s)])
            k += s + len(strictly)
        theta = np.asarray(theta)
    return np.concatenate([theta, beta, model._thresholds.tau_of(alpha)])


def deviance_at(model, x: np.ndarray) -> float:
    """Our Laplace deviance at x, with the fit's own compiled function (nothing new compiled)."""
    value_and_grad, _ = _compiled(laplace_deviance)
    with ij.x64():
        (dev, _), _ = value_and_grad(jnp.asarray(x), model._data, zero_effects(model._data))
    return float(dev)


# ----- the objective ---------------------------------------------------------------------------

@pytest.mark.parametrize("case", [c for c in CASES if reference(c)["nAGQ"] == 1])
def test_objective_at_ordinal_parameters(case):
    model, ref = fitted(case)
    for check in ref["objective_checks"]:
        ours = -0.5 * deviance_at(model, ordinal_x(model, ref, check["par"]))
        theirs = -check["value"]
        if ref["st_scale"] == "cholesky":  # ordinal's converged Laplace
            assert ours == pytest.approx(theirs, rel=1e-8, abs=1e-6), check["label"]
        elif ref["link"] == "cauchit":  # ordinal's +-1e5 outer thresholds: 3e-4 low
            assert 1e-4 < ours - theirs < 5e-4, check["label"]
        else:  # ordinal's Hessian lags one inner step
            assert ours == pytest.approx(theirs, abs=5e-4), check["label"]


def _wine_by_hand(ref: dict, sd: float, beta, cuts, nodes: int | None = None) -> float:
    """log-likelihood of a wine model with (1 | judge) computed independently of the library:
    per judge a 1-d Laplace approximation (the mode a root of h', both derivatives by
    five-point finite differences) or, with
    ``nodes``, the integral itself by adaptive quadrature."""
    wine = ij.datasets.load("wine")
    y = wine["rating"].cat.codes.to_numpy()
    eta = np.column_stack([wine["temp"] == "warm", wine["contact"] == "yes"]) @ np.asarray(beta)
    judge = wine["judge"].cat.codes.to_numpy()
    dist = {"logit": stats.logistic, "probit": stats.norm, "cauchit": stats.cauchy}[ref["link"]]
    upper = np.concatenate([cuts, [np.inf]])[y]
    lower = np.concatenate([[-np.inf], cuts])[y]
    total = 0.0
    for k in np.unique(judge):
        i = judge == k

        def h(u, i=i):
            with np.errstate(divide="ignore"):  # far out, a probit probability underflows
                return (np.sum(np.log(dist.cdf(upper[i] - eta[i] - sd * u)
                                      - dist.cdf(lower[i] - eta[i] - sd * u))) - 0.5 * u * u)

        if nodes is None:
            step = 1e-3  # five-point stencils: truncation errors of order step^4

            def dh(u, h=h):
                return (-h(u + 2 * step) + 8 * h(u + step) - 8 * h(u - step)
                        + h(u - 2 * step)) / (12 * step)

            rough = optimize.minimize_scalar(lambda v: -h(v), bounds=(-6, 6),
                                             method="bounded").x
            u = optimize.brentq(dh, rough - 0.1, rough + 0.1, xtol=1e-14)  # h'(u) = 0
            d2 = (-h(u + 2 * step) + 16 * h(u + step) - 30 * h(u) + 16 * h(u - step)
                  - h(u - 2 * step)) / (12 * step**2)
            total += h(u) - 0.5 * np.log(-d2)
        else:
            value, _ = integrate.quad(lambda v: np.exp(h(v)), -12, 12, epsabs=0, epsrel=1e-12,
                                      limit=200)
            total += np.log(value / np.sqrt(2 * np.pi))
    return total


@pytest.mark.parametrize("case", ["wine_logit", "wine_probit", "wine_cauchit"])
def test_laplace_value_equals_an_independent_computation(case):
    model, ref = fitted(case)
    x = ordinal_x(model, ref, ref["par"])
    expected = _wine_by_hand(ref, ref["ST"]["judge"][0][0], list(ref["beta"].values()),
                             np.array(list(ref["thresholds"].values())))
    assert -0.5 * deviance_at(model, x) == pytest.approx(expected, abs=1e-8)
    # the fixture's own hand value (a 1e-4 finite-difference second derivative) to its rounding
    assert -0.5 * deviance_at(model, x) == pytest.approx(ref["laplace_by_hand"]["value"],
                                                         abs=2e-6)


def test_adaptive_quadrature_converges_to_the_integral():
    model, ref = fitted("wine_agq10")
    x = ordinal_x(model, ref, ref["par"])
    exact = _wine_by_hand(ref, np.exp(ref["par"][-1]), list(ref["beta"].values()),
                          np.array(list(ref["thresholds"].values())), nodes=True)
    with ij.x64():
        value = -0.5 * float(jax.jit(QuadratureDeviance(25))(
            jnp.asarray(x), model._data, zero_effects(model._data))[0])
    assert value == pytest.approx(exact, abs=1e-7)
    # ordinal's 10-node value at its optimum is the same rule as ours
    assert model.llf >= -ref["objective_checks"][0]["value"] - 1e-7


# ----- the fit -----------------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES)
def test_fit_reaches_ordinals_loglik(case):
    model, ref = fitted(case)
    assert model.converged, model.convergence_messages
    at_theirs = -0.5 * deviance_at(model, ordinal_x(model, ref, ref["par"])) if (
        ref["nAGQ"] == 1) else -ref["objective_checks"][0]["value"]
    assert model.llf >= at_theirs - 1e-8  # never worse than ordinal's estimates
    if ref["link"] == "cauchit":
        assert model.llf - ref["logLik"] == pytest.approx(3.3e-4, abs=5e-5)
    else:
        assert abs(model.llf - ref["logLik"]) <= 1e-4
    assert model.aic == pytest.approx(-2 * model.llf + 2 * ref["df"])
    assert model.n_params == ref["df"] and model.nobs == ref["nobs"]


@pytest.mark.parametrize("case", CASES)
def test_estimates_and_standard_errors(case):
    model, ref = fitted(case)
    assert list(model.thresholds.index) == list(ref["alpha"])
    assert list(model.frame.x_names) == list(ref["beta"])
    np.testing.assert_allclose(model.thresholds, list(ref["alpha"].values()), rtol=1e-3,
                               atol=1e-4)
    np.testing.assert_allclose(model.fe_params, list(ref["beta"].values()), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(model.cut_points, list(ref["thresholds"].values()), rtol=1e-3,
                               atol=1e-4)
    se = ref["se"]
    # the cauchit: ordinal's +-1e5 outer thresholds change its objective's curvature too (our
    # Hessian agrees with the exact forward-mode one to 3e-8 there)
    rtol = 1e-2 if ref["link"] == "cauchit" else 2e-3
    np.testing.assert_allclose(model.thresholds_bse, [se[k] for k in ref["alpha"]], rtol=rtol)
    np.testing.assert_allclose(model.bse, [se[k] for k in ref["beta"]], rtol=rtol)
    np.testing.assert_allclose(model.cut_points_bse, list(ref["thresholds_se"].values()),
                               rtol=rtol)
    table = {row["name"]: row for row in ref["coef_table"]}
    for name, z, p in zip(model.frame.x_names, model.zvalues, model.pvalues):
        assert z == pytest.approx(table[name]["z"], rel=rtol + 1e-3)
        assert p == pytest.approx(table[name]["p"], rel=10 * rtol)
    for name, z in zip(model.thresholds.index, model.thresholds_zvalues):
        assert z == pytest.approx(table[name]["z"], rel=rtol + 1e-3)
    sds = model.varcorr.query("var2.isnull()", engine="python")
    for group, vc in ref["varcorr"].items():
        ours = sds[sds.grp == group].sdcor.to_numpy()
        np.testing.assert_allclose(ours, vc["stddev"], rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("case", ["wine_logit", "wine_equidistant", "soup_nested", "sim_slopes"])
def test_random_effects_fitted_values_and_predictions(case):
    model, ref = fitted(case)
    for group, modes in ref["ranef"].items():
        ours = model.random_effects[group].loc[list(modes["levels"]), list(modes["columns"])]
        np.testing.assert_allclose(ours, modes["values"], atol=2e-3)
        cond_var = model.random_effects_se[group].loc[list(modes["levels"])] ** 2
        np.testing.assert_allclose(cond_var, modes["condvar"], rtol=1e-2, atol=1e-4)
    np.testing.assert_allclose(model.fittedvalues, ref["fitted"], atol=2e-4)
    new = ref["predict_new"]
    newdata = pd.DataFrame(new["newdata"])
    for kind, include_re in (("conditional", True), ("population", False)):
        expected = new[kind]
        prob = model.predict(newdata, type="prob", include_re=include_re)
        assert list(prob.columns) == ref["y_levels"]
        np.testing.assert_allclose(prob, expected["prob"], atol=2e-4)
        np.testing.assert_allclose(prob.sum(axis=1), 1.0, atol=1e-12)
        np.testing.assert_allclose(model.predict(newdata, type="linear", include_re=include_re),
                                   expected["linear"], atol=2e-3)
        classes = model.predict(newdata, type="class", include_re=include_re)
        assert [str(c) for c in classes] == expected["class"]


def test_the_response_may_be_a_polars_enum_or_integers_with_levels():
    model, _ = fitted("wine_logit")
    wine = ij.datasets.load("wine")
    enum = pl.from_pandas(wine).with_columns(
        pl.col("rating").cast(pl.String).cast(pl.Enum(["1", "2", "3", "4", "5"])))
    integers = wine.assign(rating=wine["rating"].astype(int))
    for other in (ij.clmm(WINE, enum), ij.clmm(WINE, integers, levels=[1, 2, 3, 4, 5])):
        assert other.llf == pytest.approx(model.llf, abs=1e-9)
        np.testing.assert_allclose(other.fe_params, model.fe_params, atol=1e-7)
    # reversing the order of the categories mirrors the model: beta and the cut points flip
    reversed_fit = ij.clmm(WINE, integers, levels=[5, 4, 3, 2, 1])
    assert reversed_fit.llf == pytest.approx(model.llf, abs=1e-7)
    np.testing.assert_allclose(reversed_fit.fe_params, -model.fe_params, atol=1e-5)
    np.testing.assert_allclose(reversed_fit.cut_points, -model.cut_points[::-1], atol=1e-5)


def test_row_order_and_case_weights():
    model, _ = fitted("wine_logit")
    wine = ij.datasets.load("wine")
    shuffled = ij.clmm(WINE, wine.sample(frac=1.0, random_state=3))
    assert shuffled.llf == pytest.approx(model.llf, abs=1e-9)
    # a weight of 2 is the row counted twice
    doubled = ij.clmm(WINE, pd.concat([wine, wine.iloc[:10]], ignore_index=True))
    weighted = ij.clmm(WINE, wine.assign(w=[2.0] * 10 + [1.0] * 62), weights="w")
    assert weighted.llf == pytest.approx(doubled.llf, abs=1e-8)
    np.testing.assert_allclose(weighted.params, doubled.params, atol=1e-6)
    # ordinal counts the weights as observations: nobs 82, BIC 209.8662
    assert weighted.nobs == 82 and weighted.bic == pytest.approx(209.8662, abs=1e-3)


# ----- the conditional model: derivatives, tails, vmap --------------------------------------------

@pytest.mark.parametrize("link", ORDINAL_LINKS)
def test_interval_log_prob_and_its_derivatives(link):
    """Values against the plain formula log(F(u) - F(l)) in the bulk, the hand-written
    derivatives to third order against autodiff of that formula, finite outer categories and
    tails."""
    F = LINKS[link]()
    zero = jnp.zeros(1)

    def ours(z):
        return interval_log_prob(F, z[:1], z[1:], zero, zero)[0]

    def plain(z):
        return jnp.log(F.inverse(z[0]) - F.inverse(z[1]))

    with ij.x64():
        points = jnp.array([[-3.0, -3.5], [-0.5, -1.5], [0.7, -1.3], [2.0, 1.7]])
        np.testing.assert_allclose(jax.vmap(ours)(points), jax.vmap(plain)(points), rtol=1e-12)
        for derivative in (jax.grad, jax.hessian, lambda f: jax.jacfwd(jax.hessian(f))):
            np.testing.assert_allclose(jax.jit(jax.vmap(derivative(ours)))(points),
                                       jax.jit(jax.vmap(derivative(plain)))(points),
                                       rtol=1e-8, atol=1e-10)
        # far tails and the outer categories (one cut point infinite): finite everywhere
        first = jnp.array([1.0, 0, 0, 0, 0, 0])
        last = jnp.array([0, 0, 0, 0, 0, 1.0])
        tails = jnp.array([-40.0, -35.0, 35.0, 40.0, 60.0, 38.0])

        def total(u):
            return jnp.sum(interval_log_prob(F, u, u - 1.0, first, last))

        assert np.isfinite(total(tails))
        assert np.all(np.isfinite(jax.grad(total)(tails)))
        assert np.all(np.isfinite(jax.hessian(total)(tails)))


def test_exact_gradient_matches_finite_differences():
    model, ref = fitted("wine_crossed")
    value_and_grad, _ = _compiled(laplace_deviance)
    x = model.fit.x + np.array([0.2, 0.3, 0.1, -0.2, 0.05, 0.1, -0.1, 0.2])
    with ij.x64():
        (_, _), grad = value_and_grad(jnp.asarray(x), model._data, zero_effects(model._data))
    step = 1e-5
    fd = [(deviance_at(model, x + step * e) - deviance_at(model, x - step * e)) / (2 * step)
          for e in np.eye(x.size)]
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-6)


def test_category_probabilities_vectorise():
    model, _ = fitted("wine_logit")
    eta = np.linspace(-3.0, 8.0, 7)
    probs = model._probabilities(eta)
    with ij.x64():
        one_by_one = np.stack([model._probabilities(np.array([e]))[0] for e in eta])
    np.testing.assert_allclose(probs, one_by_one, rtol=1e-13)
    cumulative = np.cumsum(probs, axis=1)[:, :-1]
    expected = 1 / (1 + np.exp(-(model.cut_points.to_numpy()[None, :] - eta[:, None])))
    np.testing.assert_allclose(cumulative, expected, rtol=1e-12)


# ----- results -----------------------------------------------------------------------------------

def test_summary_layout():
    model, _ = fitted("wine_logit")
    text = str(model.summary())
    assert text.startswith("Cumulative Link Mixed Model fitted with the Laplace approximation")
    for piece in ("formula: rating ~ temp + contact + (1 | judge)",
                  " link  threshold nobs logLik AIC", " logit flexible  72   -81.57 177.13",
                  "Random effects:", "judge  (Intercept) 1.279    1.131",
                  "Number of groups:  judge 9", "Coefficients:",
                  "tempwarm     3.0630     0.5954   5.145 2.68e-07 ***",
                  "Threshold coefficients:", "1|2  -1.6237     0.6824  -2.379"):
        assert piece in text, piece
    agq = str(fitted("wine_agq10")[0].summary())
    assert "adaptive Gauss-Hermite \nquadrature approximation with 10 quadrature points" in agq


def test_anova_between_clmm_fits():
    full, _ = fitted("wine_logit")
    wine = ij.datasets.load("wine")
    null = ij.clmm("rating ~ temp + (1 | judge)", wine)
    table = ij.anova(null, full)
    assert list(table["npar"]) == [6, 7]
    # ordinal: LR.stat 14.347, Pr(>Chisq) 0.000152
    assert table["Chisq"].iloc[1] == pytest.approx(14.347, abs=1e-3)
    assert table["Pr(>Chisq)"].iloc[1] == pytest.approx(1.52e-4, rel=1e-2)
    equidistant, _ = fitted("wine_equidistant")
    assert ij.anova(equidistant, full)["Df"].iloc[1] == 2
    with pytest.raises(ij.ModelError, match="same link"):
        ij.anova(full, fitted("wine_probit")[0])
    with pytest.raises(ij.ModelError, match="one kind"):
        ij.anova(full, ij.fit("response ~ temp + (1 | judge)", wine))


# ----- bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize("change, kwargs, error, match", [
    (lambda d: d.assign(rating=d["rating"].astype(str)), {}, ij.DataError, "must be ordered"),
    (lambda d: d.assign(rating=d["rating"].cat.as_unordered()), {}, ij.DataError,
     "unordered categorical"),
    (lambda d: d.assign(rating=d["rating"].astype(int)), {}, ij.DataError, "levels="),
    (lambda d: d.assign(rating=d["rating"].astype(int)), {"levels": [1, 2, 3, 4]},
     ij.DataError, "not among levels"),
    (lambda d: d.assign(rating=d["rating"].cat.add_categories(["6"])), {}, ij.DataError,
     "'6' of the response 'rating' has no observations"),
    (lambda d: d.assign(rating=pd.Categorical(np.where(d["rating"].astype(int) > 2, "hi", "lo"),
                                              categories=["lo", "hi"], ordered=True)),
     {}, ij.DataError, "at least\\s+three"),
    (lambda d: d, {"link": "identity"}, ij.ModelError, "unknown link"),
    (lambda d: d, {"threshold": "ordered"}, ij.ModelError, "unknown threshold"),
    (lambda d: d, {"nAGQ": 0}, ij.ModelError, "nAGQ"),
])
def test_bad_input(change, kwargs, error, match):
    with pytest.raises(error, match=match):
        ij.clmm(WINE, change(ij.datasets.load("wine")), **kwargs)


def test_bad_formulas():
    wine = ij.datasets.load("wine")
    with pytest.raises(ij.ModelError, match="nAGQ > 1 needs a single"):
        ij.clmm("rating ~ temp + (1 | judge) + (1 | bottle)", wine, nAGQ=5)
    with pytest.raises(ij.ModelError, match="no random-effects terms"):
        ij.clmm("rating ~ temp", wine)
    with pytest.raises(ij.FormulaError, match="no intercept"):
        ij.clmm("rating ~ 0 + temp + (1 | judge)", wine)
    with pytest.raises(ij.FormulaError, match="column name"):
        ij.clmm("np.log(response) ~ temp + (1 | judge)", wine)
