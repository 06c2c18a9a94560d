"""The static block plan of the blocked Cholesky factor, decided once on the host.

Terms are ordered by decreasing number of levels (stably, as lme4 and MixedModels.jl do). The
first term's block of ``Lambda' Z'Z Lambda + I`` is block-diagonal: one ``S1 x S1`` block per level,
factorised by a batched Cholesky. Every other term, and ``[X y]``, goes into one dense "rest"
block of size ``q_rest + p + 1`` that absorbs all fill-in (crossed factors fill in; nested ones
would not, but the rest is small whenever that matters).

The coupling between the first term and a rest term is sparse: it is non-zero only for pairs
(level ``k`` of term 1, level ``l`` of term t) that share an observation. These pairs are the
*entries*. The Schur-complement update of the rest block sums, over levels ``k`` of term 1, the
outer products of the entries that share ``k``: the *pairs*, listed here once as index arrays so
the device does a gather and a segment-sum. When the first term's levels each meet many rest
rows (crossed factors), the coupling is instead scattered into a dense ``(L1 S1) x q_rest``
matrix ``C`` and the update is the matrix product ``C'C`` (see :func:`dense_coupling_wins`): a
few thousand gathered values and one matrix product instead of tens of thousands of gathered
pair products and a scatter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from interlace_jax.linalg._content_memo import ContentMemo
from interlace_jax.terms import ReTerm


@dataclass(frozen=True)
class TermLayout:
    """Static layout of one term in computation order.

    Attributes:
        n_levels: number of levels L_t.
        size: S_t, random effects per level.
        offset: first row of the term in the dense rest block (-1 for the first term).
        n_entries: number of (first-term level, this-term level) pairs sharing observations
            (0 for the first term).
    """

    n_levels: int
    size: int
    offset: int
    n_entries: int


@dataclass(frozen=True)
class BlockPlan:
    """Static description of the blocked system; hashable, so it can be a jit static argument.

    Attributes:
        order: ``order[j]`` is the index (in the user's term list) of the j-th term in
            computation order.
        terms: the TermLayout of each term, in computation order.
        n_fixed: p, the number of fixed-effect columns.
        n_rest: q_rest, rows of the random-effects part of the dense rest block.
        n_pairs: number of (row, row) products in the Schur-complement update.
        lapack: factor and solve dense blocks larger than the unrolled kernels with LAPACK
            (True, single fits) or with jax.numpy loops (False, for vmapped batches of fits;
            see :mod:`interlace_jax.linalg._dense_kernels`).
        dense_coupling: form the Schur-complement update as ``C'C`` with the coupling in a
            dense (L1 S1, q_rest) matrix instead of the sparse pair products.
    """

    order: tuple[int, ...]
    terms: tuple[TermLayout, ...]
    n_fixed: int
    n_rest: int
    n_pairs: int
    lapack: bool = True
    dense_coupling: bool = False

    @property
    def scalar_rest(self) -> bool:
        """Whether every term after the first is scalar (Lambda_rest is then diagonal)."""
        return all(t.size == 1 for t in self.terms[1:])

    @property
    def n_scalar_rows(self) -> int:
        """Number of scalar coupling rows (each entry contributes S_t rows)."""
        return sum(t.n_entries * t.size for t in self.terms[1:])

    def describe(self) -> str:
        """A table of the blocks and their storage, like MixedModels.jl's BlockDescription."""
        first = self.terms[0]
        lines = [
            f"term 1: {first.n_levels} levels x {first.size}: "
            f"block-diagonal ({first.n_levels} blocks of {first.size}x{first.size})",
        ]
        for j, t in enumerate(self.terms[1:], start=2):
            lines.append(
                f"term {j}: {t.n_levels} levels x {t.size}: dense rows "
                f"{t.offset}..{t.offset + t.n_levels * t.size - 1}, "
                f"{t.n_entries} couplings with term 1"
            )
        size = self.n_rest + self.n_fixed + 1
        lines.append(f"dense rest block: {size}x{size} ({self.n_fixed} fixed effects + response)")
        if self.dense_coupling:
            rows = first.n_levels * first.size
            lines.append(f"fill-in: dense coupling {rows}x{self.n_rest}, one matrix product")
        else:
            lines.append(f"fill-in products per factorisation: {self.n_pairs}")
        return "\n".join(lines)


@dataclass(frozen=True)
class CouplingIndex:
    """Host-side index arrays of the first-term/rest coupling (all int32 numpy arrays).

    Attributes:
        entry_first: per rest term, (E_t,) level of term 1 of each entry.
        entry_level: per rest term, (E_t,) level of term t of each entry.
        scalar_first: (R,) level of term 1 of each scalar row (rows ordered term, entry, s).
        scalar_row: (R,) row of each scalar row in the dense rest block.
        pair_a, pair_b: (P,) scalar rows multiplied together in the Schur update.
        pair_target: (P,) flat index ``row_a * q_rest + row_b`` they are added to, sorted.
        obs_entry: per rest term, (n,) the entry each observation belongs to (host use only).
        dense_index: (L1 * q_rest,) for a plan with ``dense_coupling``, the scalar row at each
            position (first level, rest row) of the dense coupling matrix, R (a zero row
            appended to the coupling rows) where they share no observation; else empty.
    """

    entry_first: tuple[np.ndarray, ...]
    entry_level: tuple[np.ndarray, ...]
    scalar_first: np.ndarray
    scalar_row: np.ndarray
    pair_a: np.ndarray
    pair_b: np.ndarray
    pair_target: np.ndarray
    obs_entry: tuple[np.ndarray, ...]
    dense_index: np.ndarray


def dense_coupling_wins(n_rows: int, n_rest: int, n_pairs: int) -> bool:
    """Whether the dense coupling matrix (n_rows = L1 S1 rows, n_rest columns) should replace
    the n_pairs sparse pair products: when it holds no more values than there are pairs and
    its product ``C'C`` (n_rows n_rest^2 multiply-adds, fast as a matrix product) costs at most
    32 times the pair products (each a gather, a product and a scatter). True for crossed
    factors, false for nested ones."""
    size = n_rows * n_rest
    return n_rest > 0 and size <= n_pairs and size * n_rest <= 32 * n_pairs


def _dense_index(scalar_first: np.ndarray, scalar_row: np.ndarray, n_first: int,
                 n_rest: int) -> np.ndarray:
    """(n_first * n_rest,) the scalar row at each (first level, rest row), R where none."""
    out = np.full(n_first * n_rest, scalar_first.size, dtype=np.int32)
    out[scalar_first.astype(np.int64) * n_rest + scalar_row] = np.arange(scalar_first.size)
    return out


def computation_order(terms: list[ReTerm]) -> tuple[int, ...]:
    """Indices of ``terms`` sorted by decreasing number of levels (stable)."""
    return tuple(int(i) for i in np.argsort([-t.n_levels for t in terms], kind="stable"))


def _entries(first: ReTerm, term: ReTerm) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique (first level, term level) pairs, sorted by first level, and each obs's entry."""
    key = first.refs.astype(np.int64) * term.n_levels + term.refs
    unique, inverse = np.unique(key, return_inverse=True)
    return (unique // term.n_levels).astype(np.int32), (unique % term.n_levels).astype(
        np.int32
    ), inverse.astype(np.int64)


def _pairs(scalar_first: np.ndarray, scalar_row: np.ndarray, n_rest: int,
           level_rank: np.ndarray | None):
    """Pairs (a, b), a <= b in sorted order, of scalar rows sharing a first-term level, with
    their flat targets ``row_a * n_rest + row_b`` in the upper triangle (row_a <= row_b),
    sorted by target.

    Only one of (a, b) and (b, a) is listed: the Schur update is symmetric and the Cholesky
    factorisation reads only one triangle of the block (two rows sharing a level never share
    a rest row, so only the a == b products land on the diagonal). Within a target the pairs
    follow the first-term levels ordered by ``level_rank`` (L1,) when given, else by level.
    """
    if level_rank is None:
        order = np.argsort(scalar_first, kind="stable")
    else:
        key = level_rank[scalar_first].astype(np.int64) * (int(scalar_first.max(initial=0)) + 1)
        order = np.argsort(key + scalar_first, kind="stable")
    # 32-bit indices where they fit: a large plan's arrays are fresh memory, and halving them
    # halves the page faults of a first fit (InstEval: 1.8 million pairs, 0.39 -> 0.2 s).
    order = order.astype(np.int32)
    levels = scalar_first[order]
    starts = np.flatnonzero(np.concatenate([[True], levels[1:] != levels[:-1]]))
    counts = np.diff(np.append(starts, levels.size))
    position = np.arange(order.size, dtype=np.int32)
    per_row = np.repeat((starts + counts).astype(np.int32), counts) - position  # partners
    n_pairs = int(per_row.sum())  # at or after each row in its group
    index = np.int32 if n_pairs < 2**31 else np.int64
    a_sorted = np.repeat(position, per_row)
    # b = a + (k - first pair k of a's run) = k - (first pair of a's run - a)
    b_sorted = np.arange(n_pairs, dtype=index) - np.repeat(
        (np.cumsum(per_row, dtype=np.int64) - per_row - position).astype(index), per_row)
    pair_a, pair_b = order[a_sorted], order[b_sorted]
    wide = n_rest * n_rest >= 2**31
    target = scalar_row[pair_a].astype(np.int64 if wide else np.int32) * n_rest + scalar_row[pair_b]
    by_target = np.argsort(target, kind="stable")
    return pair_a[by_target], pair_b[by_target], target[by_target]


#: the pairs of the two most recent coupling structures (InstEval: 0.1 s to list, 22 MB)
PAIRS_MEMO = ContentMemo(2)


def first_diagonal(term: ReTerm, weights: np.ndarray) -> np.ndarray:
    """(L,) the diagonal ``sum_i w_i z_i^2`` of each level of a scalar term (its Z'WZ)."""
    z = term.z[:, 0]
    return np.bincount(term.refs, weights=z * (z * weights), minlength=term.n_levels)


def make_plan(terms: list[ReTerm], n_fixed: int, weights: np.ndarray | None = None
              ) -> tuple[BlockPlan, CouplingIndex]:
    """Order the terms, lay out the rest block and list the coupling entries and pairs.

    Args:
        terms: the random-effects terms in the user's order (at least one).
        n_fixed: p, the number of fixed-effect columns.
        weights: (n,) prior weights, for models whose cross-products are fixed (the LMM).
            With a scalar first term, the pairs of each target are then ordered by the
            first-term level's diagonal (:func:`first_diagonal`), so that pairs with the same
            Schur weight sit next to each other and can be summed once on the host
            (:func:`~interlace_jax.models.design_products`). Only the order depends on it.

    Returns:
        The static plan and the coupling index arrays.
    """
    order = computation_order(terms)
    ordered = [terms[i] for i in order]
    first = ordered[0]
    layouts = [TermLayout(first.n_levels, first.size, -1, 0)]
    entry_first, entry_level, scalar_first, scalar_row, obs_entry = [], [], [], [], []
    offset = 0
    for term in ordered[1:]:
        ef, el, inverse = _entries(first, term)
        obs_entry.append(inverse)
        layouts.append(TermLayout(term.n_levels, term.size, offset, int(ef.size)))
        entry_first.append(ef)
        entry_level.append(el)
        s = np.arange(term.size)
        scalar_first.append(np.repeat(ef, term.size))
        scalar_row.append((offset + el[:, None] * term.size + s[None, :]).ravel())
        offset += term.n_levels * term.size
    n_rest = offset
    scalar_first_arr = np.concatenate(scalar_first).astype(np.int32) if scalar_first else (
        np.zeros(0, np.int32)
    )
    scalar_row_arr = np.concatenate(scalar_row).astype(np.int32) if scalar_row else (
        np.zeros(0, np.int32)
    )
    level_rank = None
    if weights is not None and first.size == 1:
        level_rank = np.unique(first_diagonal(first, weights), return_inverse=True)[1]
    rank_key = np.zeros(0, np.int64) if level_rank is None else level_rank
    pair_a, pair_b, target = PAIRS_MEMO.get(
        (scalar_first_arr, scalar_row_arr, rank_key), (n_rest, level_rank is None),
        lambda: _pairs(scalar_first_arr, scalar_row_arr, max(n_rest, 1), level_rank))
    dense = dense_coupling_wins(first.n_levels * first.size, n_rest, int(pair_a.size))
    plan = BlockPlan(order, tuple(layouts), n_fixed, n_rest, int(pair_a.size),
                     dense_coupling=dense)
    dense_index = (_dense_index(scalar_first_arr, scalar_row_arr, first.n_levels, n_rest)
                   if dense else np.zeros(0, np.int32))
    index = CouplingIndex(
        tuple(entry_first), tuple(entry_level), scalar_first_arr, scalar_row_arr,
        pair_a, pair_b, target, tuple(obs_entry), dense_index,
    )
    return plan, index
