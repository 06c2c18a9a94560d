"""The dataframe boundary: any eager dataframe in, NumPy columns out.

This is the only module that touches user dataframes. It reads through narwhals, so pandas, polars
and pyarrow (and any other eager backend narwhals supports) give identical results, and applies
lme4's missing-data policy (``na.omit``) once, across every column the model uses, so that all
arrays built later stay row-aligned.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import narwhals.stable.v2 as nw
import numpy as np
import pandas as pd

from .._errors import DataError

_ACCEPTED = "a pandas, polars or pyarrow table (or any eager dataframe narwhals supports)"


@dataclass(frozen=True, eq=False)
class Columns:
    """The columns a model uses, as NumPy arrays, after dropping rows with missing values.

    Attributes:
        values: column name -> array of shape ``(n,)``: float64 for floating columns, int64 for
            integer columns, bool for boolean columns, and int32 codes into ``levels[name]`` for
            categorical and string columns.
        levels: column name -> tuple of level labels, for categorical and string columns only.
            The order is the data's own category order for pandas ``Categorical``, polars
            ``Enum`` and pyarrow dictionary columns, and sorted unique values for string columns
            and polars ``Categorical`` columns (whose category order is an accident of the global
            string cache), as R's ``factor()`` sorts. Levels that no kept row uses are dropped
            (as R's ``model.frame(drop.unused.levels = TRUE)``).
        n_rows_in: number of rows of the input data.
        row_index: int64 array ``(n,)``, positions in the input of the kept rows.
        n_dropped: number of input rows dropped for missing values (``n_rows_in - n``).
        ordered: names of the categorical columns whose categories are ordered (pandas
            ``Categorical(ordered=True)``, pyarrow ordered dictionaries): R's ordered factors,
            coded with polynomial contrasts in model matrices as R does.
    """

    values: dict[str, np.ndarray]
    levels: dict[str, tuple]
    n_rows_in: int
    row_index: np.ndarray
    n_dropped: int
    ordered: frozenset = frozenset()


def to_columns(
    data: Any, names: Sequence[str], *, missing: Literal["drop", "raise"] = "drop"
) -> Columns:
    """Read the named columns of a dataframe into NumPy arrays.

    Args:
        data: pandas, polars or pyarrow table (anything ``narwhals.from_native(...,
            eager_only=True)`` accepts), or a dict of equal-length columns (read through pandas).
        names: the columns to read; duplicates are read once.
        missing: ``"drop"`` removes every row with a missing value (null, or NaN in a floating
            column) in any of the named columns, as lme4's ``na.omit``; ``"raise"`` raises a
            DataError naming the first such column instead (used for prediction data).

    Returns:
        :class:`Columns` holding ``n = n_rows_in - n_dropped`` rows.

    Raises:
        DataError: for an unsupported data type, a missing column (with close matches), a column
            of a type a model cannot use (dates, nested types) or with only missing values, an
            infinite value, or a missing value when ``missing="raise"``.

    Example
    -------
    >>> import pandas as pd
    >>> cols = to_columns(pd.DataFrame({"y": [1.0, None, 3.0], "g": ["b", "a", "b"]}), ["y", "g"])
    >>> cols.values["g"], cols.levels["g"], cols.n_dropped
    (array([0, 0], dtype=int32), ('b',), 1)
    """
    frame = _as_frame(data)
    names = list(dict.fromkeys(names))
    _check_present(frame, names)
    n_rows_in = frame.shape[0]
    if names:
        frame = frame.select(names)
    # Each column is taken once as a narwhals Series (every narwhals call costs tens of
    # microseconds, which dominated the front end of small fits) and its dtype read once.
    series = dict(zip(names, frame.iter_columns())) if names else {}
    dtypes = {name: column.dtype for name, column in series.items()}
    absent = np.zeros(n_rows_in, dtype=bool)
    read: dict[str, Any] = {}  # what _missing read of each column
    for name, column in series.items():
        miss = _missing(column, dtypes[name], name, read)
        if n_rows_in and miss.all():
            raise DataError(f"column {name!r} has only missing values")
        if missing == "raise" and miss.any():
            rows = np.flatnonzero(miss)[:5].tolist()
            raise DataError(
                f"column {name!r} has missing values (rows {rows}); remove or fill them"
            )
        absent |= miss
    row_index = np.flatnonzero(~absent)
    if absent.any():
        series = dict(zip(names, frame[row_index].iter_columns()))
        read = {}
    values: dict[str, np.ndarray] = {}
    levels: dict[str, tuple] = {}
    for name, column in series.items():
        values[name], lev = _convert(column, dtypes[name], read.get(name), name)
        if lev is not None:
            levels[name] = lev
        _check_finite(values[name], name, row_index)
    ordered = frozenset(name for name in levels if _is_ordered(series[name]))
    return Columns(values, levels, n_rows_in, row_index, int(absent.sum()), ordered)


def _is_ordered(series: nw.Series) -> bool:
    """Whether a categorical column's categories are ordered (pandas' and pyarrow's flag; polars
    has no ordered categoricals)."""
    native = series.to_native()
    dtype = native.dtype if hasattr(native, "dtype") else getattr(native, "type", None)
    return bool(getattr(dtype, "ordered", False))


def _as_frame(data: Any) -> nw.DataFrame:
    """A narwhals eager DataFrame for ``data``, or a DataError saying what is accepted."""
    if isinstance(data, Mapping):
        try:
            data = pd.DataFrame(dict(data))
        except (ValueError, TypeError) as e:
            raise DataError(f"data given as a dict must hold equal-length columns: {e}") from None
    try:
        return nw.from_native(data, eager_only=True)
    except TypeError:
        raise DataError(
            f"data must be {_ACCEPTED}, or a dict of equal-length columns; "
            f"got {type(data).__module__}.{type(data).__name__}"
        ) from None


def _check_present(frame: nw.DataFrame, names: list[str]) -> None:
    available = [str(c) for c in frame.columns]
    for name in names:
        if name not in available:
            close = difflib.get_close_matches(name, available, n=3, cutoff=0.6)
            hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
            shown = ", ".join(map(repr, available[:20])) + (", ..." if len(available) > 20 else "")
            raise DataError(f"column {name!r} not found in data{hint} Available columns: {shown}")


def _missing(series: nw.Series, dtype: nw.dtypes.DType, name: str,
             read: dict[str, Any]) -> np.ndarray:
    """Bool ``(n,)``: null values, and NaN in floating columns (which polars keeps apart). What
    was read of the column is kept in ``read[name]``: its NumPy values, or the codes and
    categories of a pandas ``Categorical``.

    Every backend converts a numeric column holding nulls to floats with NaN, and one without
    nulls to its own integer, boolean or float kind, so those kinds need no null query (one
    narwhals call less per column: these calls dominate the front end of small fits)."""
    if isinstance(dtype, nw.Categorical):
        categorical = _pandas_categorical(series)
        if categorical is not None:
            read[name] = categorical
            return categorical[0] < 0
    values = read[name] = series.to_numpy()
    if values.dtype.kind in "iub":
        return np.zeros(len(values), dtype=bool)
    if values.dtype.kind == "f":
        return np.isnan(values)
    return np.asarray(series.is_null().to_numpy(), dtype=bool)


def _pandas_categorical(series: nw.Series) -> tuple[np.ndarray, list] | None:
    """``(codes (n,), categories)`` of a pandas ``Categorical`` column (code -1: missing), read
    from pandas itself: narwhals has no accessor for the codes, and reading the values and the
    categories through it costs a warm fit ~0.15 ms per such column. None for other columns."""
    native = series.to_native()
    if not isinstance(getattr(native, "dtype", None), pd.CategoricalDtype):
        return None
    return native.cat.codes.to_numpy(), list(native.cat.categories)


def _convert(series: nw.Series, dtype: nw.dtypes.DType, raw: Any, name: str
             ) -> tuple[np.ndarray, tuple | None]:
    """One column as ``(values, levels)``; ``levels`` is None for numeric and boolean columns.
    ``raw`` is what :func:`_missing` read of the column (on every row), else None."""
    if isinstance(dtype, nw.Categorical):
        categorical = _pandas_categorical(series) if raw is None else raw
        if isinstance(categorical, tuple):
            return _used_codes(*categorical)

    def values():
        return series.to_numpy() if raw is None else raw

    if isinstance(dtype, nw.Enum):
        return _codes(values(), list(dtype.categories))
    if isinstance(dtype, nw.Categorical) and not series.implementation.is_polars():
        return _codes(values(), list(series.cat.get_categories().to_numpy()))
    if isinstance(dtype, (nw.String, nw.Categorical)):
        return _codes(values(), None)
    if isinstance(dtype, nw.Boolean):
        return np.asarray(values(), dtype=bool), None
    if dtype.is_integer():
        return np.asarray(values(), dtype=np.int64), None
    if dtype.is_numeric():
        return np.asarray(values(), dtype=np.float64), None
    raise DataError(
        f"column {name!r} has type {dtype}, which a model cannot use; "
        "convert it to a number, a string or a categorical first"
    )


def _check_finite(values: np.ndarray, name: str, row_index: np.ndarray) -> None:
    if values.dtype.kind == "f" and np.isinf(values).any():
        rows = row_index[np.isinf(values)][:5].tolist()
        raise DataError(
            f"column {name!r} contains infinite values (rows {rows}); a model needs finite numbers"
        )


def _codes(values: np.ndarray, categories: list | None) -> tuple[np.ndarray, tuple]:
    """Int32 codes ``(n,)`` and the used levels, in ``categories`` order or sorted when None."""
    first_seen, uniq = pd.factorize(np.asarray(values, dtype=object))
    uniq = [_plain(u) for u in uniq]
    if categories is None:
        order = sorted(range(len(uniq)), key=uniq.__getitem__)
    else:
        position = {_plain(c): i for i, c in enumerate(categories)}
        order = sorted(range(len(uniq)), key=lambda k: position[uniq[k]])
    new_code = np.empty(len(uniq), dtype=np.int32)
    new_code[order] = np.arange(len(uniq), dtype=np.int32)
    return new_code[first_seen], tuple(uniq[k] for k in order)


def _used_codes(codes: np.ndarray, categories: list) -> tuple[np.ndarray, tuple]:
    """:func:`_codes` from a categorical's codes (n,) into ``categories`` (none missing)."""
    used = np.flatnonzero(np.bincount(codes, minlength=len(categories)))
    new_code = np.zeros(len(categories), dtype=np.int32)
    new_code[used] = np.arange(len(used), dtype=np.int32)
    return new_code[codes], tuple(_plain(categories[k]) for k in used)


