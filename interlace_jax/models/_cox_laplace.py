r"""The Laplace-approximated integrated partial likelihood of a Cox model with Gaussian random
effects (Ripatti & Palmgren 2000; R's coxme), on the shared inner-mode engine.

For the variance parameters theta (the outer parameters; lme4's relative factors, b = Lambda u),
the inner problem maximises the penalised partial likelihood over the random *and* the fixed
effects together, v = (u, beta):

.. math::

    h(v) = -\ell(X\beta + Z\Lambda u + o) + \|u\|^2 / 2,

and coxme's integrated log partial likelihood is

.. math::

    \mathrm{IPL}(\theta) = -h(\tilde v) - \tfrac12 \log\det(\Lambda' Z' W Z \Lambda + I)

with W the negative Hessian of the partial likelihood in eta at the mode: the leading block of
the Hessian H of h in (u, beta), whose log-determinant is the sum over the random effects'
pivots of H's Cholesky factor. The deviance returned is ``-2 IPL``.

H is ``C' diag(omega) C - G'G + (I, 0)`` in the coordinates of v, from the dense design
``C = [Z Lambda, X]`` (n x (q + p)) and the diagonal part and rank-one terms of
:mod:`~interlace_jax.models._cox`; memory grows as n (q + p) and (events) (q + p), which suits
models up to a few thousand random effects. It is factorised as an arrowhead
(:mod:`~interlace_jax.linalg._arrow`). With coxme's *sparse* approximation (a random intercept
with many small levels), the block of those levels keeps only its diagonal: the Newton
direction, the log-determinant and the reported covariances use that approximation, as coxme
does, while the mode is still the exact one (the gradient is exact) and its derivatives use the
exact Hessian. Newton steps recentre such a term (the partial likelihood does not change when
all its levels shift together), as coxme does.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from interlace_jax.linalg import cholesky, solve_lower, solve_lower_transposed
from interlace_jax.linalg._arrow import (
    ArrowFactor,
    arrow_factor,
    arrow_inverse_diagonal,
    arrow_log_det,
    arrow_solve,
)
from interlace_jax.models._cox import curvature, partial_loglik, risk_sums, tie_sums
from interlace_jax.models._cox_data import CoxData
from interlace_jax.models._newton_mode import damped_newton, implicit_mode
from interlace_jax.terms import lambda_factor, theta_slices


def theta_all(x: jax.Array, data: CoxData) -> jax.Array:
    """(all theta,) the estimated theta x (n_theta,) merged with the fixed ones; a NumPy
    array for a NumPy x (the host's result needs no compiled program)."""
    lay = data.layout
    xp = np if isinstance(x, np.ndarray) else jnp
    fixed = xp.asarray(data.theta_fixed)
    slices = theta_slices(lay.sizes)
    pieces, start = [], 0
    for t, sl in enumerate(slices):
        if t in lay.free_terms:
            width = sl.stop - sl.start
            pieces.append(x[start : start + width])
            start += width
        else:
            pieces.append(fixed[sl])
    return xp.concatenate(pieces) if pieces else fixed


def term_lambdas(x: jax.Array, data: CoxData) -> list[jax.Array]:
    """Per term, the (S_t, S_t) lower-triangular factor Lambda_t."""
    theta = theta_all(x, data)
    return [lambda_factor(theta[sl], s)
            for sl, s in zip(theta_slices(data.layout.sizes), data.layout.sizes)]


def design_matrix(x: jax.Array, data: CoxData) -> jax.Array:
    """(n, q + p) the design C = [Z Lambda, X] of v = (u, beta), dense."""
    n = data.x.shape[0]
    rows = jnp.arange(n)[:, None]
    z_lambda = jnp.zeros((n, data.layout.n_random), data.x.dtype)
    for codes, z, lam in zip(data.codes, data.z, term_lambdas(x, data)):
        z_lambda = z_lambda.at[rows, codes].add(z @ lam)
    return jnp.concatenate([z_lambda, data.x], axis=1)


def _split(full: jax.Array, data: CoxData) -> tuple[jax.Array, jax.Array]:
    q = data.layout.n_random
    return full[:q], full[q:]


def _eta(v: tuple, design: jax.Array, data: CoxData) -> jax.Array:
    return design @ jnp.concatenate(v) + data.offset


def _objective(v: tuple, design: jax.Array, data: CoxData) -> jax.Array:
    return -partial_loglik(_eta(v, design, data), data) + 0.5 * jnp.sum(v[0] ** 2)


def _gradient(v: tuple, design: jax.Array, data: CoxData) -> tuple:
    score = curvature(_eta(v, design, data), data)[0]
    g_u, g_beta = _split(design.T @ score, data)
    return v[0] - g_u, -g_beta


def _hessian(v: tuple, design: jax.Array, data: CoxData) -> jax.Array:
    """(q + p, q + p) the exact Hessian of h: C' diag(omega) C - G'G + (I_q, 0)."""
    _, omega, e, scale = curvature(_eta(v, design, data), data)
    weighted = e[:, None] * design
    at_risk = risk_sums(weighted, data)
    tied = tie_sums(weighted, data)
    g = scale[:, None] * (at_risk[data.term_group] - data.term_coef[:, None] * tied[data.term_group])
    q = data.layout.n_random
    penalty = (jnp.arange(design.shape[1]) < q).astype(design.dtype)
    return design.T @ (omega[:, None] * design) - g.T @ g + jnp.diag(penalty)


def _approximate_factor(hessian: jax.Array, data: CoxData) -> ArrowFactor:
    """The arrowhead factor of H with coxme's sparse approximation: the sparse levels' block
    of H replaced by its diagonal (the exact factor when there are none)."""
    m = data.layout.n_sparse
    return arrow_factor(jnp.diagonal(hessian)[:m], hessian[m:, :m], hessian[m:, m:])


def _solve_flat(factor: ArrowFactor, full: jax.Array, m: int) -> jax.Array:
    x_diag, x_dense = arrow_solve(factor, full[:m], full[m:])
    return jnp.concatenate([x_diag, x_dense])


def _direction(v: tuple, design: jax.Array, data: CoxData) -> tuple:
    lay = data.layout
    g = jnp.concatenate(_gradient(v, design, data))
    factor = _approximate_factor(_hessian(v, design, data), data)
    d_u, d_beta = _split(-_solve_flat(factor, g, lay.n_sparse), data)
    if lay.recentre:
        first = lay.levels[0]
        shift = jnp.mean(v[0][:first] + d_u[:first])
        d_u = d_u.at[:first].add(-shift)
    return d_u, d_beta


def eta_of(v: tuple, x: jax.Array, data: CoxData) -> jax.Array:
    """(n,) linear predictor at v = (u (q,), beta (p,))."""
    return _eta(v, design_matrix(x, data), data)


def penalised_objective(v: tuple, x: jax.Array, data: CoxData) -> jax.Array:
    """() h(v) = -log partial likelihood + |u|^2 / 2."""
    return _objective(v, design_matrix(x, data), data)


def penalised_gradient(v: tuple, x: jax.Array, data: CoxData) -> tuple:
    """grad_v h = (u, 0) - C' (d loglik / d eta), as (u-part (q,), beta-part (p,))."""
    return _gradient(v, design_matrix(x, data), data)


def penalised_hessian(v: tuple, x: jax.Array, data: CoxData) -> jax.Array:
    """(q + p, q + p) the exact Hessian of h in v."""
    return _hessian(v, design_matrix(x, data), data)


def hessian_factor(v: tuple, x: jax.Array, data: CoxData) -> ArrowFactor:
    """The arrowhead factor of the Hessian of h at v (sparse approximation, if any)."""
    return _approximate_factor(penalised_hessian(v, x, data), data)


def _find_mode(x: jax.Array, v0: tuple, data: CoxData) -> tuple:
    return damped_newton(_objective, _direction, design_matrix(x, data), v0, data)


def _exact_solve(v: tuple, x: jax.Array, data: CoxData, r: tuple) -> tuple:
    """H^{-1} r with the exact Hessian (not the sparse approximation: only the derivatives of
    the mode need it)."""
    hessian = penalised_hessian(v, x, data)
    rhs = jnp.concatenate(r)
    if data.layout.n_sparse == 0:
        return _split(_solve_flat(_approximate_factor(hessian, data), rhs, 0), data)
    low = cholesky(hessian)
    return _split(solve_lower_transposed(low, solve_lower(low, rhs[:, None]))[:, 0], data)


#: The mode v~(x) = (u~, beta~) of h, differentiable in the outer parameters x (the estimated
#: theta) by the implicit function theorem: ``penalised_mode(x, v0, data)``.
penalised_mode = implicit_mode(_find_mode, penalised_gradient, _exact_solve)


def zero_start(data: CoxData, dtype=np.float64) -> tuple:
    """v = (zeros (q,), zeros (p,)), NumPy arrays (no compiled program for the host's start;
    traced, they are constants)."""
    dtype = np.dtype(dtype)
    return (np.zeros(data.layout.n_random, dtype), np.zeros(data.layout.n_fixed, dtype))


def cox_laplace_parts(x: jax.Array, data: CoxData, v0: tuple | None = None):
    """``(deviance, mode v, log partial likelihood, factor)`` at the estimated theta x."""
    v = penalised_mode(x, zero_start(data, x.dtype) if v0 is None else v0, data)
    pl = partial_loglik(eta_of(v, x, data), data)
    factor = hessian_factor(v, x, data)
    lay = data.layout
    log_det = arrow_log_det(factor, lay.n_random - lay.n_sparse)
    return -2.0 * pl + jnp.sum(v[0] ** 2) + log_det, v, pl, factor


def cox_laplace_deviance(x: jax.Array, data: CoxData, v0: tuple | None = None
                         ) -> tuple[jax.Array, tuple]:
    """``-2 IPL(theta)`` (coxme's ``-2 loglik[2]``) at the estimated theta x, and the mode
    v = (u (q,), beta (p,)) it was taken at (v0 only starts the inner search)."""
    deviance, v, _, _ = cox_laplace_parts(x, data, v0)
    return deviance, v


def mode_summary(x: jax.Array, data: CoxData, v: tuple) -> dict:
    """What a fitted model reports at the estimated theta x and its mode v (as coxme, with the
    sparse approximation of H where it applies).

    Returns:
        dict of ``loglik`` () the log partial likelihood at the mode, ``loglik_null`` () at
        beta = 0, b = 0, ``log_det`` (), ``vcov`` (p, p) the fixed effects' block of H^{-1},
        ``inverse_diagonal_u`` (q,) the random effects' diagonal of H^{-1} (spherical scale).
    """
    lay = data.layout
    q, m, p = lay.n_random, lay.n_sparse, lay.n_fixed
    factor = hessian_factor(v, x, data)
    dtype = data.x.dtype
    unit = jnp.zeros((q + p - m, p), dtype).at[q - m :, :].set(jnp.eye(p, dtype=dtype))
    _, solved = arrow_solve(factor, jnp.zeros((m, p), dtype), unit)
    return dict(
        loglik=partial_loglik(eta_of(v, x, data), data),
        loglik_null=partial_loglik(data.offset, data),
        log_det=arrow_log_det(factor, q - m),
        vcov=solved[q - m :, :],
        inverse_diagonal_u=arrow_inverse_diagonal(factor)[:q],
    )
