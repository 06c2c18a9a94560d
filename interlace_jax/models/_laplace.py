r"""The Laplace approximation shared by every non-Gaussian mixed model.

With spherical random effects ``u ~ N(0, I)``, ``b = Lambda(theta) u`` and the conditional
log-likelihood ``l(u) = sum_i log p(y_i | eta_i)``, ``eta = X beta + offset + Z b``,

.. math::

    -2 \log \int p(y | u) \phi(u)\, du \approx -2\, l(\tilde u) + \|\tilde u\|^2
        + \log\det(\Lambda' Z' W Z \Lambda + I)

where ``u~`` minimises ``h(u) = -l(u) + |u|^2 / 2`` (the conditional mode) and ``W`` is the
curvature of ``-l`` in ``eta`` at the mode: the expected information (lme4, where the family
says so) or the observed one (TMB, ordinal), as the model says.

What the engine needs of a model beyond its random-effects structure is a
:class:`ConditionalModel`: how ``y_i`` depends on ``eta_i`` given the outer parameters, which
it receives as named blocks (:class:`~interlace_jax.models._params.Params`; theta and beta are
the engine's, the rest the model's). A GLMM's is its family with the zero-inflation and
dispersion predictors (:class:`~interlace_jax.models._family_conditional.FamilyConditional`),
a cumulative link model's its link and thresholds
(:class:`~interlace_jax.models._ordinal.CumulativeLink`). The data object (a pytree) carries it
as ``data.conditional``, next to the random-effects index arrays ``rmap``/``zmap``, ``y``,
``offset``, ``log_constant`` and the static ``layout``
(:class:`~interlace_jax.models._params.ParamLayout`).

Only the linear predictor ``eta`` carries random effects. The mode is found by damped Newton
steps in ``lax.while_loop`` with the model's curvature (lme4's convention: Fisher scoring, i.e.
PIRLS; TMB's and ordinal's: the observed curvature, negative entries floored at zero so every
step is a descent direction), with step halving, each a solve with the blocked Cholesky factor
of ``Lambda'Z'WZ Lambda + I``. Its derivatives with respect to the outer parameters come from the
implicit function theorem, ``du = -H^{-1} d(grad_u h)``, with ``H`` the exact (observed)
Hessian of h, as a ``jax.custom_jvp``: the loop itself is never differentiated, and the rule is
itself differentiable, so exact Hessians of the objective follow by forward-over-forward. The
iteration and the rule are the shared ones of :mod:`~interlace_jax.models._newton_mode`
(the Cox model's inner problem uses them too).
"""

from __future__ import annotations

from typing import Protocol

import jax
import jax.numpy as jnp
import numpy as np

from interlace_jax.linalg import factorize, scale_rest_rows, z_log_det, z_solve
from interlace_jax.models._lmm import split_theta
from interlace_jax.models._newton_mode import damped_newton, implicit_mode
from interlace_jax.models._params import Params, split_params
from interlace_jax.models._response_map import (
    effects_from_spherical,
    linear_predictor,
    z_transpose_times,
)
from interlace_jax.models._z_products import empty_response, weighted_z_products

class ConditionalModel(Protocol):
    """How the observations depend on their linear predictors ``eta`` (n,), given the outer
    parameters' blocks p: a hashable static object whose methods are pure JAX, elementwise over
    the n observations (``data`` is the model's data pytree, which holds this object as
    ``data.conditional``)."""

    def log_density(self, eta: jax.Array, p: Params, data) -> jax.Array:
        """(n,) log p(y_i | eta_i) without the data-only terms (their sum is
        ``data.log_constant``)."""

    def newton_weights(self, eta: jax.Array, observed: jax.Array, p: Params,
                       data) -> jax.Array:
        """(n,) nonnegative curvature of the inner Newton steps, given the observed one
        ``observed`` (n,) = -d^2 log p / d eta^2."""

    def laplace_weights(self, eta: jax.Array, p: Params, data) -> jax.Array:
        """(n,) the curvature in the Laplace log-determinant."""


def eta_of(u: tuple, x: jax.Array, data) -> jax.Array:
    """(n,) linear predictor at spherical effects u = (first (L1, S1), rest (q_rest,))."""
    p = split_params(x, data.layout)
    b_first, b_rest = effects_from_spherical(p.theta, u[0], u[1], data.plan)
    return linear_predictor(p.beta, b_first, b_rest, data.rmap) + data.offset


def eta_derivatives(eta: jax.Array, p: Params, data):
    """(log p, d log p / d eta, -d^2 log p / d eta^2), each (n,), of the data's conditional
    model by forward autodiff (the log-density is elementwise in eta, so one tangent of ones
    gives the diagonal)."""
    ones = jnp.ones_like(eta)

    def score(e):
        return jax.jvp(lambda v: data.conditional.log_density(v, p, data), (e,), (ones,))

    (value, first), (_, second) = jax.jvp(score, (eta,), (ones,))
    return value, first, -second


def penalised_objective(u: tuple, x: jax.Array, data) -> jax.Array:
    """() h(u) = -log p(y | u) + |u|^2 / 2."""
    p = split_params(x, data.layout)
    ll = jnp.sum(data.conditional.log_density(eta_of(u, x, data), p, data))
    return -ll + 0.5 * (jnp.sum(u[0] ** 2) + jnp.sum(u[1] ** 2))


