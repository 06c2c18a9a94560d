"""float64 for interlace_jax without touching the user's global JAX configuration.

Mixed-model deviances need float64 (REML criteria of a few thousand must be resolved to 1e-6).
The facade runs every computation inside ``jax.enable_x64(True)``, a scoped context, so a
program that imports interlace_jax next to float32 code keeps its float32 default. The pure
objective functions (``interlace_jax.models``) check their inputs and raise a clear error when
called with float32 arrays; use them inside ``with interlace_jax.x64():`` or enable x64 globally.
"""

from __future__ import annotations

import jax


def x64():
    """Context manager in which JAX computes in float64 (``jax.enable_x64(True)``)."""
    return jax.enable_x64(True)
