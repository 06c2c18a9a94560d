"""Estimated marginal means, contrasts and multiplicity adjustments against the emmeans package
(tests/fixtures/make_emmeans_fixtures.R, tests/fixtures/emmeans/*.json).

Every table of a fixture case is rebuilt from its arguments and compared column by column. Our
REML/ML optimum agrees with lme4's closely on these fits (measured: SE within 6e-8, df within
2e-7, estimates and limits within 3e-8 of the SE), so the tolerances below are about 20 times
the measured differences. A second test evaluates the same tables with lme4's own estimates,
pbkrtest's ingredients (Kenward-Roger at lme4's theta) and lmerTest's (its numerical Hessian
and Jacobian for Satterthwaite's df), which isolates the reference grid, the averaging and the
adjustments from the fit and holds to about 1e-8.
"""

from __future__ import annotations

import dataclasses
import json
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import FIXTURES
from scipy import stats

import interlace_jax as ij
from interlace_jax.inference import (
    FixedDfTests,
    KenwardRogerTests,
    SatterthwaiteTests,
    kenward_roger,
    p_adjust,
)
from interlace_jax.inference._p_adjust import (
    Family,
    Tukey,
    pdunnx,
    ptukey_upper,
    qdunnx,
)

CASES = ["cake", "two_factor", "two_factor_missing", "two_factor_binary",
         "factorial_unbalanced", "factorial_ml", "sleepstudy_offset"]
ESTIMATE_COLUMNS = {"emmean", "estimate", "lower.CL", "upper.CL", "asymp.LCL", "asymp.UCL"}
RATIO_COLUMNS = {"t.ratio", "z.ratio"}


def load_case(case: str) -> dict:
    return json.loads((FIXTURES / "emmeans" / f"{case}.json").read_text())


def case_data(fx: dict) -> pd.DataFrame:
    if fx["data"] == "cake":  # fitted in R with temperature as an unordered factor
        data = ij.datasets.load("cake")
        data["temperature"] = data["temperature"].cat.as_unordered()
        return data
    data = pd.read_csv(FIXTURES / fx["data_dir"] / fx["data"][len("file:"):])
    for col, levels in fx["csv_factors"].items():
        data[col] = pd.Categorical(data[col].astype(str), categories=levels)
    if fx["drop_cell"]:
        cell = np.ones(len(data), bool)
        for col, level in fx["drop_cell"].items():
            cell &= (data[col] == level).to_numpy()
        data = data[~cell].reset_index(drop=True)
    return data


@pytest.fixture(scope="module")
def emm_fit():
    cache: dict[str, tuple] = {}

    def get(case: str):
        if case not in cache:
            fx = load_case(case)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the rank-deficient case warns
                result = ij.fit(fx["formula"], case_data(fx),
                                method="REML" if fx["REML"] else "ML")
            cache[case] = (result, fx)
        return cache[case]

    return get


def build(result, args: dict, tests=None) -> ij.EmmGrid:
    """The table of a fixture's args (optionally with another test object for SE and df)."""
    emm = ij.emmeans(result, args["specs"], by=args.get("by"), at=args.get("at"),
                     df_method=args.get("df"), weights=args.get("weights", "equal"))
    if tests is not None:
        emm = dataclasses.replace(emm, context=dataclasses.replace(emm.context, tests=tests))
    if "method" not in args:
        return emm
    options = {}
    if "contrast_by" in args:
        by = args["contrast_by"]
        options["by"] = None if by == ["none"] else by
    return ij.contrast(emm, args["method"], adjust=args.get("adjust"), **options)


def reference_frame(table: dict) -> pd.DataFrame:
    ref = pd.DataFrame(table["rows"], columns=table["columns"]).replace({"Inf": np.inf})
    ref["df"] = ref["df"].astype(float)
    return ref