def lambda_t_z_t(v: jax.Array, x: jax.Array, data) -> tuple:
    """``Lambda' Z' v`` for v (n,), as (first (L1, S1), rest (q_rest,))."""
    lams = split_theta(split_params(x, data.layout).theta, data.plan)
    first, rest = z_transpose_times(v, data.rmap)
    if data.plan.n_rest:
        rest = scale_rest_rows(rest[:, None], lams[1:], data.plan)[:, 0]
    return first @ lams[0], rest


def penalised_gradient(u: tuple, x: jax.Array, data) -> tuple:
    """grad_u h = u - Lambda' Z' (d log p / d eta), as (first, rest)."""
    _, score, _ = eta_derivatives(eta_of(u, x, data), split_params(x, data.layout), data)
    first, rest = lambda_t_z_t(score, x, data)
    return u[0] - first, u[1] - rest


def penalised_factor(weights: jax.Array, x: jax.Array, data):
    """Blocked factor of ``Lambda'Z'WZ Lambda + I`` for weights (n,), with its products."""
    lams = split_theta(split_params(x, data.layout).theta, data.plan)
    design = weighted_z_products(weights, data.zmap, data.rmap)
    factor = factorize(lams, design, empty_response(data.plan, weights.dtype), data.plan)
    return factor, design


def _newton_direction(u: tuple, x: jax.Array, data) -> tuple:
    """The Newton direction ``(Lambda'Z'WZ Lambda + I)^{-1} (-grad_u h)`` with the model's
    curvature W (Fisher's for lme4's families, the floored observed one otherwise)."""
    p = split_params(x, data.layout)
    eta = eta_of(u, x, data)
    _, score, observed = eta_derivatives(eta, p, data)
    weights = data.conditional.newton_weights(eta, observed, p, data)
    factor, design = penalised_factor(weights, x, data)
    first, rest = lambda_t_z_t(score, x, data)
    return z_solve(factor, first - u[0], rest - u[1], design, data.plan)


def _find_mode(x: jax.Array, u0: tuple, data) -> tuple:
    """Minimise h(u) from u0 by Newton steps (the model's curvature) with step halving."""
    return damped_newton(penalised_objective, _newton_direction, x, u0, data)


def _observed_solve(u: tuple, x: jax.Array, data, r: tuple) -> tuple:
    """``H^{-1} r`` with H the exact (observed) Hessian of h at u."""
    _, _, observed = eta_derivatives(eta_of(u, x, data), split_params(x, data.layout), data)
    factor, design = penalised_factor(observed, x, data)
    return z_solve(factor, r[0], r[1], design, data.plan)


#: The conditional mode u~(x) = argmin_u h(u), started from u0 (the result does not depend on
#: u0), differentiable in x by the implicit function theorem: ``conditional_mode(x, u0, data)``
#: with x (n_params,) the outer parameters (the blocks of ``data.layout``), u0 and the result
#: (first (L1, S1), rest (q_rest,)) spherical effects, data the model's (GLMMData, OrdinalData).
conditional_mode = implicit_mode(_find_mode, penalised_gradient, _observed_solve)


def zero_effects(data, dtype=np.float64) -> tuple:
    """Spherical effects of zeros, (first (L1, S1), rest (q_rest,)), as NumPy arrays (the
    host's start of a fit needs no compiled program; traced, they are constants)."""
    lay = data.plan.terms[0]
    dtype = np.dtype(dtype)
    return np.zeros((lay.n_levels, lay.size), dtype), np.zeros(data.plan.n_rest, dtype)


@jax.jit
def laplace_curvature(u: tuple, x: jax.Array, data) -> jax.Array:
    """(n,) the curvature W of the Laplace log-determinant at spherical effects u (the
    conditional modes, for the conditional covariances of the random effects). Compiled as
    one program: the results call it on host arrays."""
    return data.conditional.laplace_weights(eta_of(u, x, data), split_params(x, data.layout),
                                            data)


def laplace_at(u: tuple, x: jax.Array, data):
    """(deviance, factor) of the Laplace approximation at outer parameters x, taken at
    spherical effects u (the conditional mode, or the joint mode of ``nAGQ = 0``)."""
    eta = eta_of(u, x, data)
    p = split_params(x, data.layout)
    model = data.conditional
    ll = jnp.sum(model.log_density(eta, p, data)) + data.log_constant
    factor, _ = penalised_factor(model.laplace_weights(eta, p, data), x, data)
    penalty = jnp.sum(u[0] ** 2) + jnp.sum(u[1] ** 2)
    return -2.0 * ll + penalty + z_log_det(factor, data.plan), factor


def laplace_parts(x: jax.Array, data, u0: tuple | None = None):
    """(deviance, mode u, factor) of the Laplace approximation at outer parameters x."""
    u = conditional_mode(x, zero_effects(data, x.dtype) if u0 is None else u0, data)
    deviance, factor = laplace_at(u, x, data)
    return deviance, u, factor


def laplace_deviance(x: jax.Array, data, u0: tuple | None = None
                     ) -> tuple[jax.Array, tuple]:
    """-2 log-likelihood of the model by the Laplace approximation (lme4's nAGQ = 1 deviance)
    at outer parameters x (n_params,) = (theta, beta, beta_zi, beta_disp, psi) as
    ``data.layout`` says (theta in computation order; lme4's families: (theta, beta, log phi);
    a cumulative link model: (theta, beta, tau)), and the conditional mode
    (first (L1, S1), rest (q_rest,)) it was taken at.

    ``u0`` only starts the search for the mode (e.g. the mode at a nearby x, as an optimiser
    passes it along); the value does not depend on it beyond the inner tolerance.
    """
    deviance, u, _ = laplace_parts(x, data, u0)
    return deviance, u
