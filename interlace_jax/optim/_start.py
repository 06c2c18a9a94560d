"""Starting values of theta.

lme4 starts every diagonal of Lambda at 1 and every off-diagonal at 0. For a scalar intercept
term ``(1 | g)`` a much better start costs one pass over the data: the one-way analysis of
variance of the ordinary least-squares residuals by ``g`` estimates the ratio of the
between-level to the within-level standard deviation, which is that term's theta (each term is
treated on its own, ignoring the others). Closer starts save optimizer iterations, most of all
for the derivative-free path of large crossed designs. The start is kept at least ``floor``
from 0, where the objective of a scalar term is flat (its gradient vanishes at theta = 0).

With two or more intercept terms, treating each on its own puts the other factors' variance
into the within-level variance, so crossed designs start far too low (the 50 x 40 crossed
design: theta 0.28-0.41 for an optimum of 0.45-0.56, three extra Newton steps). A third
candidate fits all intercept terms together as additive fixed effects (a few backfitting
sweeps, the method of moments of a crossed analysis of variance): the within variance from the
residuals of that fit, each term's between variance from its estimated level effects less
their sampling variance. Fits start from the candidate with the lowest objective.

A term with slopes, or any term other than an intercept, gets its start from per-level
regressions: the residuals regressed on the term's columns within each level that has more
rows than columns (and a well-conditioned cross-product) estimate the level effects, whose
covariance less their average sampling covariance, relative to the pooled within-level
variance, is the term's ``Lambda Lambda'`` (eigenvalues kept at least ``floor^2``). On
sleepstudy's ``(Days | Subject)`` this start is 0.05 above the optimum's REML criterion where
lme4's is 30 above, which saves Newton steps on every fit with random slopes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from interlace_jax.terms import ReTerm, diagonal_mask, tril_positions


def lme4_start(terms: list[ReTerm]) -> np.ndarray:
    """lme4's start: 1 on the diagonals of every Lambda_t, 0 elsewhere."""
    return np.concatenate([diagonal_mask(t.size).astype(float) for t in terms])


def _is_intercept(term: ReTerm) -> bool:
    return term.size == 1 and bool(np.all(term.z == 1.0))


@dataclass(frozen=True)
class _LevelSums:
    """The OLS residuals of m responses summarised by the intercept terms' levels.

    Attributes:
        terms: the intercept terms (computation order).
        indicators: per term, its (L_t, n) level indicator, weighted.
        counts: per term, (L_t,) weighted counts.
        sums: per term, (L_t, m) weighted sums of the residuals.
        squares: (m,) weighted residual sums of squares.
        n, p: observations and fixed effects.
        resid: (n, m) the residuals.
        weights: (n,) the prior weights.
    """

    terms: list
    indicators: list
    counts: list
    sums: list
    squares: np.ndarray
    n: int
    p: int
    resid: np.ndarray
    weights: np.ndarray


def _level_sums(terms: list[ReTerm], X: np.ndarray, ys: np.ndarray,
                weights: np.ndarray) -> _LevelSums:
    """The :class:`_LevelSums` of the weighted least-squares residuals of ys (n, m) on X."""
    sw = np.sqrt(weights)
    q, r = np.linalg.qr(X * sw[:, None])  # one factorisation for all m responses
    beta = np.linalg.lstsq(r, q.T @ (ys * sw[:, None]), rcond=None)[0]
    resid = ys - X @ beta
    intercepts = [t for t in terms if _is_intercept(t)]
    n = ys.shape[0]
    indicators = [sparse.csr_matrix((weights, (t.refs, np.arange(n))), shape=(t.n_levels, n))
                  for t in intercepts]
    return _LevelSums(
        terms=intercepts, indicators=indicators,
        counts=[np.asarray(ind.sum(axis=1)).ravel() for ind in indicators],
        sums=[ind @ resid for ind in indicators],
        squares=np.einsum("i,im,im->m", weights, resid, resid), n=n, p=X.shape[1],
        resid=resid, weights=weights)


