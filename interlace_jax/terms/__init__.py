"""Random-effects terms and their covariance parameterisation."""

from interlace_jax.terms._covariance import (
    canonical_theta,
    diagonal_mask,
    lambda_blocks,
    lambda_factor,
    n_theta,
    theta_slices,
    tril_positions,
)
from interlace_jax.terms._reterm import ReTerm

__all__ = [
    "ReTerm",
    "canonical_theta",
    "diagonal_mask",
    "lambda_blocks",
    "lambda_factor",
    "n_theta",
    "theta_slices",
    "tril_positions",
]
