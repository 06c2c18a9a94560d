"""Model matrices through formulaic: the one place that knows formulaic's options and names.

Every matrix is built with ``Formula(rhs).get_model_matrix(frame, output="numpy",
ensure_full_rank=True, na_action="raise", context=R_FUNCTIONS)`` (R's ``factor``, ``sqrt``, ...;
see :mod:`~interlace_jax.formula._r_syntax`) from a pandas frame made of the already cleaned
columns (no missing values are left, so ``na_action="raise"`` only guards the invariant). The
returned ``ModelSpec`` replays the same coding on new data for prediction.

Coding follows R's ``model.matrix``: a factor gets treatment contrasts when the term has an
intercept (``1 + cond`` -> ``(Intercept), condb, condc``) and one indicator per level without
(``0 + cond`` -> ``conda, condb, condc``); an ordered factor gets R's polynomial contrasts
(``contr.poly``: ``temp.L, temp.Q, temp.C, temp^4``); a logical column is a factor with levels
``FALSE, TRUE``.
"""

from __future__ import annotations

import re
import warnings
from functools import lru_cache

import numpy as np
import pandas as pd
from formulaic import ModelSpec
from formulaic.errors import DataMismatchWarning, FormulaicError
from formulaic.parser.types import Factor
from formulaic.transforms import TRANSFORMS
from formulaic.utils.variables import get_required_variables

from .._errors import DataError, FormulaError
from ..data import Columns
from ._formula_cache import cached_formula
from ._r_syntax import R_FUNCTIONS, r_spelling

_LEVEL = re.compile(r"\[(?:T\.)?([^\[\]]*)\](?=:|$)")
_RAW_POLY = re.compile(r"(poly\([^\[\]]*?), raw=True\)\[(\d+)\]")
_POLY = re.compile(r"C\(`?([^`,()]+)`?, contr\.poly\)\[([^\[\]]*)\](?=:|$)")
_BOOL_LEVELS = ("FALSE", "TRUE")


def _categories(levels: tuple, ordered: bool = False) -> pd.CategoricalDtype:
    """The (immutable) pandas dtype of a factor with these levels, cached: building it checks
    the levels, which cost a warm fit ~0.1-0.3 ms per factor. The key holds the levels' types
    too, since equal levels of other types (1, 1.0, True) name columns differently."""
    return _categories_of(tuple(map(type, levels)), levels, ordered)


@lru_cache(maxsize=256)
def _categories_of(types: tuple, levels: tuple, ordered: bool) -> pd.CategoricalDtype:
    return pd.CategoricalDtype(list(levels), ordered=ordered)


def pandas_frame(columns: Columns) -> pd.DataFrame:
    """The columns as a pandas frame for formulaic.

    Args:
        columns: cleaned columns of ``n`` rows.

    Returns:
        DataFrame ``(n, k)``: numeric columns as they are, categorical and string columns as
        ``pandas.Categorical`` with the saved levels (ordered for ordered factors), boolean
        columns as ``Categorical`` with levels ``["FALSE", "TRUE"]`` (R's coding of logicals in a
        model matrix).
    """
    data: dict[str, object] = {}
    for name, values in columns.values.items():
        if name in columns.levels:
            dtype = _categories(columns.levels[name], name in columns.ordered)
            data[name] = pd.Categorical.from_codes(values, dtype=dtype)
        elif values.dtype == bool:
            data[name] = pd.Categorical.from_codes(values.astype(np.int8),
                                                   dtype=_categories(_BOOL_LEVELS))
        else:
            data[name] = values
    return pd.DataFrame(data, index=pd.RangeIndex(len(columns.row_index)))


def required_names(rhs: str) -> list[str]:
    """Data columns that a formulaic right-hand side reads, in order of appearance.

    formulaic's own ``Formula.required_variables`` misses the arguments of stateful transforms
    (``poly(x, 2)``, ``scale(x)``), so each factor's expression is read here instead; names of
    formulaic's transforms (``np``, ``log``, ``C``, ``poly``, ...) are left out.

    Raises:
        FormulaError: if ``rhs`` or an expression in it cannot be parsed.
    """
    names: list[str] = []
    try:
        for term in cached_formula(rhs):
            for factor in term.factors:
                if factor.eval_method is Factor.EvalMethod.LOOKUP:
                    names.append(factor.expr)
                elif factor.eval_method is Factor.EvalMethod.PYTHON:
                    names.extend(
                        v.root
                        for v in sorted(get_required_variables(factor.expr), key=str)
                        if "value" in v.roles and v.root not in TRANSFORMS
                    )
    except (FormulaicError, SyntaxError) as e:
        raise FormulaError(f"cannot read the variables of {rhs!r}: {_first_line(e)}") from None
    return list(dict.fromkeys(names))


