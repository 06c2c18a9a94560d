r"""Hypothesis matrices of the F-tests per model term: lmerTest's anova types 1, 2 and 3.

Each function returns, per term (without the intercept), a matrix ``L_term`` (m, p) over the
model's coefficients; the anova table tests ``L_term beta = 0`` (see
:mod:`interlace_jax.inference._hypotheses`). The term structure comes as arrays: ``term_of``
(p,) the term of each column of X (-1 for the intercept) and ``contains[i]`` the terms that
contain term ``i`` (lmerTest's ``containment``).

* Type 1 (sequential): with the Doolittle decomposition ``X'X = L U`` (unit lower-triangular
  L, no pivoting), row ``j`` of ``L'`` tests column ``j`` adjusted for the columns before it;
  a term gets the rows of its columns.
* Type 2: a term contained in no other term gets the identity rows of its columns
  (marginal); any other term gets the type 1 rows of its columns after moving the columns of
  the term and of every term containing it to the end of X (it is adjusted for all terms
  that do not contain it).
* Type 3 (lmerTest's ``extract_contrasts_type3``): in treatment coding, with ``C`` the cell
  design (an intercept, then per term one column per cell, R's ``model.matrix(~ 0 + term)``),
  start from ``K = (X^+ C)'`` (cells x coefficients); from the highest-order term down,
  replace the columns of K of every term contained in others by their least-squares residuals
  on the columns of the terms containing it; the hypothesis of a term is the transpose of its
  columns of K restricted to the cells that are columns of X. With another coding X_m of the
  same model the hypotheses are mapped by ``X^+ X_m``.

As in lmerTest: entries below 1e-6 are zeroed in the Doolittle factors; the type 3
intermediate matrices are rounded by R's ``zapsmall`` (about 7 significant digits of the
largest entry), and all-zero rows (below 1e-8) are dropped; types 2 and 3 fall back to type 1
when the model has one term or one column.
"""

from __future__ import annotations

import numpy as np

DOOLITTLE_EPS = 1e-6


def doolittle_rows(crossprod: np.ndarray, eps: float = DOOLITTLE_EPS) -> np.ndarray:
    """``L'`` (p, p) of the Doolittle decomposition ``A = L U`` of ``crossprod`` (p, p).

    A pivot ``|U_ii| < eps`` gives a zero column of L below the diagonal; afterwards entries
    of L with absolute value below ``eps`` are set to zero (lmerTest's ``doolittle``).
    """
    a = np.asarray(crossprod, dtype=float)
    n = a.shape[0]
    lower, upper = np.eye(n), np.zeros((n, n))
    for i in range(n):
        upper[i, :] = a[i, :] - lower[i, :i] @ upper[:i, :]
        below = a[i + 1 :, i] - lower[i + 1 :, :i] @ upper[:i, i]
        lower[i + 1 :, i] = 0.0 if abs(upper[i, i]) < eps else below / upper[i, i]
    lower[np.abs(lower) < eps] = 0.0
    return lower.T


def zapsmall(x: np.ndarray, digits: int = 7) -> np.ndarray:
    """R's ``zapsmall`` (R 4.2): round to ``round(digits - log10(max |x|))`` decimal places
    (at least 0), i.e. to about ``digits`` significant digits of the largest entry."""
    x = np.asarray(x, dtype=float)
    biggest = np.max(np.abs(x)) if x.size else 0.0
    if not biggest > 0:
        return np.round(x, digits)
    return np.round(x, max(0, int(np.floor(digits - np.log10(biggest) + 0.5))))


def _rows_of(matrix: np.ndarray, term_of: np.ndarray, n_terms: int) -> list[np.ndarray]:
    return [matrix[term_of == t] for t in range(n_terms)]


def type1_hypotheses(X: np.ndarray, term_of: np.ndarray, n_terms: int) -> list[np.ndarray]:
    """Sequential (type I) hypotheses, one (m_t, p) matrix per term.

    Args:
        X: (n, p) fixed-effects matrix of full column rank.
        term_of: (p,) term of each column (-1 for the intercept).
        n_terms: number of terms.
    """
    p = X.shape[1]
    rows = np.ones((1, 1)) if p == 1 else doolittle_rows(X.T @ X)
    return _rows_of(rows, np.asarray(term_of), n_terms)