def _ratio(between: np.ndarray, within: np.ndarray) -> np.ndarray:
    safe = np.where(within > 0, within, 1.0)
    return np.where(within > 0, np.sqrt(np.maximum(between, 0.0) / safe), 1.0)


def _one_way(ls: _LevelSums) -> list[np.ndarray]:
    """Per intercept term, (m,) its one-way ANOVA ratio (each term on its own)."""
    out = []
    for counts, sums in zip(ls.counts, ls.sums):
        used = counts > 0
        means = sums[used] / counts[used, None]
        levels = int(used.sum())
        within = (ls.squares - np.einsum("l,lm->m", counts[used], means**2)) / max(
            ls.n - levels, 1)
        between = np.var(means, axis=0) - within * levels / max(np.sum(counts), 1e-300)
        out.append(_ratio(between, within))
    return out


def _additive(ls: _LevelSums, sweeps: int) -> list[np.ndarray] | None:
    """Per intercept term, (m,) its ratio with all intercept terms fitted together (see
    :func:`start_candidates_many`), by backfitting in level space; None without residual
    degrees of freedom."""
    used = [c > 0 for c in ls.counts]
    dof = ls.n - ls.p - sum(int(u.sum()) - 1 for u in used)
    if dof <= 0:
        return None
    k = len(ls.terms)
    cross = {(s, t): (ls.indicators[s] @ (ls.indicators[t] > 0).T.astype(float)).tocsr()
             for s in range(k) for t in range(k) if s != t}
    safe = [np.where(u, c, 1.0)[:, None] for u, c in zip(used, ls.counts)]
    effects = [np.zeros_like(sm) for sm in ls.sums]
    # coarsest factor first: for nested factors (confounded as fixed effects) the first sweep
    # then splits the effects by level, outer means and inner deviations from them
    order = np.argsort([int(u.sum()) for u in used], kind="stable")
    for _ in range(sweeps):
        for t in order:
            others = sum((cross[t, s] @ effects[s] for s in range(k) if s != t),
                         np.zeros_like(ls.sums[t]))
            effects[t] = np.where(used[t][:, None], (ls.sums[t] - others) / safe[t], 0.0)
    # residual sum of squares of the additive fit, from the level sums
    fitted_sq = sum(np.einsum("l,lm->m", c, e**2) for c, e in zip(ls.counts, effects))
    fitted_sq = fitted_sq + sum(np.einsum("lm,lm->m", effects[s], cross[s, t] @ effects[t])
                                for s in range(k) for t in range(k) if s != t)
    fitted_resid = sum(np.einsum("lm,lm->m", e, sm) for e, sm in zip(effects, ls.sums))
    sigma2 = (ls.squares - 2.0 * fitted_resid + fitted_sq) / dof
    out = []
    for u, c, e in zip(used, ls.counts, effects):
        tau2 = np.var(e[u], axis=0) - sigma2 * np.mean(1.0 / c[u])
        out.append(_ratio(tau2, sigma2))
    return out


