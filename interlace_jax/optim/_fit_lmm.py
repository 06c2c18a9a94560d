"""Optimise the profiled LMM objective over theta, rectify, and evaluate everything at the optimum.

Two paths share the objective and the Newton iteration:

* :func:`fit_theta`, used by :func:`interlace_jax.fit` for one model. With "newton" the whole
  fit (choice of start, iteration, rectification, exact derivatives from
  :func:`~interlace_jax.models.lmm_derivatives` and the solution at the optimum) is one
  compiled program holding one copy of the derivatives, so a warm fit is a single dispatch;
  the other optimizers run on the host around the compiled objective (and gradient).
* :func:`fit_lmm_arrays`: the whole fit, from theta0 to beta, sigma and the conditional modes,
  as one jitted function, for batches of fits under ``jax.vmap`` (bootstrap, many responses).

Optimizers: "newton" (exact-Hessian Newton), "newton_central" (the same with central differences
of exact values, for batched fits: ``fit_many``), "lbfgs" (optax L-BFGS in JAX), "lbfgsb"
(scipy's L-BFGS-B with exact gradients), "cobyqa" (scipy's derivative-free quadratic-model
trust region, a successor of BOBYQA), "bobyqa" (Py-BOBYQA, an optional extra). "auto" (the
default) takes "newton" unless the dense block of the factor is large (crossed designs such as
InstEval), where exact second derivatives cost more than the fit: then "cobyqa", and the
gradient and Hessian at the optimum come from finite differences of the exact objective, as in
lme4 and lmerTest.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from interlace_jax._errors import ModelError
from interlace_jax.models import (
    LMMData,
    LMMDerivatives,
    LMMSolution,
    lmm_derivatives,
    lmm_derivatives_fd,
    lmm_deviance,
    lmm_solution,
    solution_outputs,
)
from interlace_jax.optim._checks import (
    ConvergenceReport,
    convergence_report,
    diagonal_positions,
    rectify,
    rectify_host,
)
from interlace_jax.optim._compile_options import FEW_CALLS, LAPLACE_OBJECTIVE, accepted
from interlace_jax.optim._host_jit import host_jit
from interlace_jax.optim._minimize import minimize_lbfgs
from interlace_jax.optim._newton import (
    minimize_newton,
    minimize_newton_central,
    minimize_newton_finished,
)
from interlace_jax.optim._result import OptResult, Status

JAX_OPTIMIZERS: dict[str, Callable] = {"newton": minimize_newton,
                                      "newton_central": minimize_newton_central,
                                      "lbfgs": minimize_lbfgs}


def _sizes(data: LMMData) -> tuple[int, ...]:
    return tuple(t.size for t in data.plan.terms)


def bounded_positions(data: LMMData) -> np.ndarray:
    """Mask over the parameters: True for the diagonal theta (bounded below by 0); the
    correlation parameters of a model with correlated residuals are unconstrained."""
    return np.concatenate([diagonal_positions(_sizes(data)),
                           np.zeros(data.n_correlation, dtype=bool)])


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class LMMFitArrays:
    """Device results of one fit (stacked along a leading axis when vmapped).

    Attributes:
        opt: the optimizer's OptResult (status, steps, gradient before rectification).
        theta: (n_theta,) rectified optimum.
        solution: LMMSolution at theta (beta, sigma, conditional modes, deviance).
    """

    opt: OptResult
    theta: jax.Array
    solution: LMMSolution


@partial(jax.jit, static_argnames=("reml", "optimizer"))
def fit_lmm_arrays(
    theta0: jax.Array, data: LMMData, reml: bool, optimizer: str = "newton"
) -> LMMFitArrays:
    """The whole fit on the device from theta0 (n_theta,), computation order; vmap-able."""

    def objective(th):
        return lmm_deviance(th, data, reml)

    opt = JAX_OPTIMIZERS[optimizer](objective, theta0)
    theta = rectify(opt.x, _sizes(data), objective)
    return LMMFitArrays(opt, theta, lmm_solution(theta, data, reml))


_value = jax.jit(lmm_deviance, static_argnames=("reml",))
_value_and_grad = jax.jit(jax.value_and_grad(lmm_deviance), static_argnames=("reml",))
_derivatives = jax.jit(lmm_derivatives, static_argnames=("reml",),
                       compiler_options=FEW_CALLS)
#: For large dense blocks run time dominates: XLA's default optimisation (InstEval: 7.0 s
#: against 9.8 s with FEW_CALLS' options, at load 2.5).
_derivatives_large = jax.jit(lmm_derivatives, static_argnames=("reml",))
_solution = jax.jit(lmm_solution, static_argnames=("reml",),
                    compiler_options=FEW_CALLS)
_lbfgs = jax.jit(
    lambda theta0, data, reml: minimize_lbfgs(lambda th: lmm_deviance(th, data, reml), theta0),
    static_argnames=("reml",),
)


#: the objective at a host theta, as a float
HostObjective = Callable[[np.ndarray], float]
#: The large path's one program: the solution (deviance, pwrss, (R_X'R_X)^{-1}, beta, modes)
#: at theta, with XLA's default optimisation (run time dominates; an InstEval evaluation costs
#: the same as the deviance alone, 20 ms).
_solution_large = jax.jit(lmm_solution, static_argnames=("reml",))


class _MemoSolutions:
    """Host LMMSolutions of the large path, memoised by theta: the optimizer, the start
    candidates, rectification, the finite-difference checks and the final solution all call
    the one compiled program, and the points they share (COBYQA's start, the optimum) are
    evaluated once."""

    def __init__(self, data: LMMData, reml: bool):
        self._data, self._reml, self._seen = data, reml, {}

    def __call__(self, theta: np.ndarray) -> LMMSolution:
        theta = np.asarray(theta, dtype=np.float64)
        key = theta.tobytes()
        if key not in self._seen:
            self._seen[key] = jax.device_get(_solution_large(theta, self._data, self._reml))
        return self._seen[key]

    def value(self, theta: np.ndarray) -> float:
        return float(self(theta).deviance)


#: iteration limit of the Newton optimizer in :func:`fit_theta`
NEWTON_MAX_STEPS = 100


def _newton_fit(candidates: jax.Array, data: LMMData, reml: bool, max_steps: int):
    """The "newton" fit as one compiled program: the best of the candidate starts (m, k),
    the Newton iteration, rectification, and the derivatives and solution at the optimum.
    Returns (OptResult, LMMDerivatives, LMMSolution)."""

    def objective(th):
        return lmm_deviance(th, data, reml)

    def derivatives(th):
        d = lmm_derivatives(th, data, reml)
        return d.value, d.gradient, d.hessian, d

    start = candidates[jnp.argmin(jax.lax.map(objective, candidates))]
    opt, derivs = minimize_newton_finished(
        objective, derivatives, lambda x, f: rectify(x, _sizes(data), objective, value=f), start,
        max_steps=max_steps)
    return opt, derivs, lmm_solution(opt.x, data, reml)


#: Compiled with LAPLACE_OBJECTIVE's options: on sleepstudy both faster to compile (first fit
#: 2.9-3.4 s vs 3.9-4.9 s) and to run (4.5-5.2 vs 7.0-8.1 ms warm) than with XLA's defaults;
#: FEW_CALLS (level 0) runs it 3-4x slower.
_newton_fit_host = host_jit(_newton_fit, static_argnames=("reml", "max_steps"),
                            compiler_options=lambda: accepted(LAPLACE_OBJECTIVE))


def _optax_lbfgs(data: LMMData, reml: bool, theta0: np.ndarray, value: HostObjective):
    res = jax.device_get(_lbfgs(theta0, data, reml))
    return np.asarray(res.x), Status(int(res.status)), int(res.n_steps), float(res.fun_initial)


def _scipy_status(res, out_of_budget: bool) -> Status:
    """scipy's outcome as a Status. A stop that scipy calls abnormal (typically a line search
    that cannot improve at the rounding floor) is STALLED; fit_theta then lets the exact
    gradient and Hessian checks decide."""
    if res.success:
        return Status.CONVERGED
    return Status.MAX_STEPS if out_of_budget else Status.STALLED


def _scipy_lbfgsb(data: LMMData, reml: bool, theta0: np.ndarray, value: HostObjective):
    from scipy.optimize import minimize

    def fun(th):
        value, grad = _value_and_grad(th, data, reml)
        return float(value), np.asarray(grad)

    lower = np.where(bounded_positions(data), 0.0, -np.inf)
    res = minimize(fun, theta0, jac=True, method="L-BFGS-B",
                   bounds=list(zip(lower, np.full_like(lower, np.inf))),
                   options=dict(maxiter=2000, ftol=1e-15, gtol=1e-9))
    return res.x, _scipy_status(res, res.nit >= 2000), int(res.nit), value(theta0)


def _bobyqa(data: LMMData, reml: bool, theta0: np.ndarray, value: HostObjective):
    try:
        import pybobyqa
    except ImportError as err:  # the optional extra
        raise ModelError(
            "optimizer='bobyqa' needs Py-BOBYQA: pip install 'interlace-jax[bobyqa]'"
        ) from err

    lower = np.where(bounded_positions(data), 0.0, -1e10)
    res = pybobyqa.solve(value, theta0, bounds=(lower, np.full_like(lower, 1e10)),
                         rhoend=1e-10, maxfun=20000)
    status = Status.CONVERGED if res.flag == res.EXIT_SUCCESS else Status.MAX_STEPS
    return res.x, status, int(res.nf), value(theta0)


def _cobyqa(data: LMMData, reml: bool, theta0: np.ndarray, value: HostObjective):
    """scipy's COBYQA on the compiled objective. Final trust-region radius 1e-6 in theta: an
    objective within ~H 1e-12 of the optimum, stricter than lme4's ``ftol_abs = 1e-8`` (on
    InstEval 40 evaluations instead of 50 for 1e-7, objective 1e-8 higher, still 4e-7 below
    lme4's)."""
    from scipy.optimize import minimize

    lower = np.where(bounded_positions(data), 0.0, -np.inf)
    res = minimize(value, theta0, method="COBYQA",
                   bounds=list(zip(lower, np.full_like(lower, np.inf))),
                   options=dict(initial_tr_radius=0.05, final_tr_radius=1e-6, maxfev=20000))
    return res.x, _scipy_status(res, res.nfev >= 20000), int(res.nfev), value(theta0)


