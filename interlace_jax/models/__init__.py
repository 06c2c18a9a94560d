"""Model objectives: pure JAX functions of the parameters."""

from interlace_jax.models._crossprod import (
    DesignProducts,
    LMMData,
    ResponseProducts,
    design_products,
    lmm_data,
    response_products,
)
from interlace_jax.models._lmm_derivatives import (
    LMMDerivatives,
    lmm_derivatives,
    lmm_derivatives_fd,
)
from interlace_jax.models._lmm import (
    LMMSolution,
    deviance_parts,
    factor_at,
    lmm_deviance,
    lmm_solution,
    objective_from_factor,
    split_theta,
)

__all__ = [
    "DesignProducts",
    "LMMData",
    "LMMDerivatives",
    "LMMSolution",
    "ResponseProducts",
    "design_products",
    "deviance_parts",
    "factor_at",
    "lmm_data",
    "lmm_derivatives",
    "lmm_derivatives_fd",
    "lmm_deviance",
    "lmm_solution",
    "objective_from_factor",
    "response_products",
    "split_theta",
]
