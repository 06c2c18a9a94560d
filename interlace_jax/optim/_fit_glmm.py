"""Optimise a GLMM's Laplace (or quadrature) deviance over the outer parameters, then check.

The outer parameters are the named blocks ``x = (theta, beta, beta_zi, beta_disp, psi)`` of the
data's ``layout`` (lme4's nAGQ >= 1 stage: theta and the fixed effects together; a cumulative
link model's thresholds are its psi). Two optimisers share one compiled objective:

* ``"lbfgsb"`` (default): scipy's L-BFGS-B with the exact gradient (reverse mode through the
  implicit-function-theorem derivatives of the conditional mode), theta's diagonal bounded
  below by 0 as in lme4. The Hessian at the optimum, for the standard errors and the
  convergence checks, is the central difference of the exact gradient (lme4 differences the
  deviance itself). This compiles one function, which is what a first fit mostly costs.
* ``"newton"``: the exact-Hessian Newton iteration of :mod:`~interlace_jax.optim._newton`,
  with Hessians by forward-over-forward autodiff (exact, but a larger program to compile).

Every evaluation starts the inner mode search from the mode of the previous one.
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
from interlace_jax.optim._compile_options import LAPLACE_OBJECTIVE, accepted
from interlace_jax.optim._newton import minimize_newton_host
from interlace_jax.optim._result import Status

OPTIMIZERS = ("lbfgsb", "newton")


@dataclass(frozen=True)
class GLMMFit:
    """The optimum in the outer parameters and the checks there (host arrays).

    Attributes:
        x: (n_params,) rectified optimum (theta in computation order, then the other
            blocks of the layout).
        deviance: the objective at x.
        gradient: (n_params,) its exact gradient; hessian: (n_params, n_params).
        exact_hessian: False when the Hessian is a central difference of exact gradients.
        optimizer: name of the optimiser used.
        status: the optimiser's Status; n_steps: iterations taken.
        deviance_initial: the objective at the start.
        report: gradient/Hessian checks at x.
    """

    x: np.ndarray
    deviance: float
    gradient: np.ndarray
    hessian: np.ndarray
    exact_hessian: bool
    optimizer: str
    status: Status
    n_steps: int
    deviance_initial: float
    report: ConvergenceReport

    @property
    def converged(self) -> bool:
        return self.status == Status.CONVERGED and self.report.ok


@lru_cache(maxsize=32)
def _compiled(objective: Callable) -> tuple[Callable, Callable]:
    """Jitted ``(x, data, u0) -> ((deviance, mode), gradient)`` and ``(x, data, u0) ->
    (value, gradient, Hessian)`` of an objective (cached per objective, so a second fit of the
    same structure compiles nothing; the second is compiled only when first called)."""
    value_and_grad = jax.jit(jax.value_and_grad(objective, has_aux=True),
                             compiler_options=accepted(LAPLACE_OBJECTIVE))

    def derivatives(x, data, u0):
        return forward_derivatives(lambda z: objective(z, data, u0)[0], x)

    return value_and_grad, jax.jit(derivatives, compiler_options=accepted(LAPLACE_OBJECTIVE))


class _Evaluator:
    """Host-side calls of the compiled objective, passing each mode on as the next start."""

    def __init__(self, objective: Callable, data: GLMMData, u0: tuple):
        self._value_and_grad, self._derivatives = _compiled(objective)
        self.data, self.mode = data, u0
        self.count = 0

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        (f, u), g = self._value_and_grad(np.asarray(x, dtype=float), self.data, self.mode)
        f, g = float(f), np.asarray(g)
        self.count += 1
        if np.isfinite(f):
            self.mode = u
        return f, g

    def value(self, x: np.ndarray) -> float:
        return self(x)[0]

    def exact(self, x: np.ndarray):
        return jax.device_get(self._derivatives(np.asarray(x, dtype=float), self.data,
                                                self.mode))

    def central_hessian(self, x: np.ndarray) -> np.ndarray:
        """Central differences of the exact gradient, symmetrised."""
        mode = self.mode
        steps = 1e-4 * np.maximum(1.0, np.abs(x))
        columns = []
        for j, h in enumerate(steps):
            e = np.zeros_like(x)
            e[j] = h
            columns.append((self(x + e)[1] - self(x - e)[1]) / (2.0 * h))
            self.mode = mode
        hess = np.stack(columns, axis=1)
        return 0.5 * (hess + hess.T)


def _lbfgsb(ev: _Evaluator, x0: np.ndarray, lower: np.ndarray, transform: np.ndarray):
    """L-BFGS-B over z with x = transform @ z (transform is the identity on the bounded
    coordinates, so the bounds carry over)."""
    from scipy.optimize import minimize

    def fun(z):
        f, g = ev(transform @ z)
        return f, transform.T @ g

    f0 = ev.value(x0)
    bounds = [(None if np.isinf(v) else v, None) for v in lower]
    z0 = np.linalg.solve(transform, x0)
    res = minimize(fun, z0, jac=True, method="L-BFGS-B", bounds=bounds,
                   options=dict(maxiter=2000, maxcor=20, ftol=1e-15, gtol=1e-5))
    status = Status.CONVERGED if res.success else Status.STALLED
    return transform @ res.x, status, int(res.nit), f0


def _whitening(hessian: np.ndarray, n_theta: int) -> np.ndarray:
    """(n, n) transform T with x = T z making the deviance roughly isotropic in z, from a
    Hessian at the start: theta's coordinates are only rescaled (so their bounds carry over),
    the others are whitened jointly by the Cholesky factor of their block."""
    n = hessian.shape[0]
    transform = np.eye(n)
    diag = np.diag(hessian)[:n_theta]
    transform[:n_theta, :n_theta] = np.diag(np.where(diag > 0, 1.0 / np.sqrt(np.abs(diag)), 1.0))
    block = hessian[n_theta:, n_theta:]
    try:
        upper = np.linalg.cholesky(0.5 * (block + block.T)).T
        transform[n_theta:, n_theta:] = np.linalg.inv(upper)
    except np.linalg.LinAlgError:
        scale = np.abs(np.diag(block))
        transform[n_theta:, n_theta:] = np.diag(np.where(scale > 0, 1 / np.sqrt(scale), 1.0))
    return transform


def _newton(ev: _Evaluator, x0: np.ndarray):
    return minimize_newton_host(ev.value, ev.exact, x0, gtol=1e-7, fnoise=1e-10)


#: a diagonal theta at its bound 0 is a saddle, not a minimum, when the deviance's curvature
#: along it is below -SADDLE_CURVATURE (the deviance is even in it, so its gradient there is 0)
SADDLE_CURVATURE = 1e-4
#: escapes from such saddles tried at most
MAX_ESCAPES = 3
#: values tried for a diagonal theta leaving the bound, relative to lme4's start value 1
ESCAPE_VALUES = (1.0, 0.3, 0.1, 0.03)


def _escape_saddle(ev: _Evaluator, x: np.ndarray, f: float, saddle: np.ndarray
                   ) -> np.ndarray | None:
    """A point below f with the saddle coordinates moved off 0, or None. (L-BFGS-B can land
    exactly on the bound of a diagonal theta in one line search; there the gradient along it
    vanishes by symmetry, so it cannot leave however much lower the interior is.)"""
    best, f_best = None, f
    for value in ESCAPE_VALUES:
        trial = x.copy()
        trial[saddle] = value
        f_trial = ev.value(trial)
        if np.isfinite(f_trial) and f_trial < f_best:
            best, f_best = trial, f_trial
    return best


def fit_glmm(data: GLMMData, objective: Callable, x0: np.ndarray, sizes: tuple[int, ...],
             u0: tuple, optimizer: str = "lbfgsb") -> tuple[GLMMFit, tuple]:
    """Minimise ``objective(x, data, u0)[0]`` from x0, rectify theta, and check the optimum;
    a diagonal theta left at its bound where the deviance curves downwards along it (a saddle)
    is moved off the bound and the optimisation resumed.

    Args:
        data: the GLMMData.
        objective: pure ``(x, data, u0) -> (deviance, mode)`` (Laplace or adaptive
            quadrature), the mode being the spherical conditional modes (first (L1, S1),
            rest (q_rest,)) and u0 where their search starts.
        x0: (n_params,) start.
        sizes: S_t of each term in computation order.
        u0: the first start of the mode search (zeros).
        optimizer: "lbfgsb" or "newton".

    Returns:
        The GLMMFit and the conditional modes at its optimum (host arrays).
    """
    if optimizer not in OPTIMIZERS:
        raise ModelError(f"unknown optimizer {optimizer!r} for a GLMM; choose one of {OPTIMIZERS}")
    ev = _Evaluator(objective, data, u0)
    n_theta = data.layout.n_theta
    diagonal = np.concatenate([diagonal_positions(sizes), np.zeros(len(x0) - n_theta, bool)])
    x0 = np.asarray(x0, dtype=float)
    lower = np.where(diagonal, 0.0, -np.inf)

    def optimise(start):
        if optimizer == "newton":
            x, status, steps, f_start = _newton(ev, start)
        else:
            transform = _whitening(ev.central_hessian(start), n_theta)
            x, status, steps, f_start = _lbfgsb(ev, start, lower, transform)
        theta = rectify_host(x[:n_theta], sizes,
                             lambda th: ev.value(np.concatenate([th, x[n_theta:]])))
        x = np.concatenate([theta, x[n_theta:]])
        if optimizer == "newton":
            h = np.asarray(ev.exact(x)[2])
        else:
            ev(x)
            h = ev.central_hessian(x)
        f, g = ev(x)  # leaves the mode at x
        return x, f, g, h, status, steps, f_start

    x, f, g, h, status, steps, f0 = optimise(x0)
    for _ in range(MAX_ESCAPES):
        saddle = diagonal & (x == 0.0) & (np.diag(h) < -SADDLE_CURVATURE)
        if not saddle.any():
            break
        start = _escape_saddle(ev, x, f, saddle)
        if start is None:
            f, g = ev(x)  # puts the mode back at x
            break
        x, f, g, h, status, more, _ = optimise(start)
        steps += more
    boundary = diagonal & (x == 0.0)
    report = convergence_report(g, h, boundary)
    if status == Status.STALLED and report.ok:
        status = Status.CONVERGED
    fit = GLMMFit(x=x, deviance=f, gradient=g, hessian=h, exact_hessian=optimizer == "newton",
                  optimizer=optimizer, status=status, n_steps=steps, deviance_initial=f0,
                  report=report)
    return fit, jax.device_get(ev.mode)