def plain_name(expr: str) -> str | None:
    """The column name when ``expr`` is just a name (possibly in backticks), else None."""
    expr = expr.strip()
    if expr.startswith("`") and expr.endswith("`") and expr.count("`") == 2:
        return expr[1:-1]
    return expr if expr.isidentifier() else None


def expression_names(expr: str) -> list[str]:
    """Data columns read by a Python expression such as a response or an offset."""
    name = plain_name(expr)
    return [name] if name is not None else required_names(f"0 + I({expr})")


def model_matrix(rhs: str, frame: pd.DataFrame, what: str) -> tuple[np.ndarray, ModelSpec]:
    """Build the model matrix of ``rhs`` on ``frame``.

    Args:
        rhs: formulaic right-hand side, e.g. ``"1 + Days"``.
        frame: pandas frame of ``n`` rows from :func:`pandas_frame`.
        what: description for error messages, e.g. ``"the fixed-effects part 'x + g'"``.

    Returns:
        ``(M, spec)``: float64 matrix ``(n, k)`` and the formulaic ``ModelSpec`` (column names in
        ``spec.column_names``).

    Raises:
        DataError: if formulaic cannot evaluate the formula or the result is not finite.
    """
    rhs = _ordered_as_poly(rhs, frame)
    numeric = _numeric_columns_only(rhs, frame)
    if numeric and rhs in _NUMERIC_SPECS:
        spec = _NUMERIC_SPECS[rhs]
        return _numeric_products(spec, frame, what), spec
    try:
        mm = cached_formula(rhs).get_model_matrix(
            frame, output="numpy", ensure_full_rank=True, na_action="raise", context=R_FUNCTIONS
        )
    except FormulaicError as e:
        raise DataError(f"cannot build {what}: {_first_line(e)}") from None
    matrix = np.asarray(mm, dtype=np.float64)
    _check_finite(matrix, mm.model_spec.column_names, what)
    if numeric:
        if len(_NUMERIC_SPECS) >= _NUMERIC_SPECS_MAX:
            _NUMERIC_SPECS.clear()
        _NUMERIC_SPECS[rhs] = mm.model_spec
    return matrix, mm.model_spec


#: formulaic's ModelSpec of each right-hand side made of plain numeric columns (and their
#: products), by text. Such a spec holds no state learnt from the data (no levels, no
#: transforms), so it describes that right-hand side on any data whose columns are numeric,
#: and :func:`_numeric_products` rebuilds its matrix without formulaic (~0.5 ms of a warm
#: sleepstudy fit).
_NUMERIC_SPECS: dict[str, ModelSpec] = {}
_NUMERIC_SPECS_MAX = 512  # as many as parsed formulas are cached


def _numeric_columns_only(rhs: str, frame: pd.DataFrame) -> bool:
    """Whether every factor of ``rhs`` is the literal 1 or a numeric (not categorical) column
    of ``frame`` named plainly."""
    for term in cached_formula(rhs):
        for factor in term.factors:
            if factor.eval_method is Factor.EvalMethod.LITERAL and factor.expr == "1":
                continue
            if (factor.eval_method is not Factor.EvalMethod.LOOKUP
                    or factor.expr not in frame
                    or frame[factor.expr].dtype.kind not in "if"):
                return False
    return True


def _numeric_products(spec: ModelSpec, frame: pd.DataFrame, what: str) -> np.ndarray:
    """The float64 matrix ``(n, k)`` of a numeric-columns-only spec: one column per term, the
    product of its columns (ones for the intercept), in the spec's order."""
    n = len(frame)
    columns = []
    for term in spec.terms:
        column = np.ones(n)
        for factor in term.factors:
            if factor.eval_method is Factor.EvalMethod.LOOKUP:
                column = column * frame[factor.expr].to_numpy(dtype=np.float64)
        columns.append(column)
    matrix = np.column_stack(columns) if columns else np.empty((n, 0))
    _check_finite(matrix, spec.column_names, what)
    return matrix


