"""Tests of interlace_jax.formula.build_model_frame and model_matrices_for.

Expected names, codings and level orders are R's (lme4 ``lFormula``, ``model.matrix``, factor
``a:b``); the data are small frames built here.
"""

import numpy as np
import pandas as pd
import pytest
from helpers_frontend import sleep_like, to_backend

from interlace_jax._errors import DataError, FormulaError, ModelError
from interlace_jax.formula import (
    ModelFrame,
    build_model_frame,
    model_matrices_for,
    parse_formula,
)


def frame(formula, data, **kw):
    random = kw.pop("random", None)
    groups = kw.pop("groups", None)
    return build_model_frame(parse_formula(formula, random=random, groups=groups), data, **kw)


def nested_data():
    """3 batches (categories in the order C, A, B) x 2 casks x 2 samples."""
    batch = np.repeat(["A", "B", "C"], 4)
    cask = np.tile(np.repeat(["a", "b"], 2), 3)
    return pd.DataFrame(
        {
            "y": np.arange(12, dtype=float) % 5,
            "batch": pd.Categorical(batch, categories=["C", "A", "B"]),
            "cask": cask,
        }
    )


def cond_data(n_subj=6, reps=2, seed=1):
    rng = np.random.default_rng(seed)
    subj = np.repeat([f"s{k}" for k in range(n_subj)], 3 * reps)
    cond = np.tile(np.repeat(["a", "b", "c"], reps), n_subj)
    return pd.DataFrame(
        {
            "y": rng.normal(size=len(subj)),
            "x": rng.normal(size=len(subj)),
            "cond": cond,
            "subj": subj,
        }
    )


# --- shapes and names ---------------------------------------------------------------------------


def test_sleepstudy_slopes():
    df = sleep_like()
    mf = frame("Reaction ~ Days + (Days | Subject)", df)
    assert isinstance(mf, ModelFrame)
    n = len(df)
    assert mf.y.shape == (n,) and mf.y.dtype == np.float64
    np.testing.assert_array_equal(mf.y, df["Reaction"].to_numpy())
    assert mf.X.shape == (n, 2)
    np.testing.assert_array_equal(mf.X, np.column_stack([np.ones(n), df["Days"]]))
    assert mf.x_names == ("(Intercept)", "Days")
    assert mf.x_names_formulaic == ("Intercept", "Days")
    assert mf.dropped_columns == () and mf.kept_columns.tolist() == [0, 1]
    np.testing.assert_array_equal(mf.offset, np.zeros(n))
    np.testing.assert_array_equal(mf.weights, np.ones(n))
    assert mf.row_index.tolist() == list(range(n)) and mf.n_dropped == 0 and mf.n_rows_in == n
    assert mf.response_name == "Reaction"
    (t,) = mf.terms
    assert t.group == "Subject" and t.source == "(Days | Subject)" and t.factors == ("Subject",)
    assert t.z.shape == (n, 2) and t.z_names == ("(Intercept)", "Days")
    np.testing.assert_array_equal(t.z, mf.X)
    # levels in the Categorical's own order (310 first), refs index them
    assert t.levels == ("310", "308", "309", "311", "312", "313")
    assert t.refs.dtype == np.int32
    np.testing.assert_array_equal(np.asarray(t.levels)[t.refs], df["Subject"].astype(str))


def test_uncorrelated_terms():
    mf = frame("Reaction ~ Days + (Days || Subject)", sleep_like())
    assert [(t.group, t.z_names, t.lhs) for t in mf.terms] == [
        ("Subject", ("(Intercept)",), "1"),
        ("Subject", ("Days",), "0 + Days"),
    ]


def test_factor_fixed_effects_names():
    df = cond_data()
    mf = frame("y ~ cond * x + (1 | subj)", df)
    assert mf.x_names == ("(Intercept)", "condb", "condc", "x", "condb:x", "condc:x")
    assert mf.x_names_formulaic[:3] == ("Intercept", "cond[T.b]", "cond[T.c]")
    np.testing.assert_array_equal(mf.X[:, 1], (df["cond"] == "b").astype(float))


