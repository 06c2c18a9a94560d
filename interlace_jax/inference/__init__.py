"""Inference for fitted models from exact derivatives."""

from interlace_jax.inference._condvar import ConditionalCovariance
from interlace_jax.inference._lrt import LikelihoodRatioTable, likelihood_ratio_table
from interlace_jax.inference._profile import (
    ProfileIntervals,
    ProfileParameter,
    profile_intervals,
    profile_parameters,
)
from interlace_jax.inference._satterthwaite import satterthwaite_df, varpar_covariance

__all__ = [
    "ConditionalCovariance",
    "LikelihoodRatioTable",
    "ProfileIntervals",
    "ProfileParameter",
    "likelihood_ratio_table",
    "profile_intervals",
    "profile_parameters",
    "satterthwaite_df",
    "varpar_covariance",
]
