"""lme4's ``nAGQ = 0``: the Laplace deviance optimised over theta alone, the fixed effects held
at the joint penalised mode.

For a given theta, ``(u~, beta~)`` minimise ``h(u, beta) = -log p(y | u, beta) + |u|^2 / 2``
together (lme4's PIRLS with the fixed effects in it:
:func:`~interlace_jax.models._joint_mode.joint_mode_deviance`, one compiled program); the
deviance is the Laplace deviance there. theta is optimised by COBYQA, derivative-free as lme4's
first stage (bobyqa), each evaluation starting from the previous joint mode; the convergence
checks use central differences of the deviance in theta, and ``vcov(beta)`` is the inverse of
the Schur complement ``RX'RX`` at the mode, as lme4's ``vcov`` of an ``nAGQ = 0`` fit.
Families with a dispersion parameter or extra parts (zero inflation, dispersion formula) are
not offered, as lme4 has none of them at ``nAGQ = 0``.
"""

from __future__ import annotations

import jax
import numpy as np

from interlace_jax.models import central_derivatives
from interlace_jax.models._glmm_data import GLMMData
from interlace_jax.models._joint_mode import joint_mode_deviance
from interlace_jax.optim._checks import convergence_report, diagonal_positions, rectify_host
from interlace_jax.optim._fit_glmm import GLMMFit
from interlace_jax.optim._result import Status

_joint = jax.jit(joint_mode_deviance)


class _JointModes:
    """Host evaluations of the nAGQ = 0 deviance in theta, each starting the joint mode search
    where the previous one ended."""

    def __init__(self, data: GLMMData, beta0: np.ndarray, u0: tuple):
        self.data = data
        self.mode = (u0[0], u0[1], np.asarray(beta0, dtype=float))
        self.schur = None

    def deviance(self, theta: np.ndarray) -> float:
        value, mode, schur = jax.device_get(
            _joint(np.asarray(theta, dtype=float), self.mode, self.data))
        if np.isfinite(value):
            self.mode, self.schur = mode, np.asarray(schur)
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
        differences of the deviance in theta, twice ``RX'RX`` in beta -- and the conditional
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
    _, gradient, theta_hessian = central_derivatives(joint.deviance, theta)
    deviance = joint.deviance(theta)  # leaves the mode and RX'RX at theta
    beta = np.asarray(joint.mode[2])
    hessian = np.zeros((theta.size + beta.size,) * 2)
    hessian[:n_theta, :n_theta] = theta_hessian
    hessian[n_theta:, n_theta:] = 2.0 * joint.schur  # the deviance's curvature in beta
    gradient = np.concatenate([gradient, np.zeros(beta.size)])
    boundary = np.concatenate([diagonal_positions(sizes) & (theta == 0.0),
                               np.zeros(beta.size, bool)])
    report = convergence_report(gradient, hessian, boundary)
    status = Status.CONVERGED if res.success else Status.STALLED
    if status == Status.STALLED and report.ok:
        status = Status.CONVERGED
    fit = GLMMFit(x=np.concatenate([theta, beta]), deviance=deviance, gradient=gradient,
                  hessian=hessian, exact_hessian=False, optimizer="cobyqa", status=status,
                  n_steps=int(res.nfev), deviance_initial=f0, report=report)
    return fit, joint.mode[:2]
