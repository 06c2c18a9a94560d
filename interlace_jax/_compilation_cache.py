"""Opt-in persistent compilation cache, so that a new Python process does not compile again.

The first fit of a model structure spends most of its time compiling (2-4 s on a laptop CPU).
JAX can keep compiled code on disk; a later process fitting a model of the same structure and
sizes (same data, or data of the same shape) then loads it instead. This is JAX's global
configuration, so interlace_jax never turns it on by itself: call
:func:`enable_compilation_cache` once, e.g. at the top of a notebook.
"""

from __future__ import annotations

from pathlib import Path

import jax


def enable_compilation_cache(path: str | Path | None = None, *, min_compile_seconds: float = 0.2
                             ) -> Path:
    """Turn on JAX's persistent compilation cache in ``path``; returns the folder used.

    Args:
        path: cache folder; default ``~/.cache/interlace_jax/xla``.
        min_compile_seconds: only compilations at least this long are stored.

    Note:
        This sets JAX's process-wide options ``jax_compilation_cache_dir`` and
        ``jax_persistent_cache_min_compile_time_secs``; it affects other JAX code in the process.
    """
    folder = Path(path) if path is not None else Path.home() / ".cache" / "interlace_jax" / "xla"
    folder.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", min_compile_seconds)
    return folder
