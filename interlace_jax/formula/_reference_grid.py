"""The reference grid of a fitted model, as the emmeans package builds it (``ref_grid``).

Every variable of the fixed-effects part is put on a grid:

* a factor (categorical, string or logical column, or a numeric column coerced to a factor in the
  formula, e.g. ``C(x)``) at all its levels, in the model's level order (logicals as ``FALSE``,
  ``TRUE``; coerced numerics at their sorted unique values);
* a numeric covariate at its mean, unless it takes at most two distinct values: then it is kept
  at both, as a factor (emmeans' default ``cov.keep = "2"``);
* any variable named in ``at`` at the values given there (a subset of a factor's levels, or any
  numbers for a covariate).

The model's offset is a covariate of its own (``.offset.``), reduced to its mean over the
observations as emmeans does (so ``offset(log(w))`` is put at the mean of ``log(w)``). The grid
rows are all combinations of the variables' values, the first variable varying fastest (R's
``expand.grid``); the fixed-effects matrix of the rows is built by replaying the model's formulaic
``ModelSpec`` (same codings, same centring of stateful transforms).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from formulaic.parser.types import Factor

from .._errors import ModelError
from ._design import new_model_matrix, required_names
from ._model_frame import ModelFrame

#: Covariates with at most this many distinct values are kept at each (emmeans' cov.keep = "2").
COV_KEEP = 2

#: Relative size of the singular values counted as zero in the null space of X (estimability's
#: nonest.basis).
NULL_SPACE_TOL = 5e-8

OFFSET = ".offset."


@dataclass(frozen=True, eq=False)
class GridVariable:
    """One variable of the reference grid.

    Attributes:
        name: the column name (or ``".offset."``).
        values: its values on the grid: level labels of a factor, or floats.
        numeric: True when the values are numbers (covariates, numeric columns kept as factors).
        factor_like: True for the variables emmeans weights by cell counts (factors, coerced
            factors, covariates kept at their distinct values).
        codes: int64 (n,) index into ``values`` of each observation (-1 when its value is not on
            the grid); None for a variable that is not ``factor_like``.
    """

    name: str
    values: tuple
    numeric: bool
    factor_like: bool
    codes: np.ndarray | None


@dataclass(frozen=True, eq=False)
class ReferenceGrid:
    """The reference grid (G rows, p columns of formulaic's full fixed-effects matrix).

    Attributes:
        variables: the grid's variables in the order of the formula.
        X: float64 (G, p) fixed-effects matrix of every grid row, before dropping aliased
            columns (``ModelFrame.kept_columns`` selects the fitted ones).
        offset: float64 (G,) the offset of every row.
        counts: float64 (G,) sum of the prior weights of the observations in each row's cell of
            the factor-like variables (emmeans' ``.wgt.``).
        null_basis: float64 (p, r) orthonormal basis of the null space of the model's full
            fixed-effects matrix (r = 0 when it has full column rank): a linear function ``l``
            is estimable when ``l`` is orthogonal to it.
        column_names: formulaic's names of the p columns.
    """

    variables: tuple[GridVariable, ...]
    X: np.ndarray
    offset: np.ndarray
    counts: np.ndarray
    null_basis: np.ndarray
    column_names: tuple[str, ...]

    @property
    def dims(self) -> tuple[int, ...]:
        return tuple(len(v.values) for v in self.variables)


def reference_grid(frame: ModelFrame, at: Mapping[str, Any] | None = None) -> ReferenceGrid:
    """The reference grid of the model fitted on ``frame``.

    Args:
        frame: the fitted model's frame.
        at: ``{variable: value or values}``: levels of a factor to keep (in the given order) or
            values of a covariate.

    Raises:
        ModelError: for an ``at`` entry naming no variable of the fixed effects, a factor level
            that does not exist, or values that are not finite numbers for a covariate.
    """
    at = dict(at or {})
    names = _fixed_variables(frame)
    unknown = [k for k in at if k not in names]
    if unknown:
        shown = ", ".join(map(repr, names)) or "none"
        raise ModelError(
            f"'at' names {', '.join(map(repr, unknown))}, which the fixed effects do not use; "
            f"the variables of the fixed effects are {shown}")
    coerced = _coerced_factors(frame)
    data = frame.design_data
    variables = [_grid_variable(name, data[name], at.get(name), name in coerced,
                                name in at) for name in names]
    if frame.offset.size and np.any(frame.offset != 0):
        variables.append(_grid_variable(OFFSET, pd.Series(frame.offset), None, False, False))
    rows = list(itertools.product(*[range(len(v.values)) for v in reversed(variables)]))
    index = np.asarray(rows, dtype=np.int64)[:, ::-1] if variables else np.zeros((1, 0), int)
    grid = {}
    for j, v in enumerate(variables):
        if v.name == OFFSET:
            continue
        values = np.asarray(v.values, dtype=object)[index[:, j]]
        if isinstance(data[v.name].dtype, pd.CategoricalDtype):
            grid[v.name] = pd.Categorical(values, categories=data[v.name].cat.categories)
        else:
            grid[v.name] = values.astype(np.float64)
    grid_frame = pd.DataFrame(grid, index=pd.RangeIndex(index.shape[0]))
    X = new_model_matrix(frame.fixed_spec, grid_frame, "the reference grid")
    offset = np.zeros(index.shape[0])
    if variables and variables[-1].name == OFFSET:
        offset = np.asarray(variables[-1].values, dtype=np.float64)[index[:, -1]]
    counts = _cell_counts(variables, index, frame.weights)
    check_not_nested(frame, variables, index, counts)
    return ReferenceGrid(
        variables=tuple(variables),
        X=X,
        offset=offset,
        counts=counts,
        null_basis=_null_basis(frame),
        column_names=tuple(frame.fixed_spec.column_names),
    )


def _fixed_variables(frame: ModelFrame) -> list[str]:
    """Data columns read by the fixed part, in order of appearance in the formula (the
    offset enters the grid as one covariate of its own, see :data:`OFFSET`)."""
    rhs = frame.parsed.fixed_rhs
    names = [n for n in required_names(rhs) if n in frame.design_data]

    def position(name: str) -> int:
        found = re.search(rf"(?<![\w.]){re.escape(name)}(?![\w.])", rhs)
        return found.start() if found else len(rhs)

    return sorted(names, key=position)


def _coerced_factors(frame: ModelFrame) -> set[str]:
    """Numeric columns that the formula codes as a factor (``C(x)``): R's coerced factors."""
    out = set()
    for name, (kind, _) in frame.fixed_spec.encoder_state.items():
        if kind is not Factor.Kind.CATEGORICAL or name in frame.design_data:
            continue
        for var in required_names(f"0 + {name}"):
            column = frame.design_data.get(var)
            if column is not None and not isinstance(column.dtype, pd.CategoricalDtype):
                out.add(var)
    return out


def _grid_variable(name: str, column: pd.Series, at_value, coerced: bool,
                   given: bool) -> GridVariable:
    """The grid values of one column (see the module docstring)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        levels = tuple(column.cat.categories)
        values = levels if not given else _factor_levels(name, at_value, levels)
        codes = _codes(column.astype(object).to_numpy(), values)
        return GridVariable(name, values, False, True, codes)
    x = column.to_numpy(dtype=np.float64)
    unique = tuple(float(u) for u in np.unique(x))
    if coerced:
        values = unique if not given else _factor_levels(name, _floats(name, at_value), unique)
        return GridVariable(name, values, True, True, _codes(x, values))
    if given:
        return GridVariable(name, _floats(name, at_value), True, False, None)
    if len(unique) <= COV_KEEP:
        return GridVariable(name, unique, True, True, _codes(x, unique))
    return GridVariable(name, (float(np.mean(x)),), True, False, None)


def _as_tuple(value) -> tuple:
    if isinstance(value, (str, bytes)) or np.ndim(value) == 0:
        return (value,)
    return tuple(value)


def _factor_levels(name: str, value, levels: tuple) -> tuple:
    """The levels named in ``at`` (as given), checked against the factor's levels."""
    wanted = _as_tuple(value)
    lookup = {str(lev): lev for lev in levels}
    out = []
    for w in wanted:
        if isinstance(w, (bool, np.bool_)):
            w = "TRUE" if w else "FALSE"  # logical columns have levels FALSE, TRUE
        key = w if w in levels else lookup.get(str(w))
        if key is None:
            raise ModelError(
                f"'at' gives level {w!r} of factor {name!r}, which has levels "
                f"{', '.join(map(repr, levels))}")
        out.append(key)
    if not out:
        raise ModelError(f"'at' gives no levels for factor {name!r}")
    return tuple(dict.fromkeys(out))


def _floats(name: str, value) -> tuple[float, ...]:
    try:
        out = np.asarray(_as_tuple(value), dtype=np.float64)
    except (TypeError, ValueError):
        raise ModelError(f"'at' values of covariate {name!r} must be numbers, got {value!r}") \
            from None
    if out.size == 0 or not np.all(np.isfinite(out)):
        raise ModelError(f"'at' values of covariate {name!r} must be finite numbers, "
                         f"got {value!r}")
    return tuple(float(v) for v in out)


def _codes(x: np.ndarray, values: tuple) -> np.ndarray:
    """Index of each observation's value in ``values`` (-1 when absent)."""
    position = {v: i for i, v in enumerate(values)}
    return np.array([position.get(v, -1) for v in x.tolist()], dtype=np.int64)


def _cell_counts(variables, index: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """emmeans' ``.wgt.``: per grid row, the prior weights of the observations whose factor-like
    values are the row's."""
    cols = [j for j, v in enumerate(variables) if v.factor_like]
    if not cols:
        return np.ones(index.shape[0])
    codes = np.stack([variables[j].codes for j in cols], axis=1)
    dims = [len(variables[j].values) for j in cols]
    seen = np.all(codes >= 0, axis=1)
    flat_obs = np.ravel_multi_index(codes[seen].T, dims, order="F")
    totals = np.bincount(flat_obs, weights=weights[seen], minlength=int(np.prod(dims)))
    return totals[np.ravel_multi_index(index[:, cols].T, dims, order="F")]


def _null_basis(frame: ModelFrame) -> np.ndarray:
    """Orthonormal basis (p, r) of the null space of the fitted data's full fixed-effects
    matrix (estimability's ``nonest.basis``); r = 0 when no column was dropped."""
    p = len(frame.fixed_spec.column_names)
    if len(frame.kept_columns) == p:
        return np.zeros((p, 0))
    X = new_model_matrix(frame.fixed_spec, frame.design_data, "the fixed effects")
    _, d, vt = np.linalg.svd(X, full_matrices=True)
    d = np.concatenate([d, np.zeros(p - d.size)])
    return vt[d < d[0] * NULL_SPACE_TOL].T


def check_not_nested(frame: ModelFrame, variables, index: np.ndarray,
                     counts: np.ndarray) -> None:
    """Refuse a nesting structure among the grid's variables, which emmeans detects and then
    averages within nests only.

    A variable ``v`` with several values is nested in ``w`` when every value of ``v`` occurs
    (in a grid cell holding observations) with a single value of ``w``, or when ``v`` enters
    the fixed effects only inside interactions (``a + a:b``: ``b`` nested in ``a``).

    Raises:
        ModelError: naming the nested variable.
    """
    multi = [j for j, v in enumerate(variables) if len(v.values) > 1 and v.name != OFFSET]
    occupied = index[counts > 0]
    for j in multi:
        for k in multi:
            if k == j:
                continue
            per_level = [np.unique(occupied[occupied[:, j] == lev, k]).size
                         for lev in range(len(variables[j].values))]
            if per_level and max(per_level) == 1:
                _nested_error(variables[j].name, variables[k].name, "in the data")
    main, inside = _term_variables(frame)
    grid_factors = {variables[j].name for j in multi}
    for name in sorted(grid_factors - main):
        outer = sorted((inside.get(name, set()) & grid_factors) - {name})
        if outer:
            _nested_error(name, " and ".join(map(repr, outer)),
                          "by the formula (it enters only inside interactions)", quoted=False)


def _nested_error(name: str, outer: str, how: str, quoted: bool = True) -> None:
    outer = f"{outer!r}" if quoted else outer
    raise ModelError(
        f"variable {name!r} is nested in {outer} {how}; emmeans then averages within nests "
        "only, which interlace_jax does not support: give the nested variable's levels "
        "unique labels across the outer factor and cross them, or restrict the grid with 'at'")


def _term_variables(frame: ModelFrame) -> tuple[set[str], dict[str, set[str]]]:
    """(variables with a main-effect term, {variable: variables sharing an interaction with
    it}) of the fixed terms."""
    main: set[str] = set()
    inside: dict[str, set[str]] = {}
    for term in frame.fixed_spec.terms:
        variables = [_factor_variables(f) for f in term.factors
                     if f.eval_method is not Factor.EvalMethod.LITERAL]
        if len(variables) == 1:
            main |= variables[0]
        elif len(variables) > 1:
            together = set().union(*variables)
            for var in together:
                inside.setdefault(var, set()).update(together)
    return main, inside


def _factor_variables(factor) -> set[str]:
    """The data columns one formulaic factor reads."""
    if factor.eval_method is Factor.EvalMethod.LOOKUP:
        return {factor.expr}
    return set(required_names(f"0 + {factor.expr}"))
