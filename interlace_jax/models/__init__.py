"""Model objectives: pure JAX functions of the parameters."""

from interlace_jax.models._crossprod import (
    DesignProducts,
    LMMData,
    ResponseProducts,
    design_products,
    response_products,
)
from interlace_jax.models._lmm import LMMSolution, factor_at, lmm_deviance, lmm_solution, split_theta

__all__ = [
    "DesignProducts",
    "LMMData",
    "LMMSolution",
    "ResponseProducts",
    "design_products",
    "factor_at",
    "lmm_deviance",
    "lmm_solution",
    "response_products",
    "split_theta",
]
