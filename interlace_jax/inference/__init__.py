"""Inference for fitted models from exact derivatives: Satterthwaite and Kenward-Roger
denominator df and tests of linear hypotheses."""

from interlace_jax.inference._hypotheses import (
    FixedDfTests,
    FTest,
    KenwardRogerTests,
    SatterthwaiteTests,
    TTests,
    combine_satterthwaite_df,
)
from interlace_jax.inference._kenward_roger import (
    KenwardRoger,
    covariance_parameters,
    kenward_roger,
    kr_ddf,
    kr_outputs,
)
from interlace_jax.inference._satterthwaite import satterthwaite_df, varpar_covariance

__all__ = [
    "FTest",
    "FixedDfTests",
    "KenwardRoger",
    "KenwardRogerTests",
    "SatterthwaiteTests",
    "TTests",
    "combine_satterthwaite_df",
    "covariance_parameters",
    "kenward_roger",
    "kr_ddf",
    "kr_outputs",
    "satterthwaite_df",
    "varpar_covariance",
]
