"""Optimizers over unconstrained parameters, with result codes instead of exceptions."""

from interlace_jax.optim._checks import ConvergenceReport, convergence_report, rectify
from interlace_jax.optim._fit_lmm import (
    ThetaFit,
    fit_theta,
    objective_hessian,
    objective_value_and_grad,
    optimize_theta,
)
from interlace_jax.optim._minimize import minimize_lbfgs
from interlace_jax.optim._newton import minimize_newton
from interlace_jax.optim._result import OptResult, Status

__all__ = [
    "ConvergenceReport",
    "OptResult",
    "Status",
    "ThetaFit",
    "convergence_report",
    "fit_theta",
    "minimize_lbfgs",
    "minimize_newton",
    "objective_hessian",
    "objective_value_and_grad",
    "optimize_theta",
    "rectify",
]
