"""Family, link and zero-model methods evaluated on host arrays as one compiled program.

The methods are jax.numpy, written for the objectives that trace them. Called eagerly on NumPy
arrays, every jax.numpy operation in them is compiled on its own the first time (about 25 ms
each on the project machine: a first ``resid`` of a binomial fit paid 0.3 s). :func:`on_host`
compiles the whole method once per (object, method, argument shapes) instead; families, links
and zero models are frozen, hashable classes, so the compiled program is shared by every fit
that uses an equal object.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import numpy as np

from interlace_jax._x64 import x64


@partial(jax.jit, static_argnums=(0, 1, 2))
def _compiled(owner: Any, method: str, static: tuple, *args):
    return getattr(owner, method)(*static, *args)


def on_host(owner: Any, method: str, *args, static: tuple = ()) -> np.ndarray:
    """``getattr(owner, method)(*static, *args)`` in float64 as a NumPy array (or a tuple of
    them).

    Args:
        owner: a family, link or zero model (hashable: it is a static argument).
        method: the name of one of its jax.numpy methods.
        args: its array arguments: arrays, scalars or tuples of them (all traced).
        static: hashable arguments before them (a zero model's family).

    Example
    -------
    >>> import numpy as np
    >>> from interlace_jax.families import Logit
    >>> on_host(Logit(), "inverse", np.array([0.0, np.log(3.0)]))
    array([0.5 , 0.75])
    """
    with x64():
        return jax.tree_util.tree_map(np.asarray, _compiled(owner, method, static, *args))
