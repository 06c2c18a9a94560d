r"""The Laplace approximation shared by every non-Gaussian mixed model.

With spherical random effects ``u ~ N(0, I)``, ``b = Lambda(theta) u`` and the conditional
log-likelihood ``l(u) = sum_i log p(y_i | eta_i)``, ``eta = X beta + offset + Z b``,

.. math::

    -2 \log \int p(y | u) \phi(u)\, du \approx -2\, l(\tilde u) + \|\tilde u\|^2
        + \log\det(\Lambda' Z' W Z \Lambda + I)

where ``u~`` minimises ``h(u) = -l(u) + |u|^2 / 2`` (the conditional mode) and ``W`` is the
curvature of ``-l`` in ``eta`` at the mode: the expected information (lme4, where the family
says so) or the observed one (TMB), as the model's convention says.

Only the conditional mean's linear predictor ``eta`` carries random effects. The zero-inflation
probability and the dispersion have their own fixed-effects predictors (``ziformula``,
``dispformula``), computed here from the outer parameters and passed to the family's
log-density per observation; the family parameters ``psi`` likewise.

The mode is found by damped Newton steps in ``lax.while_loop`` (lme4's convention: Fisher
scoring, i.e. PIRLS; TMB's: the observed curvature, negative entries floored at zero so every
step is a descent direction), with step halving, each a solve with the blocked Cholesky factor
of ``Lambda'Z'WZ Lambda + I``. Its derivatives with respect to the outer parameters come from the
implicit function theorem, ``du = -H^{-1} d(grad_u h)``, with ``H`` the exact (observed)
Hessian of h, as a ``jax.custom_jvp``: the loop itself is never differentiated, and the rule is
itself differentiable, so exact Hessians of the objective follow by forward-over-forward.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from interlace_jax.linalg import factorize, scale_rest_rows, z_log_det, z_solve
from interlace_jax.models._glmm_data import GLMMData
from interlace_jax.models._lmm import split_theta
from interlace_jax.models._response_map import (
    effects_from_spherical,
    linear_predictor,
    z_transpose_times,
)
from interlace_jax.models._z_products import empty_response, weighted_z_products

MAX_INNER_STEPS = 60
INNER_STEP_TOL = 1e-10


class Params(NamedTuple):
    """The blocks of the outer parameters (see
    :class:`~interlace_jax.models._glmm_data.ParamLayout`)."""

    theta: jax.Array
    beta: jax.Array
    zi: jax.Array
    disp: jax.Array
    psi: jax.Array


def split_params(x: jax.Array, data: GLMMData) -> Params:
    """The named blocks of x = (theta, beta, beta_zi, beta_disp, psi)."""
    lay = data.layout
    return Params(x[lay.theta], x[lay.beta], x[lay.zi], x[lay.disp], x[lay.psi])


def dispersion(x: jax.Array, data: GLMMData) -> jax.Array:
    """() or (n,) the family's dispersion phi = exp(log-dispersion predictor); 1 without."""
    if not data.layout.has_dispersion:
        return jnp.ones((), x.dtype)
    return jnp.exp(data.disp.predictor(split_params(x, data).disp))


def zero_predictor(x: jax.Array, data: GLMMData) -> jax.Array | None:
    """() or (n,) the zero part's logit (None without a zero part)."""
    if not data.zeros.has_zero_part:
        return None
    return data.zi.predictor(split_params(x, data).zi)


def eta_of(u: tuple, x: jax.Array, data: GLMMData) -> jax.Array:
    """(n,) linear predictor at spherical effects u = (first (L1, S1), rest (q_rest,))."""
    p = split_params(x, data)
    b_first, b_rest = effects_from_spherical(p.theta, u[0], u[1], data.plan)
    return linear_predictor(p.beta, b_first, b_rest, data.rmap) + data.offset


def log_density(eta: jax.Array, x: jax.Array, data: GLMMData) -> jax.Array:
    """(n,) log p(y_i | eta_i) without the data-only terms (their sum is data.log_constant)."""
    family = data.family
    return data.zeros.log_density(family, data.y, family.link.inverse(eta), data.rmap.weights,
                                  dispersion(x, data), split_params(x, data).psi,
                                  zero_predictor(x, data))


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
    return data.family.fisher_weights(eta, data.rmap.weights, dispersion(x, data))


def newton_weights(eta: jax.Array, observed: jax.Array, x: jax.Array,
                   data: GLMMData) -> jax.Array:
    """(n,) the curvature of the inner Newton steps: Fisher scoring (lme4's PIRLS, for the
    exponential families) or the observed curvature ``observed`` (n,) floored at zero (TMB, and
    families without an expected information; the log-density need not be concave)."""
    if data.convention.expected_information and data.family.fisher_scoring:
        return fisher_weights(eta, x, data)
    return jnp.maximum(observed, 0.0)


