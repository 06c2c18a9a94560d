"""Model objectives: pure JAX functions of the parameters."""

from interlace_jax.models._crossprod import (
    DesignProducts,
    LMMData,
    ResponseProducts,
    design_products,
    lmm_data,
    response_products,
)
from interlace_jax.models._correlated import CorrelatedLMMData, correlated_lmm_data
from interlace_jax.models._correlation import (
    AR1,
    CAR1,
    STRUCTURES,
    CompoundSymmetry,
    check_structure,
)
from interlace_jax.models._forward import (
    central_derivatives,
    central_derivatives_jax,
    forward_derivatives,
)
from interlace_jax.models._lmm_derivatives import (
    LMMDerivatives,
    lmm_derivatives,
    lmm_derivatives_central,
    lmm_derivatives_fd,
    solution_outputs,
)
from interlace_jax.models._response_map import (
    ResponseMap,
    effects_from_spherical,
    linear_predictor,
    response_map,
    response_products_of,
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
    "AR1",
    "CAR1",
    "STRUCTURES",
    "CompoundSymmetry",
    "CorrelatedLMMData",
    "check_structure",
    "correlated_lmm_data",
    "DesignProducts",
    "LMMData",
    "LMMDerivatives",
    "LMMSolution",
    "ResponseMap",
    "ResponseProducts",
    "design_products",
    "effects_from_spherical",
    "forward_derivatives",
    "central_derivatives",
    "central_derivatives_jax",
    "deviance_parts",
    "factor_at",
    "lmm_data",
    "lmm_derivatives",
    "lmm_derivatives_central",
    "lmm_derivatives_fd",
    "solution_outputs",
    "lmm_deviance",
    "linear_predictor",
    "lmm_solution",
    "objective_from_factor",
    "response_map",
    "response_products",
    "response_products_of",
    "split_theta",
]
