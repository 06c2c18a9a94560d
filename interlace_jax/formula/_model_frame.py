"""The front end's one output: a parsed formula and a dataframe turned into arrays (lme4's
``lFormula``).

:func:`build_model_frame` reads every variable the model uses in one pass (dropping rows with
missing values across all of them, as ``na.omit``), builds the fixed-effects matrix with
formulaic, drops aliased columns as lme4 does, evaluates the response, offsets and weights, and
turns each random-effects term into level codes plus a small model matrix.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from formulaic import ModelSpec

from .._errors import DataError, FormulaError
from ..data import Columns, to_columns
from ._arguments import column_name, observation_vector
from ._bars import BarSpec, ParsedFormula
from ._checks import check_term_sizes
from ._design import (
    expression_names,
    lme4_names,
    model_matrix,
    pandas_frame,
    plain_name,
    required_names,
)
from ._grouping import grouping_factor
from ._parts import FixedPart, PartSpec, build_part
from ._rank import full_rank_columns, rank_message
from ._response import cbind_parts


@dataclass(frozen=True, eq=False)
class RandomTermData:
    """One random-effects term ``(lhs | group)`` as arrays.

    Attributes:
        group: grouping expression, e.g. ``"Subject"`` or ``"cask:batch"``.
        refs: int32 ``(n,)``, level of each observation, codes into ``levels``.
        levels: the ``L`` level labels, e.g. ``("308", "309", ...)`` or ``("a:A", "a:B", ...)``.
        z: float64 ``(n, S)``, the term's model matrix (one row per observation).
        z_names: ``S`` column names in lme4's style, e.g. ``("(Intercept)", "Days")``.
        spec: formulaic ``ModelSpec`` of ``z``, to rebuild it on new data.
        source: the user's text of the bar, e.g. ``"(Days || Subject)"``.
        lhs: formulaic text of the term's left side, e.g. ``"0 + Days"``.
        factors: column names that make up ``group``, e.g. ``("cask", "batch")``.
    """

    group: str
    refs: np.ndarray
    levels: tuple[str, ...]
    z: np.ndarray
    z_names: tuple[str, ...]
    spec: ModelSpec
    source: str
    lhs: str
    factors: tuple[str, ...]

    @property
    def label(self) -> str:
        """The term as lme4 writes it, e.g. ``"(0 + Days | Subject)"``."""
        return f"({self.lhs} | {self.group})"


@dataclass(frozen=True, eq=False)
class SeriesColumns:
    """The grouping and time columns of a residual correlation structure (``n`` kept rows).

    Attributes:
        group: the grouping as written, e.g. ``"Subject"`` or ``"school:class"``.
        refs: int32 ``(n,)`` group of each observation, codes into ``levels``.
        levels: labels of the groups (R's factor labels, as for random-effects groupings).
        time_name: the time column, or None when the data's order within groups is used.
        time: float64 ``(n,)`` the time of each observation, or None.
    """

    group: str
    refs: np.ndarray
    levels: tuple[str, ...]
    time_name: str | None
    time: np.ndarray | None


@dataclass(frozen=True, eq=False)
class ModelFrame:
    """Everything the fitting code needs from the formula and the data (``n`` kept rows).

    Attributes:
        y: float64 ``(n,)`` response.
        X: float64 ``(n, p)`` fixed-effects matrix of full column rank.
        x_names: ``p`` column names in lme4's style (``"(Intercept)"``, ``"recipeB"``).
        x_names_formulaic: the same ``p`` names as formulaic writes them (``"Intercept"``,
            ``"recipe[T.B]"``).
        dropped_columns: lme4-style names of the columns dropped as aliased (rank deficiency).
        kept_columns: int64 ``(p,)`` indices of the kept columns in formulaic's full matrix.
        offset: float64 ``(n,)``, sum of the ``offset()`` terms and the ``offset=`` argument
            (zeros when there are none).
        weights: float64 ``(n,)`` prior weights (ones when none were given).
        terms: one :class:`RandomTermData` per bar, in the order the bars were written.
        row_index: int64 ``(n,)`` positions of the kept rows in the input data.
        n_rows_in: number of rows of the input data.
        n_dropped: number of rows dropped for missing values.
        response_name: the response as written, e.g. ``"Reaction"`` or ``"np.log(y)"``.
        fixed_spec: formulaic ``ModelSpec`` of the full fixed-effects matrix (before dropping).
        offset_specs: one ``ModelSpec`` per ``offset()`` term, to evaluate it on new data.
        offset_column: the ``offset=`` argument when it named a column, else None.
        parsed: the :class:`ParsedFormula` this frame was built from.
        design_data: the kept rows of the used columns as the pandas frame formulaic saw
            (categorical columns as ``Categorical``), to rebuild parts of the design (the cell
            designs of type III hypotheses).
        trials: for a ``cbind(successes, failures)`` response, float64 ``(n,)`` the number of
            trials of each row (then ``y`` is the proportion of successes and ``weights``
            includes the trials, as R's binomial family); None otherwise.
        parts: the designs of extra one-sided formulas by part name (glmmTMB's ``"zi"`` and
            ``"disp"``), on the same rows; empty for other models.
        series: the group and time columns of a residual correlation structure, or None.
    """

    y: np.ndarray
    X: np.ndarray
    x_names: tuple[str, ...]
    x_names_formulaic: tuple[str, ...]
    dropped_columns: tuple[str, ...]
    kept_columns: np.ndarray
    offset: np.ndarray
    weights: np.ndarray
    terms: tuple[RandomTermData, ...]
    row_index: np.ndarray
    n_rows_in: int
    n_dropped: int
    response_name: str
    fixed_spec: ModelSpec
    offset_specs: tuple[ModelSpec, ...]
    offset_column: str | None
    parsed: ParsedFormula
    design_data: pd.DataFrame
    trials: np.ndarray | None = None
    parts: dict[str, FixedPart] = field(default_factory=dict)
    series: SeriesColumns | None = None


def build_model_frame(
    parsed: ParsedFormula, data: Any, *, weights: Any = None, offset: Any = None,
    factor_response: bool = False, residual_variance: bool = True,
    parts: tuple[PartSpec, ...] = (),
    series: tuple[str, str | None] | None = None,
    extra_columns: tuple[str, ...] = (),
) -> ModelFrame:
    """Turn a parsed formula and a dataframe into the arrays of a mixed model.

    Args:
        parsed: from :func:`parse_formula`; must have a response.
        data: pandas, polars or pyarrow table (see :func:`interlace_jax.data.to_columns`).
        weights: prior weights: a column name or an array of length ``n_rows_in``.
        offset: a known term added to the linear predictor, on top of any ``offset()`` terms: a
            column name or an array of length ``n_rows_in``.
        factor_response: accept a categorical response column as R's binomial family does:
            its first level is failure (0), every other level success (1).
        residual_variance: the model has a residual variance (LMMs); False for GLMMs, where
            a grouping factor may have as many levels as there are observations.
        parts: extra one-sided formulas (:func:`~interlace_jax.formula.parse_part`) whose
            designs are built on the same rows; their columns drop rows with missing values too.
        series: ``(group, time)`` columns of a residual correlation structure (``group`` may
            be an interaction ``"a:b"``; ``time`` None for the data's order), read with the
            other columns so that their missing values drop rows too.
        extra_columns: more columns the model reads outside the formula's parts (a survival
            response's status, strata): rows missing them are dropped too, and they are in
            ``design_data``.

    Returns:
        The :class:`ModelFrame`; with zero bars, ``terms`` is empty (the caller decides whether
        that is allowed).

    Raises:
        FormulaError: if the formula has no response.
        DataError: for missing columns, empty data, a non-numeric response, bad weights or
            offsets, or values formulaic cannot code.
        ModelError: for a random-effects term that cannot be identified (too few or too many
            levels).

    Warns:
        UserWarning: when aliased fixed-effects columns are dropped, in lme4's wording.

    Example
    -------
    >>> import pandas as pd
    >>> from interlace_jax.formula import parse_formula
    >>> df = pd.DataFrame({"y": [1.0, 2.0, 3.0, 4.0], "x": [0.0, 1.0, 0.0, 1.0],
    ...                    "g": ["a", "a", "b", "b"]})
    >>> mf = build_model_frame(parse_formula("y ~ x + (1 | g)"), df)
    >>> mf.X.shape, mf.x_names, mf.terms[0].levels, mf.terms[0].refs.tolist()
    ((4, 2), ('(Intercept)', 'x'), ('a', 'b'), [0, 0, 1, 1])
    """
    if parsed.response is None:
        raise FormulaError("the formula has no response: write it as 'y ~ ...'")
    series_names = [] if series is None else _series_names(*series)
    needed = model_columns(parsed, weights, offset) + series_names + list(extra_columns)
    needed = list(dict.fromkeys(needed + [c for part in parts for c in part.needed_columns]))
    columns = to_columns(data, needed)
    n = len(columns.row_index)
    if columns.n_rows_in == 0:
        raise DataError("data has no rows")
    if n == 0:
        raise DataError(
            f"no rows left after dropping the {columns.n_dropped} rows with missing values in "
            f"the model's columns {list(columns.values)}"
        )
    _check_predictor_levels(parsed, columns)
    frame = pandas_frame(columns)
    y, trials = _response(parsed.response, columns, frame, factor_response)
    X_full, fixed_spec = model_matrix(
        parsed.fixed_rhs, frame, f"the fixed-effects part {parsed.fixed_rhs!r}"
    )
    full_names = tuple(fixed_spec.column_names)
    kept = full_rank_columns(X_full)
    dropped = lme4_names([c for j, c in enumerate(full_names) if j not in set(kept.tolist())])
    if dropped:
        warnings.warn(rank_message(dropped), UserWarning, stacklevel=2)
    offset_specs = []
    total_offset = np.zeros(n)
    for expr in parsed.offsets:
        values, spec = _numeric_expression(expr, columns, frame, "offset")
        total_offset += values
        offset_specs.append(spec)
    offset_arg = observation_vector(offset, "offset", columns)
    weights_arg = observation_vector(weights, "weights", columns, nonnegative=True)
    # a bar whose left side is written as the fixed part (``Days + (Days | Subject)``), or as
    # another bar's, reuses that matrix instead of asking formulaic again
    matrices = {parsed.fixed_rhs: (X_full, fixed_spec)}
    terms = tuple(_random_term(bar, columns, frame, matrices) for bar in parsed.bars)
    for term in terms:
        check_term_sizes(term.label, term.group, len(term.levels), term.z.shape[1], n,
                         residual_variance)
    return ModelFrame(
        y=y,
        X=X_full[:, kept],
        x_names=lme4_names([full_names[j] for j in kept]),
        x_names_formulaic=tuple(full_names[j] for j in kept),
        dropped_columns=dropped,
        kept_columns=kept,
        offset=total_offset if offset_arg is None else total_offset + offset_arg,
        weights=(np.ones(n) if weights_arg is None else weights_arg) * (
            1.0 if trials is None else trials),
        terms=terms,
        row_index=columns.row_index,
        n_rows_in=columns.n_rows_in,
        n_dropped=columns.n_dropped,
        response_name=parsed.response,
        fixed_spec=fixed_spec,
        offset_specs=tuple(offset_specs),
        offset_column=offset if isinstance(offset, str) else None,
        parsed=parsed,
        design_data=frame,
        trials=trials,
        parts={p.name: build_part(p, frame, columns, _numeric_expression) for p in parts},
        series=None if series is None else _series_columns(*series, columns),
    )


def _series_names(group: str, time: str | None) -> list[str]:
    if not isinstance(group, str) or not group.strip():
        raise DataError(f"the correlation group must be a column name, got {group!r}")
    if time is not None and not isinstance(time, str):
        raise DataError(f"the correlation time must be a column name, got {time!r}")
    return _group_factors(group) + ([] if time is None else [time])


def _group_factors(group: str) -> list[str]:
    return [f.strip() for f in group.split(":")]


def _series_columns(group: str, time: str | None, columns: Columns) -> SeriesColumns:
    """The group codes and the numeric time of a correlation structure."""
    refs, levels = grouping_factor(tuple(_group_factors(group)), columns)
    values = None
    if time is not None:
        raw = columns.values[time]
        if time in columns.levels or raw.dtype.kind not in "iuf":
            raise DataError(
                f"the correlation time column {time!r} must be numeric, but it is "
                f"{'categorical/string' if time in columns.levels else raw.dtype}")
        values = raw.astype(np.float64)
    return SeriesColumns(group, refs, levels, time, values)


def model_columns(parsed: ParsedFormula, weights: Any = None, offset: Any = None) -> list[str]:
    """Every data column a model of ``parsed`` (with these weights and offset, column names
    or arrays) reads, in a stable order."""
    names = expression_names(parsed.response)
    names += required_names(parsed.fixed_rhs)
    for expr in parsed.offsets:
        names += expression_names(expr)
    for bar in parsed.bars:
        names += required_names(bar.lhs) + list(bar.factors)
    return list(dict.fromkeys(names + column_name(weights) + column_name(offset)))


def _check_predictor_levels(parsed: ParsedFormula, columns: Columns) -> None:
    """Raise DataError for a factor (categorical or string column) among the predictors of the
    fixed part or of a bar's left side with a single level on the kept rows, as R's
    ``model.matrix`` does ("contrasts can be applied only to factors with 2 or more
    levels"); formulaic would drop its column without a word."""
    names = required_names(parsed.fixed_rhs) + [
        n for bar in parsed.bars for n in required_names(bar.lhs)]
    for name in dict.fromkeys(names):
        levels = columns.levels.get(name)
        if levels is not None and len(levels) < 2:
            raise DataError(
                f"column {name!r} is a factor with a single level ({levels[0]!r}) on the rows "
                "used: a factor among the predictors needs at least two levels")


def _response(expr: str, columns: Columns, frame: pd.DataFrame, factor_response: bool = False
              ) -> tuple[np.ndarray, np.ndarray | None]:
    """The response ``(n,)`` and, for ``cbind(successes, failures)``, the trials ``(n,)``.

    A numeric or logical column, or an expression of columns. ``cbind(s, f)`` (R's two-column
    binomial response) gives the proportion ``s / (s + f)`` (0 where there are no trials) and
    the trials ``s + f``. With ``factor_response``, a categorical column is 0 at its first
    level and 1 elsewhere (R's binomial family).
    """
    parts = cbind_parts(expr)
    if parts is not None:
        successes, failures = (_numeric_expression(p, columns, frame, "cbind() response")[0]
                               for p in parts)
        if np.any(successes < 0) or np.any(failures < 0):
            raise DataError(f"the response {expr!r} has negative counts of successes or failures")
        trials = successes + failures
        return np.divide(successes, trials, out=np.zeros_like(trials), where=trials > 0), trials
    name = plain_name(expr)
    if name is not None and name not in columns.levels:
        return columns.values[name].astype(np.float64), None
    if name is not None and factor_response:
        return (columns.values[name] != 0).astype(np.float64), None
    return _numeric_expression(expr, columns, frame, "the response")[0], None


def _numeric_expression(
    expr: str, columns: Columns, frame: pd.DataFrame, what: str
) -> tuple[np.ndarray, ModelSpec]:
    """Evaluate ``expr`` with formulaic as one numeric column ``(n,)``, with its ModelSpec."""
    name = plain_name(expr)
    if name is not None and name in columns.levels:
        raise DataError(
            f"{what} {name!r} must be numeric, but column {name!r} is categorical/string"
        )
    matrix, spec = model_matrix(f"0 + I({expr})", frame, f"{what} {expr!r}")
    if matrix.shape[1] != 1:
        raise DataError(f"{what} {expr!r} must evaluate to one numeric column")
    return matrix[:, 0], spec


def _random_term(bar: BarSpec, columns: Columns, frame: pd.DataFrame,
                 matrices: dict[str, tuple[np.ndarray, ModelSpec]]) -> RandomTermData:
    """Level codes and model matrix of one bar; ``matrices`` holds the model matrices already
    built on ``frame`` by right-hand side (the bar's is added)."""
    where = f"random-effects term {bar.label}"
    if bar.label != bar.source:
        where += f" from {bar.source!r}"
    if bar.lhs not in matrices:
        matrices[bar.lhs] = model_matrix(bar.lhs, frame, where)
    z, spec = matrices[bar.lhs]
    if z.shape[1] == 0:
        raise FormulaError(f"{where} has no columns on the left of '|'")
    refs, levels = grouping_factor(bar.factors, columns)
    return RandomTermData(
        group=bar.group,
        refs=refs,
        levels=levels,
        z=z,
        z_names=lme4_names(spec.column_names),
        spec=spec,
        source=bar.source,
        lhs=bar.lhs,
        factors=bar.factors,
    )
