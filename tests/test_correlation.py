"""Residual correlation structures (AR1, CAR1, CompoundSymmetry) against nlme's lme
(tests/fixtures/make_correlation_fixtures.R), plus derivatives, invariances and errors.

nlme's optimiser stops loosely, so each fixture also holds a dense reference: the same
likelihood written with the n x n covariance (checked there to reproduce nlme's logLik at
nlme's estimates) minimised tightly. Our objective must never be worse than nlme's and equal
the dense optimum; the parameters are compared with the dense optimum.
"""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from conftest import FIXTURES

import interlace_jax as ij
from interlace_jax import DataError, ModelError
from interlace_jax.models import lmm_data, lmm_deviance

CORRELATION = FIXTURES / "correlation"
CASES = sorted(p.stem for p in CORRELATION.glob("*.json"))
#: Cases fitted in the tests (each new model structure compiles for several seconds): every
#: structure, REML and ML, random slopes, time gaps, nesting and weights; the likelihood of the
#: others is checked at the reference optimum without fitting (orthodont_ar1_ml is also
#: reached by refit_ml in test_summary_npar_and_likelihood_ratio_test).
FITTED = ["orthodont_ar1_reml", "sleepstudy_ar1_slopes_reml", "sleepstudy_ar1_gaps_ml",
          "car1_irregular_reml", "cs_slope_reml", "nested_ar1_weighted_reml"]
STRUCTURES = {"AR1": ij.AR1, "CAR1": ij.CAR1, "CompoundSymmetry": ij.CompoundSymmetry}


def load_case(case: str) -> dict:
    return json.loads((CORRELATION / f"{case}.json").read_text())


def case_data(ref: dict) -> pd.DataFrame:
    source = ref["data"]
    if not source.startswith("file:"):
        return ij.datasets.load(source)
    frame = pd.read_csv(CORRELATION / source[len("file:"):])
    for col, levels in ref["csv_factors"].items():
        frame[col] = pd.Categorical(frame[col].astype(str), categories=levels)
    return frame


def case_structure(ref: dict):
    st = ref["structure"]
    kwargs = {"group": st["group"]}
    if st["time"] is not None:
        kwargs["time"] = st["time"]
    return STRUCTURES[st["type"]](**kwargs)


@pytest.fixture(scope="session")
def nlme_fit():
    """fit(case) -> (our result, reference), fitted once per session."""
    cache: dict[str, tuple] = {}

    def get(case: str):
        if case not in cache:
            ref = load_case(case)
            result = ij.fit(ref["formula"], case_data(ref), method="REML" if ref["REML"] else "ML",
                            weights=ref["weights"], correlation=case_structure(ref))
            cache[case] = (result, ref)
        return cache[case]

    return get


@pytest.fixture(scope="module")
def orthodont():
    ref = load_case("orthodont_ar1_reml")
    return case_data(ref)


def _ranef_vector(result) -> np.ndarray:
    """Conditional modes in lme4's order of b (terms as theta, levels, effects)."""
    return np.concatenate([b.ravel() for b in result._term_effects])


@pytest.mark.parametrize("case", FITTED)
def test_objective_matches_nlme_and_is_never_worse(nlme_fit, case):
    result, ref = nlme_fit(case)
    assert result.converged
    nlme, dense = ref["nlme"]["objective"], ref["dense"]["objective"]
    # never worse than nlme's optimum (it stops loosely: up to 0.07 higher on sleepstudy)
    assert result.objective <= nlme + 1e-9 * abs(nlme)
    # and equal to the tight optimum of the same likelihood
    assert result.objective == pytest.approx(dense, rel=1e-9)
    assert result.llf == pytest.approx(-0.5 * dense, rel=1e-9)


@pytest.mark.parametrize("case", FITTED)
def test_parameters_match_the_tight_optimum(nlme_fit, case):
    """Both optima are tight (objectives within 1e-9 relative), so parameters agree to about
    the square root of that; theta at the boundary (sleepstudy slopes) gets an absolute
    tolerance."""
    result, ref = nlme_fit(case)
    dense = ref["dense"]
    theta = np.asarray(dense["theta"])
    np.testing.assert_allclose(result.theta, theta, rtol=1e-4, atol=1e-4 * np.max(np.abs(theta)))
    np.testing.assert_allclose(result.correlation_params.to_numpy(), [dense["corr"]], rtol=1e-4)
    np.testing.assert_allclose(result.sigma, dense["sigma"], rtol=1e-5)
    np.testing.assert_allclose(result.fe_params.to_numpy(), dense["beta"], rtol=1e-6)
    np.testing.assert_allclose(result.bse.to_numpy(), dense["se"], rtol=1e-4)
    ranef = np.asarray(dense["ranef"])
    np.testing.assert_allclose(_ranef_vector(result), ranef, rtol=1e-4,
                               atol=1e-4 * np.max(np.abs(ranef)))
    assert list(result.frame.x_names) == ref["coef_names"]