def _ordered_as_poly(rhs: str, frame: pd.DataFrame) -> str:
    """``rhs`` with each ordered factor named plainly in it (an ordered pandas ``Categorical``
    column of ``frame``) written ``C(name, contr.poly)``: R codes ordered factors with
    polynomial contrasts, formulaic with treatment contrasts unless told."""
    def ordered(factor) -> bool:
        if factor.eval_method is not Factor.EvalMethod.LOOKUP or factor.expr not in frame:
            return False
        dtype = frame[factor.expr].dtype
        return isinstance(dtype, pd.CategoricalDtype) and bool(dtype.ordered)

    terms = list(cached_formula(rhs))
    if not any(ordered(f) for term in terms for f in term.factors):
        return rhs
    parts, intercept = [], False
    for term in terms:
        if [f.expr for f in term.factors] == ["1"]:
            intercept = True
            continue
        parts.append(":".join(
            f"C({_quoted(f.expr)}, contr.poly)" if ordered(f)
            else _quoted(f.expr) if f.eval_method is Factor.EvalMethod.LOOKUP else f.expr
            for f in term.factors
        ))
    return " + ".join(["1" if intercept else "0", *parts])


def _quoted(name: str) -> str:
    return name if name.isidentifier() else f"`{name}`"


def new_model_matrix(spec: ModelSpec, frame: pd.DataFrame, what: str) -> np.ndarray:
    """Replay ``spec`` on new data; a factor level not seen when fitting is a DataError.

    Returns:
        float64 matrix ``(m, k)`` with the same columns as when fitting.
    """
    _check_known_levels(spec, frame, what)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", DataMismatchWarning)
            mm = spec.get_model_matrix(frame, context=R_FUNCTIONS)
    except DataMismatchWarning as e:
        raise DataError(f"new data for {what} has levels not seen when fitting: {e}") from None
    except FormulaicError as e:
        raise DataError(f"cannot build {what} for new data: {_first_line(e)}") from None
    matrix = np.asarray(mm, dtype=np.float64)
    _check_finite(matrix, spec.column_names, f"{what} for new data")
    return matrix


def lme4_names(names: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Column names in R's style: ``Intercept`` -> ``(Intercept)``, ``g[T.b]`` -> ``gb``,
    ``g[b]`` -> ``gb``, ``g[T.b]:x`` -> ``gb:x``, ``poly(x, 2)[1]`` -> ``poly(x, 2)1``,
    ``C(t, contr.poly)[.L]`` -> ``t.L`` (an ordered factor), ``I(x ** 2)`` -> ``I(x^2)``,
    ``poly(x, 2, raw=True)[0]`` -> ``poly(x, 2, raw = TRUE)1`` (formulaic counts raw powers
    from 0)."""
    return tuple("(Intercept)" if n == "Intercept" else _r_name(n) for n in names)


def _r_name(name: str) -> str:
    name = _RAW_POLY.sub(lambda m: f"{m.group(1)}, raw = TRUE){int(m.group(2)) + 1}", name)
    return r_spelling(_LEVEL.sub(r"\1", _POLY.sub(r"\1\2", name)))


def _check_known_levels(spec: ModelSpec, frame: pd.DataFrame, what: str) -> None:
    """Name the column when a plain categorical variable has a level unseen when fitting."""
    for name, (kind, state) in spec.encoder_state.items():
        if (
            kind is not Factor.Kind.CATEGORICAL
            or name not in frame
            or not isinstance(frame[name].dtype, pd.CategoricalDtype)
        ):
            continue
        seen = set(state.get("categories", ()))
        new = [c for c in frame[name].cat.categories if c not in seen]
        if new:
            shown = ", ".join(map(repr, new[:5]))
            raise DataError(
                f"column {name!r} in new data has levels not seen when fitting ({shown}); "
                f"{what} cannot code them"
            )


def _check_finite(matrix: np.ndarray, names: tuple[str, ...], what: str) -> None:
    bad = ~np.isfinite(matrix).all(axis=0)
    if bad.any():
        raise DataError(
            f"{what} has non-finite values in column {names[int(np.flatnonzero(bad)[0])]!r}"
        )


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