def test_ordered_factor_gets_polynomial_contrasts_as_in_r():
    """R's contr.poly for an ordered factor (3 levels: .L = (-1, 0, 1)/sqrt(2), .Q = (1, -2,
    1)/sqrt(6)), in main effects, interactions and bars; an unordered copy keeps treatment
    contrasts; new data replay the coding."""
    df = cond_data()
    df["dose"] = pd.Categorical(df["cond"].map({"a": "lo", "b": "mid", "c": "hi"}),
                                categories=["lo", "mid", "hi"], ordered=True)
    mf = frame("y ~ dose * x + (1 + dose | subj)", df)
    assert mf.x_names == ("(Intercept)", "dose.L", "dose.Q", "x", "dose.L:x", "dose.Q:x")
    assert mf.terms[0].z_names == ("(Intercept)", "dose.L", "dose.Q")
    position = df["dose"].cat.codes.to_numpy()
    np.testing.assert_allclose(mf.X[:, 1], (position - 1) / np.sqrt(2), atol=1e-15)
    np.testing.assert_allclose(mf.X[:, 2], np.array([1, -2, 1])[position] / np.sqrt(6),
                               atol=1e-15)
    np.testing.assert_allclose(mf.X[:, 4], mf.X[:, 1] * df["x"], atol=1e-15)
    np.testing.assert_array_equal(model_matrices_for(mf, df.drop(columns="y")).X, mf.X)
    unordered = frame("y ~ dose + (1 | subj)", df.assign(dose=df["dose"].cat.as_unordered()))
    assert unordered.x_names == ("(Intercept)", "dosemid", "dosehi")


def test_ordered_pyarrow_dictionary_is_an_ordered_factor():
    import pyarrow as pa

    df = cond_data()
    df["dose"] = pd.Categorical(df["cond"], categories=["a", "b", "c"], ordered=True)
    table = pa.Table.from_pandas(df)
    assert table.schema.field("dose").type.ordered
    mf = frame("y ~ dose + (1 | subj)", table)
    assert mf.x_names == ("(Intercept)", "dose.L", "dose.Q")