@pytest.mark.parametrize("case", FITTED)
def test_parameters_match_nlme_where_it_converged(nlme_fit, case):
    """Where nlme reached the optimum (objective within 1e-8 of the dense one), its estimates
    are compared directly; elsewhere ours must be better by more than its stopping error."""
    result, ref = nlme_fit(case)
    nlme, gap = ref["nlme"], ref["nlme"]["objective"] - ref["dense"]["objective"]
    if gap > 1e-8 * abs(nlme["objective"]):
        assert nlme["objective"] - result.objective > 0.5 * gap
        return
    np.testing.assert_allclose(result.correlation_params.to_numpy(), [nlme["corr"]], rtol=1e-3)
    np.testing.assert_allclose(result.sigma, nlme["sigma"], rtol=1e-4)
    np.testing.assert_allclose(result.fe_params.to_numpy(), nlme["beta"], rtol=1e-5)
    # for ML fits nlme scales vcov(beta) by n / (n - p); ours is lme4's sigma_ML^2 (X'V^-1X)^-1
    n, p = result.nobs, len(result.fe_params)
    scale = 1.0 if ref["REML"] else np.sqrt((n - p) / n)
    np.testing.assert_allclose(result.bse.to_numpy(), scale * np.asarray(nlme["se"]), rtol=1e-3)
    theta = np.asarray(nlme["theta"])
    np.testing.assert_allclose(result.theta, theta, rtol=1e-3, atol=1e-3 * np.max(theta))


@pytest.mark.parametrize("case", FITTED)
def test_satterthwaite_df_match_numerical_derivatives(nlme_fit, case):
    """lmerTest's recipe (numDeriv Hessian of the deviance in (theta, rho, sigma), Jacobian of
    vcov(beta)) on the dense likelihood; nlme itself reports containment df."""
    result, ref = nlme_fit(case)
    np.testing.assert_allclose(result.fe_df.to_numpy(), ref["dense"]["satterthwaite_df"],
                               rtol=1e-3)


@pytest.mark.parametrize("case", [c for c in CASES if c not in FITTED])
def test_objective_at_the_reference_optimum_is_nlmes_likelihood(case):
    """Our objective at the dense optimum's parameters (theta, nlme's unconstrained
    correlation parameter) equals the reference objective, which equals nlme's likelihood."""
    from interlace_jax.formula import build_model_frame, parse_formula
    from interlace_jax.models import correlated_lmm_data
    from interlace_jax.terms import ReTerm

    ref = load_case(case)
    structure = case_structure(ref)
    frame = build_model_frame(parse_formula(ref["formula"]), case_data(ref),
                              weights=ref["weights"], series=structure.columns())
    terms = [ReTerm(t.group, t.refs, t.z, t.levels, t.z_names) for t in frame.terms]
    series = frame.series
    data = correlated_lmm_data(terms, frame.X, frame.y, frame.weights, structure, series.refs,
                               series.levels, series.time)
    params = jnp.asarray([*ref["dense"]["theta"], ref["dense"]["corr_unconstrained"]])
    value = float(jax.jit(lmm_deviance, static_argnames="reml")(params, data, ref["REML"]))
    assert value == pytest.approx(ref["dense"]["objective"], rel=1e-12)
    natural = structure.natural(params[-1:], data.layout)
    assert float(natural[0]) == pytest.approx(ref["dense"]["corr"], rel=1e-12)


def test_summary_npar_and_likelihood_ratio_test(nlme_fit, orthodont):
    result, ref = nlme_fit("orthodont_ar1_reml")
    text = str(result.summary())
    assert "Correlation Structure: AR(1)" in text and "Formula: ~1 | Subject" in text
    assert f"{result.correlation_params['Phi']:.6f}"[:7] in text
    assert result.n_params == 3 + 1 + 1 + 1  # beta, theta, phi, sigma (nlme: df = 6)
    assert result.aic == pytest.approx(-2 * result.llf + 12)
    ml = result.refit_ml()
    ref_ml = load_case("orthodont_ar1_ml")
    assert ml.correlation is result.correlation
    assert ml.objective == pytest.approx(ref_ml["dense"]["objective"], rel=1e-9)
    plain = ij.fit(ref["formula"], orthodont, method="ML")
    table = ij.anova(plain, ml)
    assert list(table["npar"]) == [5, 6]
    assert table["Df"].iloc[1] == 1
    assert table["Chisq"].iloc[1] == pytest.approx(plain.objective - ml.objective)


