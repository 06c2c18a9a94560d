"""An ordered categorical response (cumulative link models): its categories in order and the
code of every row.

The order must come from the data or the caller, never be guessed: a pandas ordered
``Categorical`` or a polars ``Enum`` carries it (all its categories count, used or not), and any
column (integers, strings, an unordered categorical) can be given one with ``levels=``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import narwhals.stable.v2 as nw
import numpy as np
import pandas as pd

from .._errors import DataError
from ._frame import _as_frame, _check_present, _missing, _plain


def _how_to_order(name: str, found: str) -> str:
    return (
        f"the response {name!r} must be ordered, but it is {found}. Make it an ordered "
        f"categorical with its categories from lowest to highest (pandas: "
        f"pd.Categorical(data[{name!r}], categories=[...], ordered=True); polars: "
        f"pl.col({name!r}).cast(pl.Enum([...]))), or pass levels=[lowest, ..., highest]"
    )


def _kind(dtype) -> str:
    if isinstance(dtype, nw.Categorical):
        return "an unordered categorical"
    if isinstance(dtype, nw.String):
        return "a column of strings"
    if dtype.is_numeric():
        return "a column of numbers"
    return f"of type {dtype}"


def ordered_codes(data: Any, name: str, levels: Sequence | None = None
                  ) -> tuple[np.ndarray, tuple]:
    """The codes of an ordered response column and its categories, lowest first.

    Args:
        data: pandas, polars or pyarrow table (or a dict of columns).
        name: the response column.
        levels: the categories from lowest to highest; required unless the column is a pandas
            ordered Categorical or a polars Enum (whose category order is used, unused
            categories included).

    Returns:
        (codes, categories): float64 ``(n_rows_in,)`` codes 0..K-1 (NaN where the value is
        missing) and the K category labels.

    Raises:
        DataError: an unordered column without ``levels``, repeated levels, or values that are
            not among ``levels``.
    """
    frame = _as_frame(data)
    _check_present(frame, [name])
    series = frame[name]
    if levels is not None:
        if isinstance(levels, (str, bytes)) or not isinstance(levels, Sequence):
            raise DataError(f"levels= must be a list of the categories of {name!r} in order, "
                            f"got {levels!r}")
        categories = tuple(_plain(v) for v in levels)
        if len(set(categories)) != len(categories):
            raise DataError(f"levels= for {name!r} repeats a category: {list(categories)}")
    elif isinstance(series.dtype, nw.Enum):
        categories = tuple(_plain(v) for v in series.dtype.categories)
    else:
        raise DataError(_how_to_order(name, _kind(series.dtype)))
    missing = _missing(series, series.dtype, name, {})
    position = {c: float(i) for i, c in enumerate(categories)}
    seen, uniq = pd.factorize(np.asarray(series.to_numpy(), dtype=object)[~missing])
    uniq = [_plain(v) for v in uniq]
    unknown = [repr(v) for v in uniq if v not in position]
    if unknown:
        raise DataError(
            f"the response {name!r} has values that are not among levels={list(categories)}: "
            f"{', '.join(sorted(unknown)[:10])}")
    codes = np.full(missing.shape, np.nan)
    codes[~missing] = np.array([position[v] for v in uniq], dtype=np.float64)[seen]
    return codes, categories