def test_r_spellings_in_expressions():
    """factor()/as.factor() of a numeric column (levels printed as R does), ^ as a power inside
    a call, TRUE, as.numeric(), sqrt(): names as R's model.matrix writes them; a backticked
    name keeps its ^; new data replay the coding."""
    df = cond_data()
    rng = np.random.default_rng(3)
    df["k"] = np.tile([1.0, 2.0, 3.0], len(df) // 3)
    df["z"] = rng.normal(size=len(df))
    df["a^b"] = rng.normal(size=len(df))
    df["w"] = rng.normal(size=len(df))
    mf = frame("sqrt(y + 10) ~ as.factor(k) + I(x^3) + poly(z, 2, raw = TRUE) + `a^b` "
               "+ as.numeric(w > 0) + (1 | subj)", df)
    assert mf.x_names == ("(Intercept)", "as.factor(k)2", "as.factor(k)3", "I(x^3)",
                          "poly(z, 2, raw = TRUE)1", "poly(z, 2, raw = TRUE)2", "a^b",
                          "as.numeric(w > 0)")
    np.testing.assert_allclose(mf.y, np.sqrt(df["y"] + 10))
    np.testing.assert_array_equal(mf.X[:, 1], (df["k"] == 2).astype(float))
    np.testing.assert_allclose(mf.X[:, 3], df["x"] ** 3)
    np.testing.assert_allclose(mf.X[:, 5], df["z"] ** 2)
    np.testing.assert_array_equal(mf.X[:, 7], (df["w"] > 0).astype(float))
    new = model_matrices_for(mf, df.drop(columns="y").iloc[::-1])
    np.testing.assert_array_equal(new.X, mf.X[::-1])
    assert frame("y ~ factor(k) + (1 | subj)", df).x_names == (
        "(Intercept)", "factor(k)2", "factor(k)3")


def test_an_r_function_formulas_lack_is_a_clear_error():
    df = cond_data()
    with pytest.raises(DataError, match=r"fixed-effects part.*name 'ns' is not defined"):
        frame("y ~ ns(x, 3) + (1 | subj)", df)


def test_logical_predictor_is_coded_as_a_factor():
    df = cond_data()
    df["flag"] = df["x"] > 0
    mf = frame("y ~ flag + (1 | subj)", df)
    assert mf.x_names == ("(Intercept)", "flagTRUE")
    np.testing.assert_array_equal(mf.X[:, 1], df["flag"].astype(float))
    assert frame("y ~ 0 + flag + (1 | subj)", df).x_names == ("flagFALSE", "flagTRUE")


def test_response_expressions_and_logical_response():
    df = sleep_like()
    mf = frame("np.log(Reaction) ~ Days + (1 | Subject)", df)
    np.testing.assert_allclose(mf.y, np.log(df["Reaction"]))
    assert mf.response_name == "np.log(Reaction)"
    df["ok"] = df["Reaction"] > 280
    np.testing.assert_array_equal(frame("ok ~ Days + (1 | Subject)", df).y, df["ok"].astype(float))
    df["base"] = 200.0
    mf = frame("Reaction - base ~ Days + (1 | Subject)", df)  # arithmetic, as in R
    np.testing.assert_allclose(mf.y, df["Reaction"] - 200.0)


def test_zero_bars_is_allowed():
    mf = frame("Reaction ~ Days", sleep_like())
    assert mf.terms == ()


@pytest.mark.parametrize("backend", ["polars", "pyarrow"])
def test_backends_give_the_same_frame(backend):
    df = cond_data()
    df["cond"] = pd.Categorical(df["cond"], categories=["c", "a", "b"])
    f = "y ~ cond + x + (1 + x | subj) + (0 + cond | subj)"
    a, b = frame(f, df), frame(f, to_backend(df, backend))
    for name in ("y", "X", "offset", "weights", "row_index"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.x_names == b.x_names == ("(Intercept)", "conda", "condb", "x")
    for s, t in zip(a.terms, b.terms, strict=True):
        assert s.levels == t.levels and s.z_names == t.z_names
        np.testing.assert_array_equal(s.refs, t.refs)
        np.testing.assert_array_equal(s.z, t.z)


# --- grouping factors -------------------------------------------------------------------------


def test_nested_grouping_codes_and_level_order():
    df = nested_data()
    mf = frame("y ~ 1 + (1 | batch/cask)", df)
    inner, outer = mf.terms
    # lme4: (1 | batch/cask) -> (1 | cask:batch) + (1 | batch); levels of a:b ordered by a, then b
    assert inner.group == "cask:batch" and inner.factors == ("cask", "batch")
    assert inner.levels == ("a:C", "a:A", "a:B", "b:C", "b:A", "b:B")
    assert outer.group == "batch" and outer.levels == ("C", "A", "B")
    labels = df["cask"] + ":" + df["batch"].astype(str)
    np.testing.assert_array_equal(np.asarray(inner.levels)[inner.refs], labels)
    np.testing.assert_array_equal(np.asarray(outer.levels)[outer.refs], df["batch"].astype(str))


def test_interaction_with_numeric_factor_keeps_only_observed_combinations():
    df = pd.DataFrame(
        {
            "y": np.arange(8.0),
            "g": ["b", "b", "a", "a", "b", "a", "b", "b"],
            "k": [2.0, 10.0, 2.0, 2.0, 2.0, 2.0, 10.0, 2.0],
        }
    )
    mf = frame("y ~ (1 | g:k)", df)
    (t,) = mf.terms
    # numeric levels sort numerically (2 before 10) and print without ".0"; a:10 never occurs
    assert t.levels == ("a:2", "b:2", "b:10")
    assert t.refs.tolist() == [1, 2, 0, 0, 1, 0, 2, 1]


def test_numeric_grouping_factor_and_unused_levels():
    df = pd.DataFrame(
        {
            "y": np.arange(6.0),
            "g": [3, 1, 3, 1, 2, 2],
            "h": pd.Categorical(["p", "q", "p", "q", "p", "q"], categories=["q", "unused", "p"]),
        }
    )
    mf = frame("y ~ (1 | g) + (1 | h)", df)
    assert mf.terms[0].levels == ("1", "2", "3")
    assert mf.terms[0].refs.tolist() == [2, 0, 2, 0, 1, 1]
    assert mf.terms[1].levels == ("q", "p")


def test_levels_only_in_dropped_rows_are_dropped():
    df = sleep_like()
    df.loc[df["Subject"] == "313", "Reaction"] = np.nan
    mf = frame("Reaction ~ Days + (1 | Subject)", df)
    assert "313" not in mf.terms[0].levels and len(mf.terms[0].levels) == 5
    assert mf.n_dropped == 5


# --- random-effect model matrices -----------------------------------------------------------


def test_categorical_slope_columns():
    df = cond_data()
    full = frame("y ~ x + (0 + cond | subj)", df).terms[0]
    assert full.z_names == ("conda", "condb", "condc")  # one indicator per level, as lme4
    expected = np.column_stack([(df["cond"] == c).astype(float) for c in "abc"])
    np.testing.assert_array_equal(full.z, expected)
    contrast = frame("y ~ x + (1 + cond | subj)", df).terms[0]
    assert contrast.z_names == ("(Intercept)", "condb", "condc")
    np.testing.assert_array_equal(contrast.z[:, 1:], expected[:, 1:])
    implicit = frame("y ~ x + (cond | subj)", df).terms[0]
    assert implicit.z_names == ("(Intercept)", "condb", "condc")


def test_double_bar_with_factor_gives_full_dummy_coding_as_lme4():
    terms = frame("y ~ x + (cond || subj)", cond_data()).terms
    assert [t.z_names for t in terms] == [("(Intercept)",), ("conda", "condb", "condc")]


# --- rank deficiency ----------------------------------------------------------------------------


def test_rank_deficient_columns_are_dropped_with_a_warning():
    df = sleep_like()
    df["Days2"] = 2 * df["Days"]
    df["Weeks"] = df["Days"] / 7
    with pytest.warns(
        UserWarning,
        match=r"fixed-effect model matrix is rank deficient so dropping 2 columns / "
        r"coefficients: Days2, Weeks",
    ):
        mf = frame("Reaction ~ Days + Days2 + Weeks + (1 | Subject)", df)
    assert mf.X.shape == (len(df), 2)
    assert mf.x_names == ("(Intercept)", "Days") and mf.dropped_columns == ("Days2", "Weeks")
    assert mf.kept_columns.tolist() == [0, 1]


def test_rank_deficiency_keeps_earlier_columns_of_factors():
    df = cond_data()
    df["also_b"] = (df["cond"] == "b").astype(float)
    with pytest.warns(UserWarning, match="dropping 1 column / coefficient: also_b"):
        mf = frame("y ~ cond + also_b + (1 | subj)", df)
    assert mf.x_names == ("(Intercept)", "condb", "condc")


# --- offsets and weights ------------------------------------------------------------------------


def test_offsets_from_formula_and_argument():
    df = sleep_like()
    df["off"] = np.linspace(0, 1, len(df))
    df["n"] = np.arange(1.0, len(df) + 1)
    mf = frame("Reaction ~ Days + offset(off) + offset(np.log(n)) + (1 | Subject)", df)
    np.testing.assert_allclose(mf.offset, df["off"] + np.log(df["n"]))
    extra = np.full(len(df), 2.0)
    mf = frame("Reaction ~ Days + offset(off) + (1 | Subject)", df, offset=extra)
    np.testing.assert_allclose(mf.offset, df["off"] + 2.0)
    mf = frame("Reaction ~ Days + (1 | Subject)", df, offset="off")
    np.testing.assert_allclose(mf.offset, df["off"])
    assert mf.offset_column == "off"


def test_weights_from_a_column_and_from_an_array():
    df = sleep_like()
    df["w"] = np.linspace(0.5, 2, len(df))
    np.testing.assert_array_equal(
        frame("Reaction ~ Days + (1|Subject)", df, weights="w").weights, df["w"]
    )
    df.loc[3, "Reaction"] = np.nan
    w = np.linspace(1, 3, len(df))
    mf = frame("Reaction ~ Days + (1 | Subject)", df, weights=w)
    assert mf.n_dropped == 1 and 3 not in mf.row_index
    np.testing.assert_array_equal(mf.weights, w[mf.row_index])


def test_missing_weights_column_value_drops_the_row():
    df = sleep_like()
    df["w"] = 1.0
    df.loc[0, "w"] = np.nan
    mf = frame("Reaction ~ Days + (1 | Subject)", df, weights="w")
    assert mf.n_dropped == 1 and mf.row_index[0] == 1


def test_missing_values_in_any_used_column_drop_rows_once():
    df = sleep_like()
    df.loc[0, "Days"] = np.nan
    df.loc[7, "Subject"] = np.nan
    df.loc[9, "Reaction"] = np.nan
    mf = frame("Reaction ~ Days + (1 | Subject)", df)
    assert mf.n_dropped == 3
    assert mf.row_index.tolist() == [i for i in range(30) if i not in (0, 7, 9)]
    assert mf.X.shape[0] == mf.terms[0].refs.shape[0] == mf.y.shape[0] == 27


def test_stateful_transforms_read_their_columns():
    df = sleep_like()
    mf = frame("Reaction ~ poly(Days, 2) + (1 | Subject)", df)
    assert mf.x_names == ("(Intercept)", "poly(Days, 2)1", "poly(Days, 2)2")
    mf = frame("Reaction ~ center(Days) + (1 | Subject)", df)
    np.testing.assert_allclose(mf.X[:, 1], df["Days"] - df["Days"].mean())


# --- bad input ----------------------------------------------------------------------------------


def test_non_numeric_response():
    df = cond_data()
    with pytest.raises(
        DataError, match="the response 'cond' must be numeric, but column 'cond' is categorical"
    ):
        frame("cond ~ x + (1 | subj)", df)


def test_single_level_group():
    df = cond_data()
    df["one"] = "only"
    with pytest.raises(
        ModelError, match="grouping factor 'one' has 1 level; a random effect needs at least 2"
    ):
        frame("y ~ x + (1 | one)", df)


def test_too_many_levels():
    df = cond_data()
    df["id"] = np.arange(len(df))
    with pytest.raises(
        ModelError,
        match="number of levels of each grouping factor must be < number of observations",
    ):
        frame("y ~ x + (1 | id)", df)


def test_too_many_random_effects_for_a_vector_term():
    df = cond_data(n_subj=6, reps=1)  # 18 rows, 6 subjects x 3 columns = 18 random effects
    with pytest.raises(
        ModelError,
        match=r"number of observations \(=18\) <= number of random effects \(=18\) for term "
        r"\(1 \+ cond \| subj\)",
    ):
        frame("y ~ x + (1 + cond | subj)", df)


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ("neg", r"weights must be non-negative; negative values in rows \[2\]"),
        ("nan", r"weights has non-finite values \(NaN or inf\) in rows \[1\]"),
        ("short", r"weights must have one value per row of the data: expected shape \(30,\)"),
        ("cond", "weights column 'cond' must be numeric"),
    ],
)
def test_bad_weights(weights, message):
    df = sleep_like()
    df["cond"] = "a"
    arg = {
        "neg": np.where(np.arange(30) == 2, -1.0, 1.0),
        "nan": np.where(np.arange(30) == 1, np.nan, 1.0),
        "short": np.ones(29),
        "cond": "cond",
    }[weights]
    with pytest.raises(DataError, match=message):
        frame("Reaction ~ Days + (1 | Subject)", df, weights=arg)


