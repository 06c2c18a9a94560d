"""Inference for fitted models from exact derivatives: Satterthwaite and Kenward-Roger
denominator df, tests of linear hypotheses and the hypotheses of anova tables."""

from interlace_jax.inference._condvar import ConditionalCovariance
from interlace_jax.inference._lrt import LikelihoodRatioTable, likelihood_ratio_table
from interlace_jax.inference._profile import (
    ProfileIntervals,
    ProfileParameter,
    profile_intervals,
    profile_parameters,
)
from interlace_jax.inference._anova import (
    anova_hypotheses,
    doolittle_rows,
    type1_hypotheses,
    type2_hypotheses,
    type3_hypotheses,
    zapsmall,
)
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
from interlace_jax.inference._satterthwaite import (
    coefficient_df,
    satterthwaite_df,
    varpar_covariance,
)

__all__ = [
    "ConditionalCovariance",
    "FTest",
    "FixedDfTests",
    "KenwardRoger",
    "KenwardRogerTests",
    "LikelihoodRatioTable",
    "ProfileIntervals",
    "ProfileParameter",
    "SatterthwaiteTests",
    "TTests",
    "anova_hypotheses",
    "coefficient_df",
    "combine_satterthwaite_df",
    "covariance_parameters",
    "doolittle_rows",
    "kenward_roger",
    "kr_ddf",
    "kr_outputs",
    "likelihood_ratio_table",
    "profile_intervals",
    "profile_parameters",
    "satterthwaite_df",
    "type1_hypotheses",
    "type2_hypotheses",
    "type3_hypotheses",
    "varpar_covariance",
    "zapsmall",
]
