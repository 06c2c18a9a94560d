"""Tests of interlace_jax.data.to_columns: the narwhals boundary (pandas, polars, pyarrow)."""

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from interlace_jax._errors import DataError
from interlace_jax.data import Columns, to_columns

NAMES = ["f", "i", "s", "c"]
# Row 1 has a missing float, row 3 a missing string, row 4 a NaN float: rows 0, 2, 5 are kept.
F = [1.5, None, 3.0, 4.0, float("nan"), 6.0]
INTS = [1, 2, 3, 4, 5, 6]
S = ["b", "a", "c", None, "a", "b"]
C = ["x", "y", "x", "z", "x", "x"]
CATS = ["z", "y", "x", "w"]  # data's own order; "w" is never used, "y" and "z" only in dropped rows


def pandas_frame():
    return pd.DataFrame(
        {"f": F, "i": INTS, "s": S, "c": pd.Categorical(C, categories=CATS), "extra": range(6)}
    )


def polars_frame():
    return pl.DataFrame(
        {
            "f": pl.Series(F, dtype=pl.Float64),  # None -> null, nan stays NaN (not null)
            "i": INTS,
            "s": S,
            "c": pl.Series(C, dtype=pl.Enum(CATS)),
            "extra": range(6),
        }
    )


def pyarrow_table():
    c = pa.DictionaryArray.from_arrays(
        pa.array([CATS.index(v) for v in C], type=pa.int32()), pa.array(CATS)
    )
    return pa.table({"f": pa.array(F), "i": INTS, "s": S, "c": c, "extra": list(range(6))})


FRAMES = {"pandas": pandas_frame, "polars": polars_frame, "pyarrow": pyarrow_table}


def assert_same(a: Columns, b: Columns):
    assert list(a.values) == list(b.values)
    for name in a.values:
        np.testing.assert_array_equal(a.values[name], b.values[name])
        assert a.values[name].dtype == b.values[name].dtype, name
    assert a.levels == b.levels
    assert (a.n_rows_in, a.n_dropped) == (b.n_rows_in, b.n_dropped)
    np.testing.assert_array_equal(a.row_index, b.row_index)


@pytest.mark.parametrize("backend", ["pandas", "polars", "pyarrow"])
def test_columns(backend):
    cols = to_columns(FRAMES[backend](), NAMES)
    assert cols.n_rows_in == 6 and cols.n_dropped == 3
    assert cols.row_index.tolist() == [0, 2, 5]
    assert cols.values["f"].tolist() == [1.5, 3.0, 6.0] and cols.values["f"].dtype == np.float64
    assert cols.values["i"].tolist() == [1, 3, 6] and cols.values["i"].dtype == np.int64
    # strings: sorted unique values of the kept rows, as R's factor()
    assert cols.levels["s"] == ("b", "c")
    assert cols.values["s"].tolist() == [0, 1, 0] and cols.values["s"].dtype == np.int32
    # categoricals: the data's own order, unused levels dropped
    assert cols.levels["c"] == ("x",)
    assert cols.values["c"].tolist() == [0, 0, 0]
    assert set(cols.values) == set(NAMES) and set(cols.levels) == {"s", "c"}


@pytest.mark.parametrize("backend", ["polars", "pyarrow"])
def test_backends_give_identical_columns(backend):
    assert_same(to_columns(pandas_frame(), NAMES), to_columns(FRAMES[backend](), NAMES))


@pytest.mark.parametrize("backend", ["pandas", "polars", "pyarrow"])
def test_category_order_is_kept(backend):
    cols = to_columns(FRAMES[backend](), ["c"])
    assert cols.n_dropped == 0
    assert cols.levels["c"] == ("z", "y", "x")  # "w" unused
    assert cols.values["c"].tolist() == [2, 1, 2, 0, 2, 2]


@pytest.mark.parametrize("backend", ["polars", "pyarrow"])
def test_missing_categories_drop_rows_as_in_other_backends(backend):
    # pandas' codes are read natively (-1 for a missing value); "y" is only on a dropped row
    values, cats = ["x", None, "y", "z", "x"], ["z", "y", "x", "w"]
    frames = {
        "pandas": pd.DataFrame({"c": pd.Categorical(values, categories=cats),
                                "f": [1.0, 2.0, float("nan"), 4.0, 5.0]}),
        "polars": pl.DataFrame({"c": pl.Series(values, dtype=pl.Enum(cats)),
                                "f": [1.0, 2.0, None, 4.0, 5.0]}),
        "pyarrow": pa.table({"c": pa.array(values).dictionary_encode().cast(
            pa.dictionary(pa.int32(), pa.string())), "f": [1.0, 2.0, None, 4.0, 5.0]}),
    }
    cols = to_columns(frames["pandas"], ["c", "f"])
    assert cols.row_index.tolist() == [0, 3, 4] and cols.levels["c"] == ("z", "x")
    assert cols.values["c"].tolist() == [1, 0, 1]
    if backend == "polars":
        assert_same(cols, to_columns(frames[backend], ["c", "f"]))
    else:  # pyarrow's dictionary keeps the order values were first seen in
        other = to_columns(frames[backend], ["c", "f"])
        assert other.row_index.tolist() == [0, 3, 4]
        assert set(other.levels["c"]) == {"z", "x"}


