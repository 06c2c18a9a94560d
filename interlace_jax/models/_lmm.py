r"""The profiled (RE)ML deviance of a linear mixed model as a pure JAX function of theta.

With ``L`` the blocked Cholesky factor of the penalised system (see
:mod:`interlace_jax.linalg`), beta and sigma profiled out (Bates et al. 2015, eq. 34 and 41):

.. math::

    d_{ML}(\theta) = \log|L_Z|^2 + n \left(1 + \log \frac{2 \pi r^2}{n}\right) - \sum_i \log w_i

    d_{REML}(\theta) = \log|L_Z|^2 + \log|L_X|^2 + (n - p)\left(1 + \log \frac{2 \pi r^2}{n - p}\right)
        - \sum_i \log w_i

where ``r^2`` is the penalised weighted residual sum of squares (the squared last diagonal of L).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from interlace_jax.linalg import (
    BlockedFactor,
    BlockPlan,
    factorize,
    solve_lower,
    solve_lower_transposed,
    upper_solve,
)
from interlace_jax.models._crossprod import LMMData
from interlace_jax.terms import lambda_factor, theta_slices


def split_theta(theta: jnp.ndarray, plan: BlockPlan) -> list:
    """Per term in computation order, its lambda factor (S_t, S_t) from the flat theta."""
    sizes = [lay.size for lay in plan.terms]
    return [lambda_factor(theta[sl], s) for sl, s in zip(theta_slices(sizes), sizes)]


def _as_float64(theta) -> jnp.ndarray:
    theta = jnp.asarray(theta)
    if not jnp.issubdtype(theta.dtype, jnp.floating):
        theta = theta.astype(float)
    if theta.dtype != jnp.float64:
        raise TypeError(
            "interlace_jax objectives need float64: call them inside `with jax.enable_x64(True):`"
            f" or set jax.config.update('jax_enable_x64', True) (theta has dtype {theta.dtype})."
        )
    return theta


def factor_at(theta: jnp.ndarray, data: LMMData) -> BlockedFactor:
    """The blocked Cholesky factor at theta (n_theta,), theta in computation order."""
    theta = _as_float64(theta)
    return factorize(split_theta(theta, data.plan), data.design, data.response, data.plan)


def deviance_parts(factor: BlockedFactor, plan: BlockPlan):
    """(log det(Lambda'Z'WZ Lambda + I), log det(R_X'R_X), penalised weighted RSS), scalars."""
    q, p = plan.n_rest, plan.n_fixed
    diag_rest = jnp.diagonal(factor.rest)
    logdet_z = 2.0 * jnp.sum(jnp.log(jnp.diagonal(factor.l11, axis1=1, axis2=2)))
    logdet_z = logdet_z + 2.0 * jnp.sum(jnp.log(diag_rest[:q]))
    logdet_x = 2.0 * jnp.sum(jnp.log(diag_rest[q : q + p]))
    pwrss = diag_rest[-1] ** 2
    return logdet_z, logdet_x, pwrss


def objective_from_factor(factor: BlockedFactor, data: LMMData, reml: bool):
    """(objective, pwrss, logdet_z, residual degrees of freedom) from the factor."""
    logdet_z, logdet_x, pwrss = deviance_parts(factor, data.plan)
    dof = data.design.n_obs - data.plan.n_fixed if reml else data.design.n_obs
    value = logdet_z + dof * (1.0 + jnp.log(2.0 * jnp.pi * pwrss / dof))
    value = value - data.design.log_weights_sum + (logdet_x if reml else 0.0)
    return value, pwrss, logdet_z, dof


def beta_cov_unscaled(factor: BlockedFactor, plan: BlockPlan) -> jnp.ndarray:
    """(p, p) (R_X'R_X)^{-1} from the X block of the factor; times sigma^2 it is vcov(beta)."""
    q, p = plan.n_rest, plan.n_fixed
    lxx = factor.rest[q : q + p, q : q + p]
    inv = solve_lower(lxx, jnp.eye(p, dtype=lxx.dtype), plan.lapack)
    return inv.T @ inv


def lmm_deviance(theta: jnp.ndarray, data: LMMData, reml: bool) -> jnp.ndarray:
    """Profiled deviance (ML) or REML criterion at theta; lme4's objective. Returns a scalar.

    Args:
        theta: (n_theta,) relative covariance parameters in computation order (the order of
            ``data.plan``: terms by decreasing number of levels, lme4's order); for a
            :class:`~interlace_jax.models.CorrelatedLMMData`, followed by the unconstrained
            correlation parameters (the objective then includes ``log|R|``).
        data: the LMMData (or CorrelatedLMMData) of the model.
        reml: True for the REML criterion, False for -2 log-likelihood.
    """
    theta, fixed, log_det_r = data.at(theta)
    return objective_from_factor(factor_at(theta, fixed), fixed, reml)[0] + log_det_r


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class LMMSolution:
    """Estimates at a given theta.

    Attributes:
        beta: (p,) fixed effects.
        sigma: () residual standard deviation.
        u_first: (L1, S1) spherical random effects of the first term.
        u_rest: (q_rest,) spherical random effects of the other terms (rest-block order).
        beta_cov_unscaled: (p, p) (R_X' R_X)^{-1}; times sigma^2 it is vcov(beta).
        deviance: () the objective at theta.
        pwrss: () penalised weighted residual sum of squares.
        logdet_z: () log det(Lambda'Z'WZ Lambda + I).
    """

    beta: jax.Array
    sigma: jax.Array
    u_first: jax.Array
    u_rest: jax.Array
    beta_cov_unscaled: jax.Array
    deviance: jax.Array
    pwrss: jax.Array
    logdet_z: jax.Array


def lmm_solution(theta: jnp.ndarray, data: LMMData, reml: bool) -> LMMSolution:
    """beta, sigma and the spherical random effects u at theta (b = Lambda u); theta as in
    :func:`lmm_deviance` (with any correlation parameters after it)."""
    theta, data, log_det_r = data.at(theta)
    plan = data.plan
    q, p = plan.n_rest, plan.n_fixed
    factor = factor_at(theta, data)
    deviance, pwrss, logdet_z, dof = objective_from_factor(factor, data, reml)
    deviance = deviance + log_det_r
    # R_m' x = r for the leading (q + p)^2 block R_m of the rest factor and r its last row:
    # the same as solving with the whole factor and r padded with a zero (no block copy).
    rhs = factor.rest[-1].at[-1].set(0.0)[:, None]
    solution = solve_lower_transposed(factor.rest, rhs, plan.lapack)[: q + p, 0]
    u_rest, beta = solution[:q], solution[q:]
    rhs = factor.first_xy[:, :, p] - jnp.einsum("ksp,p->ks", factor.first_xy[:, :, :p], beta)
    if q:
        rhs = rhs - jax.ops.segment_sum(
            factor.coupling * u_rest[data.design.scalar_row][:, None],
            data.design.scalar_first,
            num_segments=plan.terms[0].n_levels,
        )
    u_first = upper_solve(factor.l11, rhs[..., None], plan.lapack)[..., 0]
    return LMMSolution(
        beta=beta,
        sigma=jnp.sqrt(pwrss / dof),
        u_first=u_first,
        u_rest=u_rest,
        beta_cov_unscaled=beta_cov_unscaled(factor, plan),
        deviance=deviance,
        pwrss=pwrss,
        logdet_z=logdet_z,
    )
