"""The ``weights=`` and ``offset=`` arguments: a column name or an array, as one vector ``(n,)``.

A column name is read with the other model columns, so its missing values drop rows like any
other variable (R's ``model.frame``). An array must have one entry per row of the input data; it
is aligned with the kept rows through ``row_index`` and must be finite where used.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._errors import DataError
from ..data import Columns


def column_name(arg: Any) -> list[str]:
    """``[arg]`` when the argument names a column, else ``[]``."""
    return [arg] if isinstance(arg, str) else []


def observation_vector(
    arg: Any, what: str, columns: Columns, *, nonnegative: bool = False
) -> np.ndarray | None:
    """The ``weights=`` or ``offset=`` argument for the kept rows.

    Args:
        arg: None, a column name, or array-like of length ``n_rows_in``.
        what: ``"weights"`` or ``"offset"``, for messages.
        columns: the model's cleaned columns (``n`` kept rows).
        nonnegative: also reject negative values (prior weights; lme4: "negative weights not
            allowed") and all-zero values (no observation would count).

    Returns:
        float64 ``(n,)``, or None when ``arg`` is None.

    Raises:
        DataError: naming ``what`` for a categorical column, a wrong length, or a non-finite
            (or, with ``nonnegative``, negative) value in a kept row, or with ``nonnegative``
            values that are all zero.
    """
    if arg is None:
        return None
    values = _values(arg, what, columns)
    if nonnegative and (values < 0).any():
        rows = columns.row_index[values < 0][:5].tolist()
        raise DataError(f"{what} must be non-negative; negative values in rows {rows}")
    if nonnegative and values.size and not (values > 0).any():
        raise DataError(f"{what} are all zero: no observation would count in the fit")
    return values


def _values(arg: Any, what: str, columns: Columns) -> np.ndarray:
    if isinstance(arg, str):
        if arg in columns.levels:
            raise DataError(f"{what} column {arg!r} must be numeric, not categorical/string")
        return columns.values[arg].astype(np.float64)
    try:
        values = np.asarray(arg, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{what} must be a column name or an array of numbers") from None
    if values.shape != (columns.n_rows_in,):
        raise DataError(
            f"{what} must have one value per row of the data: expected shape "
            f"({columns.n_rows_in},), got {values.shape}"
        )
    values = values[columns.row_index]
    if not np.isfinite(values).all():
        rows = columns.row_index[~np.isfinite(values)][:5].tolist()
        raise DataError(f"{what} has non-finite values (NaN or inf) in rows {rows}")
    return values
