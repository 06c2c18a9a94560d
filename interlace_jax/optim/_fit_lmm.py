"""Optimise the profiled LMM objective over theta, then rectify and check the optimum.

The JAX optimizers ("newton", the default, and "lbfgs") run entirely inside one jitted call,
so a batch of fits vmaps; "lbfgsb" (scipy's L-BFGS-B, with exact gradients) and "bobyqa"
(Py-BOBYQA, derivative-free like lme4's default; an optional extra) run on the host.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from interlace_jax._errors import ModelError
from interlace_jax.models import LMMData, lmm_deviance
from interlace_jax.optim._checks import (
    ConvergenceReport,
    convergence_report,
    diagonal_positions,
    rectify,
)
from interlace_jax.optim._minimize import minimize_lbfgs
from interlace_jax.optim._newton import minimize_newton
from interlace_jax.optim._result import OptResult, Status

JAX_OPTIMIZERS: dict[str, Callable] = {"newton": minimize_newton, "lbfgs": minimize_lbfgs}
HOST_OPTIMIZERS = ("lbfgsb", "bobyqa")


@partial(jax.jit, static_argnames=("reml", "optimizer"))
def optimize_theta(
    theta0: jax.Array, data: LMMData, reml: bool, optimizer: str = "newton"
) -> OptResult:
    """Minimise the (RE)ML criterion from theta0 (n_theta,) with a JAX optimizer; vmap-able."""
    return JAX_OPTIMIZERS[optimizer](lambda th: lmm_deviance(th, data, reml), theta0)


@partial(jax.jit, static_argnames=("reml",))
def objective_value_and_grad(theta: jax.Array, data: LMMData, reml: bool):
    """(objective, gradient) at theta."""
    return jax.value_and_grad(lmm_deviance)(theta, data, reml)


@partial(jax.jit, static_argnames=("reml",))
def objective_hessian(theta: jax.Array, data: LMMData, reml: bool) -> jax.Array:
    """(n_theta, n_theta) exact Hessian of the objective at theta."""
    return jax.hessian(lmm_deviance)(theta, data, reml)


@dataclass(frozen=True)
class ThetaFit:
    """The optimum in theta and how it was reached.

    Attributes:
        theta: (n_theta,) rectified optimum, computation (lme4) order.
        objective: objective at theta.
        optimizer: name of the optimizer used.
        status: the optimizer's Status.
        n_steps: iterations (or function evaluations for host optimizers).
        objective_initial: objective at theta0.
        report: exact gradient/Hessian checks at theta.
    """

    theta: np.ndarray
    objective: float
    optimizer: str
    status: Status
    n_steps: int
    objective_initial: float
    report: ConvergenceReport

    @property
    def converged(self) -> bool:
        return self.status == Status.CONVERGED and self.report.ok


def _scipy_lbfgsb(data: LMMData, reml: bool, theta0: np.ndarray, sizes: list[int]):
    from scipy.optimize import minimize

    def fun(th):
        value, grad = objective_value_and_grad(jnp.asarray(th), data, reml)
        return float(value), np.asarray(grad)

    lower = np.where(diagonal_positions(sizes), 0.0, -np.inf)
    res = minimize(fun, theta0, jac=True, method="L-BFGS-B",
                   bounds=list(zip(lower, np.full_like(lower, np.inf))),
                   options=dict(maxiter=2000, ftol=1e-15, gtol=1e-9))
    return res.x, Status.CONVERGED if res.success else Status.MAX_STEPS, int(res.nit)


def _bobyqa(data: LMMData, reml: bool, theta0: np.ndarray, sizes: list[int]):
    try:
        import pybobyqa
    except ImportError as err:  # the optional extra
        raise ModelError(
            "optimizer='bobyqa' needs Py-BOBYQA: pip install 'interlace-jax[bobyqa]'"
        ) from err
    lower = np.where(diagonal_positions(sizes), 0.0, -1e10)
    res = pybobyqa.solve(
        lambda th: float(objective_value_and_grad(jnp.asarray(th), data, reml)[0]),
        theta0, bounds=(lower, np.full_like(lower, 1e10)), rhoend=1e-10, maxfun=20000,
    )
    status = Status.CONVERGED if res.flag == res.EXIT_SUCCESS else Status.MAX_STEPS
    return res.x, status, int(res.nf)


_HOST = {"lbfgsb": _scipy_lbfgsb, "bobyqa": _bobyqa}


def fit_theta(
    data: LMMData, *, reml: bool, theta0: np.ndarray, optimizer: str = "newton"
) -> ThetaFit:
    """Optimise, rectify and check: the host-side driver used by :func:`interlace_jax.fit`.

    Args:
        data: the model's LMMData.
        reml: REML criterion (True) or ML deviance (False).
        theta0: (n_theta,) start, computation order.
        optimizer: "newton", "lbfgs", "lbfgsb" or "bobyqa".
    """
    sizes = [t.size for t in data.plan.terms]
    theta0 = np.asarray(theta0, dtype=np.float64)
    if optimizer in JAX_OPTIMIZERS:
        res = jax.device_get(optimize_theta(jnp.asarray(theta0), data, reml, optimizer))
        theta, status, n_steps = np.asarray(res.x), Status(int(res.status)), int(res.n_steps)
        f_initial = float(res.fun_initial)
    elif optimizer in _HOST:
        theta, status, n_steps = _HOST[optimizer](data, reml, theta0, sizes)
        f_initial = float(objective_value_and_grad(jnp.asarray(theta0), data, reml)[0])
    else:
        names = ", ".join(repr(k) for k in [*JAX_OPTIMIZERS, *_HOST])
        raise ModelError(f"unknown optimizer {optimizer!r}; choose one of {names}")

    def objective(th):
        return float(objective_value_and_grad(jnp.asarray(th), data, reml)[0])

    theta = rectify(theta, sizes, objective)
    value, grad = jax.device_get(objective_value_and_grad(jnp.asarray(theta), data, reml))
    hessian = np.asarray(objective_hessian(jnp.asarray(theta), data, reml))
    boundary = diagonal_positions(sizes) & (theta == 0.0)
    report = convergence_report(np.asarray(grad), hessian, boundary)
    if status == Status.STALLED and report.ok:
        status = Status.CONVERGED  # no decrease possible and the exact checks pass
    return ThetaFit(theta, float(value), optimizer, status, n_steps, f_initial, report)
