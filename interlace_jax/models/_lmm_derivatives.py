r"""Exact first and second derivatives of the LMM objective, and what inference needs from them.

One forward-over-forward pass over a small vector of outputs of theta,

    outputs(theta) = (objective, log pwrss, vec((R_X'R_X)^{-1}))

gives the objective's gradient and Hessian (for the Newton optimizer and the convergence
checks) together with the derivatives that Satterthwaite's method needs (the Hessian of the
deviance in (theta, sigma) and the Jacobian of Var(beta)), from one compiled function.
Forward mode pushes ``n_theta`` (then ``n_theta^2``) tangents, whatever the number of outputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from jax.scipy.linalg import solve_triangular

from interlace_jax.models._crossprod import LMMData
from interlace_jax.models._lmm import deviance_parts, factor_at


def _outputs(theta: jax.Array, data: LMMData, reml: bool) -> jax.Array:
    """(2 + p^2,) objective, log pwrss and (R_X'R_X)^{-1} flattened."""
    factor = factor_at(theta, data)
    logdet_z, logdet_x, pwrss = deviance_parts(factor, data.plan)
    n, p, q = data.design.n_obs, data.plan.n_fixed, data.plan.n_rest
    dof = n - p if reml else n
    value = logdet_z + dof * (1.0 + jnp.log(2.0 * jnp.pi * pwrss / dof))
    value = value - data.design.log_weights_sum + (logdet_x if reml else 0.0)
    lxx = factor.rest[q : q + p, q : q + p]
    inv = solve_triangular(lxx, jnp.eye(p, dtype=lxx.dtype), lower=True)
    return jnp.concatenate([value[None], jnp.log(pwrss)[None], (inv.T @ inv).ravel()])


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class LMMDerivatives:
    """The objective and its exact derivatives at theta (k = n_theta, p fixed effects).

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


def lmm_derivatives(theta: jax.Array, data: LMMData, reml: bool) -> LMMDerivatives:
    """Objective, gradient, Hessian and the inference ingredients at theta (n_theta,)."""

    def first(th):
        out = _outputs(th, data, reml)
        return out, out

    def second(th):
        jac, out = jax.jacfwd(first, has_aux=True)(th)
        return jac, (jac, out)

    hess, (jac, out) = jax.jacfwd(second, has_aux=True)(theta)
    p = data.plan.n_fixed
    n = data.design.n_obs
    return LMMDerivatives(
        value=out[0], gradient=jac[0], hessian=hess[0],
        log_pwrss=out[1], log_pwrss_gradient=jac[1], log_pwrss_hessian=hess[1],
        cov_unscaled=out[2:].reshape(p, p),
        cov_unscaled_jacobian=jac[2:].reshape(p, p, -1),
        dof=n - p if reml else n,
    )
