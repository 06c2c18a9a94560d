"""The model frame of a cumulative link model: an ordered response and a location design
without intercept (ordinal's ``clmm``).

The response is coded 0..K-1 in its categories' order (:func:`~interlace_jax.data.ordered_codes`)
and the rest is the ordinary model frame. As in ordinal, the fixed-effects matrix is built with
its intercept (so factors get treatment contrasts and aliased columns are dropped against it)
and the intercept column is then removed: the K - 1 thresholds play its part.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._errors import DataError, FormulaError
from ..data import ordered_codes, with_columns
from ._bars import ParsedFormula
from ._design import plain_name
from ._model_frame import ModelFrame, build_model_frame


@dataclasses.dataclass(frozen=True, eq=False)
class OrdinalFrame:
    """A :class:`ModelFrame` whose ``y`` holds category codes 0..K-1 (float64) and whose ``X``,
    names and ``kept_columns`` leave out the intercept, with the categories.

    Attributes:
        frame: the model frame (``model_matrices_for`` on it gives designs without intercept).
        categories: the K response categories, lowest first.
    """

    frame: ModelFrame
    categories: tuple

    @property
    def codes(self) -> np.ndarray:
        """int32 (n,) category codes of the kept rows."""
        return self.frame.y.astype(np.int32)


def ordinal_model_frame(parsed: ParsedFormula, data: Any, *, levels: Sequence | None = None,
                        weights: Any = None, offset: Any = None) -> OrdinalFrame:
    """Turn a parsed formula with an ordered response and a dataframe into arrays.

    Args:
        parsed: from :func:`parse_formula`; its response must be a column name.
        data: pandas, polars or pyarrow table.
        levels: the response's categories in order, when the column does not carry an order.
        weights, offset: as :func:`build_model_frame`.

    Raises:
        FormulaError: a response that is an expression, a formula without intercept.
        DataError: an unordered response without ``levels``, fewer than three categories, a
            category without observations (after rows with missing values are dropped).
    """
    name = plain_name(parsed.response or "")
    if name is None:
        raise FormulaError(
            f"the response of a cumulative link model must be a column name, not "
            f"{parsed.response!r}: compute the ordered column in the data first")
    codes, categories = ordered_codes(data, name, levels)
    if len(categories) < 3:
        raise DataError(
            f"the response {name!r} has {len(categories)} categories "
            f"({', '.join(map(repr, categories))}); a cumulative link model needs at least "
            "three (for two, fit a binomial GLMM with glmer)")
    frame = build_model_frame(parsed, with_columns(data, {name: codes}), weights=weights,
                              offset=offset, residual_variance=False)
    used = frame.weights > 0
    counts = np.bincount(frame.y[used].astype(np.int64), minlength=len(categories))
    empty = [repr(c) for c, k in zip(categories, counts) if k == 0]
    if empty:
        where = " (after dropping rows with missing values)" if frame.n_dropped else ""
        raise DataError(
            f"categor{'y' if len(empty) == 1 else 'ies'} {', '.join(empty)} of the response "
            f"{name!r} {'has' if len(empty) == 1 else 'have'} no observations{where}; a "
            "threshold next to an empty category cannot be estimated: remove the category "
            "(pandas: .cat.remove_unused_categories()) or merge it with a neighbour")
    if not frame.x_names or frame.x_names[0] != "(Intercept)":
        raise FormulaError(
            f"the formula {parsed.response} ~ {parsed.fixed_rhs} has no intercept; a cumulative "
            "link model's thresholds take the intercept's place, so remove '0 +' or '- 1'")
    frame = dataclasses.replace(
        frame, X=frame.X[:, 1:], x_names=frame.x_names[1:],
        x_names_formulaic=frame.x_names_formulaic[1:], kept_columns=frame.kept_columns[1:])
    return OrdinalFrame(frame, categories)