def compare(ours: pd.DataFrame, ref: pd.DataFrame, name: str, rtol: float,
            p_rtol: float, cl_rtol: float | None = None) -> None:
    assert list(ours.columns) == list(ref.columns), name
    se = ref["SE"].to_numpy(dtype=float)
    for col in ref.columns:
        a, b = ours[col].to_numpy(), ref[col].to_numpy()
        if not pd.api.types.is_numeric_dtype(ref[col]):
            assert [str(v) for v in a] == [str(v) for v in b], f"{name}: {col}"
            continue
        a, b = a.astype(float), b.astype(float)
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=f"{name}: {col}")
        ok = ~np.isnan(b)
        a, b = a[ok], b[ok]
        tol = rtol
        if col in ESTIMATE_COLUMNS:
            scale = np.maximum(np.abs(b), se[ok])
            tol = cl_rtol if cl_rtol and col not in ("emmean", "estimate") else rtol
        elif col in RATIO_COLUMNS:
            scale = np.maximum(np.abs(b), 1.0)
        elif col == "p.value":
            # a very small p-value moves with the last digits of t; below 1e-12 both are noise
            big = b > 1e-8
            np.testing.assert_allclose(a[big], b[big], rtol=p_rtol, err_msg=f"{name}: p.value")
            mid = (b <= 1e-8) & (b > 1e-12)
            np.testing.assert_allclose(np.log(a[mid]), np.log(b[mid]), rtol=1e-4,
                                       err_msg=f"{name}: p.value")
            np.testing.assert_allclose(a[b <= 1e-12], b[b <= 1e-12], atol=1e-12)
            continue
        else:
            scale = np.abs(b)
        finite = np.isfinite(b)
        np.testing.assert_array_equal(a[~finite], b[~finite], err_msg=f"{name}: {col}")
        a, b, scale = a[finite], b[finite], scale[finite]
        assert np.all(np.abs(a - b) <= tol * scale), (
            f"{name}: {col} differs by {np.max(np.abs(a - b) / scale):.2e}")


@pytest.mark.parametrize("case", CASES)
def test_tables_match_emmeans(emm_fit, case):
    result, fx = emm_fit(case)
    assert list(result.frame.x_names) == fx["coef_names"]
    for table in fx["tables"]:
        obj = build(result, table["args"])
        ours = obj.summary(infer=(True, True), level=table["args"].get("level", 0.95))
        compare(ours, reference_frame(table), table["name"], rtol=2e-6, p_rtol=5e-5)
        assert ours.attrs["adjust"] == table["adjust"], table["name"]
        assert [m for m in ours.attrs["messages"] if not m.startswith("Note")] == \
            table["messages"], table["name"]
        assert list(obj.frame.columns) == table["default_columns"], table["name"]


def _reference_tests(result, fx: dict, method: str):
    """The test object of ``method`` from lme4's estimates and R's ingredients."""
    beta = np.asarray(fx["beta"])
    theta, sigma = np.asarray(fx["varpar"][:-1]), fx["varpar"][-1]
    vcov = np.asarray(fx["vcov_beta"])
    if method == "kenward-roger":
        with ij.x64():
            return KenwardRogerTests(beta, sigma, kenward_roger(theta, sigma, result._data))
    if method == "satterthwaite":
        jac = np.stack([np.asarray(j) for j in fx["jac_vcov_beta"]], axis=2)
        return SatterthwaiteTests(beta, vcov, sigma, np.asarray(fx["vcov_varpar"]), jac)
    return FixedDfTests(beta, vcov, sigma, np.inf)


@pytest.mark.parametrize("case", ["cake", "two_factor_missing", "factorial_unbalanced",
                                  "factorial_ml"])
def test_tables_at_lme4_optimum(emm_fit, case):
    result, fx = emm_fit(case)
    assert len(result._terms) == 1  # theta in lme4's order is the computation order
    for table in fx["tables"]:
        method = table["args"].get("df") or ("kenward-roger" if fx["REML"] else "satterthwaite")
        obj = build(result, table["args"], _reference_tests(result, fx, method))
        ours = obj.summary(infer=(True, True), level=table["args"].get("level", 0.95))
        # R's ptukey and qtukey are accurate to about 1e-7 (test_studentized_range_matches_r),
        # which bounds the agreement of Tukey-adjusted p-values and limits
        compare(ours, reference_frame(table), table["name"], rtol=1e-8, p_rtol=1e-6,
                cl_rtol=1e-6)


# ----- distributions and adjustments against R ------------------------------------------------
@pytest.fixture(scope="module")
def distributions():
    return load_case("distributions")


def test_p_adjust_matches_r(distributions):
    ref = distributions["p_adjust"]
    p = np.array([np.nan if v is None else v for v in ref["p"]])
    for method, expected in ref["adjusted"].items():
        expected = np.array([np.nan if v is None else v for v in expected])
        np.testing.assert_allclose(p_adjust(p, "BH" if method == "fdr" else method, ref["n"]),
                                   expected, rtol=1e-14, err_msg=method)


