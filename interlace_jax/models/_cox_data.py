"""Everything a Cox mixed model's objective reads, built once on the host.

Survival data are reduced to *event groups*: the distinct (stratum, event time) pairs, sorted by
stratum, then time (K of them). Every row is at risk at a contiguous range of groups, those of its
stratum with ``start < time <= stop``; only the last group of that range and the one before its
first are stored, so risk-set sums are scatters followed by cumulative sums over the groups.
The log of each risk-set sum enters the partial likelihood through *denominator terms*: one per
group with multiplicity d_k for Breslow's ties, one per death for Efron's (the r-th of d_k tied
deaths subtracts r / d_k of the tied deaths' own sum).

The random effects of all terms form one vector u of spherical effects (b = Lambda u per level),
laid out term by term (terms in the formula's order), level-major within a term: coordinate
``offset_t + level * S_t + s``. A "sparse" first term (coxme's approximation, see
:mod:`~interlace_jax.models._cox_laplace`) has its sparse levels first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import numpy as np

from interlace_jax.terms import ReTerm, n_theta

TIES = ("efron", "breslow")


@dataclass(frozen=True)
class CoxLayout:
    """Static sizes of a Cox mixed model (hashable: part of the jit cache key).

    Attributes:
        n_groups: K, event groups.
        has_start: counting-process data ``(start, stop]``.
        segmented: more than one stratum (cumulative sums restart at each stratum).
        levels, sizes, offsets: per term (formula order), L_t, S_t and its first coordinate.
        n_fixed: p.
        n_sparse: number of leading coordinates of u in the diagonal (sparse) block.
        recentre: whether the first term is a random intercept the partial likelihood is
            invariant to shifting (every row has one level), so Newton steps may recentre it.
        free_terms: indices of the terms whose theta is estimated (the others are fixed).
    """

    n_groups: int
    has_start: bool
    segmented: bool
    levels: tuple[int, ...]
    sizes: tuple[int, ...]
    offsets: tuple[int, ...]
    n_fixed: int
    n_sparse: int
    recentre: bool
    free_terms: tuple[int, ...]

    @property
    def n_random(self) -> int:
        """q, the number of random effects."""
        return sum(l * s for l, s in zip(self.levels, self.sizes))

    @property
    def n_theta(self) -> int:
        """Number of estimated theta (the optimiser's parameters)."""
        return sum(n_theta(self.sizes[t]) for t in self.free_terms)

    @property
    def n_theta_all(self) -> int:
        return sum(n_theta(s) for s in self.sizes)


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class CoxData:
    """Arrays of one Cox mixed model (n rows, E deaths, M denominator terms, K groups).

    Attributes:
        x: (n, p) fixed-effects matrix (no intercept); offset: (n,).
        codes: per term, (n, S_t) coordinate in u of each row's effects.
        z: per term, (n, S_t) the term's model matrix.
        risk_last: (n,) last group at which a row is at risk (K: never at risk).
        risk_before: (n,) the group before its first one (K: none in its stratum, or never at
            risk); unused without start times.
        death_rows: (E,) rows with an event; death_group: (E,) their group.
        term_group: (M,) group of each denominator term; term_coef: (M,) the fraction of the
            tied deaths' sum it subtracts (Efron; 0 for Breslow); term_weight: (M,) its
            multiplicity.
        group_first, group_last: (K,) whether a group is its stratum's first / last.
        theta_fixed: (all theta,) values of the fixed theta (zeros where estimated).
        layout: the static :class:`CoxLayout`.
    """

    x: jax.Array
    offset: jax.Array
    codes: tuple
    z: tuple
    risk_last: jax.Array
    risk_before: jax.Array
    death_rows: jax.Array
    death_group: jax.Array
    term_group: jax.Array
    term_coef: jax.Array
    term_weight: jax.Array
    group_first: jax.Array
    group_last: jax.Array
    theta_fixed: jax.Array
    layout: CoxLayout = field(metadata=dict(static=True))


@dataclass(frozen=True)
class EventGroups:
    """Host description of the event groups (for the data arrays and for reporting)."""

    stratum: np.ndarray  # (K,) stratum of each group
    time: np.ndarray  # (K,) event time
    risk_last: np.ndarray  # (n,)
    risk_before: np.ndarray  # (n,)
    death_rows: np.ndarray  # (E,)
    death_group: np.ndarray  # (E,)


def event_groups(stop: np.ndarray, start: np.ndarray | None, event: np.ndarray,
                 strata: np.ndarray) -> EventGroups:
    """Group the deaths by (stratum, time) and find each row's range of groups at risk.

    Args:
        stop: (n,) event or censoring times; start: (n,) entry times or None (entry at -inf).
        event: (n,) bool; strata: (n,) int codes.
    """
    times = np.unique(np.concatenate([stop, start if start is not None else stop[:0]]))
    rank = np.searchsorted(times, stop)
    width = times.size + 1
    stratum = strata.astype(np.int64)
    death_key = stratum[event] * width + rank[event] + 1  # +1 keeps 0 for "before every time"
    keys, death_group = np.unique(death_key, return_inverse=True)
    K = keys.size
    group_stratum = keys // width
    last = np.searchsorted(keys, stratum * width + rank + 1, side="right") - 1
    if start is None:
        first = np.searchsorted(keys, stratum * width, side="left")
    else:
        first = np.searchsorted(keys, stratum * width + np.searchsorted(times, start) + 1,
                                side="right")
    stratum_first = np.searchsorted(keys, stratum * width, side="left")
    at_risk = (last >= first) & (last >= 0)
    risk_last = np.where(at_risk, last, K)
    risk_before = np.where(at_risk & (first > stratum_first), first - 1, K)
    return EventGroups(
        stratum=group_stratum,
        time=times[(keys % width) - 1],
        risk_last=risk_last.astype(np.int32),
        risk_before=risk_before.astype(np.int32),
        death_rows=np.flatnonzero(event).astype(np.int32),
        death_group=death_group.reshape(-1).astype(np.int32),
    )


def denominator_terms(death_group: np.ndarray, n_groups: int, ties: str):
    """(group, coefficient, multiplicity) of each log-denominator term, each (M,)."""
    counts = np.bincount(death_group, minlength=n_groups)
    if ties == "breslow":
        return np.arange(n_groups), np.zeros(n_groups), counts.astype(np.float64)
    group = np.repeat(np.arange(n_groups), counts)
    rank = np.arange(group.size) - np.repeat(np.cumsum(counts) - counts, counts)
    return group, rank / counts[group], np.ones(group.size)


def cox_data(terms: list[ReTerm], X: np.ndarray, offset: np.ndarray, stop: np.ndarray,
             start: np.ndarray | None, event: np.ndarray, strata: np.ndarray, ties: str,
             n_sparse: int = 0, theta_fixed: dict[int, np.ndarray] | None = None) -> CoxData:
    """Build the CoxData (call inside ``jax.enable_x64(True)``).

    Args:
        terms: random-effects terms in the formula's order; when ``n_sparse > 0`` the first
            term is a scalar term whose levels ``0 .. n_sparse - 1`` are the sparse ones.
        X: (n, p) fixed effects without intercept; offset, stop: (n,); start: (n,) or None.
        event: (n,) bool; strata: (n,) int codes (zeros for one stratum).
        ties: "efron" or "breslow".
        theta_fixed: {term index: its theta} for terms whose covariance is fixed.
    """
    theta_fixed = theta_fixed or {}
    groups = event_groups(stop, start, event, strata)
    K = groups.stratum.size
    term_group, term_coef, term_weight = denominator_terms(groups.death_group, K, ties)
    sizes = tuple(t.size for t in terms)
    levels = tuple(t.n_levels for t in terms)
    offsets = tuple(int(v) for v in np.cumsum([0] + [l * s for l, s in zip(levels, sizes)])[:-1])
    codes = tuple((o + t.refs.astype(np.int64)[:, None] * t.size + np.arange(t.size)[None, :]
                   ).astype(np.int32) for t, o in zip(terms, offsets))
    fixed_values = [np.asarray(theta_fixed.get(i, np.zeros(n_theta(s))), float).ravel()
                    for i, s in enumerate(sizes)]
    first = np.r_[True, groups.stratum[1:] != groups.stratum[:-1]] if K else np.zeros(0, bool)
    last = np.r_[groups.stratum[1:] != groups.stratum[:-1], True] if K else np.zeros(0, bool)
    recentre = bool(n_sparse and terms[0].size == 1 and np.all(terms[0].z == 1.0))
    layout = CoxLayout(
        n_groups=K, has_start=start is not None, segmented=bool(np.unique(strata).size > 1),
        levels=levels, sizes=sizes, offsets=offsets, n_fixed=X.shape[1], n_sparse=int(n_sparse),
        recentre=recentre, free_terms=tuple(i for i in range(len(terms)) if i not in theta_fixed))
    data = CoxData(
        x=np.asarray(X, np.float64).reshape(len(stop), -1),
        offset=np.asarray(offset, np.float64),
        codes=codes,
        z=tuple(np.asarray(t.z, np.float64) for t in terms),
        risk_last=groups.risk_last,
        risk_before=groups.risk_before,
        death_rows=groups.death_rows,
        death_group=groups.death_group,
        term_group=term_group.astype(np.int32),
        term_coef=term_coef.astype(np.float64),
        term_weight=term_weight,
        group_first=first,
        group_last=last,
        theta_fixed=np.concatenate(fixed_values) if fixed_values else np.zeros(0),
        layout=layout,
    )
    return jax.device_put(data)