def _plain(value: Any) -> Any:
    """A NumPy scalar as the equivalent Python scalar, so levels compare and print plainly."""
    return value.item() if isinstance(value, np.generic) else value


def numeric_matrix(data: Any, names: Sequence[str]) -> np.ndarray:
    """The named numeric columns as one float64 array (n_rows_in, len(names)), every row kept
    and missing values as NaN: many response columns read in one call (per-column reads
    cost tens of microseconds each).

    Raises:
        DataError: for a missing column (with close matches) or a column that is not numeric.
    """
    frame = _as_frame(data)
    unique = list(dict.fromkeys(names))
    _check_present(frame, unique)
    frame = frame.select(unique)
    for name, dtype in frame.schema.items():
        if not dtype.is_numeric():
            raise DataError(f"column {name!r} is not numeric (type {dtype})")
    block = frame.to_numpy()
    if block.dtype.kind != "f":  # nullable integer columns come out as objects
        block = frame.select(nw.col(*unique).cast(nw.Float64).fill_null(float("nan"))).to_numpy()
    position = {name: j for j, name in enumerate(unique)}
    return np.asarray(block, dtype=np.float64)[:, [position[n] for n in names]]


def n_rows(data: Any) -> int:
    """Number of rows of a dataframe (any backend narwhals reads)."""
    return len(_as_frame(data))


