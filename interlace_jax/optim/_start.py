"""Starting values of theta.

lme4 starts every diagonal of Lambda at 1 and every off-diagonal at 0. For a scalar intercept
term ``(1 | g)`` a much better start costs one pass over the data: the one-way analysis of
variance of the ordinary least-squares residuals by ``g`` estimates the ratio of the
between-level to the within-level standard deviation, which is that term's theta (each term is
treated on its own, ignoring the others). Closer starts save optimizer iterations, most of all
for the derivative-free path of large crossed designs. The start is kept at least ``floor``
from 0, where the objective of a scalar term is flat (its gradient vanishes at theta = 0).
"""

from __future__ import annotations

import numpy as np

from interlace_jax.terms import ReTerm, diagonal_mask


def _level_sums(refs: np.ndarray, values: np.ndarray, n_levels: int) -> np.ndarray:
    """(n_levels, m) sums of the rows of values (n, m) by level code refs (n,)."""
    order = np.argsort(refs, kind="stable")
    sorted_refs = refs[order]
    starts = np.flatnonzero(np.r_[True, sorted_refs[1:] != sorted_refs[:-1]])
    sums = np.zeros((n_levels, values.shape[1]))
    if refs.size:
        sums[sorted_refs[starts]] = np.add.reduceat(values[order], starts, axis=0)
    return sums


def _intercept_ratio(term: ReTerm, resid: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(m,) between- to within-level SD ratio of each column of resid (n, m) by term's levels."""
    counts = np.bincount(term.refs, weights=weights, minlength=term.n_levels)
    means = _level_sums(term.refs, weights[:, None] * resid, term.n_levels)
    means = means / np.maximum(counts, 1e-300)[:, None]
    n, levels = resid.shape[0], int(np.count_nonzero(counts))
    within = np.sum(weights[:, None] * (resid - means[term.refs]) ** 2, axis=0) / max(n - levels, 1)
    between = np.var(means[counts > 0], axis=0) - within * levels / max(np.sum(counts), 1e-300)
    safe = np.where(within > 0, within, 1.0)
    return np.where(within > 0, np.sqrt(np.maximum(between, 0.0) / safe), 1.0)


def lme4_start(terms: list[ReTerm]) -> np.ndarray:
    """lme4's start: 1 on the diagonals of every Lambda_t, 0 elsewhere."""
    return np.concatenate([diagonal_mask(t.size).astype(float) for t in terms])


def start_candidates(terms: list[ReTerm], X, y, weights) -> np.ndarray:
    """(2, n_theta): lme4's start and :func:`start_theta`."""
    return start_candidates_many(terms, X, np.asarray(y)[:, None], weights)[0]


def start_candidates_many(terms: list[ReTerm], X, ys, weights) -> np.ndarray:
    """(m, 2, n_theta): :func:`start_candidates` of each response column of ys (n, m)."""
    ours = start_thetas(terms, X, ys, weights)
    return np.stack([np.broadcast_to(lme4_start(terms), ours.shape), ours], axis=1)


def with_correlation_starts(theta_starts: np.ndarray,
                            correlation_starts: np.ndarray) -> np.ndarray:
    """Every pair of a theta start (m, n_theta) and an unconstrained correlation start
    (c, n_corr), as (m c, n_theta + n_corr) candidates (the optimizer starts from the one
    with the lowest objective)."""
    theta_starts = np.atleast_2d(theta_starts)
    return np.array([np.concatenate([t, c]) for t in theta_starts for c in correlation_starts])


def start_theta(
    terms: list[ReTerm], X: np.ndarray, y: np.ndarray, weights: np.ndarray, *, floor: float = 0.1
) -> np.ndarray:
    """Starting theta (n_theta,) for terms in computation order; y is the response minus offset."""
    return start_thetas(terms, X, np.asarray(y)[:, None], weights, floor=floor)[0]


def start_thetas(
    terms: list[ReTerm], X: np.ndarray, ys: np.ndarray, weights: np.ndarray, *, floor: float = 0.1
) -> np.ndarray:
    """(m, n_theta): :func:`start_theta` of each column of ys (n, m), computed together."""
    sw = np.sqrt(weights)
    beta = np.linalg.lstsq(X * sw[:, None], ys * sw[:, None], rcond=None)[0]
    resid = ys - X @ beta
    parts = []
    for term in terms:
        if term.size == 1 and np.all(term.z == 1.0):
            parts.append(np.maximum(_intercept_ratio(term, resid, weights), floor)[:, None])
        else:
            parts.append(np.broadcast_to(lme4_start([term]), (ys.shape[1], term.n_theta)))
    return np.concatenate(parts, axis=1)
