"""Grouping factors: integer level codes per observation, never one-hot columns.

Every grouping variable is a factor, as in R: categorical and string columns keep their levels,
numeric and logical columns become factors with sorted unique values, labelled as R prints them
(``3`` not ``3.0``, ``TRUE``/``FALSE``). An interaction ``a:b`` has one level per combination
that occurs in the data, labelled ``"a1:b1"`` and ordered by ``a``'s levels, then ``b``'s (R's
``a:b`` with unused levels dropped). Levels that no observation uses are dropped, as lme4 does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..data import Columns


def grouping_factor(
    factors: tuple[str, ...], columns: Columns
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Level codes and labels of the grouping factor ``factors[0]:factors[1]:...``.

    Args:
        factors: column names, e.g. ``("cask", "batch")`` for ``cask:batch``.
        columns: cleaned columns of ``n`` rows holding every name in ``factors``.

    Returns:
        ``(refs, levels)``: int32 ``(n,)`` codes into ``levels``, a tuple of ``L`` labels,
        every one of which occurs in ``refs``.

    Example
    -------
    >>> from interlace_jax.data import to_columns
    >>> cols = to_columns({"a": ["x", "y", "x"], "b": [2.0, 1.0, 1.0]}, ["a", "b"])
    >>> refs, levels = grouping_factor(("a", "b"), cols)
    >>> refs.tolist(), levels
    ([1, 2, 0], ('x:1', 'x:2', 'y:1'))
    """
    refs = np.zeros(len(columns.row_index), dtype=np.int64)
    combos: list[tuple[str, ...]] = [()]
    for name in factors:
        codes, labels = _factor(name, columns)
        used, refs = np.unique(refs * len(labels) + codes, return_inverse=True)
        combos = [combos[k // len(labels)] + (labels[k % len(labels)],) for k in used.tolist()]
    return refs.reshape(-1).astype(np.int32), tuple(":".join(c) for c in combos)


def match_levels(
    factors: tuple[str, ...], columns: Columns, levels: tuple[str, ...]
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Codes of new observations into the levels seen when fitting.

    Args:
        factors: column names of the grouping factor.
        columns: new data of ``m`` rows.
        levels: the ``L`` labels of the grouping factor when fitting.

    Returns:
        ``(refs, unseen)``: int32 ``(m,)`` codes into ``levels``, ``-1`` for a level not seen
        when fitting, and the labels of those unseen levels.
    """
    new_refs, new_levels = grouping_factor(factors, columns)
    index = {label: i for i, label in enumerate(levels)}
    lookup = np.array([index.get(label, -1) for label in new_levels], dtype=np.int32)
    unseen = tuple(label for label, i in zip(new_levels, lookup.tolist(), strict=True) if i < 0)
    return lookup[new_refs], unseen


def _factor(name: str, columns: Columns) -> tuple[np.ndarray, list[str]]:
    """One column as a factor: codes ``(n,)`` and labels."""
    values = columns.values[name]
    if name in columns.levels:
        return values, [r_label(v) for v in columns.levels[name]]
    uniq, codes = np.unique(values, return_inverse=True)
    return codes.reshape(-1).astype(np.int64), [r_label(v) for v in uniq.tolist()]


def r_label(value: Any) -> str:
    """A level as R's ``as.character`` prints it: ``True`` -> ``"TRUE"``, ``3.0`` -> ``"3"``,
    ``0.1`` -> ``"0.1"``, ``100000.0`` -> ``"1e+05"`` (doubles: 15 significant digits, fixed
    notation unless scientific is shorter); strings and integers unchanged."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return _r_double(value)
    return str(value)


def _r_double(x: float) -> str:
    if x == 0.0:
        return "0"
    v = float(f"{x:.15g}")
    digits = next(p for p in range(1, 16) if float(f"{v:.{p}g}") == v)
    sci = f"{v:.{digits - 1}e}"
    fixed = np.format_float_positional(v, trim="-")
    return fixed if len(fixed) <= len(sci) else sci
