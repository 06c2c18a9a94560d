"""Optimizers over unconstrained parameters, with result codes instead of exceptions."""

from interlace_jax.optim._minimize import minimize_lbfgs
from interlace_jax.optim._newton import minimize_newton
from interlace_jax.optim._result import OptResult, Status

__all__ = ["OptResult", "Status", "minimize_lbfgs", "minimize_newton"]
