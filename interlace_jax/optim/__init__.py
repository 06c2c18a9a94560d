"""Optimizers over unconstrained parameters, with result codes instead of exceptions."""

from interlace_jax.optim._checks import (
    ConvergenceReport,
    convergence_report,
    rectify,
    rectify_host,
)
from interlace_jax.optim._compile_options import FEW_CALLS, LAPLACE_OBJECTIVE, accepted
from interlace_jax.optim._fit_lmm import (
    OPTIMIZERS,
    LMMFitArrays,
    ThetaFit,
    exact_derivatives,
    fit_lmm_arrays,
    fit_theta,
)
from interlace_jax.optim._minimize import minimize_lbfgs
from interlace_jax.optim._newton import minimize_newton, minimize_newton_host
from interlace_jax.optim._result import OptResult, Status
from interlace_jax.optim._start import (
    lme4_start,
    start_candidates,
    start_candidates_many,
    with_correlation_starts,
)

__all__ = [
    "FEW_CALLS",
    "LAPLACE_OBJECTIVE",
    "OPTIMIZERS",
    "ConvergenceReport",
    "LMMFitArrays",
    "OptResult",
    "Status",
    "ThetaFit",
    "accepted",
    "exact_derivatives",
    "convergence_report",
    "fit_lmm_arrays",
    "fit_theta",
    "minimize_lbfgs",
    "minimize_newton",
    "minimize_newton_host",
    "rectify",
    "rectify_host",
    "lme4_start",
    "start_candidates",
    "start_candidates_many",
    "with_correlation_starts",
]
