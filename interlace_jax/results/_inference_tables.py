"""Tests about the fixed effects as tables: contrasts (lmerTest's ``contest``) and anova tables.

The maths is in :mod:`interlace_jax.inference`; this module reads the user's contrasts, picks
the denominator-df method and returns pandas frames with lmerTest's column names.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from interlace_jax._errors import ModelError
from interlace_jax.formula import fixed_terms, treatment_design
from interlace_jax.inference import (
    FixedDfTests,
    FTest,
    KenwardRogerTests,
    SatterthwaiteTests,
    TTests,
    anova_hypotheses,
)
from interlace_jax.results._df_methods import check_df_method

T_COLUMNS = ["Estimate", "Std. Error", "df", "t value", "Pr(>|t|)"]
F_COLUMNS = ["Sum Sq", "Mean Sq", "NumDF", "DenDF", "F value", "Pr(>F)"]
ANOVA_TYPES = {1: 1, 2: 2, 3: 3, "1": 1, "2": 2, "3": 3, "I": 1, "II": 2, "III": 3}


def _coefficient_index(result) -> dict[str, int]:
    """Both spellings of each coefficient name (formulaic's and lme4's) -> column."""
    index = {name: j for j, name in enumerate(result.frame.x_names)}
    index.update({name: j for j, name in enumerate(result.frame.x_names_formulaic)})
    return index


def _row_from_mapping(values: Mapping, result) -> np.ndarray:
    index = _coefficient_index(result)
    row = np.zeros(len(result.frame.x_names))
    for name, value in values.items():
        if name not in index:
            raise ModelError(
                f"unknown coefficient {name!r} in the contrast; the coefficients are "
                f"{', '.join(map(repr, result.fe_params.index))}")
        row[index[name]] = float(value)
    return row


def contrast_matrix(L, result) -> tuple[np.ndarray, list]:
    """The contrasts as an (m, p) float array and row labels.

    ``L`` may be a (p,) or (m, p) array, a dict or Series keyed by coefficient names (one row;
    missing names count as 0), or a DataFrame whose columns are coefficient names (one row
    per row, labelled by its index). Names may be formulaic's (``recipe[T.B]``) or lme4's
    (``recipeB``).
    """
    p = len(result.frame.x_names)
    if isinstance(L, pd.DataFrame):
        rows = np.stack([_row_from_mapping(r.to_dict(), result) for _, r in L.iterrows()])
        labels = list(L.index)
    elif isinstance(L, (Mapping, pd.Series)):
        rows, labels = _row_from_mapping(dict(L.items()), result)[None, :], [0]
    else:
        rows = np.asarray(L, dtype=float)
        if rows.ndim == 1:
            rows = rows[None, :]
        if rows.ndim != 2 or rows.shape[1] != p:
            raise ModelError(
                f"the contrast must have {p} columns, one per fixed effect "
                f"({', '.join(result.frame.x_names)}); got shape {np.shape(L)}")
        labels = list(range(rows.shape[0]))
    if rows.shape[0] == 0:
        raise ModelError("the contrast has no rows")
    if not np.all(np.isfinite(rows)):
        raise ModelError("the contrast has non-finite entries")
    return rows, labels


def right_hand_side(rhs, m: int) -> np.ndarray:
    """rhs as an (m,) array (None -> zeros, a scalar is repeated)."""
    if rhs is None:
        return np.zeros(m)
    out = np.broadcast_to(np.asarray(rhs, dtype=float), (m,)) if np.ndim(rhs) == 0 else (
        np.asarray(rhs, dtype=float))
    if out.shape != (m,) or not np.all(np.isfinite(out)):
        raise ModelError(f"rhs must be a finite scalar or {m} finite numbers, got {rhs!r}")
    return np.array(out)


def inference_for(result, ddf: str | None):
    """The test object (Satterthwaite, Kenward-Roger or fixed df) for ``ddf``."""
    method = result.df_method if ddf is None else check_df_method(ddf)
    beta = result.fe_params.to_numpy()
    if method == "satterthwaite":
        A, J = result._varpar_covariance
        return SatterthwaiteTests(beta, result._vcov_unadjusted, result.sigma, A, J)
    if method == "kenward-roger":
        return KenwardRogerTests(beta, result.sigma, result.kenward_roger)
    df = float(result.nobs - len(beta)) if method == "residual" else float("inf")
    return FixedDfTests(beta, result._vcov_unadjusted, result.sigma, df)


def ttest_frame(t: TTests, labels: list) -> pd.DataFrame:
    return pd.DataFrame(np.column_stack([t.estimate, t.se, t.df, t.t, t.p]),
                        index=labels, columns=T_COLUMNS)


def ftest_row(f: FTest) -> list[float]:
    return [f.sum_sq, f.mean_sq, f.num_df, f.den_df, f.f_value, f.p_value]


def ftest_frame(f: FTest) -> pd.DataFrame:
    return pd.DataFrame([ftest_row(f)], columns=F_COLUMNS)


def _method_label(tests) -> str:
    if isinstance(tests, SatterthwaiteTests):
        return "Satterthwaite's method"
    if isinstance(tests, KenwardRogerTests):
        return "Kenward-Roger's method"
    return "normal (z / chi-square) tests" if np.isinf(tests.df) else "residual df"


def anova_table(result, kind, ddf: str | None) -> pd.DataFrame:
    """lmerTest's ``anova(m, type = kind, ddf = ...)``: one F-test per fixed term.

    The frame is indexed by term label; ``attrs["hypotheses"]`` holds each term's hypothesis
    matrix (a DataFrame over the coefficients) and ``attrs["heading"]`` the table's title.
    """
    if kind not in ANOVA_TYPES:
        raise ModelError(f"anova type must be 1, 2 or 3 (or 'I', 'II', 'III'), not {kind!r}")
    kind = ANOVA_TYPES[kind]
    frame, X = result.frame, result.frame.X
    terms = fixed_terms(frame)

    def treatment():
        t = treatment_design(frame, terms)
        return t.X, t.term_of, t.cells, t.cell_of, t.is_model_x

    hypotheses = anova_hypotheses(kind, X, terms.term_of, terms.contains, terms.degree,
                                  treatment)
    tests = inference_for(result, ddf)
    rows = []
    for L in hypotheses:
        rows.append(ftest_row(tests.ftest(L, np.zeros(L.shape[0]))) if L.shape[0]
                    else [np.nan] * len(F_COLUMNS))
    table = pd.DataFrame(rows, index=pd.Index(terms.names, name="term"), columns=F_COLUMNS)
    table["NumDF"] = table["NumDF"].astype(float)
    names = list(result.fe_params.index)
    table.attrs["hypotheses"] = {
        term: pd.DataFrame(L + 0.0, columns=names)  # + 0.0: no negative zeros
        for term, L in zip(terms.names, hypotheses)}
    roman = {1: "I", 2: "II", 3: "III"}[kind]
    table.attrs["heading"] = (f"Type {roman} Analysis of Variance Table with "
                              f"{_method_label(tests)}")
    return table