def test_bad_offset_array():
    with pytest.raises(DataError, match="offset has non-finite values"):
        frame("Reaction ~ Days + (1 | Subject)", sleep_like(), offset=np.full(30, np.inf))


def test_empty_data_and_all_rows_missing():
    df = sleep_like()
    with pytest.raises(DataError, match="data has no rows"):
        frame("Reaction ~ Days + (1 | Subject)", df.iloc[:0])
    df["Days"] = np.where(np.arange(30) % 2 == 0, np.nan, df["Days"])
    df["Reaction"] = np.where(np.arange(30) % 2 == 1, np.nan, df["Reaction"])
    with pytest.raises(DataError, match="no rows left after dropping the 30 rows with missing"):
        frame("Reaction ~ Days + (1 | Subject)", df)
    df["Reaction"] = np.nan
    with pytest.raises(DataError, match="column 'Reaction' has only missing values"):
        frame("Reaction ~ Days + (1 | Subject)", df)


def test_missing_column_and_missing_response():
    with pytest.raises(DataError, match="column 'Dayz' not found in data; did you mean 'Days'"):
        frame("Reaction ~ Dayz + (1 | Subject)", sleep_like())
    with pytest.raises(FormulaError, match="the formula has no response"):
        frame("~ Days + (1 | Subject)", sleep_like())


