"""Optimise a Cox mixed model's integrated partial likelihood over its variance parameters.

The outer parameters are only the estimated theta (coxme's inner problem holds the fixed
effects, see :mod:`~interlace_jax.models._cox_laplace`), so the GLMM optimiser
(:func:`~interlace_jax.optim._fit_glmm.fit_glmm`: L-BFGS-B on exact gradients, or exact Newton)
is used as it is. Two things differ: the start is the best of a few common standard deviations
(coxme's ``varinit`` grid, 0.02 to 0.8, slopes divided by their column's standard deviation),
a model whose variances are all fixed (``vfixed``) is only evaluated, and an optimum with a
variance at zero that is a saddle point is left and refitted.
"""

from __future__ import annotations

from typing import Callable

import jax
import numpy as np

from interlace_jax.optim._checks import convergence_report, diagonal_positions
from interlace_jax.optim._fit_glmm import GLMMFit, _compiled, fit_glmm
from interlace_jax.optim._result import Status

#: Starting standard deviations tried for every random effect (coxme's ``varinit``).
START_SDS = (0.02, 0.1, 0.4, 0.8)
#: Restarts from saddle points at a variance of zero (see :func:`_saddle_escape`).
MAX_ESCAPES = 3


def _evaluate(objective: Callable, data, x: np.ndarray, v0: tuple):
    (f, v), g = _compiled(objective)[0](np.asarray(x, dtype=float), data, v0)
    return float(f), np.asarray(g), v


def start_theta(objective: Callable, data, sizes: tuple[int, ...], scales: np.ndarray,
                v0: tuple) -> np.ndarray:
    """The best of the theta with every diagonal at ``sd * scale`` for sd in START_SDS.

    Args:
        sizes: S_t of each estimated term; scales: (n_theta,) scale of each diagonal entry
            (1 for intercepts, 1 / SD of the column for slopes; ignored off the diagonal).
    """
    diagonal = diagonal_positions(sizes)
    best, best_f = None, np.inf
    for sd in START_SDS:
        x = np.where(diagonal, sd * scales, 0.0)
        f = _evaluate(objective, data, x, v0)[0]
        if np.isfinite(f) and f < best_f:
            best, best_f = x, f
    return np.where(diagonal, START_SDS[-1] * scales, 0.0) if best is None else best


def fit_cox(data, objective: Callable, sizes: tuple[int, ...], v0: tuple,
            optimizer: str = "lbfgsb", x0: np.ndarray | None = None,
            scales: np.ndarray | None = None) -> tuple[GLMMFit, tuple]:
    """Minimise ``objective(x, data, v0)[0]`` (-2 IPL) over the estimated theta.

    Args:
        data: the CoxData; objective: ``(x, data, v0) -> (deviance, mode)``.
        sizes: S_t of each estimated term, in the order of x.
        v0: the first start of the inner mode (zeros).
        optimizer: "lbfgsb" or "newton" (see :func:`fit_glmm`).
        x0: start; None for the best of :data:`START_SDS`.
        scales: (n_theta,) see :func:`start_theta`.

    Returns:
        The fit and the mode (u, beta) at its optimum (host arrays).
    """
    n = data.layout.n_theta
    if n == 0:
        x = np.zeros(0)
        f, g, v = _evaluate(objective, data, x, v0)
        report = convergence_report(g, np.zeros((0, 0)), np.zeros(0, bool))
        fit = GLMMFit(x=x, deviance=f, gradient=g, hessian=np.zeros((0, 0)), exact_hessian=True,
                      optimizer="none", status=Status.CONVERGED, n_steps=0, deviance_initial=f,
                      report=report)
        return fit, jax.device_get(v)
    scales = np.ones(n) if scales is None else scales
    if x0 is None:
        x0 = start_theta(objective, data, sizes, scales, v0)
    fit, mode = fit_glmm(data, objective, x0, sizes, v0, optimizer)
    for _ in range(MAX_ESCAPES):
        escape = _saddle_escape(fit, objective, data, scales, v0)
        if escape is None:
            break
        refit, refit_mode = fit_glmm(data, objective, escape, sizes, v0, optimizer)
        if refit.deviance >= fit.deviance:
            break
        fit, mode = refit, refit_mode
    return fit, mode


def _saddle_escape(fit: GLMMFit, objective: Callable, data, scales: np.ndarray, v0: tuple):
    """A better start when the optimum has a diagonal theta at zero that is a saddle point.

    The objective is even in the last diagonal entry of a term's factor (flipping its sign
    flips a spherical effect), so theta = 0 there is always stationary, and a bounded
    optimiser that reaches it stops even when the objective decreases away from it (a
    correlation of +-1 instead of the optimum). Returns theta with that entry moved off zero
    when this decreases the objective, else None.
    """
    for j in np.flatnonzero(fit.report.boundary):
        for step in (0.1, 0.01):
            trial = fit.x.copy()
            trial[j] = step * scales[j]
            if _evaluate(objective, data, trial, v0)[0] < fit.deviance - 1e-8:
                return trial
    return None