#: the optimizers driven from the host (their objective and gradient are compiled functions)
_HOST_OPTIMIZERS = {"lbfgs": _optax_lbfgs, "lbfgsb": _scipy_lbfgsb, "cobyqa": _cobyqa,
                    "bobyqa": _bobyqa}
OPTIMIZERS = ("auto", "newton", *_HOST_OPTIMIZERS)
#: Above this size of the dense block (rows), "auto" avoids exact second derivatives.
LARGE_DENSE_BLOCK = 400


def is_large(data: LMMData) -> bool:
    """True when the dense rest block is large enough that exact Hessians are not worth it."""
    return data.plan.n_rest + data.plan.n_fixed + 1 > LARGE_DENSE_BLOCK


@dataclass(frozen=True)
class ThetaFit:
    """The optimum in theta, how it was reached, and everything evaluated there (host arrays).

    Attributes:
        theta: (n_theta,) rectified optimum, computation (lme4) order, followed by the
            unconstrained correlation parameters for a model with correlated residuals.
        objective: objective at theta.
        optimizer: name of the optimizer used.
        status: the optimizer's Status.
        n_steps: iterations taken.
        objective_initial: objective at theta0.
        report: exact gradient/Hessian checks at theta.
        derivatives: LMMDerivatives at theta (gradient, Hessian, inference ingredients).
        exact_derivatives: False when ``derivatives`` come from finite differences.
        solution: LMMSolution at theta.
    """

    theta: np.ndarray
    objective: float
    optimizer: str
    status: Status
    n_steps: int
    objective_initial: float
    report: ConvergenceReport
    derivatives: LMMDerivatives
    solution: LMMSolution
    exact_derivatives: bool = True

    @property
    def hessian(self) -> np.ndarray:
        return np.asarray(self.derivatives.hessian)

    @property
    def converged(self) -> bool:
        return self.status == Status.CONVERGED and self.report.ok


