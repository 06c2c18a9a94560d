r"""The Laplace approximation shared by every non-Gaussian mixed model.

With spherical random effects ``u ~ N(0, I)``, ``b = Lambda(theta) u`` and the conditional
log-likelihood ``l(u) = sum_i log p(y_i | eta_i)``, ``eta = X beta + offset + Z b``,

.. math::

    -2 \log \int p(y | u) \phi(u)\, du \approx -2\, l(\tilde u) + \|\tilde u\|^2
        + \log\det(\Lambda' Z' W Z \Lambda + I)

where ``u~`` minimises ``h(u) = -l(u) + |u|^2 / 2`` (the conditional mode) and ``W`` is the
curvature of ``-l`` in ``eta`` at the mode: the expected information (lme4) or the observed one
(TMB), as the family says.

The mode is found by damped Newton steps (Fisher scoring, i.e. PIRLS, with step halving) in
``lax.while_loop``, each a solve with the blocked Cholesky factor of
``Lambda'Z'WZ Lambda + I``. Its derivatives with respect to the outer parameters come from the
implicit function theorem, ``du = -H^{-1} d(grad_u h)``, with ``H`` the exact (observed)
Hessian of h, as a ``jax.custom_jvp``: the loop itself is never differentiated, and the rule is
itself differentiable, so exact Hessians of the objective follow by forward-over-forward. The
iteration and the rule are the shared ones of :mod:`~interlace_jax.models._newton_mode`
(the Cox model's inner problem uses them too).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from interlace_jax.linalg import factorize, scale_rest_rows, z_log_det, z_solve
from interlace_jax.models._glmm_data import GLMMData
from interlace_jax.models._lmm import split_theta
from interlace_jax.models._newton_mode import damped_newton, implicit_mode
from interlace_jax.models._response_map import (
    effects_from_spherical,
    linear_predictor,
    z_transpose_times,
)
from interlace_jax.models._z_products import empty_response, weighted_z_products

def split_params(x: jax.Array, data: GLMMData) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(theta, beta, phi) from the flat outer parameters x = (theta, beta, log phi)."""
    lay = data.layout
    theta, beta = x[: lay.n_theta], x[lay.n_theta : lay.n_theta + lay.n_fixed]
    phi = jnp.exp(x[-1]) if lay.has_dispersion else jnp.ones((), x.dtype)
    return theta, beta, phi


def eta_of(u: tuple, x: jax.Array, data: GLMMData) -> jax.Array:
    """(n,) linear predictor at spherical effects u = (first (L1, S1), rest (q_rest,))."""
    theta, beta, _ = split_params(x, data)
    b_first, b_rest = effects_from_spherical(theta, u[0], u[1], data.plan)
    return linear_predictor(beta, b_first, b_rest, data.rmap) + data.offset


def log_density(eta: jax.Array, x: jax.Array, data: GLMMData) -> jax.Array:
    """(n,) log p(y_i | eta_i) without the data-only terms (their sum is data.log_constant)."""
    _, _, phi = split_params(x, data)
    family = data.family
    return family.log_density(data.y, family.link.inverse(eta), data.rmap.weights, phi)


def eta_derivatives(eta: jax.Array, x: jax.Array, data: GLMMData):
    """(log p, d log p / d eta, -d^2 log p / d eta^2), each (n,), by forward autodiff
    (the log-density is elementwise in eta, so one tangent of ones gives the diagonal)."""
    ones = jnp.ones_like(eta)

    def score(e):
        return jax.jvp(lambda v: log_density(v, x, data), (e,), (ones,))

    (value, first), (_, second) = jax.jvp(score, (eta,), (ones,))
    return value, first, -second


def fisher_weights(eta: jax.Array, x: jax.Array, data: GLMMData) -> jax.Array:
    """(n,) expected information of each eta_i."""
    _, _, phi = split_params(x, data)
    return data.family.fisher_weights(eta, data.rmap.weights, phi)


def penalised_objective(u: tuple, x: jax.Array, data: GLMMData) -> jax.Array:
    """() h(u) = -log p(y | u) + |u|^2 / 2."""
    ll = jnp.sum(log_density(eta_of(u, x, data), x, data))
    return -ll + 0.5 * (jnp.sum(u[0] ** 2) + jnp.sum(u[1] ** 2))


def _lambda_t_z_t(v: jax.Array, x: jax.Array, data: GLMMData) -> tuple:
    """``Lambda' Z' v`` for v (n,), as (first (L1, S1), rest (q_rest,))."""
    lams = split_theta(split_params(x, data)[0], data.plan)
    first, rest = z_transpose_times(v, data.rmap)
    if data.plan.n_rest:
        rest = scale_rest_rows(rest[:, None], lams[1:], data.plan)[:, 0]
    return first @ lams[0], rest


