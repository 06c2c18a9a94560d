"""lme4's ``nAGQ = 0``: the Laplace deviance optimised over theta alone, the fixed effects held
at the joint penalised mode.

For a given theta, ``(u~, beta~)`` minimise ``h(u, beta) = -log p(y | u, beta) + |u|^2 / 2``
together (lme4's PIRLS with the fixed effects in it); the deviance is the Laplace deviance at
``(theta, beta~(theta))``. beta~ minimises ``g(beta) = h(u~(beta), beta)``, found here by
Newton steps with g's gradient and Hessian by forward-over-forward autodiff through the conditional mode's implicit-function-theorem
derivatives (at beta~ this Hessian is the Schur complement lme4 calls ``RX'RX``, with the
observed instead of the expected curvature). theta is optimised by COBYQA, derivative-free as
lme4's first stage (bobyqa); the convergence checks use central differences of the deviance
in theta, and ``vcov(beta)`` is the inverse of g's Hessian, as lme4's ``vcov`` of an
``nAGQ = 0`` fit. Families with a dispersion parameter or extra parts (zero inflation,
dispersion formula) are not offered, as lme4 has none of them at ``nAGQ = 0``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from interlace_jax.models import central_derivatives, forward_derivatives
from interlace_jax.models._glmm_data import GLMMData
from interlace_jax.models._laplace import conditional_mode, laplace_deviance, penalised_objective
from interlace_jax.optim._checks import convergence_report, diagonal_positions, rectify_host
from interlace_jax.optim._fit_glmm import GLMMFit
from interlace_jax.optim._result import Status


def _joint_parts(theta, beta, u0, data: GLMMData):
    """g(beta) = min_u h(u, beta) at theta with its gradient and Hessian in beta, and the mode."""
    def x_of(b):
        return jnp.concatenate([theta, b])

    u = conditional_mode(x_of(beta), u0, data)

    def g(b):
        x = x_of(b)
        return penalised_objective(conditional_mode(x, u, data), x, data)

    value, grad, hess = forward_derivatives(g, beta)
    return value, grad, hess, u


_joint = jax.jit(_joint_parts)
#: Newton steps in beta per theta (from the previous beta~ it takes two or three)
MAX_BETA_STEPS = 50
_deviance = jax.jit(laplace_deviance)


class _JointModes:
    """Host evaluations of the nAGQ = 0 deviance in theta, each starting the beta search and the
    mode search where the previous one ended."""

    def __init__(self, data: GLMMData, beta0: np.ndarray, u0: tuple):
        self.data, self.beta, self.mode = data, np.asarray(beta0, dtype=float), u0

    def fixed_effects(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(beta~(theta), Hessian of g there) by Newton steps, halved while they raise g beyond
        its rounding; stops once a step is below 1e-10 relative (value-based tests, as in a
        trust region, stall at g's rounding level well before that)."""
        beta = self.beta
        value, grad, hess = self._parts(theta, beta)
        for _ in range(MAX_BETA_STEPS):
            try:
                step = np.linalg.solve(hess, grad)
            except np.linalg.LinAlgError:
                break
            if not np.all(np.isfinite(step)):
                break
            small = np.max(np.abs(step)) <= 1e-10 * (1.0 + np.max(np.abs(beta)))
            t = 1.0
            while True:
                trial = beta - t * step
                parts = self._parts(theta, trial)
                if small or parts[0] <= value + 1e-12 * abs(value) or t < 1e-6:
                    break
                t *= 0.5
            beta, (value, grad, hess) = trial, parts
            if small:
                break
        self.beta = beta
        return beta, hess

    def _parts(self, theta, beta):
        value, grad, hess, u = jax.device_get(_joint(theta, beta, self.mode, self.data))
        if np.isfinite(value):
            self.mode = u
        return float(value), np.asarray(grad), np.asarray(hess)

    def deviance(self, theta: np.ndarray) -> float:
        theta = np.asarray(theta, dtype=float)
        beta, _ = self.fixed_effects(theta)
        value, _ = _deviance(np.concatenate([theta, beta]), self.data, self.mode)
        return float(value)


def fit_glmm_nagq0(data: GLMMData, x0: np.ndarray, sizes: tuple[int, ...], u0: tuple
                   ) -> tuple[GLMMFit, tuple]:
    """Fit theta by COBYQA with beta at the joint penalised mode (``glmer(nAGQ = 0)``).

    Args:
        data: the GLMMData of a model whose outer parameters are (theta, beta) only.
        x0: (n_theta + p,) start (theta, then the GLM's beta).
        sizes: S_t of each term in computation order.
        u0: the first start of the mode search (zeros).

    Returns:
        The GLMMFit at (theta^, beta~(theta^)) -- its Hessian block-diagonal: central
        differences of the deviance in theta, twice g's Hessian in beta -- and the conditional
        modes there (host arrays).
    """
    from scipy.optimize import minimize

    n_theta = data.layout.n_theta
    joint = _JointModes(data, np.asarray(x0)[n_theta:], u0)
    lower = np.where(diagonal_positions(sizes), 0.0, -np.inf)
    theta0 = np.asarray(x0[:n_theta], dtype=float)
    f0 = joint.deviance(theta0)
    res = minimize(joint.deviance, theta0, method="COBYQA",
                   bounds=list(zip(lower, np.full_like(lower, np.inf))),
                   options=dict(initial_tr_radius=0.1, final_tr_radius=1e-7, maxfev=20000))
    theta = rectify_host(res.x, sizes, joint.deviance)
    deviance, gradient, theta_hessian = central_derivatives(joint.deviance, theta)
    beta, beta_hessian = joint.fixed_effects(theta)
    x = np.concatenate([theta, beta])
    _, mode = jax.device_get(_deviance(x, data, joint.mode))
    hessian = np.zeros((theta.size + beta.size,) * 2)
    hessian[:n_theta, :n_theta] = theta_hessian
    hessian[n_theta:, n_theta:] = 2.0 * beta_hessian  # the deviance is 2 g
    gradient = np.concatenate([gradient, np.zeros(beta.size)])
    boundary = np.concatenate([diagonal_positions(sizes) & (theta == 0.0),
                               np.zeros(beta.size, bool)])
    report = convergence_report(gradient, hessian, boundary)
    status = Status.CONVERGED if res.success else Status.STALLED
    if status == Status.STALLED and report.ok:
        status = Status.CONVERGED
    fit = GLMMFit(x=x, deviance=float(deviance), gradient=gradient,
                  hessian=hessian, exact_hessian=False, optimizer="cobyqa", status=status,
                  n_steps=int(res.nfev), deviance_initial=f0, report=report)
    return fit, mode
