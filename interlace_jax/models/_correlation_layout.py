"""Where each observation sits in its correlation group, decided once on the host.

A residual correlation structure relates the observations of one group (nlme's ``| g``). Two
layouts cover the structures of :mod:`interlace_jax.models._correlation`:

* :class:`SeriesLayout` (AR(1), continuous-time AR(1)): each group's observations in time order
  (or in the data's order when there is no time), each observation pointing at the one before
  it and the time elapsed since then. An AR(1) process is Markov, so the inverse Cholesky factor
  of its correlation matrix is bidiagonal with these two entries per row.
* :class:`BlockLayout` (compound symmetry): the group of each observation and the group sizes.

The checks here raise the errors a user can trigger with the time and group columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import numpy as np

from interlace_jax._errors import DataError, ModelError


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class SeriesLayout:
    """Observations as time series within groups (n observations, data order).

    Attributes:
        previous: int32 (n,) the observation just before each one in its group (itself for
            the first of a group).
        has_previous: bool (n,) False for the first observation of each group.
        lag: (n,) time since the previous observation of the group: int64 positions for
            AR(1), float64 for continuous time; 0 for the first of a group.
        n_bits: bits of the largest integer lag (static; for powers by repeated squaring).
    """

    previous: jax.Array
    has_previous: jax.Array
    lag: jax.Array
    n_bits: int = field(metadata=dict(static=True))


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class BlockLayout:
    """Observations in exchangeable blocks (compound symmetry).

    Attributes:
        groups: int32 (n,) the group of each observation, codes 0..G-1.
        sizes: float64 (G,) number of observations of each group.
        n_groups: G (static).
        max_size: the largest group size (static; nlme's bound ``rho > -1/(max_size - 1)``).
    """

    groups: jax.Array
    sizes: jax.Array
    n_groups: int = field(metadata=dict(static=True))
    max_size: int = field(metadata=dict(static=True))


def _check_not_all_single(groups: np.ndarray, where: str) -> np.ndarray:
    """Group sizes (G,); a ModelError when no group has two observations."""
    sizes = np.bincount(groups)
    if sizes.max(initial=0) < 2:
        raise ModelError(
            f"every group of {where} has a single observation: a residual correlation "
            "needs groups with at least two observations to be estimated")
    return sizes


def series_layout(groups: np.ndarray, levels: tuple, time: np.ndarray | None,
                  where: str, integer_lags: bool) -> SeriesLayout:
    """The SeriesLayout of n observations.

    Args:
        groups: int (n,) group codes into ``levels``.
        levels: labels of the groups (for messages).
        time: (n,) time of each observation, or None for the data's order within groups.
        where: the structure as the user wrote it, for messages (e.g. ``AR1(time='week', ...)``).
        integer_lags: lags are integer positions (AR(1)); False for continuous time (CAR(1)).

    Raises:
        DataError: non-integer times for AR(1), or a time repeated within a group.
        ModelError: when every group has a single observation.
    """
    n = groups.size
    _check_not_all_single(groups, where)
    position = np.arange(n, dtype=np.float64) if time is None else np.asarray(time, float)
    if integer_lags and time is not None and not np.all(position == np.round(position)):
        bad = position[position != np.round(position)][:3].tolist()
        raise DataError(
            f"{where}: AR1 time must hold integer positions (nlme's corAR1), got {bad}; use "
            "CAR1 for continuous times")
    order = np.lexsort((position, groups))
    same = groups[order[1:]] == groups[order[:-1]]
    gaps = position[order[1:]] - position[order[:-1]]
    repeated = same & (gaps == 0)
    if repeated.any():
        k = int(np.flatnonzero(repeated)[0])
        raise DataError(
            f"{where}: time {position[order[k]]:g} occurs more than once in group "
            f"{levels[groups[order[k]]]!r}; times must be unique within each group")
    later, earlier = order[1:][same], order[:-1][same]
    previous = np.arange(n, dtype=np.int32)
    previous[later] = earlier
    has_previous = np.zeros(n, dtype=bool)
    has_previous[later] = True
    lag = np.zeros(n, dtype=np.int64 if integer_lags else np.float64)
    lag[later] = gaps[same]
    n_bits = max(1, int(lag.max(initial=1)).bit_length()) if integer_lags else 1
    return SeriesLayout(previous, has_previous, lag, n_bits)


def block_layout(groups: np.ndarray, where: str) -> BlockLayout:
    """The BlockLayout of group codes (n,); a ModelError when every group has one
    observation."""
    sizes = _check_not_all_single(groups, where)
    return BlockLayout(groups.astype(np.int32), sizes.astype(np.float64), int(sizes.size),
                       int(sizes.max()))