def test_studentized_range_matches_r(distributions):
    """scipy's studentized range against R's ptukey and qtukey. R's are the less accurate
    (see the exact two-means case below): about 1e-7 absolute for ptukey, and qtukey stops its
    secant steps at 1e-4 (reached at 12.25 for 18 means and 4.7 df)."""
    rows = pd.DataFrame(distributions["ptukey"]).replace({"Inf": np.inf})
    for r in rows.itertuples():
        assert ptukey_upper(np.array([r.q]), r.nmeans, np.array([float(r.df)]))[0] == \
            pytest.approx(r.upper, rel=1e-5, abs=2e-7)
    rows = pd.DataFrame(distributions["qtukey"]).replace({"Inf": np.inf})
    for r in rows.itertuples():
        family = Family((np.arange(2),), int(r.nmeans), "pairs", (1,))
        cv = Tukey().critical_values(r.p, np.array([float(r.df)]), family)[0]
        assert cv * np.sqrt(2) == pytest.approx(r.q, rel=2e-4 if r.df < 5 else 1e-6)


def test_studentized_range_of_two_means_is_exact():
    """The range of two means is sqrt(2) |t|: P(Q > q) = 2 P(T > q / sqrt 2). scipy's
    integration holds to about 2e-12 absolute (R's ptukey to 1e-7, see above)."""
    q = np.linspace(0.2, 8.0, 14)
    for df in (1.0, 4.7, 42.0, 5000.0, np.inf):
        exact = 2 * stats.t.sf(q / np.sqrt(2), df)
        np.testing.assert_allclose(ptukey_upper(q, 2, np.full(q.size, df)), exact,
                                   rtol=1e-7, atol=1e-11)


def test_dunnettx_matches_emmeans(distributions):
    rows = pd.DataFrame(distributions["pdunnx"]).replace({"Inf": np.inf})
    for r in rows.itertuples():
        assert pdunnx(np.array([r.x]), int(r.k), np.array([float(r.df)]))[0] == \
            pytest.approx(r.value, rel=1e-8)  # through ptukey with 4.7 to inf df, see above
    for r in pd.DataFrame(distributions["qdunnx"]).itertuples():
        assert qdunnx(r.p, int(r.k), float(r.df)) == pytest.approx(r.value, rel=1e-7)


# ----- invariances and identities ---------------------------------------------------------------
def test_balanced_saturated_means_are_cell_means(emm_fit):
    result, _ = emm_fit("cake")
    data = ij.datasets.load("cake")
    cells = data.groupby(["recipe", "temperature"], observed=True)["angle"].mean()
    frame = ij.emmeans(result, ["recipe", "temperature"]).frame
    np.testing.assert_allclose(
        frame["emmean"], [cells[(r, t)] for r, t in zip(frame["recipe"], frame["temperature"])],
        rtol=1e-10)
    recipe = ij.emmeans(result, "recipe").frame
    np.testing.assert_allclose(recipe["emmean"],
                               data.groupby("recipe", observed=True)["angle"].mean(), rtol=1e-10)


@pytest.mark.parametrize("df_method", ["kenward-roger", "satterthwaite", "asymptotic"])
def test_contrasts_are_the_fits_t_tests(emm_fit, df_method):
    """A pairwise difference is lmerTest's contest1D of its linear function."""
    result, _ = emm_fit("two_factor")
    pairs = ij.pairs(ij.emmeans(result, "B", by="A", df_method=df_method), adjust="none")
    L = pairs.linfct_frame[list(result.frame.x_names_formulaic)]
    tests = result.t_test(L.to_numpy(), ddf="normal" if df_method == "asymptotic" else df_method)
    frame = pairs.frame
    np.testing.assert_allclose(frame["estimate"], tests["Estimate"], rtol=1e-10)
    np.testing.assert_allclose(frame["SE"], tests["Std. Error"], rtol=1e-10)
    np.testing.assert_allclose(frame["df"], tests["df"], rtol=1e-10)
    np.testing.assert_allclose(frame["p.value"], tests["Pr(>|t|)"], rtol=1e-8)


def test_level_order_does_not_change_the_means(emm_fit):
    result, fx = emm_fit("two_factor")
    data = case_data(fx)
    data["A"] = data["A"].cat.reorder_categories(["a3", "a1", "a2"])
    refit = ij.fit(fx["formula"], data)
    ours = ij.emmeans(refit, "A").frame.set_index("A")
    theirs = ij.emmeans(result, "A").frame.set_index("A").loc[["a3", "a1", "a2"]]
    np.testing.assert_allclose(ours[["emmean", "SE"]], theirs[["emmean", "SE"]], rtol=1e-6)
    np.testing.assert_allclose(ours["df"], theirs["df"], rtol=1e-5)


