"""Survival responses and strata: ``Surv(time, status)``, ``Surv(start, stop, status)`` and
``strata(s)`` in the fixed part (R's survival syntax for Cox models).

:func:`build_survival_frame` builds the ordinary :class:`ModelFrame` of the model (fixed effects
without an intercept: a Cox model's baseline hazard absorbs it, and factors keep R's treatment
contrasts, as ``coxph`` codes them with the intercept and then drops it) and reads the survival
response and the strata on the same rows (rows missing any of them are dropped, as R's
``na.omit``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from .._errors import DataError, FormulaError
from ..data import to_columns
from ._bars import ParsedFormula
from ._design import expression_names, model_matrix, plain_name
from ._grouping import grouping_factor
from ._model_frame import ModelFrame, build_model_frame
from ._scan import is_wrapped, split_terms, top_level

_STRATA = re.compile(r"strata\s*\(")
_SURV = re.compile(r"Surv\s*\(")
_COLUMN = re.compile(r"[A-Za-z_.][A-Za-z0-9_.]*|`[^`]+`")


@dataclass(frozen=True, eq=False)
class SurvivalResponse:
    """A Cox model's response on the model frame's n rows.

    Attributes:
        stop: float64 (n,) event or censoring times (``time`` of ``Surv(time, status)``).
        start: float64 (n,) entry times of counting-process data, or None.
        event: bool (n,) whether the row ends with an event.
        strata: int32 (n,) stratum codes (zeros without ``strata()``).
        strata_levels: labels of the strata (``()`` without ``strata()``).
        strata_columns: the columns inside ``strata(...)``.
        expression: the response as written, e.g. ``"Surv(time, status)"``.
    """

    stop: np.ndarray
    start: np.ndarray | None
    event: np.ndarray
    strata: np.ndarray
    strata_levels: tuple[str, ...]
    strata_columns: tuple[str, ...]
    expression: str

    @property
    def n_events(self) -> int:
        return int(np.sum(self.event))


def surv_parts(expr: str | None) -> tuple[str, ...] | None:
    """The two or three arguments of ``Surv(...)``, or None when ``expr`` is not a Surv call.

    Example:
        >>> surv_parts("Surv(time, status == 2)")
        ('time', 'status == 2')
    """
    if expr is None:
        return None
    text = expr.strip()
    m = _SURV.match(text)
    if m is None or not is_wrapped(text[m.end() - 1 :]):
        return None
    inner = text[m.end() : -1]
    cuts = top_level(inner, ",")
    parts = [inner[a + 1 : b].strip() for a, b in zip([-1, *cuts], [*cuts, len(inner)])]
    if len(parts) not in (2, 3) or not all(parts) or any("=" in p.replace("==", "")
                                                            for p in parts):
        raise FormulaError(
            f"the response {expr!r} must be Surv(time, status) or Surv(start, stop, status) "
            "with positional arguments")
    return tuple(parts)


def split_strata(fixed_rhs: str, formula: str) -> tuple[str, tuple[str, ...]]:
    """Remove the ``strata(a, b, ...)`` terms from a fixed part; return it and their columns."""
    kept, columns = [], []
    for sign, term in split_terms(fixed_rhs, formula):
        m = _STRATA.match(term)
        if m is not None and is_wrapped(term[m.end() - 1 :]):
            if sign != "+":
                raise FormulaError(f"strata() must be added with '+', not removed: {formula!r}")
            inner = term[m.end() : -1]
            names = [inner[a + 1 : b].strip()
                     for a, b in zip([-1, *top_level(inner, ",")], [*top_level(inner, ","),
                                                                      len(inner)])]
            if not all(_COLUMN.fullmatch(n) for n in names):
                raise FormulaError(
                    f"strata() takes column names separated by commas: {term!r} in {formula!r}")
            columns.extend(n.strip("`") for n in names)
        elif "strata(" in term.replace(" ", ""):
            raise FormulaError(
                f"strata() must be a term of its own (strata-specific effects such as {term!r} "
                f"are not supported), in {formula!r}")
        else:
            kept.append(f"{sign} {term}")
    rhs = " ".join(kept)
    rhs = rhs[2:] if rhs.startswith("+ ") else rhs
    return rhs or "1", tuple(dict.fromkeys(columns))


def build_survival_frame(parsed: ParsedFormula, data: Any, *, formula: str,
                         offset: Any = None) -> tuple[ModelFrame, SurvivalResponse]:
    """The model frame (X without intercept) and the survival response of a Cox model.

    Raises:
        FormulaError: when the response is not ``Surv(...)``.
        DataError: for an event indicator that is not 0/1 or boolean, non-positive times,
            negative entry times, or ``stop <= start``.
    """
    parts = surv_parts(parsed.response)
    if parts is None:
        raise FormulaError(
            "a Cox model needs a survival response: write Surv(time, status) or "
            f"Surv(start, stop, status) on the left of '~', not {parsed.response!r} "
            f"(in {formula!r})")
    rhs, strata_columns = split_strata(parsed.fixed_rhs, formula)
    core = ParsedFormula(parts[-2], rhs, parsed.offsets, parsed.bars)
    extra = tuple(name for p in (parts[0], parts[-1]) for name in expression_names(p))
    frame = build_model_frame(core, data, offset=offset, residual_variance=False,
                              extra_columns=extra + strata_columns)
    design = frame.design_data
    event = _event(parts[-1], design, parsed.response)
    start = _times(parts[0], design, "start time") if len(parts) == 3 else None
    stop = frame.y
    _check_times(stop, start, parsed.response, frame.row_index)
    if strata_columns:
        cols = to_columns(design, list(strata_columns))
        strata, strata_levels = grouping_factor(strata_columns, cols)
    else:
        strata, strata_levels = np.zeros(stop.size, np.int32), ()
    response = SurvivalResponse(stop, start, event, strata, strata_levels, strata_columns,
                                parsed.response)
    return _without_intercept(frame), response


def _without_intercept(frame: ModelFrame) -> ModelFrame:
    if not frame.x_names or frame.x_names[0] != "(Intercept)":
        return frame
    return replace(frame, X=frame.X[:, 1:], x_names=frame.x_names[1:],
                   x_names_formulaic=frame.x_names_formulaic[1:],
                   kept_columns=frame.kept_columns[1:])


def _values(expr: str, design: pd.DataFrame, what: str) -> np.ndarray:
    name = plain_name(expr)
    if name is not None and isinstance(design[name].dtype, pd.CategoricalDtype):
        column = design[name]
        if list(column.cat.categories) == ["FALSE", "TRUE"]:
            return np.asarray(column.cat.codes, dtype=np.float64)
        raise DataError(f"the {what} {name!r} must be numeric or logical, but it is "
                        "categorical/string")
    matrix, _ = model_matrix(f"0 + I({expr})", design, f"the {what} {expr!r}")
    if matrix.shape[1] != 1:
        raise DataError(f"the {what} {expr!r} must evaluate to one numeric column")
    return matrix[:, 0]


def _event(expr: str, design: pd.DataFrame, response: str) -> np.ndarray:
    status = _values(expr, design, "event indicator")
    bad = ~np.isin(status, (0.0, 1.0))
    if bad.any():
        shown = ", ".join(f"{v:g}" for v in np.unique(status[bad])[:5])
        raise DataError(
            f"the event indicator {expr!r} in {response!r} must be 0/1 or boolean (1 or True = "
            f"event); it has the values {shown}. For survival's 1 = censored, 2 = event coding "
            f"write Surv(..., {expr} == 2)")
    return status == 1.0


def _times(expr: str, design: pd.DataFrame, what: str) -> np.ndarray:
    return _values(expr, design, what)


def _check_times(stop: np.ndarray, start: np.ndarray | None, response: str,
                 rows: np.ndarray) -> None:
    if start is None:
        bad = np.flatnonzero(stop <= 0)
        if bad.size:
            raise DataError(
                f"survival times in {response!r} must be positive; row {rows[bad[0]]} has "
                f"time {stop[bad[0]]:g} ({bad.size} such rows)")
        return
    bad = np.flatnonzero(start < 0)
    if bad.size:
        raise DataError(f"entry (start) times in {response!r} must not be negative; row "
                        f"{rows[bad[0]]} has start {start[bad[0]]:g} ({bad.size} such rows)")
    bad = np.flatnonzero(stop <= start)
    if bad.size:
        raise DataError(
            f"stop times must be after start times in {response!r}; row {rows[bad[0]]} has "
            f"start {start[bad[0]]:g} and stop {stop[bad[0]]:g} ({bad.size} such rows)")
