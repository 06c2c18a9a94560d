"""Fitted-model results and their printing."""

from interlace_jax.results._df_methods import DF_METHODS, check_df_method
from interlace_jax.results._lmm_result import LMMResult
from interlace_jax.results._summary import LMMSummary

__all__ = ["DF_METHODS", "LMMResult", "LMMSummary", "check_df_method"]
