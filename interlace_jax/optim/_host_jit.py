"""Compiled functions whose results reach the host as one buffer.

Copying a ``jax.Array`` to numpy costs tens of microseconds per array, whatever its size. A
fit returns a few dozen small arrays, so for a small model these copies cost as much as the
whole compiled fit. :func:`host_jit` compiles a function with its outputs packed into one
float64 vector, and unpacks that vector on the host into numpy arrays of the original shapes
and dtypes (float64 holds every int32 and bool exactly). Call it with float64 enabled.
"""

from __future__ import annotations

import functools
import math
import threading
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np


def _signature(leaf: Any) -> Any:
    """What of an argument decides the output layout: shape and dtype of arrays, the value of
    anything else (static Python arguments)."""
    if hasattr(leaf, "shape") and hasattr(leaf, "dtype"):
        return (leaf.shape, leaf.dtype)
    return (type(leaf), leaf)


def host_jit(fn: Callable, *, static_argnames: tuple[str, ...] = (),
             compiler_options: Callable[[], dict] | None = None) -> Callable:
    """``jax.jit(fn, static_argnames=...)`` returning numpy arrays, copied in one piece.

    ``compiler_options``, if given, is called on the first call (not at import, which would start
    JAX's backend) for the XLA options of the packed function.

    The output layout (tree structure, shapes, dtypes) is recorded when the packed function
    is traced for a new signature of the arguments, and kept.
    """
    traced = threading.local()

    @functools.wraps(fn)
    def packed_fn(*args, **kwargs):
        leaves, tree = jax.tree_util.tree_flatten(fn(*args, **kwargs))
        traced.layout = (tree, [(leaf.shape, leaf.dtype) for leaf in leaves])
        return jnp.concatenate([jnp.ravel(leaf).astype(jnp.float64) for leaf in leaves])

    shapes_of = jax.jit(fn, static_argnames=static_argnames).eval_shape

    @functools.lru_cache(maxsize=1)
    def compiled():
        options = {} if compiler_options is None else compiler_options()
        return jax.jit(packed_fn, static_argnames=static_argnames, compiler_options=options)

    layouts: dict[Any, tuple] = {}

    @functools.wraps(fn)
    def call(*args, **kwargs):
        leaves, treedef = jax.tree_util.tree_flatten((args, kwargs))
        key = (treedef, tuple(_signature(leaf) for leaf in leaves))
        layout = layouts.get(key)
        traced.layout = None
        flat = np.asarray(compiled()(*args, **kwargs))
        if layout is None:
            layout = traced.layout
            if layout is None:  # jax reused a trace made for another key: trace fn alone
                shapes = shapes_of(*args, **kwargs)
                out_leaves, out_tree = jax.tree_util.tree_flatten(shapes)
                layout = (out_tree, [(s.shape, s.dtype) for s in out_leaves])
            layouts[key] = layout
        out_tree, parts = layout
        arrays, start = [], 0
        for shape, dtype in parts:
            size = math.prod(shape)
            arrays.append(flat[start:start + size].reshape(shape).astype(dtype))
            start += size
        return jax.tree_util.tree_unflatten(out_tree, arrays)

    return call
