"""Blocked sparse-dense Cholesky machinery: host-side plan, pure JAX factorisation."""

from interlace_jax.linalg._blocked_cholesky import (
    BlockedFactor,
    factorize,
    lower_solve,
    scale_rest_rows,
    upper_solve,
)
from interlace_jax.linalg._z_solve import z_log_det, z_solve
from interlace_jax.linalg._dense_kernels import (
    UNROLL_MAX,
    cholesky,
    solve_lower,
    solve_lower_transposed,
    symmetric_eigen,
)
from interlace_jax.linalg._plan import (
    BlockPlan,
    CouplingIndex,
    TermLayout,
    dense_coupling_wins,
    make_plan,
)

__all__ = ["UNROLL_MAX", "BlockPlan", "BlockedFactor", "CouplingIndex", "TermLayout", "cholesky",
           "dense_coupling_wins", "factorize", "lower_solve", "make_plan", "scale_rest_rows",
           "solve_lower", "solve_lower_transposed", "symmetric_eigen", "upper_solve",
           "z_log_det", "z_solve"]
