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


def _intercept_ratio(term: ReTerm, resid: np.ndarray, weights: np.ndarray) -> float:
    counts = np.bincount(term.refs, weights=weights, minlength=term.n_levels)
    means = np.bincount(term.refs, weights=weights * resid, minlength=term.n_levels)
    means = means / np.maximum(counts, 1e-300)
    n, levels = resid.size, int(np.count_nonzero(counts))
    within = np.sum(weights * (resid - means[term.refs]) ** 2) / max(n - levels, 1)
    between = np.var(means[counts > 0]) - within * levels / max(np.sum(counts), 1e-300)
    return float(np.sqrt(max(between, 0.0) / within)) if within > 0 else 1.0


def lme4_start(terms: list[ReTerm]) -> np.ndarray:
    """lme4's start: 1 on the diagonals of every Lambda_t, 0 elsewhere."""
    return np.concatenate([diagonal_mask(t.size).astype(float) for t in terms])


def start_candidates(terms: list[ReTerm], X, y, weights) -> np.ndarray:
    """(2, n_theta): lme4's start and :func:`start_theta`."""
    return np.stack([lme4_start(terms), start_theta(terms, X, y, weights)])


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
    sw = np.sqrt(weights)
    beta = np.linalg.lstsq(X * sw[:, None], y * sw, rcond=None)[0]
    resid = y - X @ beta
    parts = []
    for term in terms:
        if term.size == 1 and np.all(term.z == 1.0):
            parts.append(np.array([max(_intercept_ratio(term, resid, weights), floor)]))
        else:
            parts.append(lme4_start([term]))
    return np.concatenate(parts)