def _regression(term: ReTerm, ls: _LevelSums, floor: float) -> np.ndarray | None:
    """(m, n_theta_t) the term's theta from per-level regressions of the residuals (see the
    module's docstring); None when fewer than two levels allow a regression."""
    size, n_levels = term.size, term.n_levels
    sw = np.sqrt(ls.weights)
    order = np.argsort(term.refs, kind="stable")
    z, r = (term.z * sw[:, None])[order], (ls.resid * sw[:, None])[order]
    rows = np.bincount(term.refs, minlength=n_levels)
    starts = np.minimum(np.cumsum(rows) - rows, ls.n - 1)  # sums by level, rows sorted

    def by_level(values):
        return np.add.reduceat(values, starts, axis=0)

    ztz = by_level(z[:, :, None] * z[:, None, :])  # (L, S, S)
    ztr = by_level(z[:, :, None] * r[:, None, :])  # (L, S, m)
    rr = by_level(r * r)  # (L, m)
    eig = np.linalg.eigvalsh(ztz)
    ok = (rows > size) & (eig[:, 0] > 1e-8 * np.maximum(eig[:, -1], 1e-300))
    if ok.sum() < 2:
        return None
    inverse = np.linalg.inv(ztz[ok])
    effects = inverse @ ztr[ok]  # (L_ok, S, m)
    within = np.sum(rr[ok] - np.einsum("lsm,lsm->lm", ztr[ok], effects), axis=0) / (
        rows[ok].sum() - size * ok.sum())  # (m,)
    if not np.all(within > 0):
        return None
    centred = effects - effects.mean(axis=0)
    between = np.einsum("lsm,ltm->mst", centred, centred) / ok.sum()
    relative = between / within[:, None, None] - inverse.mean(axis=0)
    values, vectors = np.linalg.eigh(relative)
    values = np.maximum(values, floor**2)
    lam = np.linalg.cholesky(np.einsum("msk,mk,mtk->mst", vectors, values, vectors))
    lower_rows, lower_cols = tril_positions(size)
    return lam[:, lower_rows, lower_cols]


def _assemble(terms: list[ReTerm], ls: _LevelSums, ratios: list[np.ndarray], m: int,
              floor: float, others: dict | None = None) -> np.ndarray:
    """(m, n_theta): the ratios (at least floor) for the intercept terms, ``others[id(term)]``
    (m, n_theta_t) for the other terms given there, lme4's start for the rest."""
    by_term = {id(t): np.maximum(r, floor)[:, None] for t, r in zip(ls.terms, ratios)}
    by_term.update(others or {})
    return np.concatenate([by_term.get(id(t), np.broadcast_to(lme4_start([t]), (m, t.n_theta)))
                           for t in terms], axis=1)


def start_candidates(terms: list[ReTerm], X, y, weights) -> np.ndarray:
    """(c, n_theta): :func:`start_candidates_many` of one response y (n,)."""
    return start_candidates_many(terms, X, np.asarray(y)[:, None], weights)[0]


def start_candidates_many(terms: list[ReTerm], X, ys, weights, *, floor: float = 0.1,
                          sweeps: int = 4) -> np.ndarray:
    """(m, c, n_theta) candidate starts for each response column of ys (n, m) (responses
    minus offsets; terms in computation order): lme4's start, the one-way start (each
    intercept term on its own), with two or more intercept terms the additive start
    (``sweeps`` Gauss-Seidel sweeps of the additive fit; exact after one for a balanced
    crossed design), and with other terms the one-way start for the intercept terms and
    per-level regressions for the others. Computed for all responses together from the
    residuals."""
    ys = np.asarray(ys, dtype=np.float64)
    m = ys.shape[1]
    ls = _level_sums(terms, np.asarray(X, dtype=np.float64), ys, np.asarray(weights, float))
    one_way = _one_way(ls)
    candidates = [np.broadcast_to(lme4_start(terms), (m, sum(t.n_theta for t in terms))),
                  _assemble(terms, ls, one_way, m, floor)]
    if len(ls.terms) >= 2:
        together = _additive(ls, sweeps)
        if together is not None:
            candidates.append(_assemble(terms, ls, together, m, floor))
    regressions = {id(t): _regression(t, ls, floor) for t in terms if not _is_intercept(t)}
    regressions = {key: value for key, value in regressions.items() if value is not None}
    if regressions:
        candidates.append(_assemble(terms, ls, one_way, m, floor, regressions))
    return np.stack(candidates, axis=1)


def with_correlation_starts(theta_starts: np.ndarray,
                            correlation_starts: np.ndarray) -> np.ndarray:
    """Every pair of a theta start (m, n_theta) and an unconstrained correlation start
    (c, n_corr), as (m c, n_theta + n_corr) candidates (the optimizer starts from the one
    with the lowest objective)."""
    theta_starts = np.atleast_2d(theta_starts)
    return np.array([np.concatenate([t, c]) for t in theta_starts for c in correlation_starts])
