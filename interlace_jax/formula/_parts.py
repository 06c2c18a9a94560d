"""One-sided formulas of the extra linear predictors of glmmTMB models (``ziformula="~ x"``,
``dispformula="~ h"``): parsed from text, built on the rows of the conditional model.

A part has fixed effects only (and optional ``offset()`` terms). Its design matrix is built with
formulaic on the same cleaned rows as the conditional model (its columns take part in the
missing-value row dropping), with aliased columns dropped as for the fixed effects.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from formulaic import ModelSpec

from .._errors import FormulaError
from ..data import Columns
from ._bars import ParsedFormula, parse_formula
from ._design import expression_names, lme4_names, model_matrix, new_model_matrix, required_names
from ._rank import full_rank_columns, rank_message


@dataclass(frozen=True, eq=False)
class PartSpec:
    """A one-sided formula of a named part, parsed.

    Attributes:
        name: the part, e.g. ``"zi"`` or ``"disp"`` (for messages and names).
        text: the formula as given, e.g. ``"~ x"``.
        parsed: its :class:`ParsedFormula` (no response, no random-effects terms).
    """

    name: str
    text: str
    parsed: ParsedFormula

    @property
    def needed_columns(self) -> list[str]:
        names = required_names(self.parsed.fixed_rhs)
        for expr in self.parsed.offsets:
            names += expression_names(expr)
        return names


@dataclass(frozen=True, eq=False)
class FixedPart:
    """The design of one part on the model's ``n`` kept rows.

    Attributes:
        spec: the :class:`PartSpec` it was built from.
        X: float64 ``(n, k)`` full-rank design (``k`` may be 0 for ``"~ 0"``).
        x_names: ``k`` column names in R's style (``"(Intercept)"``, ``"hb"``).
        x_names_formulaic: the same names as formulaic writes them.
        kept_columns: int64 ``(k,)`` kept columns of formulaic's full matrix.
        offset: float64 ``(n,)``, the sum of the part's ``offset()`` terms.
        fixed_spec: formulaic ``ModelSpec`` of the full matrix, for new data.
        offset_specs: one ``ModelSpec`` per ``offset()`` term.
    """

    spec: PartSpec
    X: np.ndarray
    x_names: tuple[str, ...]
    x_names_formulaic: tuple[str, ...]
    kept_columns: np.ndarray
    offset: np.ndarray
    fixed_spec: ModelSpec
    offset_specs: tuple[ModelSpec, ...]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def has_intercept_only(self) -> bool:
        return self.x_names == ("(Intercept)",) and not np.any(self.offset)


def parse_part(name: str, text: str) -> PartSpec:
    """Parse a one-sided formula such as ``"~ x"`` for the part ``name``.

    Raises:
        FormulaError: if ``text`` is not a string, has a response or has random-effects terms.
    """
    if not isinstance(text, str):
        raise FormulaError(f"{name}formula must be a one-sided formula string such as '~ x', "
                           f"not {text!r}")
    stripped = text.strip()
    if not stripped.startswith("~"):
        raise FormulaError(f"{name}formula must be one-sided, like '~ x': {text!r}")
    parsed = parse_formula(stripped)
    if parsed.bars:
        raise FormulaError(
            f"random-effects terms in {name}formula {text!r} are not supported: the "
            f"{name} part has fixed effects only")
    return PartSpec(name, text, parsed)


def build_part(spec: PartSpec, frame: pd.DataFrame, columns: Columns,
               numeric_expression) -> FixedPart:
    """The part's design on the cleaned rows (``frame``, ``columns`` of the model frame).

    Args:
        numeric_expression: ``(expr, columns, frame, what) -> (values (n,), ModelSpec)``, the
            model frame's evaluator of offset expressions.
    """
    parsed = spec.parsed
    what = f"the {spec.name} formula {spec.text!r}"
    X_full, fixed_spec = model_matrix(parsed.fixed_rhs, frame, what)
    full_names = tuple(fixed_spec.column_names)
    kept = full_rank_columns(X_full)
    dropped = lme4_names([c for j, c in enumerate(full_names) if j not in set(kept.tolist())])
    if dropped:
        warnings.warn(f"{spec.name} part: " + rank_message(dropped), UserWarning, stacklevel=3)
    offset = np.zeros(X_full.shape[0])
    offset_specs = []
    for expr in parsed.offsets:
        values, ospec = numeric_expression(expr, columns, frame, f"offset in {what}")
        offset += values
        offset_specs.append(ospec)
    return FixedPart(spec, X_full[:, kept], lme4_names([full_names[j] for j in kept]),
                     tuple(full_names[j] for j in kept), kept, offset, fixed_spec,
                     tuple(offset_specs))


def new_part_matrices(part: FixedPart, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The part's design ``(m, k)`` and offset ``(m,)`` on new data (a frame of ``m`` rows)."""
    what = f"the {part.name} formula {part.spec.text!r}"
    X = new_model_matrix(part.fixed_spec, df, what)[:, part.kept_columns]
    offset = np.zeros(len(df))
    for expr, ospec in zip(part.spec.parsed.offsets, part.offset_specs, strict=True):
        offset += new_model_matrix(ospec, df, f"offset {expr!r} in {what}")[:, 0]
    return X, offset

