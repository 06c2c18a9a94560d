"""Inference for fitted models from exact derivatives: Satterthwaite and Kenward-Roger
denominator df."""

from interlace_jax.inference._kenward_roger import (
    KenwardRoger,
    covariance_parameters,
    kenward_roger,
    kr_ddf,
    kr_outputs,
)
from interlace_jax.inference._satterthwaite import satterthwaite_df, varpar_covariance

__all__ = [
    "KenwardRoger",
    "covariance_parameters",
    "kenward_roger",
    "kr_ddf",
    "kr_outputs",
    "satterthwaite_df",
    "varpar_covariance",
]
