r"""Satterthwaite denominator degrees of freedom from exact derivatives (lmerTest's method).

The variance parameters are ``varpar = (theta, sigma)``. Their asymptotic covariance is
``A = 2 H^{-1}`` with ``H`` the Hessian of the (RE)ML deviance as a function of varpar (beta
profiled, sigma not). For a contrast ``l`` (p,), with ``v(varpar) = l' Var(beta_hat) l``:

.. math::  \nu = \frac{2 v^2}{\nabla v' A \nabla v}

lmerTest obtains ``H`` and ``\nabla v`` by finite differences (numDeriv); here both are exact.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from interlace_jax.models import LMMData, deviance_parts, factor_at


def _deviance_varpar(varpar: jax.Array, data: LMMData, reml: bool) -> jax.Array:
    """-2 log (restricted) likelihood at (theta, sigma) = varpar (n_theta + 1,)."""
    theta, sigma2 = varpar[:-1], varpar[-1] ** 2
    logdet_z, logdet_x, pwrss = deviance_parts(factor_at(theta, data), data.plan)
    n = data.design.n_obs
    dof = n - data.plan.n_fixed if reml else n
    value = dof * jnp.log(2.0 * jnp.pi * sigma2) + logdet_z + pwrss / sigma2
    value = value - data.design.log_weights_sum
    return value + logdet_x if reml else value


def _vcov_beta(varpar: jax.Array, data: LMMData) -> jax.Array:
    """(p, p) sigma^2 (R_X' R_X)^{-1} at varpar."""
    factor = factor_at(varpar[:-1], data)
    q, p = data.plan.n_rest, data.plan.n_fixed
    lxx = factor.rest[q : q + p, q : q + p]
    inv = jax.scipy.linalg.solve_triangular(lxx, jnp.eye(p, dtype=lxx.dtype), lower=True)
    return varpar[-1] ** 2 * (inv.T @ inv)


@partial(jax.jit, static_argnames=("reml",))
def varpar_covariance(varpar: jax.Array, data: LMMData, reml: bool):
    """(A, J): A (k, k) = 2 H^{-1} of varpar (k = n_theta + 1), J (p, p, k) = d vcov(beta)/d varpar."""
    hess = jax.hessian(_deviance_varpar)(varpar, data, reml)
    jac = jax.jacfwd(_vcov_beta)(varpar, data)
    return 2.0 * jnp.linalg.pinv(hess, hermitian=True), jac


def satterthwaite_df(contrasts: jax.Array, vcov_beta: jax.Array, A: jax.Array, J: jax.Array):
    """Denominator df (m,) of each row of ``contrasts`` (m, p)."""
    v = jnp.einsum("mi,ij,mj->m", contrasts, vcov_beta, contrasts)
    grad = jnp.einsum("mi,ijk,mj->mk", contrasts, J, contrasts)
    return 2.0 * v**2 / jnp.einsum("mk,kl,ml->m", grad, A, grad)
