"""Fitted-model results and their printing."""

from interlace_jax.results._anova import AnovaTable, anova
from interlace_jax.results._clmm_result import ClmmResult
from interlace_jax.results._convergence import ConvergenceCheck
from interlace_jax.results._coxme_result import CoxmeResult
from interlace_jax.results._df_methods import DF_METHODS, check_df_method
from interlace_jax.results._emmeans import contrast, emmeans, pairs
from interlace_jax.results._emmeans_table import EmmGrid
from interlace_jax.results._glmm_result import GLMMResult
from interlace_jax.results._glmmtmb_result import GLMMTMBResult
from interlace_jax.results._lmm_result import LMMResult
from interlace_jax.results._summary import LMMSummary
from interlace_jax.results._varcorr_table import VarCorr

__all__ = [
    "DF_METHODS",
    "AnovaTable",
    "ClmmResult",
    "ConvergenceCheck",
    "CoxmeResult",
    "EmmGrid",
    "GLMMResult",
    "GLMMTMBResult",
    "LMMResult",
    "LMMSummary",
    "VarCorr",
    "anova",
    "check_df_method",
    "contrast",
    "emmeans",
    "pairs",
]