def test_predictions_stay_marginal_or_conditional(nlme_fit):
    result, ref = nlme_fit("sleepstudy_ar1_gaps_ml")
    data = case_data(ref)
    fixed = result.predict(data, include_re=False)
    np.testing.assert_allclose(fixed, result.frame.X @ result.fe_params.to_numpy())
    np.testing.assert_allclose(result.predict(data), result.fittedvalues.to_numpy())


def test_row_order_invariance(nlme_fit):
    """With a time column the rows' order is irrelevant; without one, the order within each
    group is the data's, so shuffling whole groups (keeping each group's order) changes
    nothing, while shuffling rows within groups changes the model."""
    result, ref = nlme_fit("sleepstudy_ar1_gaps_ml")
    data = case_data(ref)
    rng = np.random.default_rng(5)
    shuffled = data.iloc[rng.permutation(len(data))]
    again = ij.fit(ref["formula"], shuffled, method="ML", correlation=case_structure(ref))
    assert again.objective == pytest.approx(result.objective, rel=1e-10)
    np.testing.assert_allclose(again.correlation_params, result.correlation_params, rtol=1e-6)

    by_order, ref_o = nlme_fit("orthodont_ar1_reml")
    data = case_data(ref_o)
    subjects = data["Subject"].cat.categories.to_numpy()
    order = rng.permutation(subjects)
    blocks = pd.concat([data[data["Subject"] == s] for s in order])
    same = ij.fit(ref_o["formula"], blocks, correlation=ij.AR1(group="Subject"))
    assert same.objective == pytest.approx(by_order.objective, rel=1e-10)
    mixed = ij.fit(ref_o["formula"], data.iloc[rng.permutation(len(data))],
                   correlation=ij.AR1(group="Subject"))
    assert abs(mixed.objective - by_order.objective) > 1e-3


@pytest.fixture(scope="module")
def small_model():
    """A CorrelatedLMMData per structure on 8 groups x 5 observations, random slopes."""
    from interlace_jax.models import correlated_lmm_data
    from interlace_jax.terms import ReTerm

    rng = np.random.default_rng(3)
    n, groups = 40, np.repeat(np.arange(8), 5).astype(np.int32)
    time = np.tile([0.0, 1.0, 2.0, 4.0, 7.0], 8)
    z = np.column_stack([np.ones(n), time])
    term = ReTerm("g", groups, z, tuple(range(8)), ("(Intercept)", "t"))
    X = np.column_stack([np.ones(n), time])
    y = 1.0 + 0.3 * time + rng.normal(size=n)
    w = rng.uniform(0.5, 2.0, n)
    slope = ReTerm("g", groups, z[:, 1:], tuple(range(8)), ("t",))
    models = {
        "ar1": correlated_lmm_data([term], X, y, w, ij.AR1(group="g"), groups, tuple(range(8)),
                                   None),
        "ar1_time": correlated_lmm_data([term], X, y, w, ij.AR1(time="t", group="g"), groups,
                                        tuple(range(8)), time),
        "car1": correlated_lmm_data([term], X, y, w, ij.CAR1(time="t", group="g"), groups,
                                    tuple(range(8)), 0.3 * time),
        "cs": correlated_lmm_data([slope], X, y, w, ij.CompoundSymmetry(group="g"), groups,
                                  tuple(range(8)), None),
    }
    return models, (term, slope, X, y, w)


@pytest.mark.parametrize("kind", ["ar1_time", "car1", "cs"])
def test_derivatives_in_the_correlation_parameter_match_finite_differences(small_model, kind):
    """The exact gradient and Hessian (forward over forward, as the optimizer and
    Satterthwaite's df use them) against central differences of the objective and gradient."""
    from interlace_jax.models import forward_derivatives

    models, _ = small_model
    data = models[kind]
    params = np.array([0.9, 0.1, 0.3, 0.4] if kind != "cs" else [0.3, 0.7])
    derivs = jax.jit(lambda p: forward_derivatives(lambda x: lmm_deviance(x, data, True), p))
    h = 1e-5
    step = np.zeros_like(params)
    step[-1] = h
    _, grad, hess = derivs(jnp.asarray(params))
    plus, minus = derivs(jnp.asarray(params + step)), derivs(jnp.asarray(params - step))
    np.testing.assert_allclose(grad[-1], (plus[0] - minus[0]) / (2 * h), rtol=1e-6)
    np.testing.assert_allclose(hess[:, -1], (plus[1] - minus[1]) / (2 * h), rtol=1e-5,
                               atol=1e-6 * np.max(np.abs(hess)))


