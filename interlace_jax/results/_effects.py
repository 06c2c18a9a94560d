"""Conditional modes per term and linear predictors on the host, shared by every result."""

from __future__ import annotations

import numpy as np
import pandas as pd

from interlace_jax.linalg import BlockPlan
from interlace_jax.terms import ReTerm, lambda_blocks


def term_effects(theta: np.ndarray, u_first: np.ndarray, u_rest: np.ndarray,
                 plan: BlockPlan) -> list[np.ndarray]:
    """Per term (computation order) the effects ``b_t = u_t Lambda_t'``, shape (L_t, S_t), from
    the spherical effects u_first (L1, S1) and u_rest (q_rest,)."""
    lams = lambda_blocks(theta, [lay.size for lay in plan.terms])
    out = []
    for j, (lay, lam) in enumerate(zip(plan.terms, lams)):
        if j == 0:
            u = np.asarray(u_first)
        else:
            u = np.asarray(u_rest)[lay.offset : lay.offset + lay.n_levels * lay.size]
            u = u.reshape(lay.n_levels, lay.size)
        out.append(u @ lam.T)
    return out


def effects_by_group(terms: list[ReTerm], effects: list[np.ndarray]) -> dict[str, pd.DataFrame]:
    """A DataFrame (levels x effect names) per grouping factor; terms on the same factor (from
    ``||``) are joined into one frame."""
    out: dict[str, pd.DataFrame] = {}
    for term, b in zip(terms, effects):
        frame = pd.DataFrame(b, index=pd.Index(term.levels, name=term.group),
                             columns=list(term.z_names))
        if term.group in out:
            prev = out[term.group]
            frame.columns = [c if c not in prev.columns else f"{c}.{term.group}"
                             for c in frame.columns]
            out[term.group] = prev.join(frame)
        else:
            out[term.group] = frame
    return out


def host_linear_predictor(beta: np.ndarray, X: np.ndarray, offset: np.ndarray,
                          effects: list[np.ndarray] | None, term_refs, term_z) -> np.ndarray:
    """``X beta + offset`` plus, when ``effects`` is given, ``Z b``; levels coded -1 (unseen in
    fitting) get zero random effects."""
    eta = X @ beta + offset
    if effects is not None:
        for b, refs, z in zip(effects, term_refs, term_z):
            known = refs >= 0
            contrib = np.einsum("is,is->i", z, b[np.where(known, refs, 0)])
            eta = eta + np.where(known, contrib, 0.0)
    return eta


def covariances_by_group(cond, terms: list[ReTerm]) -> dict[str, np.ndarray]:
    """Per grouping factor, the (n_levels, S, S) conditional covariances of its random effects
    from a :class:`~interlace_jax.inference.ConditionalCovariance`, levels and effects in the
    order of ``effects_by_group``; for several terms on one factor (``||``) the blocks between
    them are included."""
    by_group: dict[str, list[int]] = {}
    for t, term in enumerate(terms):
        by_group.setdefault(term.group, []).append(t)
    out = {}
    for group, idx in by_group.items():
        sizes = [terms[t].size for t in idx]
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        cov = np.empty((terms[idx[0]].n_levels, offsets[-1], offsets[-1]))
        for a, t in enumerate(idx):
            for b, s in enumerate(idx):
                cov[:, offsets[a]:offsets[a + 1], offsets[b]:offsets[b + 1]] = cond.block(t, s)
        out[group] = cov
    return out


def standard_errors_by_group(effects: dict[str, pd.DataFrame],
                             covs: dict[str, np.ndarray]) -> dict[str, pd.DataFrame]:
    """Conditional SDs (square roots of the covariances' diagonals), shaped as ``effects``."""
    out = {}
    for group, frame in effects.items():
        sd = np.sqrt(np.diagonal(covs[group], axis1=1, axis2=2))
        out[group] = pd.DataFrame(sd, index=frame.index, columns=frame.columns)
    return out