def penalised_objective(u: tuple, x: jax.Array, data: GLMMData) -> jax.Array:
    """() h(u) = -log p(y | u) + |u|^2 / 2."""
    ll = jnp.sum(log_density(eta_of(u, x, data), x, data))
    return -ll + 0.5 * (jnp.sum(u[0] ** 2) + jnp.sum(u[1] ** 2))


def _lambda_t_z_t(v: jax.Array, x: jax.Array, data: GLMMData) -> tuple:
    """``Lambda' Z' v`` for v (n,), as (first (L1, S1), rest (q_rest,))."""
    lams = split_theta(split_params(x, data).theta, data.plan)
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
    lams = split_theta(split_params(x, data).theta, data.plan)
    design = weighted_z_products(weights, data.zmap, data.rmap)
    factor = factorize(lams, design, empty_response(data.plan, weights.dtype), data.plan)
    return factor, design


def _find_mode(x: jax.Array, u0: tuple, data: GLMMData) -> tuple:
    """Minimise h(u) from u0 by Fisher-scoring Newton steps with step halving."""

    def newton_step(u):
        eta = eta_of(u, x, data)
        _, score, observed = eta_derivatives(eta, x, data)
        factor, design = penalised_factor(newton_weights(eta, observed, x, data), x, data)
        first, rest = _lambda_t_z_t(score, x, data)
        return z_solve(factor, first - u[0], rest - u[1], design, data.plan)

    def cond(state):
        _, _, size, k = state
        return (size > INNER_STEP_TOL) & (k < MAX_INNER_STEPS)

    def body(state):
        u, h, _, k = state
        d = newton_step(u)

        def shrink(c):
            t, _, j = c
            t = 0.5 * t
            return t, penalised_objective(_axpy(t, d, u), x, data), j + 1

        def too_big(c):
            t, h_try, j = c
            return ~(h_try <= h + 1e-12 * jnp.abs(h)) & (j < 30)

        t, h_new, _ = jax.lax.while_loop(
            too_big, shrink, (1.0, penalised_objective(_axpy(1.0, d, u), x, data), 0))
        ok = h_new <= h + 1e-12 * jnp.abs(h)
        u_new = jax.tree_util.tree_map(lambda a, b: jnp.where(ok, a, b), _axpy(t, d, u), u)
        size = jnp.where(ok, t * jnp.maximum(jnp.max(jnp.abs(d[0])),
                                              jnp.max(jnp.abs(d[1]), initial=0.0)), 0.0)
        return u_new, jnp.where(ok, h_new, h), size, k + 1

    h0 = penalised_objective(u0, x, data)
    u, _, _, _ = jax.lax.while_loop(cond, body, (u0, h0, jnp.asarray(jnp.inf, h0.dtype), 0))
    return u


def _axpy(t, d: tuple, u: tuple) -> tuple:
    return u[0] + t * d[0], u[1] + t * d[1]


@jax.custom_jvp
def conditional_mode(x: jax.Array, u0: tuple, data: GLMMData) -> tuple:
    """The conditional mode u~(x) = argmin_u h(u), started from u0 (the result does not
    depend on u0); differentiable in x by the implicit function theorem.

    Args:
        x: (n_params,) outer parameters (theta, beta, beta_zi, beta_disp, psi).
        u0: (first (L1, S1), rest (q_rest,)) starting spherical effects.
        data: the GLMMData.

    Returns:
        (first (L1, S1), rest (q_rest,)).
    """
    return _find_mode(x, u0, data)


@conditional_mode.defjvp
def _conditional_mode_jvp(primals, tangents):
    x, u0, data = primals
    dx = tangents[0]
    u = conditional_mode(x, u0, data)
    _, dgrad = jax.jvp(lambda z: penalised_gradient(u, z, data), (x,), (dx,))
    eta = eta_of(u, x, data)
    _, _, observed = eta_derivatives(eta, x, data)
    factor, design = penalised_factor(observed, x, data)
    du = z_solve(factor, -dgrad[0], -dgrad[1], design, data.plan)
    return u, du


def zero_effects(data: GLMMData, dtype=jnp.float64) -> tuple:
    """Spherical effects of zeros, (first (L1, S1), rest (q_rest,))."""
    lay = data.plan.terms[0]
    return jnp.zeros((lay.n_levels, lay.size), dtype), jnp.zeros(data.plan.n_rest, dtype)


def laplace_weights(eta: jax.Array, x: jax.Array, data: GLMMData) -> jax.Array:
    """(n,) the curvature in the Laplace log-determinant: Fisher's (lme4, for the families
    that say so) or observed (TMB)."""
    if data.convention.expected_information and data.family.fisher_laplace:
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
    at outer parameters x = (theta, beta, beta_zi, beta_disp, psi) (theta in computation
    order; lme4's families: (theta, beta, log phi)), and the
    conditional mode (first (L1, S1), rest (q_rest,)) it was taken at.

    ``u0`` only starts the search for the mode (e.g. the mode at a nearby x, as an optimiser
    passes it along); the value does not depend on it beyond the inner tolerance.
    """
    deviance, u, _ = laplace_parts(x, data, u0)
    return deviance, u
