"""Blocked sparse-dense Cholesky machinery: host-side plan, pure JAX factorisation."""

from interlace_jax.linalg._blocked_cholesky import (
    BlockedFactor,
    factorize,
    lower_solve,
    upper_solve,
)
from interlace_jax.linalg._plan import BlockPlan, CouplingIndex, TermLayout, make_plan

__all__ = ["BlockPlan", "BlockedFactor", "CouplingIndex", "TermLayout", "factorize", "lower_solve", "make_plan",
           "upper_solve"]