def penalised_gradient(u: tuple, x: jax.Array, data: GLMMData) -> tuple:
    """grad_u h = u - Lambda' Z' (d log p / d eta), as (first, rest)."""
    _, score, _ = eta_derivatives(eta_of(u, x, data), x, data)
    first, rest = _lambda_t_z_t(score, x, data)
    return u[0] - first, u[1] - rest


def penalised_factor(weights: jax.Array, x: jax.Array, data: GLMMData):
    """Blocked factor of ``Lambda'Z'WZ Lambda + I`` for weights (n,), with its products."""
    lams = split_theta(split_params(x, data)[0], data.plan)
    design = weighted_z_products(weights, data.zmap, data.rmap)
    factor = factorize(lams, design, empty_response(data.plan, weights.dtype), data.plan)
    return factor, design


def _newton_direction(u: tuple, x: jax.Array, data: GLMMData) -> tuple:
    """The Fisher-scoring Newton direction ``(Lambda'Z'WZ Lambda + I)^{-1} (-grad_u h)``."""
    eta = eta_of(u, x, data)
    _, score, _ = eta_derivatives(eta, x, data)
    factor, design = penalised_factor(fisher_weights(eta, x, data), x, data)
    first, rest = _lambda_t_z_t(score, x, data)
    return z_solve(factor, first - u[0], rest - u[1], design, data.plan)


def _find_mode(x: jax.Array, u0: tuple, data: GLMMData) -> tuple:
    """Minimise h(u) from u0 by Fisher-scoring Newton steps with step halving."""
    return damped_newton(penalised_objective, _newton_direction, x, u0, data)


def _observed_solve(u: tuple, x: jax.Array, data: GLMMData, r: tuple) -> tuple:
    """``H^{-1} r`` with H the exact (observed) Hessian of h at u."""
    _, _, observed = eta_derivatives(eta_of(u, x, data), x, data)
    factor, design = penalised_factor(observed, x, data)
    return z_solve(factor, r[0], r[1], design, data.plan)


#: The conditional mode u~(x) = argmin_u h(u), started from u0 (the result does not depend on
#: u0), differentiable in x by the implicit function theorem: ``conditional_mode(x, u0, data)``
#: with x (n_params,) the outer parameters (theta, beta, log phi), u0 and the result
#: (first (L1, S1), rest (q_rest,)).
conditional_mode = implicit_mode(_find_mode, penalised_gradient, _observed_solve)


def zero_effects(data: GLMMData, dtype=jnp.float64) -> tuple:
    """Spherical effects of zeros, (first (L1, S1), rest (q_rest,))."""
    lay = data.plan.terms[0]
    return jnp.zeros((lay.n_levels, lay.size), dtype), jnp.zeros(data.plan.n_rest, dtype)


def laplace_weights(eta: jax.Array, x: jax.Array, data: GLMMData) -> jax.Array:
    """(n,) the curvature in the Laplace log-determinant: Fisher's (lme4) or observed (TMB)."""
    if data.family.fisher_laplace:
        return fisher_weights(eta, x, data)
    return eta_derivatives(eta, x, data)[2]


def laplace_parts(x: jax.Array, data: GLMMData, u0: tuple | None = None):
    """(deviance, mode u, factor) of the Laplace approximation at outer parameters x."""
    u = conditional_mode(x, zero_effects(data, x.dtype) if u0 is None else u0, data)
    eta = eta_of(u, x, data)
    ll = jnp.sum(log_density(eta, x, data)) + data.log_constant
    factor, _ = penalised_factor(laplace_weights(eta, x, data), x, data)
    penalty = jnp.sum(u[0] ** 2) + jnp.sum(u[1] ** 2)
    return -2.0 * ll + penalty + z_log_det(factor, data.plan), u, factor


def laplace_deviance(x: jax.Array, data: GLMMData, u0: tuple | None = None
                     ) -> tuple[jax.Array, tuple]:
    """-2 log-likelihood of the GLMM by the Laplace approximation (lme4's nAGQ = 1 deviance)
    at outer parameters x = (theta, beta, log phi) (theta in computation order), and the
    conditional mode (first (L1, S1), rest (q_rest,)) it was taken at.

    ``u0`` only starts the search for the mode (e.g. the mode at a nearby x, as an optimiser
    passes it along); the value does not depend on it beyond the inner tolerance.
    """
    deviance, u, _ = laplace_parts(x, data, u0)
    return deviance, u