def with_columns(data: Any, columns: Mapping[str, np.ndarray], *,
                 keep: Sequence[str] | None = None) -> Any:
    """``data`` (same backend) with the given float columns (n_rows,) added or replaced;
    with ``keep``, only those of its columns (a DataError names a missing one), which spares
    copying a wide table."""
    frame = _as_frame(data)
    if keep is not None:
        keep = list(dict.fromkeys(keep))
        _check_present(frame, keep)
        frame = frame.select(keep)
    n = len(frame)
    series = []
    for name, values in columns.items():
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (n,):
            raise DataError(f"column {name!r} needs {n} values, got shape {values.shape}")
        series.append(nw.new_series(name, values, nw.Float64(), backend=frame.implementation))
    return frame.with_columns(*series).to_native()


def with_group_count(data: Any, group: str, count: int) -> Any:
    """``data`` with the rows of its first ``count`` levels of ``group`` (in order of first
    appearance) -- or, when ``count`` exceeds the number of levels, the rows of level
    ``k mod L`` copied for the k-th new level -- and ``group`` renamed ``"<group>_<k>"``."""
    frame = _as_frame(data)
    _check_present(frame, [group])
    codes, uniq = pd.factorize(np.asarray(frame[group].to_numpy(), dtype=object))
    parts, labels = [], []
    for k in range(int(count)):
        rows = np.flatnonzero(codes == k % len(uniq))
        parts.append(rows)
        labels += [f"{group}_{k + 1}"] * rows.size
    rows = np.concatenate(parts)
    out = frame[rows.tolist()]
    label = nw.new_series(group, np.asarray(labels, dtype=object), nw.String(),
                          backend=frame.implementation)
    return out.with_columns(label).to_native()
