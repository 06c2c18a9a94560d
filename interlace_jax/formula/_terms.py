"""The fixed-effects terms of a model frame as arrays, for F-tests per term (anova tables).

lmerTest builds the hypotheses of its anova tables from R's term structure: which columns of X
belong to each term, which terms contain which (``containment``), and, for type III, the
"cell" design of each term (``model.matrix(~ 0 + term)``: one indicator per level, or per
combination of levels, times the numeric factors) and X in treatment coding. This module reads
the same structure from formulaic's ``ModelSpec`` and the data the model was fitted on; the
hypothesis matrices themselves are computed in :mod:`interlace_jax.inference._anova`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from formulaic.parser.types import Factor

from .._errors import ModelError
from ._design import model_matrix
from ._model_frame import ModelFrame
from ._rank import full_rank_columns


@dataclass(frozen=True, eq=False)
class TreatmentDesign:
    """X in treatment coding and the cell design of each term (lmerTest's type III inputs).

    Attributes:
        X: float64 (n, p_t) fixed-effects matrix with every categorical factor coded by
            treatment contrasts (first level as base) where the model's coding reduces it, and
            by indicators where it does not; aliased columns dropped as lme4 does.
        term_of: int64 (p_t,) term of each column (index into ``FixedTerms.names``; -1 for the
            intercept).
        cells: float64 (n, r) an intercept column (when the model has one), then per term its
            cells: the product of the indicators of all levels of its categorical factors and
            of its numeric factors (R's ``model.matrix(~ 0 + term)``).
        cell_of: int64 (p_t,) the column of ``cells`` equal to each column of ``X``.
        is_model_x: True when ``X`` is the model's own fixed-effects matrix (treatment-coded
            model); otherwise hypotheses are mapped to the model's coefficients with
            ``pinv(X) @ X_model``.
    """

    X: np.ndarray
    term_of: np.ndarray
    cells: np.ndarray
    cell_of: np.ndarray
    is_model_x: bool


@dataclass(frozen=True, eq=False)
class FixedTerms:
    """The model's fixed-effects terms (``T`` terms without the intercept, formulaic's order).

    Attributes:
        names: term labels, e.g. ``("recipe", "temp", "recipe:temp")``.
        term_of: int64 (p,) the term of each column of the model's X (-1 for the intercept).
        contains: per term, the indices of the terms that contain it: lmerTest's rule, term A
            is contained in term B when A's factors are a proper subset of B's and both have
            the same numeric factors (so ``x`` is contained in ``a:x``, ``a`` is not).
        degree: number of factors of each term.
        intercept: True when the model has an intercept.
    """

    names: tuple[str, ...]
    term_of: np.ndarray
    contains: tuple[tuple[int, ...], ...]
    degree: tuple[int, ...]
    intercept: bool


def _is_intercept(term) -> bool:
    return all(f.eval_method is Factor.EvalMethod.LITERAL for f in term.factors)


def fixed_terms(frame: ModelFrame) -> FixedTerms:
    """The term structure of ``frame``'s fixed effects."""
    spec = frame.fixed_spec
    terms = [t for t in spec.terms if not _is_intercept(t)]
    names = tuple(str(t) for t in terms)
    index = {name: i for i, name in enumerate(names)}
    full_term_of = np.full(len(spec.column_names), -1, dtype=np.int64)
    for term, sl in spec.term_slices.items():
        if not _is_intercept(term):
            full_term_of[sl] = index[str(term)]
    factors = [frozenset(f.expr for f in t.factors) for t in terms]
    numeric = [frozenset(e for e in fs if _kind(spec, e) is Factor.Kind.NUMERICAL)
               for fs in factors]
    contains = tuple(
        tuple(j for j in range(len(terms))
              if factors[i] < factors[j] and numeric[i] == numeric[j])
        for i in range(len(terms))
    )
    return FixedTerms(
        names=names,
        term_of=full_term_of[frame.kept_columns],
        contains=contains,
        degree=tuple(len(t.factors) for t in terms),
        intercept=any(_is_intercept(t) for t in spec.terms),
    )


def _kind(spec, expr: str):
    return spec.encoder_state.get(expr, (Factor.Kind.NUMERICAL, {}))[0]