def type2_hypotheses(X: np.ndarray, term_of: np.ndarray,
                     contains: tuple[tuple[int, ...], ...]) -> list[np.ndarray]:
    """Type II hypotheses (lmerTest's ``get_contrasts_type2_unfolded``), one per term."""
    term_of = np.asarray(term_of)
    n_terms, p = len(contains), X.shape[1]
    if p <= 1 or n_terms <= 1:
        return type1_hypotheses(X, term_of, n_terms)
    out = []
    for t in range(n_terms):
        own = np.flatnonzero(term_of == t)
        if not contains[t]:
            out.append(np.eye(p)[own])
            continue
        moved = np.concatenate([own] + [np.flatnonzero(term_of == c) for c in contains[t]])
        order = np.concatenate([np.setdiff1d(np.arange(p), moved), moved])
        rows = doolittle_rows(X[:, order].T @ X[:, order])
        back = np.empty((len(own), p))
        back[:, order] = rows[p - len(moved) : p - len(moved) + len(own)]
        out.append(back)
    return out


def type3_hypotheses(
    X: np.ndarray,
    term_of: np.ndarray,
    contains: tuple[tuple[int, ...], ...],
    degree: tuple[int, ...],
    cells: np.ndarray,
    cell_of: np.ndarray,
    X_model: np.ndarray | None = None,
) -> list[np.ndarray]:
    """Type III hypotheses (lmerTest's ``get_contrasts_type3``), one (m_t, p) matrix per term.

    Args:
        X: (n, p_t) the fixed-effects matrix in treatment coding (full column rank).
        term_of: (p_t,) term of each column of X (-1 for the intercept).
        contains, degree: per term, the terms containing it and its number of factors.
        cells: (n, r) the cell design; cell_of: (p_t,) the column of ``cells`` equal to each
            column of X.
        X_model: (n, p) the model's own X when it is not ``X`` (another coding): the
            hypotheses are then mapped onto its coefficients.

    lmerTest uses type 1 instead when the model has one term or one column; so does
    :func:`anova_hypotheses`.
    """
    term_of = np.asarray(term_of)
    n_terms = len(contains)
    pinv = np.linalg.pinv(X)
    k = zapsmall((pinv @ cells).T)  # (r, p_t)
    for t in sorted(range(n_terms), key=lambda i: -degree[i]):  # stable: ties keep order
        if not contains[t]:
            continue
        own = term_of == t
        others = np.isin(term_of, contains[t])
        basis = k[:, others]
        coef = np.linalg.lstsq(basis, k[:, own], rcond=None)[0]
        k[:, own] = zapsmall(k[:, own] - basis @ coef)
    k = k[cell_of]  # (p_t, p_t): the cells that are columns of X, in X's order
    out = []
    for t in range(n_terms):
        rows = k[:, term_of == t].T
        out.append(rows[np.sum(np.abs(rows), axis=1) > 1e-8])
    if X_model is not None:
        mapping = zapsmall(pinv @ X_model)
        out = [rows @ mapping for rows in out]
    return out


def anova_hypotheses(
    kind: int,
    X: np.ndarray,
    term_of: np.ndarray,
    contains: tuple[tuple[int, ...], ...],
    degree: tuple[int, ...],
    treatment=None,
) -> list[np.ndarray]:
    """The hypotheses of anova type ``kind`` (1, 2 or 3), one (m_t, p) matrix per term.

    Args:
        kind: 1, 2 or 3.
        X: (n, p) the model's fixed-effects matrix; term_of, contains, degree: as above.
        treatment: for type 3, a callable returning ``(X_t, term_of_t, cells, cell_of,
            is_model_x)`` (treatment-coded X and the cell design); called only when needed.
    """
    n_terms = len(contains)
    if kind == 1 or X.shape[1] <= 1 or n_terms <= 1:
        return type1_hypotheses(X, term_of, n_terms)
    if kind == 2:
        return type2_hypotheses(X, term_of, contains)
    X_t, term_of_t, cells, cell_of, is_model_x = treatment()
    return type3_hypotheses(X_t, term_of_t, contains, degree, cells, cell_of,
                            None if is_model_x else X)