def exact_derivatives(fit: ThetaFit, data: LMMData, reml: bool) -> LMMDerivatives:
    """Exact autodiff :class:`LMMDerivatives` at ``fit.theta`` (host arrays).

    The fit's own when it has them; for a large dense block, where the fit's checks use finite
    differences, the forward-over-forward derivatives are computed here, on request (for
    Satterthwaite's df: on InstEval a few seconds, compilation included).
    """
    if fit.exact_derivatives:
        return fit.derivatives
    return jax.device_get(_derivatives_large(fit.theta, data, reml))


def fit_theta(
    data: LMMData, *, reml: bool, theta0: np.ndarray, optimizer: str = "auto"
) -> ThetaFit:
    """Optimise, rectify and check: the host-side driver used by :func:`interlace_jax.fit`.

    Args:
        data: the model's LMMData (or CorrelatedLMMData: the parameters are then theta and the
            unconstrained correlation parameters).
        reml: REML criterion (True) or ML deviance (False).
        theta0: (n_theta,) start, computation order, or (m, n_theta) candidate starts of which
            the one with the lowest objective is used.
        optimizer: one of OPTIMIZERS.
    """
    large = is_large(data)
    if optimizer == "auto":
        optimizer = "cobyqa" if large else "newton"
    if optimizer not in OPTIMIZERS[1:]:
        names = ", ".join(repr(k) for k in OPTIMIZERS)
        raise ModelError(f"unknown optimizer {optimizer!r}; choose one of {names}")
    candidates = np.atleast_2d(np.asarray(theta0, dtype=np.float64))
    if optimizer == "newton":
        opt, derivs, solution = _newton_fit_host(candidates, data, reml=reml,
                                                 max_steps=NEWTON_MAX_STEPS)
        theta, status = np.asarray(opt.x), Status(int(opt.status))
        n_steps, f_initial = int(opt.n_steps), float(opt.fun_initial)
    else:
        memo = _MemoSolutions(data, reml) if large else None
        value = memo.value if large else lambda th: float(_value(th, data, reml))
        start = candidates[np.argmin([value(c) for c in candidates])]
        x, status, n_steps, f_initial = _HOST_OPTIMIZERS[optimizer](data, reml, start, value)
        theta = rectify_host(x, _sizes(data), value)
        if large:
            derivs = lmm_derivatives_fd(theta, lambda th: solution_outputs(memo(th)), data, reml)
            solution = memo(theta)
        else:
            derivs = jax.device_get(_derivatives(theta, data, reml))
            solution = jax.device_get(_solution(theta, data, reml))
    exact = optimizer == "newton" or not large
    boundary = bounded_positions(data) & (theta == 0.0)
    report = convergence_report(np.asarray(derivs.gradient), np.asarray(derivs.hessian),
                                boundary)
    if status == Status.STALLED and report.ok:
        status = Status.CONVERGED  # no decrease possible and the exact checks pass
    return ThetaFit(
        theta=theta, objective=float(derivs.value), optimizer=optimizer, status=status,
        n_steps=n_steps, objective_initial=f_initial, report=report, derivatives=derivs,
        solution=solution, exact_derivatives=exact,
    )
