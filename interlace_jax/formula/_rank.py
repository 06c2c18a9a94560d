"""Rank deficiency of the fixed-effects model matrix, handled as lme4 does.

lme4's ``chkRank.drop.cols`` calls R's ``qr(X, tol = 1e-7)`` (LINPACK ``dqrdc2``), whose *limited*
column pivoting moves a column to the end only when its norm, after removing its projection on
the columns kept before it, falls below ``tol`` times its original norm. The kept columns are
therefore the earliest linearly independent ones, in their original order; a fully pivoted QR
(LAPACK ``geqp3``, which picks the largest column first) would keep different ones.
"""

from __future__ import annotations

import numpy as np

RANK_TOL = 1e-7
"""Relative tolerance of lme4's rank check (``chkRank.drop.cols``, ``tol = 1e-7``)."""


def full_rank_columns(X: np.ndarray, tol: float = RANK_TOL) -> np.ndarray:
    """Indices of the columns of ``X`` that R's ``qr(X, tol)`` keeps.

    Args:
        X: float64 ``(n, p)``.
        tol: a column is aliased when its residual norm after projecting out the kept columns is
            below ``tol`` times its own norm (a zero column is always aliased).

    Returns:
        int64 ``(r,)``, increasing indices of the kept columns; ``r`` is the rank.

    Example
    -------
    >>> X = np.array([[1.0, 1.0, 2.0], [1.0, 2.0, 3.0], [1.0, 3.0, 4.0]])
    >>> full_rank_columns(X).tolist()
    [0, 1]
    """
    n, p = X.shape
    basis = np.empty((n, min(n, p)))
    kept: list[int] = []
    for j in range(p):
        col = X[:, j]
        norm = np.linalg.norm(col)
        if norm == 0.0 or len(kept) == n:
            continue
        q = basis[:, : len(kept)]
        resid = col - q @ (q.T @ col)
        resid = resid - q @ (q.T @ resid)
        rnorm = np.linalg.norm(resid)
        if rnorm >= tol * norm:
            basis[:, len(kept)] = resid / rnorm
            kept.append(j)
    return np.asarray(kept, dtype=np.int64)


def rank_message(dropped: tuple[str, ...]) -> str:
    """lme4's wording, with the dropped column names appended."""
    k = len(dropped)
    what = "column / coefficient" if k == 1 else "columns / coefficients"
    return f"fixed-effect model matrix is rank deficient so dropping {k} {what}: " + ", ".join(
        dropped
    )
