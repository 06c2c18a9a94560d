"""Optimizer results as data: a result code instead of an exception, so fits can be vmapped."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import jax


class Status(enum.IntEnum):
    """Why the optimizer stopped (the ``status`` code of :class:`OptResult`)."""

    CONVERGED = 0
    MAX_STEPS = 1
    NONFINITE = 2
    STALLED = 3

    @property
    def message(self) -> str:
        return _MESSAGES[self]


_MESSAGES = {
    Status.CONVERGED: "converged: gradient below tolerance",
    Status.MAX_STEPS: "stopped at the maximum number of iterations before converging",
    Status.NONFINITE: "the objective or its gradient became non-finite",
    Status.STALLED: "stalled: no further decrease of the objective was possible",
}


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class OptResult:
    """Outcome of a minimisation; all leaves, so a vmapped fit returns them stacked.

    Attributes:
        x: (n,) the minimiser found.
        fun: () the objective at x.
        grad: (n,) the gradient at x.
        n_steps: () number of iterations taken.
        status: () int32 :class:`Status` code.
        fun_initial: () the objective at the start.
    """

    x: jax.Array
    fun: jax.Array
    grad: jax.Array
    n_steps: jax.Array
    status: jax.Array
    fun_initial: jax.Array
