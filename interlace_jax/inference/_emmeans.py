r"""Estimated marginal means: averaging a reference grid, estimability, estimates with SE and df.

A reference grid of G rows over V variables (``dims[v]`` values each, the first variable varying
fastest) has a linear function ``x_g`` (p,) of the fixed effects per row. The marginal mean of a
combination of values of the kept variables is the weighted average of the rows with those
values, over the combinations of the other variables (emmeans' ``emmeans()``):

.. math::  l = \sum_a w_a\, x_{(\text{kept}, a)}, \qquad \sum_a w_a = 1.

The weights (emmeans' ``weights``) are ``"equal"`` (the default), ``"proportional"`` (the
marginal counts of the averaged-over combinations over the whole data), ``"outer"`` (the
product of each averaged-over variable's marginal counts), ``"cells"`` (the counts of each
kept combination's own cells) or ``"flat"`` (equal over the cells that hold observations).

A linear function ``l`` is estimable when it is orthogonal to the null space ``N`` of the model's
fixed-effects matrix (estimability's ``is.estble``: ``|N'l|^2 < 10^{-8} |l|^2``); only then is
``l'beta`` the same for every solution of a rank-deficient fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from interlace_jax._errors import ModelError

#: emmeans' ``estble.tol``.
ESTIMABILITY_TOL = 1e-8

WEIGHTS = ("equal", "proportional", "outer", "cells", "flat")


@dataclass(frozen=True)
class Averaged:
    """Marginal linear functions (m rows) of a reference grid.

    Attributes:
        linfct: (m, p) the averaged rows.
        offset: (m,) the averaged offsets.
    """

    linfct: np.ndarray
    offset: np.ndarray


def _by_variable(array: np.ndarray, dims: tuple[int, ...]) -> np.ndarray:
    """(G, ...) rows in first-fastest order -> array with one axis per variable, then the rest."""
    rest = array.shape[1:]
    out = array.reshape(tuple(reversed(dims)) + rest)
    n = len(dims)
    return out.transpose(list(range(n - 1, -1, -1)) + list(range(n, n + len(rest))))


def average_grid(X: np.ndarray, offset: np.ndarray, counts: np.ndarray, dims: tuple[int, ...],
                 keep: list[int], weights: str = "equal") -> Averaged:
    """Average the grid rows over the variables not in ``keep``.

    Args:
        X: (G, p) grid rows; offset, counts: (G,).
        dims: number of values of each variable (prod(dims) = G).
        keep: indices of the kept variables; the output rows are their combinations, the
            first of ``keep`` varying fastest.
        weights: one of :data:`WEIGHTS`.

    Returns:
        :class:`Averaged` with m = prod(dims[keep]) rows.
    """
    if weights not in WEIGHTS:
        raise ModelError(f"unknown weights {weights!r}; choose one of {', '.join(WEIGHTS)}")
    n = len(dims)
    others = [v for v in range(n) if v not in keep]
    order = keep[::-1] + others[::-1]  # C order: the first kept/other variable fastest
    m = int(np.prod([dims[v] for v in keep])) if keep else 1
    a = int(np.prod([dims[v] for v in others])) if others else 1

    def arrange(values: np.ndarray) -> np.ndarray:
        arr = _by_variable(values, dims)
        tail = list(range(n, arr.ndim))
        return arr.transpose(order + tail).reshape((m, a) + values.shape[1:])

    x, off, cnt = arrange(X), arrange(offset), arrange(counts)
    if np.all(np.abs(counts) <= 1e-7 * max(np.max(np.abs(counts)), 1.0)):
        cnt = cnt + 1.0  # emmeans: no weighting information when every count is 0
    w = _weights(weights, cnt, [dims[v] for v in others])
    with np.errstate(invalid="ignore", divide="ignore"):
        w = w / w.sum(axis=1, keepdims=True)
    return Averaged(np.einsum("ma,map->mp", w, x), np.einsum("ma,ma->m", w, off))


def _weights(kind: str, counts: np.ndarray, other_dims: list[int]) -> np.ndarray:
    """Unnormalised weights (m, a) of the averaged-over combinations; ``counts`` is (m, a)."""
    m, a = counts.shape
    if kind == "equal":
        return np.ones((m, a))
    if kind == "proportional":
        return np.broadcast_to(counts.sum(axis=0), (m, a))
    if kind == "outer":
        # C order over the reversed averaged-over dims: the first of them varies fastest
        table = counts.sum(axis=0).reshape(tuple(reversed(other_dims)))
        w = np.ones(a)
        for axis in range(table.ndim):
            margin = table.sum(axis=tuple(i for i in range(table.ndim) if i != axis))
            shape = [1] * table.ndim
            shape[axis] = margin.size
            w = (w.reshape(table.shape) * margin.reshape(shape)).ravel()
        return np.broadcast_to(w, (m, a))
    if kind == "cells":
        return counts
    return (counts > 0).astype(float)


def estimable(linfct: np.ndarray, null_basis: np.ndarray,
              tol: float = ESTIMABILITY_TOL) -> np.ndarray:
    """(m,) bool: rows of ``linfct`` (m, p) orthogonal to ``null_basis`` (p, r) and finite."""
    finite = np.all(np.isfinite(linfct), axis=1)
    if null_basis.shape[1] == 0:
        return finite
    safe = np.where(np.isfinite(linfct), linfct, 0.0)
    check = safe @ null_basis
    ssq = np.sum(safe**2, axis=1)
    ssq = np.where(ssq < tol, 1.0, ssq)
    return finite & (np.sum(check**2, axis=1) < tol * ssq)


@dataclass(frozen=True)
class Estimates:
    """Estimates of m linear functions: estimate, se, df, each (m,) (NaN where not estimable)."""

    estimate: np.ndarray
    se: np.ndarray
    df: np.ndarray


def estimate_linear_functions(linfct: np.ndarray, offset: np.ndarray, kept: np.ndarray,
                              null_basis: np.ndarray, tests) -> Estimates:
    """Estimates, standard errors and df of ``linfct @ beta + offset``.

    Args:
        linfct: (m, p_full) over formulaic's full fixed-effects columns.
        offset: (m,).
        kept: indices of the fitted (non-aliased) columns.
        null_basis: (p_full, r), see :func:`estimable`.
        tests: a test object of :mod:`interlace_jax.inference._hypotheses` (its ``ttests``
            gives the standard errors and denominator df of the fit's df method).
    """
    m = linfct.shape[0]
    est, se, df = (np.full(m, np.nan) for _ in range(3))
    ok = estimable(linfct, null_basis)
    if np.any(ok):
        L = linfct[ok][:, kept]
        t = tests.ttests(L, np.zeros(L.shape[0]))
        est[ok] = np.asarray(t.estimate) + offset[ok]
        se[ok] = t.se
        df[ok] = t.df
    return Estimates(est, se, df)