def test_non_finite_values_from_an_expression():
    df = sleep_like()
    with np.errstate(divide="ignore"), pytest.raises(DataError, match="np.log\\(Days\\)"):
        frame("Reaction ~ np.log(Days) + (1 | Subject)", df)


def test_numeric_designs_built_again_match_formulaic():
    # a right-hand side of numeric columns is built by formulaic once and from its saved
    # spec afterwards: same matrix and names, and a categorical column of the same name
    # goes through formulaic again
    from interlace_jax.formula import _design

    rng = np.random.default_rng(3)
    df = pd.DataFrame({"y": rng.normal(size=24), "x": rng.normal(size=24),
                       "k": np.arange(24) % 4, "g": np.repeat(["a", "b", "c"], 8)})
    f = "y ~ x * k + (0 + k | g)"
    _design._NUMERIC_SPECS.clear()
    first = frame(f, df)
    again = frame(f, df.iloc[::-1].reset_index(drop=True))
    assert again.fixed_spec is first.fixed_spec  # the saved spec, no formulaic
    assert again.x_names == first.x_names == ("(Intercept)", "x", "k", "x:k")
    np.testing.assert_array_equal(again.X, first.X[::-1])
    np.testing.assert_array_equal(again.terms[0].z, first.terms[0].z[::-1])
    np.testing.assert_array_equal(first.X[:, 3], df["x"] * df["k"])
    as_factor = frame(f, df.assign(k=df["k"].astype(str)))
    assert as_factor.x_names[:5] == ("(Intercept)", "x", "k1", "k2", "k3")