def test_averaging_over_covariate_values_is_the_middle_value(emm_fit):
    """Without an interaction with x, the mean over x = 1, 2, 3 is the mean at x = 2."""
    result, _ = emm_fit("two_factor")
    over = ij.emmeans(result, "A", at={"x": [1.0, 2.0, 3.0]})
    at2 = ij.emmeans(result, "A", at={"x": 2})
    np.testing.assert_allclose(over.frame["emmean"], at2.frame["emmean"], rtol=1e-12)
    assert over.frame.attrs["messages"][0] == "Results are averaged over the levels of: B, x"


def test_method_and_printing(emm_fit):
    result, _ = emm_fit("cake")
    emm = result.emmeans("temperature", by="recipe")
    pd.testing.assert_frame_equal(emm.frame, ij.emmeans(result, "~ temperature | recipe").frame)
    text = str(emm.pairs())
    assert "recipe = A:" in text and "temperature175 - temperature185" in text
    assert "P value adjustment: tukey method for comparing a family of 6 estimates" in text
    conf = emm.pairs().confint(level=0.9)
    assert {"lower.CL", "upper.CL"} <= set(conf.columns) and "p.value" not in conf.columns
    assert ij.emmeans(result, "1").frame["1"].tolist() == ["overall"]


def test_default_df_methods(emm_fit, monkeypatch):
    reml, _ = emm_fit("cake")
    ml, _ = emm_fit("factorial_ml")
    assert ij.emmeans(reml, "recipe").df_method == "kenward-roger"
    assert ij.emmeans(ml, "a").df_method == "satterthwaite"
    monkeypatch.setattr("interlace_jax.results._emmeans.DF_LIMIT", 100)
    big = ij.emmeans(reml, "recipe")
    assert big.df_method == "asymptotic"
    assert np.all(np.isinf(big.frame["df"])) and "asymp.LCL" in big.frame.columns
    assert any("exceeds 100" in m for m in big.frame.attrs["messages"])


def test_tukey_outside_pairs_becomes_sidak(emm_fit):
    result, _ = emm_fit("cake")
    poly = ij.contrast(ij.emmeans(result, "temperature"), "poly", adjust="tukey").frame
    assert poly.attrs["adjust"] == "sidak"
    assert any("changed to \"sidak\"" in m for m in poly.attrs["messages"])


def test_custom_and_reference_options(emm_fit):
    result, _ = emm_fit("cake")
    emm = ij.emmeans(result, "recipe")
    last = ij.contrast(emm, "trt.vs.ctrl", ref="C").frame
    assert last["contrast"].tolist() == ["A - C", "B - C"]
    k = ij.contrast(emm, "trt.vs.ctrlk").frame
    pd.testing.assert_frame_equal(last, k)
    temperature = ij.contrast(ij.emmeans(result, "temperature"), "trt.vs.ctrl", ref="185")
    assert temperature.frame["contrast"].iloc[0] == "temperature175 - temperature185"
    custom = ij.contrast(emm, {"A-B": [1, -1, 0]}).frame
    pairs = ij.pairs(emm).frame
    assert custom["estimate"].iloc[0] == pytest.approx(pairs["estimate"].iloc[0], rel=1e-12)


# ----- bad input ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("kwargs", "match"), [
    ({"specs": "oven"}, "'oven' is not a variable of the fixed effects"),
    ({"specs": "recipe", "by": "recipe"}, "cannot be both in specs and in by"),
    ({"specs": "pairwise ~ recipe"}, "left-hand side"),
    ({"specs": "recipe", "at": {"oven": 1}}, "which the fixed effects do not use"),
    ({"specs": "recipe", "at": {"recipe": ["D"]}}, "level 'D' of factor 'recipe'"),
    ({"specs": "recipe", "df_method": "residual"}, "unknown df_method"),
    ({"specs": "recipe", "weights": "heavy"}, "unknown weights"),
    ({"specs": "recipe", "level": 1.5}, "confidence level"),
])
def test_bad_emmeans_arguments(emm_fit, kwargs, match):
    result, _ = emm_fit("cake")
    with pytest.raises(ij.ModelError, match=match):
        ij.emmeans(result, **kwargs)


def test_numeric_covariate_needs_at(emm_fit):
    result, _ = emm_fit("two_factor")
    with pytest.raises(ij.ModelError, match=r"'x' is a numeric covariate.*at=\{'x'"):
        ij.emmeans(result, "x")
    with pytest.raises(ij.ModelError, match="must be finite numbers"):
        ij.emmeans(result, "x", at={"x": [1.0, np.nan]})


