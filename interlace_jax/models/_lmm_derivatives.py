r"""Exact first and second derivatives of the LMM objective, and what inference needs from them.

One forward-over-forward pass over a small vector of outputs of theta,

    outputs(theta) = (objective, log pwrss, vec((R_X'R_X)^{-1}))

gives the objective's gradient and Hessian (for the Newton optimizer and the convergence
checks) together with the derivatives that Satterthwaite's method needs (the Hessian of the
deviance in (theta, sigma) and the Jacobian of Var(beta)), from one compiled function.
Forward mode pushes ``n_theta`` (then ``n_theta^2``) tangents, whatever the number of outputs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from interlace_jax.models._crossprod import LMMData
from interlace_jax.models._forward import (
    central_derivatives,
    central_derivatives_jax,
    forward_derivatives,
)
from interlace_jax.models._lmm import (
    LMMSolution,
    beta_cov_unscaled,
    factor_at,
    objective_from_factor,
)


def _outputs(theta: jax.Array, data: LMMData, reml: bool) -> jax.Array:
    """(2 + p^2,) objective, log pwrss and (R_X'R_X)^{-1} flattened (theta as in
    :func:`~interlace_jax.models.lmm_deviance`)."""
    theta, data, log_det_r = data.at(theta)
    factor = factor_at(theta, data)
    value, pwrss, _, _ = objective_from_factor(factor, data, reml)
    value = value + log_det_r
    cov = beta_cov_unscaled(factor, data.plan)
    return jnp.concatenate([value[None], jnp.log(pwrss)[None], cov.ravel()])


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class LMMDerivatives:
    """The objective and its exact derivatives at theta (k = n_theta, plus the correlation
    parameters of a model with correlated residuals; p fixed effects).

    Attributes:
        value: () objective.
        gradient: (k,) its gradient.
        hessian: (k, k) its Hessian.
        log_pwrss: () log of the penalised weighted residual sum of squares.
        log_pwrss_gradient: (k,); log_pwrss_hessian: (k, k).
        cov_unscaled: (p, p) (R_X'R_X)^{-1}; cov_unscaled_jacobian: (p, p, k).
        dof: () n - p for REML, n for ML.
    """

    value: jax.Array
    gradient: jax.Array
    hessian: jax.Array
    log_pwrss: jax.Array
    log_pwrss_gradient: jax.Array
    log_pwrss_hessian: jax.Array
    cov_unscaled: jax.Array
    cov_unscaled_jacobian: jax.Array
    dof: jax.Array


def _assemble(out, jac, hess, data: LMMData, reml: bool) -> LMMDerivatives:
    """LMMDerivatives from the outputs of :func:`_outputs` (2 + p^2,), their Jacobian
    (2 + p^2, k) and Hessian (2 + p^2, k, k)."""
    p, k = data.plan.n_fixed, jac.shape[-1]
    n = data.n_obs
    return LMMDerivatives(
        value=out[0], gradient=jac[0], hessian=hess[0],
        log_pwrss=out[1], log_pwrss_gradient=jac[1], log_pwrss_hessian=hess[1],
        cov_unscaled=out[2:].reshape(p, p),
        cov_unscaled_jacobian=jac[2:].reshape(p, p, k),
        dof=n - p if reml else n,
    )


def lmm_derivatives(theta: jax.Array, data: LMMData, reml: bool) -> LMMDerivatives:
    """Objective, gradient, Hessian and the inference ingredients at theta (n_theta,)."""
    return _assemble(*forward_derivatives(lambda th: _outputs(th, data, reml), theta), data,
                     reml)


def lmm_derivatives_central(theta: jax.Array, data: LMMData, reml: bool, *,
                            step: float = 1e-3, centre: jax.Array | None = None
                            ) -> LMMDerivatives:
    """:func:`lmm_derivatives` by central differences of exact outputs on the device, with
    Richardson's extrapolation (:func:`~interlace_jax.models._forward.central_derivatives_jax`):
    ``2 k^2 + 2 k`` evaluations besides the outputs at theta (``centre``, e.g.
    :func:`solution_outputs` of the solution there, else evaluated); for batched fits, where
    they cost a fraction of exact second derivatives. Jit-able and vmap-able."""
    return _assemble(*central_derivatives_jax(lambda th: _outputs(th, data, reml), theta,
                                              step=step, extrapolate=True, centre=centre),
                     data, reml)


def solution_outputs(solution: LMMSolution, xp=np):
    """The outputs of :func:`_outputs` ((2 + p^2,)) read off an LMMSolution: a host one
    (``xp`` numpy) or one on the device (``xp`` jax.numpy)."""
    head = xp.stack([xp.asarray(solution.deviance, dtype=xp.float64),
                     xp.log(xp.asarray(solution.pwrss, dtype=xp.float64))])
    return xp.concatenate([head, xp.ravel(xp.asarray(solution.beta_cov_unscaled))])


def lmm_derivatives_fd(
    theta: np.ndarray,
    out: Callable[[np.ndarray], np.ndarray],
    data: LMMData,
    reml: bool,
    *,
    step: float = 1e-4,
) -> LMMDerivatives:
    """:func:`lmm_derivatives` by central finite differences of the outputs.

    For models with a large dense block, exact second derivatives through its Cholesky factor
    cost several times the whole fit, so the convergence checks use differences of
    exact objective values instead (as lme4's ``checkConv`` and lmerTest do): k^2 + k + 1
    evaluations (:func:`~interlace_jax.models._forward.central_derivatives`) of ``out``
    (theta (k,) -> the (2 + p^2,) outputs of :func:`_outputs`, e.g. :func:`solution_outputs`
    of the fit's compiled solution: no extra compilation). Accurate to about ``step^2``
    relative.
    """
    centre, jac, hess = central_derivatives(out, theta, step=step)
    derivs = _assemble(centre, jac, hess, data, reml)
    return dataclasses.replace(derivs, dof=np.asarray(derivs.dof, dtype=np.float64))
