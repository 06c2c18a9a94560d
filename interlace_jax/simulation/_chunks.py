"""Run a per-replicate JAX function over many inputs as vmapped chunks, with progress.

The function is vmapped and jitted once; the inputs are cut into chunks of a fixed size (the
last one padded by repeating its final input and trimmed afterwards), so every chunk reuses the
same compiled code and memory stays bounded by the chunk. Results depend only on each input
(for simulation: on each replicate's own random key), never on the chunk size.

One vmapped chunk of small fits runs on a single CPU core (its operations are too small for
XLA's intra-op threads), so chunks are run concurrently from a few host threads, one per core
(JAX releases the GIL while a compiled program runs). The batched programs are LAPACK-free
(see :mod:`interlace_jax.linalg._dense_kernels`), so concurrent chunks cannot contend for
LAPACK's worker pool. On the sleepstudy bootstrap (2 cores) this took 0.51-0.55 ms per
replicate down to 0.31-0.32 ms.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache, partial
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from interlace_jax._errors import ModelError
from interlace_jax._x64 import x64
from interlace_jax.terms import n_theta

#: most chunks in flight at once (each holds one chunk's memory)
MAX_CONCURRENT_CHUNKS = 8


class Progress:
    """A progress bar: ``tqdm.auto`` (rendered in notebooks) when it is installed, else a
    one-line counter on standard error. Disabled, it does nothing."""

    def __init__(self, total: int, enabled: bool, desc: str):
        self.total, self.enabled, self.desc, self.done = total, enabled, desc, 0
        self._bar = None
        if enabled:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                return
            self._bar = tqdm(total=total, desc=desc)

    def update(self, n: int) -> None:
        self.done += n
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(n)
        else:
            sys.stderr.write(f"\r{self.desc}: {self.done}/{self.total}")
            sys.stderr.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self.enabled:
            sys.stderr.write("\n")


@lru_cache(maxsize=64)
def _batched(fn: Callable, static: tuple) -> Callable:
    """jit(vmap(fn)) over the first argument, cached so repeated calls reuse compiled code."""
    return jax.jit(jax.vmap(partial(fn, **dict(static)), in_axes=(0, None)))


#: working-set budget of a chunk of batched fits (see :func:`fit_chunk_size`)
CHUNK_BYTES = 4 * 2**20


def fit_chunk_size(plan, n_obs: int) -> int:
    """Default number of fits per vmapped chunk for batched refits of a linear mixed model.

    Each fit carries (1 + n_theta)^2 forward-derivative lanes of its n_obs-vectors, first-term
    blocks and dense rest block; larger chunks than fit in a core's cache run slower per fit
    (crossed 50 x 40 design, 2,000 rows, per response: chunks of 8-32 8.2-8.4 ms, 64 12.8 ms,
    128 13.5 ms, 256 22 ms). The power of two (8 to 128) whose working set stays within
    CHUNK_BYTES: 64 for sleepstudy, 8 for that crossed design.

    Args:
        plan: the model's BlockPlan; n_obs: rows of the data.
    """
    first = plan.terms[0]
    lanes = (1 + sum(n_theta(t.size) for t in plan.terms)) ** 2
    dense = plan.n_rest + plan.n_fixed + 1
    per_fit = 8 * lanes * (n_obs + first.n_levels * first.size ** 2 + dense ** 2)
    fits = max(1, CHUNK_BYTES // per_fit)
    return int(min(128, max(8, 1 << (fits.bit_length() - 1))))


def replicate_keys(seed: int, nsim: int) -> jax.Array:
    """(nsim,) random keys, one per replicate: the first nsim of
    ``jax.random.split(jax.random.key(seed), m)``, m the next power of two >= nsim.

    With JAX's default partitionable threefry a split's keys do not depend on how many are
    drawn, so these are the keys of ``split(key(seed), nsim)``; rounding the count up only
    spares a compilation of the split for every new nsim (0.3 s each).
    """
    m = 1 << max(0, int(nsim) - 1).bit_length()
    return jax.random.split(jax.random.key(int(seed)), m)[:nsim]


def check_count(value, what: str) -> int:
    """A positive integer argument such as ``nsim`` or ``chunk_size``."""
    try:
        whole = not isinstance(value, bool) and float(value).is_integer()
    except (TypeError, ValueError):
        whole = False
    if not whole or int(value) < 1:
        raise ModelError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def run_in_chunks(fn: Callable, inputs: Any, shared: Any, *, static: dict | None = None,
                  chunk_size: int, progress: bool = False, desc: str = "replicates") -> Any:
    """``vmap(fn)(inputs, shared)`` computed chunk by chunk; returns host (numpy) arrays.

    Args:
        fn: a module-level function ``fn(item, shared, **static)`` of one slice of ``inputs``
            and the arrays common to all items, returning a pytree.
        inputs: pytree of arrays sharing a leading axis of length n.
        shared: pytree passed unbatched to every call.
        static: hashable keyword arguments fixed at compile time (flags, user functions).
        chunk_size: items per vmapped call (at least 1).
        progress: show a progress bar.
    """
    n = jax.tree_util.tree_leaves(inputs)[0].shape[0]
    chunk = min(check_count(chunk_size, "chunk_size"), n)
    batched = _batched(fn, tuple(sorted((static or {}).items())))
    starts = range(0, n, chunk)

    def run_chunk(start: int):
        with x64():  # x64 is a thread-local context: enter it in the worker thread too
            stop = min(start + chunk, n)
            index = np.minimum(np.arange(start, start + chunk), n - 1)
            # host inputs are sliced on the host (a device gather is one dispatch per leaf)
            part = jax.tree_util.tree_map(
                lambda a: a[index] if isinstance(a, np.ndarray) else a[jnp.asarray(index)],
                inputs)
            out = jax.device_get(batched(part, shared))
            return jax.tree_util.tree_map(lambda a: np.asarray(a)[: stop - start], out)

    bar = Progress(n, progress, desc)
    pieces = []

    def collect(piece) -> None:
        pieces.append(piece)
        bar.update(jax.tree_util.tree_leaves(piece)[0].shape[0])

    try:
        collect(run_chunk(starts[0]))  # alone: a first call compiles once, not once per thread
        with ThreadPoolExecutor(max_workers=_concurrent_chunks(len(starts) - 1)) as pool:
            for piece in pool.map(run_chunk, starts[1:]):  # in input order
                collect(piece)
    finally:
        bar.close()
    return jax.tree_util.tree_map(lambda *a: np.concatenate(a, axis=0), *pieces)


def _concurrent_chunks(n_chunks: int) -> int:
    """Chunks run at once: one per CPU core available to this process, at most
    MAX_CONCURRENT_CHUNKS and at most the number of chunks."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(n_chunks, cores, MAX_CONCURRENT_CHUNKS))
