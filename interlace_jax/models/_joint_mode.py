r"""The joint penalised mode of the random and the fixed effects (lme4's PIRLS at ``nAGQ = 0``).

For theta fixed, ``(u~, beta~)`` minimise ``h(u, beta) = -log p(y | u, beta) + |u|^2 / 2``
together. Each damped Newton step (the shared :func:`~interlace_jax.models._newton_mode.
damped_newton`) solves the joint system with the model's curvature W (Fisher's for lme4's
families)

.. math::

    \begin{pmatrix} M & C \\ C' & X'WX \end{pmatrix}
    \begin{pmatrix} \delta u \\ \delta\beta \end{pmatrix}
    = \begin{pmatrix} \Lambda'Z'(s) - u \\ X's \end{pmatrix},
    \quad M = \Lambda'Z'WZ\Lambda + I, \quad C = \Lambda'Z'WX

(s the score in eta) by the blocked factor of M and the p x p Schur complement
``S = X'WX - C'M^{-1}C``, which at the mode is lme4's ``RX'RX``: its inverse is the fixed
effects' covariance of an ``nAGQ = 0`` fit. Only for models whose outer parameters are
(theta, beta).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from interlace_jax.linalg import z_solve
from interlace_jax.models._laplace import (
    eta_derivatives,
    eta_of,
    lambda_t_z_t,
    laplace_at,
    penalised_factor,
    penalised_objective,
)
from interlace_jax.models._newton_mode import damped_newton
from interlace_jax.models._params import split_params


def _joint_h(v: tuple, theta: jax.Array, data) -> jax.Array:
    """h at v = (u_first (L1, S1), u_rest (q_rest,), beta (p,))."""
    return penalised_objective(v[:2], jnp.concatenate([theta, v[2]]), data)


def _joint_system(v: tuple, theta: jax.Array, data):
    """The parts of the joint Newton system at v: (x = (theta, beta), score (n,), factor and
    design of M, C' as (first (p, L1, S1), rest (p, q_rest)), M^{-1} C likewise, S (p, p))."""
    x = jnp.concatenate([theta, v[2]])
    p = split_params(x, data.layout)
    eta = eta_of(v[:2], x, data)
    _, score, observed = eta_derivatives(eta, p, data)
    w = data.conditional.newton_weights(eta, observed, p, data)
    factor, design = penalised_factor(w, x, data)
    X = data.rmap.x
    c_first, c_rest = jax.vmap(lambda col: lambda_t_z_t(w * col, x, data), in_axes=1)(X)
    m_first, m_rest = jax.vmap(lambda a, b: z_solve(factor, a, b, design, data.plan))(
        c_first, c_rest)
    schur = X.T @ (w[:, None] * X) - (jnp.einsum("jls,kls->jk", c_first, m_first)
                                      + c_rest @ m_rest.T)
    return x, score, factor, design, (c_first, c_rest), (m_first, m_rest), schur


def _joint_direction(v: tuple, theta: jax.Array, data) -> tuple:
    """The joint Newton direction (du_first, du_rest, dbeta) by block elimination."""
    x, score, factor, design, c, m, schur = _joint_system(v, theta, data)
    s_first, s_rest = lambda_t_z_t(score, x, data)
    mr_first, mr_rest = z_solve(factor, s_first - v[0], s_rest - v[1], design, data.plan)
    rhs = data.rmap.x.T @ score - (jnp.einsum("jls,ls->j", c[0], mr_first) + c[1] @ mr_rest)
    d_beta = jnp.linalg.solve(schur, rhs)
    return (mr_first - jnp.einsum("j,jls->ls", d_beta, m[0]), mr_rest - d_beta @ m[1], d_beta)


def joint_mode_deviance(theta: jax.Array, v0: tuple, data):
    """The nAGQ = 0 deviance at theta (n_theta,): the Laplace deviance at the joint mode.

    Args:
        theta: relative covariance parameters, computation order.
        v0: (u_first (L1, S1), u_rest (q_rest,), beta (p,)) where the search starts.
        data: the model's GLMMData (outer parameters (theta, beta) only).

    Returns:
        (deviance, the joint mode v, S (p, p): the Schur complement ``RX'RX`` there).
    """
    v = damped_newton(_joint_h, _joint_direction, theta, v0, data)
    deviance, _ = laplace_at(v[:2], jnp.concatenate([theta, v[2]]), data)
    return deviance, v, _joint_system(v, theta, data)[-1]
