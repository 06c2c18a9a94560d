"""Blocked sparse-dense Cholesky machinery: host-side plan, pure JAX factorisation."""

from interlace_jax.linalg._blocked_cholesky import BlockedFactor, factorize
from interlace_jax.linalg._plan import BlockPlan, CouplingIndex, TermLayout, make_plan

__all__ = ["BlockPlan", "BlockedFactor", "CouplingIndex", "TermLayout", "factorize", "make_plan"]