def _factor_columns(factor, frame: pd.DataFrame, what: str) -> np.ndarray:
    """(n, c) all-level indicators of a categorical factor, or a numeric factor's columns."""
    expr = factor.expr
    text = f"`{expr}`" if factor.eval_method is Factor.EvalMethod.LOOKUP else expr
    return model_matrix(f"0 + {text}", frame, what)[0]


def _product(blocks: list[np.ndarray]) -> np.ndarray:
    """Row-wise product of column blocks, the first block's columns varying fastest."""
    out = np.ones((blocks[0].shape[0], 1)) if not blocks else blocks[0]
    for block in blocks[1:]:
        out = (block[:, :, None] * out[:, None, :]).reshape(out.shape[0], -1)
    return out


def _flat_index(indices: list[int], sizes: list[int]) -> int:
    """Position of a combination of column indices, the first varying fastest."""
    flat, stride = 0, 1
    for i, size in zip(indices, sizes):
        flat += i * stride
        stride *= size
    return flat


def treatment_design(frame: ModelFrame, terms: FixedTerms) -> TreatmentDesign:
    """The treatment-coded X and the cell design of ``frame``'s fixed terms.

    Raises:
        ModelError: when a column of the model's coding has no cell (formulaic codes some
            interactions without their margins, e.g. ``1 + a:b``, with columns that leave a
            factor out), so that lmerTest's type III contrasts are not defined.
    """
    spec, data = frame.fixed_spec, frame.design_data
    encodings: dict[str, np.ndarray] = {}

    def columns(factor) -> np.ndarray:
        if factor.expr not in encodings:
            encodings[factor.expr] = _factor_columns(
                factor, data, f"factor {factor.expr!r} for type III hypotheses")
        return encodings[factor.expr]

    cell_blocks, cell_start = [], {}
    offset = 0
    if terms.intercept:
        cell_blocks.append(np.ones((len(data), 1)))
        offset = 1
    model_terms = [t for t in spec.terms if not _is_intercept(t)]
    for term in model_terms:
        block = _product([columns(f) for f in term.factors])
        cell_start[str(term)] = offset
        cell_blocks.append(block)
        offset += block.shape[1]
    x_blocks, x_term, x_cell = [], [], []
    for structure in spec.structure:
        term = structure.term
        if _is_intercept(term):
            x_blocks.append(np.ones((len(data), 1)))
            x_term.append(-1)
            x_cell.append(0)
            continue
        position = {f.expr: i for i, f in enumerate(term.factors)}
        sizes = [columns(f).shape[1] for f in term.factors]
        term_index = terms.names.index(str(term))
        for scoped in structure.scoped_terms:
            if len(scoped.factors) < len(term.factors):
                raise ModelError(
                    f"type III hypotheses are not defined for term {str(term)!r}: some of its "
                    "columns leave out a factor (an interaction coded without its margins); "
                    "add the margins to the formula, or use type=1 or type=2")
            parts, ranges = [], []
            for sf in scoped.factors:
                full = columns(sf.factor)
                categorical = _kind(spec, sf.factor.expr) is Factor.Kind.CATEGORICAL
                drop = 1 if sf.reduced and categorical else 0
                parts.append(full[:, drop:])
                ranges.append((position[sf.factor.expr], drop, full.shape[1] - drop))
            x_blocks.append(_product(parts))
            for flat in range(x_blocks[-1].shape[1]):
                x_term.append(term_index)
                level = [0] * len(term.factors)
                rest = flat
                for pos, drop, size in ranges:
                    level[pos] = rest % size + drop
                    rest //= size
                x_cell.append(cell_start[str(term)] + _flat_index(level, sizes))
    X_full = np.concatenate(x_blocks, axis=1)
    x_term_arr, x_cell_arr = np.asarray(x_term, np.int64), np.asarray(x_cell, np.int64)
    model_x = frame.X
    same_shape = X_full.shape[1] == len(spec.column_names)
    if same_shape:
        candidate = X_full[:, frame.kept_columns]
        scale = np.maximum(np.abs(model_x).max(axis=0), 1.0)
        if np.all(np.abs(candidate - model_x) <= 1e-10 * scale):
            return TreatmentDesign(candidate, x_term_arr[frame.kept_columns],
                                   np.concatenate(cell_blocks, axis=1),
                                   x_cell_arr[frame.kept_columns], True)
    kept = full_rank_columns(X_full)
    return TreatmentDesign(X_full[:, kept], x_term_arr[kept], np.concatenate(cell_blocks, axis=1),
                           x_cell_arr[kept], False)
