"""Optimise a GLMM's Laplace (or quadrature) deviance over the outer parameters, then check.

The outer parameters are ``x = (theta, beta, log phi)`` (lme4's nAGQ >= 1 stage: theta and the
fixed effects together). The default optimiser is the exact-Hessian Newton iteration of
:mod:`~interlace_jax.optim._newton`, driven from the host around two compiled functions: the
deviance, and its value, gradient and Hessian by forward-over-forward autodiff through the
implicit-function-theorem derivatives of the conditional mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import jax
import numpy as np

from interlace_jax._errors import ModelError
from interlace_jax.models import forward_derivatives
from interlace_jax.models._glmm_data import GLMMData
from interlace_jax.optim._checks import (
    ConvergenceReport,
    convergence_report,
    diagonal_positions,
    rectify_host,
)
from interlace_jax.optim._newton import minimize_newton_host
from interlace_jax.optim._result import Status

OPTIMIZERS = ("newton", "lbfgsb")


@dataclass(frozen=True)
class GLMMFit:
    """The optimum in the outer parameters and the checks there (host arrays).

    Attributes:
        x: (n_params,) rectified optimum (theta in computation order, beta, log phi).
        deviance: the objective at x.
        gradient: (n_params,) its exact gradient; hessian: (n_params, n_params).
        optimizer: name of the optimiser used.
        status: the optimiser's Status; n_steps: iterations taken.
        deviance_initial: the objective at the start.
        report: exact gradient/Hessian checks at x.
    """

    x: np.ndarray
    deviance: float
    gradient: np.ndarray
    hessian: np.ndarray
    optimizer: str
    status: Status
    n_steps: int
    deviance_initial: float
    report: ConvergenceReport

    @property
    def converged(self) -> bool:
        return self.status == Status.CONVERGED and self.report.ok


def _newton(value, derivatives, x0):
    return minimize_newton_host(value, derivatives, x0, gtol=1e-7, fnoise=1e-10)


def _lbfgsb(value, derivatives, x0, lower):
    from scipy.optimize import minimize

    def fun(x):
        f, g, _ = derivatives(x)
        return float(f), np.asarray(g)

    res = minimize(fun, x0, jac=True, method="L-BFGS-B", bounds=list(zip(lower, [None] * len(x0))),
                   options=dict(maxiter=2000, ftol=1e-15, gtol=1e-8))
    status = Status.CONVERGED if res.success else Status.STALLED
    return res.x, status, int(res.nit), float(value(x0))


@lru_cache(maxsize=32)
def compiled(objective: Callable) -> tuple[Callable, Callable]:
    """Jitted ``(x, data) -> (deviance, mode)`` and ``(x, data) -> (value, gradient, Hessian)``
    of an objective (cached, so a second fit of the same structure compiles nothing)."""
    def derivatives(x, data):
        return forward_derivatives(lambda z: objective(z, data)[0], x)

    return jax.jit(objective), jax.jit(derivatives)


def fit_glmm(data: GLMMData, objective: Callable, x0: np.ndarray, sizes: tuple[int, ...],
             optimizer: str = "newton") -> tuple[GLMMFit, tuple]:
    """Minimise ``objective(x, data)[0]`` from x0, rectify theta, and check the optimum.

    Args:
        data: the GLMMData.
        objective: pure ``(x, data) -> (deviance, mode)`` (Laplace or adaptive quadrature),
            the mode being the spherical conditional modes (first (L1, S1), rest (q_rest,)).
        x0: (n_params,) start.
        sizes: S_t of each term in computation order.
        optimizer: "newton" (exact Hessian) or "lbfgsb" (scipy, exact gradients).

    Returns:
        The GLMMFit and the conditional modes at its optimum (host arrays).
    """
    if optimizer not in OPTIMIZERS:
        raise ModelError(f"unknown optimizer {optimizer!r} for a GLMM; choose one of {OPTIMIZERS}")
    value_fn, deriv_fn = compiled(objective)

    def value(x):
        return float(value_fn(x, data)[0])

    def derivatives(x):
        return jax.device_get(deriv_fn(x, data))

    n_theta = data.layout.n_theta
    diagonal = diagonal_positions(sizes)
    if optimizer == "newton":
        x, status, steps, f0 = _newton(value, derivatives, np.asarray(x0, dtype=float))
    else:
        lower = np.concatenate([np.where(diagonal, 0.0, -np.inf),
                                np.full(x0.size - n_theta, -np.inf)])
        x, status, steps, f0 = _lbfgsb(value, derivatives, np.asarray(x0, dtype=float),
                                       [None if np.isinf(v) else v for v in lower])
    theta = rectify_host(x[:n_theta], sizes,
                         lambda th: value(np.concatenate([th, x[n_theta:]])))
    x = np.concatenate([theta, x[n_theta:]])
    f, g, h = (np.asarray(a) for a in derivatives(x))
    boundary = np.concatenate([diagonal & (theta == 0.0), np.zeros(x.size - n_theta, bool)])
    report = convergence_report(g, h, boundary)
    if status == Status.STALLED and report.ok:
        status = Status.CONVERGED
    fit = GLMMFit(x=x, deviance=float(f), gradient=g, hessian=h, optimizer=optimizer,
                  status=status, n_steps=steps, deviance_initial=f0, report=report)
    return fit, jax.device_get(value_fn(x, data)[1])
