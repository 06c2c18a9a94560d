"""Inference for fitted models from exact derivatives: Satterthwaite and Kenward-Roger
denominator df, tests of linear hypotheses and the hypotheses of anova tables, estimated
marginal means with their contrasts and multiplicity adjustments."""

from interlace_jax.inference._condvar import ConditionalCovariance
from interlace_jax.inference._contrast_methods import (
    ContrastCoefficients,
    Custom,
    Effects,
    Pairwise,
    Poly,
    TrtVsCtrl,
    contrast_method,
)
from interlace_jax.inference._emmeans import (
    Averaged,
    Estimates,
    average_grid,
    estimable,
    estimate_linear_functions,
)
from interlace_jax.inference._p_adjust import (
    Family,
    adjustment,
    adjustment_message,
    p_adjust,
)
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
    "Averaged",
    "ConditionalCovariance",
    "ContrastCoefficients",
    "Custom",
    "Effects",
    "Estimates",
    "Family",
    "FTest",
    "FixedDfTests",
    "KenwardRoger",
    "KenwardRogerTests",
    "LikelihoodRatioTable",
    "Pairwise",
    "Poly",
    "ProfileIntervals",
    "ProfileParameter",
    "SatterthwaiteTests",
    "TTests",
    "TrtVsCtrl",
    "adjustment",
    "adjustment_message",
    "anova_hypotheses",
    "average_grid",
    "coefficient_df",
    "combine_satterthwaite_df",
    "contrast_method",
    "covariance_parameters",
    "doolittle_rows",
    "estimable",
    "estimate_linear_functions",
    "kenward_roger",
    "kr_ddf",
    "kr_outputs",
    "likelihood_ratio_table",
    "p_adjust",
    "profile_intervals",
    "profile_parameters",
    "satterthwaite_df",
    "type1_hypotheses",
    "type2_hypotheses",
    "type3_hypotheses",
    "varpar_covariance",
    "zapsmall",
]
