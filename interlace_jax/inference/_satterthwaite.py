r"""Satterthwaite denominator degrees of freedom from exact derivatives (lmerTest's method).

The variance parameters are ``varpar = (theta, sigma)``. Their asymptotic covariance is
``A = 2 H^{-1}`` with ``H`` the Hessian of the (RE)ML deviance as a function of varpar (beta
profiled, sigma not):

.. math::  d(\theta, \sigma) = \nu \log(2\pi\sigma^2) + \log|L|^2(\theta) + r^2(\theta)/\sigma^2

(``nu = n - p`` and ``log|L|^2`` including ``R_X`` for REML). For a contrast ``l`` (p,), with
``v(varpar) = l' Var(beta_hat) l = sigma^2 l' (R_X'R_X)^{-1} l``:

.. math::  \text{df} = \frac{2 v^2}{\nabla v' A \nabla v}

lmerTest obtains ``H`` and ``\nabla v`` by finite differences (numDeriv). Here they are assembled
exactly from :class:`~interlace_jax.models.LMMDerivatives` (autodiff), using that the profiled
objective is ``f = nu (1 + log(2 pi r^2 / nu)) + log|L|^2``, so that
``(log|L|^2)'' = f'' - nu (log r^2)''``.
"""

from __future__ import annotations

import numpy as np

from interlace_jax.models import LMMDerivatives


def varpar_covariance(d: LMMDerivatives, sigma) -> tuple[np.ndarray, np.ndarray]:
    """(A, J) at the optimum: A (k+1, k+1) = 2 H^{-1} for varpar = (theta, sigma); J (p, p, k+1)
    the Jacobian of Var(beta_hat) with respect to varpar. Batched fits (every field of ``d``
    and ``sigma`` with the same leading dimensions ...) give A (..., k+1, k+1) and J
    (..., p, p, k+1)."""
    dof = np.asarray(d.dof, dtype=np.float64)
    sigma = np.asarray(sigma, dtype=np.float64)
    pwrss = np.exp(np.asarray(d.log_pwrss))
    lg, lh = np.asarray(d.log_pwrss_gradient), np.asarray(d.log_pwrss_hessian)
    pwrss_grad = pwrss[..., None] * lg
    pwrss_hess = pwrss[..., None, None] * (lh + lg[..., :, None] * lg[..., None, :])
    logdet_hess = np.asarray(d.hessian) - dof[..., None, None] * lh
    s2 = sigma**2
    k = lg.shape[-1]
    h = np.empty(lg.shape[:-1] + (k + 1, k + 1))
    h[..., :k, :k] = logdet_hess + pwrss_hess / s2[..., None, None]
    h[..., :k, k] = h[..., k, :k] = -2.0 * pwrss_grad / sigma[..., None] ** 3
    h[..., k, k] = -2.0 * dof / s2 + 6.0 * pwrss / sigma**4
    cov = np.asarray(d.cov_unscaled)
    jac = np.concatenate([s2[..., None, None, None] * np.asarray(d.cov_unscaled_jacobian),
                          (2.0 * sigma[..., None, None] * cov)[..., None]], axis=-1)
    return 2.0 * np.linalg.pinv(h, hermitian=True), jac


def coefficient_df(d: LMMDerivatives, sigma) -> np.ndarray:
    """Satterthwaite df (p,) of each fixed-effect coefficient at the optimum; (..., p) for
    batched fits (see :func:`varpar_covariance`)."""
    A, J = varpar_covariance(d, sigma)
    vcov = np.asarray(sigma, dtype=np.float64)[..., None, None] ** 2 * np.asarray(d.cov_unscaled)
    return satterthwaite_df(np.eye(vcov.shape[-1]), vcov, A, J)


def satterthwaite_df(contrasts: np.ndarray, vcov_beta: np.ndarray, A: np.ndarray,
                     J: np.ndarray) -> np.ndarray:
    """Denominator df (m,) of each row of ``contrasts`` (m, p); (..., m) for batched
    ``vcov_beta`` (..., p, p), ``A`` and ``J``."""
    v = np.einsum("mi,...ij,mj->...m", contrasts, vcov_beta, contrasts)
    grad = np.einsum("mi,...ijk,mj->...mk", contrasts, J, contrasts)
    return 2.0 * v**2 / np.einsum("...mk,...kl,...ml->...m", grad, A, grad)
