r"""ML deviances with one parameter held fixed: the objectives that profile likelihood minimises.

Profiling follows lme4's ``profile.merMod``: the parameters are, in lme4's order, the standard
deviations and correlations of each term's random effects, the residual SD sigma, then the
fixed effects. The deviance is always the ML deviance ``-2 log L(theta, beta, sigma)``
(lme4's ``devfun2`` refits REML fits by ML before profiling), with beta profiled out:

.. math::

    d(\theta, \sigma) = \log|L_Z|^2 + \frac{r^2(\theta)}{\sigma^2} + n \log(2\pi\sigma^2)
        - \sum_i \log w_i .

To hold one variance parameter at a value ``c`` and optimise the others with an unconstrained
Newton method, the other parameters are written as an unconstrained vector ``u`` with the
constraint built in (rather than lme4's box-constrained sd/cor coordinates):

* ``sigma = c``: ``u = theta`` (all of it).
* SD of effect ``k`` of term ``t`` is ``c``: ``u = theta`` and ``sigma = c / |Lambda_t[k, :]|``,
  since that SD is ``sigma |Lambda_t[k, :]|``.
* correlation of effects ``k`` and ``l`` of term ``t`` is ``c``: with ``P`` the permutation that
  brings ``l`` and ``k`` to the front, ``Sigma_t / sigma^2 = P' L L' P`` with ``L`` lower
  triangular, ``L[0, 0] = |a|`` and row 1 of ``L`` equal to ``|b| (c, sqrt(1 - c^2), 0, ...)``;
  the entry ``L[1, 0]`` of ``u`` is unused (the caller keeps it out of the free set) and sigma
  is profiled, ``sigma^2 = r^2 / n``.
* an SD at its bound 0: row ``k`` of ``Lambda_t`` is held at 0 and sigma is profiled.

The blocked factorisation accepts any square factor per term (the determinant and the
penalised residual sum of squares depend only on ``Lambda_t Lambda_t'``), so ``P' L`` is used
as it is. A fixed effect ``beta_j = c`` is profiled as lme4 does, by moving ``c x_j`` into an
offset: the model without column ``j`` is fitted to ``y - c x_j``, whose cross-products are
linear (and ``y'Wy`` quadratic) in ``c``, so every value of ``c`` reuses one compiled function.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from interlace_jax.linalg import factorize
from interlace_jax.models import (
    LMMData,
    ResponseProducts,
    deviance_parts,
    factor_at,
    objective_from_factor,
)
from interlace_jax.terms import lambda_factor, theta_slices

#: sigma_mode values of :class:`ProfileSpec`.
SIGMA_FIXED, SIGMA_FROM_ROW, SIGMA_PROFILED = 0, 1, 2


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class ProfileSpec:
    """Which parameter is held where (all leaves, so one compiled function serves them all).

    Attributes:
        sigma_mode: () int, SIGMA_FIXED (sigma = sigma_value), SIGMA_FROM_ROW (sigma =
            sigma_value / sqrt(row_mask @ u^2)) or SIGMA_PROFILED (sigma^2 = r^2 / n).
        sigma_value: () the held sigma, or the held SD for SIGMA_FROM_ROW (1 otherwise).
        row_mask: (n_theta,) 1 on the entries of u in the held SD's row of Lambda_t.
        cor_flags: (n_terms,) 1 for the term whose correlation is held, else 0.
        cor_value: () the held correlation (0 when none is held).
        perms: per term (S_t, S_t) permutation matrix P (identity unless a correlation of that
            term is held).
    """

    sigma_mode: jax.Array
    sigma_value: jax.Array
    row_mask: jax.Array
    cor_flags: jax.Array
    cor_value: jax.Array
    perms: tuple


def term_factors(u: jax.Array, spec: ProfileSpec, sizes: tuple[int, ...]) -> list:
    """Per term (computation order) its (S_t, S_t) factor ``P' L(u_t)``; see the module doc."""
    out = []
    for t, (sl, size) in enumerate(zip(theta_slices(sizes), sizes)):
        lam = lambda_factor(u[sl], size)
        if size > 1:
            held = spec.cor_flags[t] > 0
            a, b = jnp.abs(lam[0, 0]), jnp.abs(lam[1, 1])
            c = spec.cor_value
            lam = lam.at[0, 0].set(jnp.where(held, a, lam[0, 0]))
            lam = lam.at[1, 0].set(jnp.where(held, c * b, lam[1, 0]))
            lam = lam.at[1, 1].set(jnp.where(held, jnp.sqrt(1.0 - c * c) * b, lam[1, 1]))
            lam = spec.perms[t].T @ lam
        out.append(lam)
    return out


def profile_value(u: jax.Array, spec: ProfileSpec, data: LMMData) -> tuple[jax.Array, jax.Array]:
    """(ML deviance, sigma) with the parameter of ``spec`` held; u (n_theta,), see module doc."""
    plan = data.plan
    sizes = tuple(lay.size for lay in plan.terms)
    factor = factorize(term_factors(u, spec, sizes), data.design, data.response, plan)
    logdet_z, _, pwrss = deviance_parts(factor, plan)
    n = data.design.n_obs
    norm2 = jnp.where(spec.sigma_mode == SIGMA_FROM_ROW, spec.row_mask @ (u * u), 1.0)
    s2 = jnp.where(spec.sigma_mode == SIGMA_PROFILED, pwrss / n, spec.sigma_value**2 / norm2)
    value = logdet_z + pwrss / s2 + n * jnp.log(2.0 * jnp.pi * s2) - data.design.log_weights_sum
    return value, jnp.sqrt(s2)


def profile_deviance(u: jax.Array, spec: ProfileSpec, data: LMMData) -> jax.Array:
    """The deviance of :func:`profile_value` alone (a scalar, for derivatives)."""
    return profile_value(u, spec, data)[0]


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class OffsetProducts:
    """Cross-products of one fixed-effect column ``x_j`` (n,) for profiling ``beta_j``.

    Attributes:
        x: ResponseProducts of ``x_j`` against the model without column j (Z1'Wx_j, Z_rest'Wx_j,
            X_{-j}'Wx_j, x_j'Wx_j).
        xy: () x_j'Wy.
    """

    x: ResponseProducts
    xy: jax.Array


def shifted_response(response: ResponseProducts, off: OffsetProducts, c) -> ResponseProducts:
    """Products of ``y - c x_j`` from those of y and of x_j."""
    x = off.x
    return ResponseProducts(
        yz1=response.yz1 - c * x.yz1,
        yr=response.yr - c * x.yr,
        xy=response.xy - c * x.xy,
        yy=response.yy - 2.0 * c * off.xy + c * c * x.yy,
    )


def fixed_profile_value(
    theta: jax.Array, c, data: LMMData, off: OffsetProducts
) -> tuple[jax.Array, jax.Array]:
    """(ML deviance, sigma) at theta with ``beta_j = c``; ``data`` is the model without column j."""
    shifted = LMMData(data.design, shifted_response(data.response, off, c), data.plan)
    value, pwrss, _, dof = objective_from_factor(factor_at(theta, shifted), shifted, False)
    return value, jnp.sqrt(pwrss / dof)


def fixed_profile_deviance(theta: jax.Array, c, data: LMMData, off: OffsetProducts) -> jax.Array:
    """The deviance of :func:`fixed_profile_value` alone (a scalar, for derivatives)."""
    return fixed_profile_value(theta, c, data, off)[0]