# --- new data for prediction ------------------------------------------------------------------


def test_new_design_replays_the_training_design():
    df = cond_data()
    df["off"] = np.linspace(0, 1, len(df))
    f = "y ~ cond + x + offset(off) + (1 + x | subj) + (0 + cond | subj)"
    mf = frame(f, df)
    nd = model_matrices_for(mf, df.drop(columns="y"))
    np.testing.assert_array_equal(nd.X, mf.X)
    np.testing.assert_array_equal(nd.offset, mf.offset)
    for t, new in zip(mf.terms, nd.terms, strict=True):
        np.testing.assert_array_equal(new.refs, t.refs)
        np.testing.assert_array_equal(new.z, t.z)
        assert new.unseen_levels == ()


def test_new_design_keeps_only_the_kept_columns_and_centring():
    df = sleep_like()
    df["Days2"] = 2 * df["Days"]
    with pytest.warns(UserWarning, match="dropping 1 column / coefficient: Days2"):
        mf = frame("Reaction ~ center(Days) + Days2 + (1 | Subject)", df)
    assert mf.x_names == ("(Intercept)", "center(Days)")
    new = pd.DataFrame({"Days": [0.0, 10.0], "Days2": [0.0, 20.0], "Subject": ["308", "309"]})
    nd = model_matrices_for(mf, new)
    mean = df["Days"].mean()  # the training mean, not the new data's
    np.testing.assert_allclose(nd.X, [[1.0, -mean], [1.0, 10.0 - mean]])


def test_new_design_unseen_group_level_gets_minus_one():
    mf = frame("Reaction ~ Days + (Days | Subject)", sleep_like())
    new = pd.DataFrame({"Days": [1.0, 2.0, 3.0], "Subject": ["309", "999", "308"]})
    nd = model_matrices_for(mf, new)
    (t,) = nd.terms
    levels = mf.terms[0].levels
    assert t.refs.tolist() == [levels.index("309"), -1, levels.index("308")]
    assert t.unseen_levels == ("999",)
    np.testing.assert_array_equal(t.z, [[1.0, 1.0], [1.0, 2.0], [1.0, 3.0]])


def test_new_design_unseen_nested_level():
    mf = frame("y ~ 1 + (1 | batch/cask)", nested_data())
    new = pd.DataFrame({"batch": ["A", "D"], "cask": ["b", "a"]})
    inner, outer = model_matrices_for(mf, new).terms
    assert inner.refs.tolist() == [mf.terms[0].levels.index("b:A"), -1]
    assert outer.refs.tolist() == [mf.terms[1].levels.index("A"), -1]


def test_new_design_unseen_fixed_factor_level_is_an_error():
    mf = frame("y ~ cond + x + (1 | subj)", cond_data())
    new = pd.DataFrame({"cond": ["a", "d"], "x": [0.0, 1.0], "subj": ["s0", "s1"]})
    with pytest.raises(
        DataError, match="column 'cond' in new data has levels not seen when fitting \\('d'\\)"
    ):
        model_matrices_for(mf, new)


def test_new_design_missing_value_names_the_column():
    mf = frame("Reaction ~ Days + (1 | Subject)", sleep_like())
    new = pd.DataFrame({"Days": [1.0, np.nan], "Subject": ["308", "309"]})
    with pytest.raises(DataError, match=r"column 'Days' has missing values \(rows \[1\]\)"):
        model_matrices_for(mf, new)
    with pytest.raises(DataError, match="column 'Subject' not found in data"):
        model_matrices_for(mf, new[["Days"]])


def test_new_design_offset_column():
    df = sleep_like()
    df["off"] = 1.5
    mf = frame("Reaction ~ Days + (1 | Subject)", df, offset="off")
    new = pd.DataFrame({"Days": [1.0], "Subject": ["308"], "off": [0.25]})
    np.testing.assert_array_equal(model_matrices_for(mf, new).offset, [0.25])