def test_polars_categorical_levels_are_sorted():
    df = pl.DataFrame({"g": pl.Series(["b", "c", "a", "b"], dtype=pl.Categorical)})
    cols = to_columns(df, ["g"])
    assert cols.levels["g"] == ("a", "b", "c")
    assert cols.values["g"].tolist() == [1, 2, 0, 1]


def test_boolean_and_nullable_integer_columns():
    df = pd.DataFrame({"b": [True, False, True], "n": pd.array([1, None, 3], dtype="Int64")})
    cols = to_columns(df, ["b", "n"])
    assert cols.values["b"].dtype == bool and cols.values["b"].tolist() == [True, True]
    assert cols.values["n"].dtype == np.int64 and cols.values["n"].tolist() == [1, 3]
    assert cols.row_index.tolist() == [0, 2] and cols.levels == {}


def test_only_named_columns_decide_dropping():
    df = pandas_frame()
    cols = to_columns(df, ["i", "c", "i"])
    assert list(cols.values) == ["i", "c"] and cols.n_dropped == 0


def test_dict_input_is_read_through_pandas():
    cols = to_columns({"y": [1.0, 2.0, None], "g": ["b", "a", "b"]}, ["y", "g"])
    assert cols.values["y"].tolist() == [1.0, 2.0] and cols.levels["g"] == ("a", "b")
    with pytest.raises(DataError, match="dict must hold equal-length columns"):
        to_columns({"y": [1.0, 2.0], "g": ["a"]}, ["y"])


@pytest.mark.parametrize("bad", [[1, 2, 3], None, np.zeros((3, 2)), pd.Series([1.0, 2.0])])
def test_unsupported_input_type(bad):
    with pytest.raises(DataError, match="data must be a pandas, polars or pyarrow table") as info:
        to_columns(bad, ["x"])
    assert type(bad).__name__ in str(info.value)


@pytest.mark.parametrize("backend", ["pandas", "polars", "pyarrow"])
def test_missing_column_suggests_close_names(backend):
    with pytest.raises(DataError) as info:
        to_columns(FRAMES[backend](), ["extr"])
    text = str(info.value)
    assert "column 'extr' not found in data; did you mean 'extra'?" in text
    assert "Available columns: 'f', 'i', 's', 'c', 'extra'" in text


def test_missing_column_without_close_match():
    with pytest.raises(DataError, match="column 'zzz' not found in data Available columns"):
        to_columns(pandas_frame(), ["zzz"])


@pytest.mark.parametrize("backend", ["pandas", "polars", "pyarrow"])
def test_infinite_values_are_an_error(backend):
    df = {"pandas": pd.DataFrame, "polars": pl.DataFrame, "pyarrow": pa.table}[backend](
        {"x": [1.0, np.inf, 2.0, -np.inf]}
    )
    with pytest.raises(DataError, match=r"column 'x' contains infinite values \(rows \[1, 3\]\)"):
        to_columns(df, ["x"])


def test_missing_raise_names_the_column():
    with pytest.raises(DataError, match=r"column 's' has missing values \(rows \[3\]\)"):
        to_columns(pandas_frame(), ["i", "s"], missing="raise")


def test_unusable_column_type():
    df = pd.DataFrame({"t": pd.to_datetime(["2020-01-01", "2020-01-02"])})
    with pytest.raises(DataError, match="column 't' has type Datetime"):
        to_columns(df, ["t"])


@pytest.mark.parametrize("backend", ["pandas", "polars", "pyarrow"])
def test_all_rows_dropped_gives_empty_columns(backend):
    make = {"pandas": pd.DataFrame, "polars": pl.DataFrame, "pyarrow": pa.table}[backend]
    cols = to_columns(make({"x": [None, 1.0], "g": ["a", None]}), ["x", "g"])
    assert cols.n_dropped == 2 and cols.values["x"].shape == (0,) and cols.levels["g"] == ()
    assert cols.row_index.shape == (0,)


@pytest.mark.parametrize("backend", ["pandas", "polars", "pyarrow"])
def test_column_with_only_missing_values(backend):
    make = {"pandas": pd.DataFrame, "polars": pl.DataFrame, "pyarrow": pa.table}[backend]
    with pytest.raises(DataError, match="column 'x' has only missing values"):
        to_columns(make({"x": [None, None], "g": ["a", "b"]}), ["x", "g"])