def test_whitening_at_zero_correlation_is_the_uncorrelated_model(small_model):
    models, (term, slope, X, y, w) = small_model
    deviance = jax.jit(lmm_deviance, static_argnames="reml")
    theta = jnp.asarray([0.9, 0.1, 0.3])
    plain = deviance(theta, lmm_data([term], X, y, w), True)
    for kind in ("ar1", "ar1_time"):  # phi = tanh(0) = 0
        value = deviance(jnp.append(theta, 0.0), models[kind], True)
        assert value == pytest.approx(float(plain), rel=1e-13)
    cs = models["cs"]
    zero = float(cs.structure.unconstrained(np.array([0.0]), cs.layout)[0])
    plain = deviance(jnp.asarray([0.3]), lmm_data([slope], X, y, w), False)
    assert deviance(jnp.asarray([0.3, zero]), cs, False) == pytest.approx(float(plain),
                                                                        rel=1e-13)


def test_objective_jits_and_vmaps_over_parameters(small_model):
    models, _ = small_model
    data = models["car1"]
    grid = jnp.asarray([[0.9, 0.1, 0.3, r] for r in (-1.0, 0.0, 0.5, 2.0)])
    batched = jax.jit(jax.vmap(lambda p: lmm_deviance(p, data, True)))(grid)
    single = jax.jit(lambda p: lmm_deviance(p, data, True))
    singles = [float(single(p)) for p in grid]
    np.testing.assert_allclose(batched, singles, rtol=1e-12)


def test_compound_symmetry_with_random_intercept_on_the_same_grouping_is_refused():
    data = ij.datasets.load("sleepstudy")
    with pytest.raises(ModelError, match="not identifiable"):
        ij.fit("Reaction ~ Days + (1 | Subject)", data,
               correlation=ij.CompoundSymmetry(group="Subject"))
    with pytest.raises(ModelError, match="not identifiable"):
        ij.fit("Reaction ~ Days + (Days | Subject)", data,
               correlation=ij.CompoundSymmetry(group="Subject"))


@pytest.mark.parametrize("structure, frame_edit, error, match", [
    (ij.AR1(group="Subjekt"), None, DataError, "Subjekt.*not found"),
    (ij.AR1(time="week", group="Subject"), None, DataError, "week.*not found"),
    (ij.AR1(time="label", group="Subject"), "label", DataError, "must be numeric"),
    (ij.AR1(time="half", group="Subject"), "half", DataError, "integer positions"),
    (ij.AR1(time="Days", group="Subject"), "dup", DataError, "more than once in group"),
    (ij.CAR1(time="Days", group="Subject"), "dup", DataError, "more than once in group"),
    (ij.AR1(group="row"), "row", ModelError, "single observation"),
    (ij.CompoundSymmetry(group="row"), "row", ModelError, "single observation"),
    (ij.AR1(group="pair"), "pair", ModelError, "nested"),
    ("AR1", None, ModelError, "correlation must be a structure"),
])
def test_bad_correlation_input_is_a_clear_error(structure, frame_edit, error, match):
    data = ij.datasets.load("sleepstudy").copy()
    data["label"] = data["Days"].astype(str)
    data["half"] = data["Days"] / 2.0
    data["row"] = np.arange(len(data))
    data["pair"] = np.arange(len(data)) // 20  # spans two subjects
    if frame_edit == "dup":
        data.loc[1, "Days"] = 0.0
    with pytest.raises(error, match=match):
        ij.fit("Reaction ~ Days + (1 | Subject)", data, correlation=structure)


def test_unsupported_combinations_are_refused(nlme_fit):
    data = ij.datasets.load("sleepstudy")
    with pytest.raises(ModelError, match="kenward-roger"):
        ij.fit("Reaction ~ Days + (1 | Subject)", data, correlation=ij.AR1(group="Subject"),
               df_method="kenward-roger")
    result, _ = nlme_fit("orthodont_ar1_reml")
    with pytest.raises(ModelError, match="Kenward-Roger"):
        result.t_test([0, 1, 0], ddf="kenward-roger")
    with pytest.raises(ModelError, match="profile"):
        result.conf_int(method="profile")
    with pytest.raises(ModelError, match="correlation="):
        ij.simulate(result, nsim=2)
    with pytest.raises(TypeError):
        ij.CAR1(group="Subject")  # continuous time needs its time column


def test_missing_time_drops_rows_like_any_model_column():
    from interlace_jax.formula import build_model_frame, parse_formula

    data = ij.datasets.load("sleepstudy").copy()
    data["t"] = data["Days"]
    data.loc[[3, 50], "t"] = np.nan
    frame = build_model_frame(parse_formula("Reaction ~ Days + (1 | Subject)"), data,
                              series=("Subject", "t"))
    assert frame.n_dropped == 2 and frame.y.size == 178
    np.testing.assert_array_equal(frame.series.time, np.delete(data["t"].to_numpy(), [3, 50]))
    assert frame.series.levels == frame.terms[0].levels