def test_kenward_roger_needs_reml(emm_fit):
    ml, _ = emm_fit("factorial_ml")
    with pytest.raises(ij.ModelError, match="needs a REML fit"):
        _ = ij.emmeans(ml, "a", df_method="kenward-roger").frame


@pytest.mark.parametrize(("method", "options", "match"), [
    ("consecutive", {}, "unknown contrast method"),
    ({"bad": [1, -1]}, {}, "needs 3 finite numbers"),
    ("trt.vs.ctrl", {"ref": "Z"}, "reference 'Z'"),
    ("poly", {"degree": 2}, "does not take these options"),
])
def test_bad_contrasts(emm_fit, method, options, match):
    result, _ = emm_fit("cake")
    with pytest.raises(ij.ModelError, match=match):
        ij.contrast(ij.emmeans(result, "recipe"), method, **options)


def test_bad_adjustments(emm_fit):
    result, _ = emm_fit("cake")
    pairs = ij.pairs(ij.emmeans(result, "recipe"))
    with pytest.raises(ij.ModelError, match="unknown adjust method 'tukeyy'"):
        pairs.summary(adjust="tukeyy")
    with pytest.raises(ij.ModelError, match="'mvt'.*not implemented"):
        pairs.summary(adjust="mvt")
    with pytest.raises(ij.ModelError, match="'by' variable 'oven'"):
        ij.contrast(ij.emmeans(result, "recipe"), "pairwise", by="oven")
    with pytest.raises(ij.ModelError, match="needs the result of emmeans"):
        ij.contrast(result, "pairwise")


def test_nested_designs_are_refused():
    rng = np.random.default_rng(1)
    n = 60
    data = pd.DataFrame({
        "a": np.repeat(["p", "q"], n // 2),
        "b": np.repeat(["b1", "b2", "b3", "b4"], n // 4),  # b1, b2 only with p
        "g": np.tile([f"g{i}" for i in range(6)], n // 6),
        "y": rng.normal(size=n),
    })
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # b is aliased with a: lme4 drops a column
        result = ij.fit("y ~ a + b + (1 | g)", data)
    with pytest.raises(ij.ModelError, match="'b' is nested in 'a' in the data"):
        ij.emmeans(result, "a")
    crossed = data.assign(b=np.tile(["u", "v"], n // 2))
    result = ij.fit("y ~ a + a:b + (1 | g)", crossed)
    with pytest.raises(ij.ModelError, match="'b' is nested in 'a' by the formula"):
        ij.emmeans(result, "a")


def test_glmm_means_are_asymptotic_on_the_link_scale():
    # emmeans for a glmer fit: linear predictor at each level (population level), SE from
    # vcov, infinite df and z intervals; pairs() as z tests
    cbpp = ij.datasets.load("cbpp")
    m = ij.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp,
                 family="binomial")
    emm = ij.emmeans(m, "period")
    frame = emm.frame
    beta, vcov = m.fe_params.to_numpy(), m.cov_params().to_numpy()
    L = np.column_stack([np.ones(4), np.vstack([np.zeros(3), np.eye(3)])])
    np.testing.assert_allclose(frame["emmean"], L @ beta, rtol=1e-12)
    np.testing.assert_allclose(frame["SE"], np.sqrt(np.einsum("mi,ij,mj->m", L, vcov, L)),
                               rtol=1e-12)
    assert np.all(np.isinf(frame["df"]))
    z = stats.norm.ppf(0.975)
    np.testing.assert_allclose(frame["asymp.LCL"], frame["emmean"] - z * frame["SE"])
    new = cbpp.head(4).assign(period=["1", "2", "3", "4"])
    np.testing.assert_allclose(frame["emmean"], m.predict(new, include_re=False), rtol=1e-12)
    assert "logit (not the response) scale" in str(emm)
    assert "z.ratio" in ij.pairs(emm).frame.columns
    with pytest.raises(ij.ModelError, match="asymptotic"):
        ij.emmeans(m, "period", df_method="satterthwaite")


def test_emmeans_of_a_clmm_fit_is_a_clear_error():
    wine = ij.datasets.load("wine")
    m = ij.clmm("rating ~ temp + contact + (1 | judge)", wine)
    with pytest.raises(ij.ModelError, match="emmeans"):
        ij.emmeans(m, "temp")
