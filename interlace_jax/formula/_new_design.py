"""Design arrays for new data, replaying the codings saved in a :class:`ModelFrame` (predict).

The fixed-effects matrix and each term's model matrix are rebuilt with the saved formulaic
``ModelSpec`` (same contrasts, same centring of stateful transforms, same aliased columns
dropped). Grouping levels are matched by label to the levels seen when fitting; a level not seen
gets code ``-1`` so that the caller can apply its own policy (lme4's ``allow.new.levels``,
MixedModels.jl's ``new_re_levels``). An unseen level of a *fixed* factor cannot be coded and is a
DataError.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..data import to_columns
from ._design import expression_names, new_model_matrix, pandas_frame, required_names
from ._grouping import match_levels
from ._model_frame import ModelFrame
from ._parts import new_part_matrices


@dataclass(frozen=True, eq=False)
class NewTermDesign:
    """One random-effects term on new data (``m`` rows).

    Attributes:
        refs: int32 ``(m,)`` codes into the term's levels when fitting; ``-1`` for a level that
            was not seen when fitting.
        z: float64 ``(m, S)`` model matrix of the term.
        unseen_levels: labels of the levels that got ``-1``.
    """

    refs: np.ndarray
    z: np.ndarray
    unseen_levels: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class NewDesign:
    """Design arrays for new data of ``m`` rows.

    Attributes:
        X: float64 ``(m, p)`` with the same (kept) columns as ``ModelFrame.X``.
        offset: float64 ``(m,)``: the ``offset()`` terms, plus the ``offset=`` column when the
            model's offset was given as a column name (an ``offset=`` array given when fitting is
            not carried over).
        terms: one :class:`NewTermDesign` per term of the model frame, in the same order.
        parts: per extra part of the model frame (``"zi"``, ``"disp"``), its design ``(m, k)``
            and offset ``(m,)``.
    """

    X: np.ndarray
    offset: np.ndarray
    terms: tuple[NewTermDesign, ...]
    parts: dict[str, tuple[np.ndarray, np.ndarray]]


def model_matrices_for(frame: ModelFrame, newdata: Any) -> NewDesign:
    """Build the design arrays of a fitted model's formula on new data.

    Args:
        frame: the model frame the model was fitted on.
        newdata: pandas, polars or pyarrow table with the predictors (the response, weights and
            unused columns are not needed).

    Returns:
        The :class:`NewDesign`.

    Raises:
        DataError: for a missing column, a missing value (naming the column), or a level of a
            fixed-effects factor (or of a factor in a term's left side) not seen when fitting.
    """
    parsed = frame.parsed
    names = required_names(parsed.fixed_rhs)
    for expr in parsed.offsets:
        names += expression_names(expr)
    for term in frame.terms:
        names += required_names(term.lhs) + list(term.factors)
    if frame.offset_column is not None:
        names.append(frame.offset_column)
    for part in frame.parts.values():
        names += part.spec.needed_columns
    columns = to_columns(newdata, list(dict.fromkeys(names)), missing="raise")
    df = pandas_frame(columns)
    X = new_model_matrix(frame.fixed_spec, df, "the fixed-effects part")[:, frame.kept_columns]
    offset = np.zeros(len(df))
    for expr, spec in zip(parsed.offsets, frame.offset_specs, strict=True):
        offset += new_model_matrix(spec, df, f"offset {expr!r}")[:, 0]
    if frame.offset_column is not None:
        offset += columns.values[frame.offset_column].astype(np.float64)
    terms = []
    for term in frame.terms:
        refs, unseen = match_levels(term.factors, columns, term.levels)
        z = new_model_matrix(term.spec, df, f"random-effects term {term.label}")
        terms.append(NewTermDesign(refs, z, unseen))
    parts = {name: new_part_matrices(part, df) for name, part in frame.parts.items()}
    return NewDesign(X, offset, tuple(terms), parts)
