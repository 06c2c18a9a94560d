r"""Kenward-Roger: the adjusted covariance of beta and denominator df (pbkrtest's method).

pbkrtest writes the marginal covariance as linear in its variance parameters ``varpar`` (k,):
for each random-effects term the lower triangle of its covariance matrix ``D_t`` (column by
column), then the residual variance ``sigma^2``,

.. math::  \Sigma(\text{varpar}) = \sigma^2 W^{-1} + \sum_t Z_t (I_{L_t} \otimes D_t) Z_t'
           = \sum_i \text{varpar}_i G_i

(``W`` the prior weights; pbkrtest has ``W = I``). With ``F = X'\Sigma^{-1}X`` and
``\Phi = F^{-1}`` (= vcov(beta)), Kenward and Roger (1997) need

* ``P_i = -X'\Sigma^{-1} G_i \Sigma^{-1} X``, which is ``\partial F / \partial\,\text{varpar}_i``;
* ``Q_{ij} = X'\Sigma^{-1} G_i \Sigma^{-1} G_j \Sigma^{-1} X``; as Sigma is linear,
  ``\partial^2 F / \partial_i \partial_j = Q_{ij} + Q_{ji}``, and only that symmetric part enters
  ``\sum_{ij} W_{ij} Q_{ij}``;
* ``W = 2\,\mathcal{I}^{-1}`` with pbkrtest's expected REML information
  ``\mathcal{I}_{ij} = \operatorname{tr}(P G_i P G_j)``,
  ``P = \Sigma^{-1} - \Sigma^{-1} X \Phi X' \Sigma^{-1}``. This equals minus the Hessian of
  ``\ell = \log|\Sigma| + \log|F|`` (the varpar-dependent part of -2 times the REML
  log-likelihood without its residual term).

Then (pbkrtest's ``vcovAdj``)

.. math::  \Phi_A = \Phi + 2 \Phi U \Phi, \qquad
           U = \sum_{ij} W_{ij}\left(\tfrac12 \partial_i\partial_j F - P_i \Phi P_j\right).

Both ``F`` and ``\ell`` come from the blocked Cholesky factor at the relative covariance
factors ``\Lambda_t = \operatorname{chol}(D_t/\sigma^2)``:
``F = L_X L_X' / \sigma^2`` and ``\ell = (n - p)\log\sigma^2 + \log|L_Z|^2 + \log|L_X|^2`` (plus
a constant), so one forward-over-forward pass of ``jax.jacfwd`` gives every ingredient exactly,
and no ``n x n`` matrix is ever formed.

At a singular fit (a ``D_t`` with a zero eigenvalue, e.g. theta = 0) the map from ``D_t`` to its
Cholesky factor is not differentiable, although ``F`` and ``\ell`` are smooth there. Such a
block is then evaluated at ``D_t/\sigma^2 + \varepsilon \operatorname{diag}(1/\bar a_t)`` with
``\varepsilon = 10^{-8}`` and ``\bar a_t`` the mean over levels of the diagonal of the term's
``Z'WZ`` block (so that the shift is ``\varepsilon`` relative to the data); the results then
differ from pbkrtest's values at the boundary by about ``10^{-8}`` relative.

References:
    Kenward, M. G. and Roger, J. H. (1997). Small sample inference for fixed effects from
    restricted maximum likelihood. Biometrics 53, 983-997.
    Halekoh, U. and Hojsgaard, S. (2014). A Kenward-Roger approximation and parametric
    bootstrap methods for tests in linear mixed models - the R package pbkrtest. JSS 59(9).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from interlace_jax.linalg import factorize
from interlace_jax.models import LMMData, deviance_parts, forward_derivatives
from interlace_jax.optim import FEW_CALLS
from interlace_jax.terms import lambda_blocks, n_theta, tril_positions

#: Relative shift of a singular covariance block (see the module docstring).
BOUNDARY_SHIFT = 1e-8


def covariance_parameters(theta: np.ndarray, sigma: float, sizes) -> np.ndarray:
    """pbkrtest's variance parameters (k,) at theta (n_theta,) and sigma.

    Args:
        theta: relative covariance parameters, computation order.
        sigma: residual standard deviation.
        sizes: S_t of each term, computation order.

    Returns:
        Per term the lower triangle of ``D_t = sigma^2 Lambda_t Lambda_t'`` in column-major
        order (lme4's theta order), then ``sigma^2``.
    """
    out = []
    for lam, size in zip(lambda_blocks(np.asarray(theta), sizes), sizes):
        rows, cols = tril_positions(size)
        out.append((sigma**2 * lam @ lam.T)[rows, cols])
    return np.concatenate(out + [np.array([sigma**2])])


def small_cholesky(a: jax.Array) -> jax.Array:
    """Lower Cholesky factor of a small (S, S) matrix, unrolled in jax.numpy.

    Avoids jaxlib's LAPACK kernel, whose batched form (under ``jacfwd``) splits work over
    XLA's CPU thread pool and can deadlock on few cores.
    """
    size = a.shape[0]
    low = [[jnp.zeros((), a.dtype)] * size for _ in range(size)]
    for j in range(size):
        low[j][j] = jnp.sqrt(a[j, j] - sum(low[j][k] ** 2 for k in range(j)))
        for i in range(j + 1, size):
            low[i][j] = (a[i, j] - sum(low[i][k] * low[j][k] for k in range(j))) / low[j][j]
    return jnp.stack([jnp.stack(row) for row in low])


def _relative_factors(varpar: jax.Array, sizes, shifts) -> list:
    """Per term the Cholesky factor (S_t, S_t) of ``D_t / sigma^2 + shift_t``."""
    s2, lams, start = varpar[-1], [], 0
    for size, shift in zip(sizes, shifts):
        rows, cols = tril_positions(size)
        lower = jnp.zeros((size, size), varpar.dtype).at[rows, cols].set(
            varpar[start : start + n_theta(size)])
        lams.append(small_cholesky((lower + jnp.tril(lower, -1).T) / s2 + shift))
        start += n_theta(size)
    return lams


def kr_outputs(varpar: jax.Array, data: LMMData, shifts) -> jax.Array:
    """(1 + p^2,) ``ell`` (up to a constant) and ``F = X' Sigma^{-1} X`` flattened, at varpar (k,).

    ``shifts`` holds one (S_t, S_t) array per term, added to ``D_t / sigma^2`` (zeros away
    from the boundary).
    """
    plan = data.plan
    lams = _relative_factors(varpar, [t.size for t in plan.terms], shifts)
    factor = factorize(lams, data.design, data.response, plan)
    logdet_z, logdet_x, _ = deviance_parts(factor, plan)
    q, p = plan.n_rest, plan.n_fixed
    s2 = varpar[-1]
    lxx = factor.rest[q : q + p, q : q + p]
    ell = (data.design.n_obs - p) * jnp.log(s2) + logdet_z + logdet_x
    return jnp.concatenate([ell[None], (lxx @ lxx.T / s2).ravel()])


def kr_derivatives(varpar: jax.Array, data: LMMData, shifts):
    """Values (1 + p^2,), Jacobian (1 + p^2, k) and Hessian (1 + p^2, k, k) of
    :func:`kr_outputs`, by forward-over-forward differentiation."""

    return forward_derivatives(lambda v: kr_outputs(v, data, shifts), varpar)


_kr_derivatives = jax.jit(kr_derivatives, compiler_options=FEW_CALLS)


def design_scales(data: LMMData) -> list[np.ndarray]:
    """Per term (computation order), the mean over levels of its Z'WZ block's diagonal (S_t,)."""
    design, plan = jax.device_get(data.design), data.plan
    out = [np.mean(np.diagonal(np.asarray(design.a11), axis1=1, axis2=2), axis=0)]
    diag = np.diagonal(np.asarray(design.arr))
    for lay in plan.terms[1:]:
        block = diag[lay.offset : lay.offset + lay.n_levels * lay.size]
        out.append(block.reshape(lay.n_levels, lay.size).mean(axis=0))
    return [np.maximum(a, np.finfo(float).tiny) for a in out]


def boundary_shifts(theta: np.ndarray, data: LMMData) -> list[np.ndarray]:
    """Per term the (S_t, S_t) shift of ``D_t / sigma^2``: ``BOUNDARY_SHIFT diag(1/a_t)`` when
    the block scaled by the data, ``diag(sqrt a) Lambda Lambda' diag(sqrt a)``, has an
    eigenvalue below BOUNDARY_SHIFT, else zeros."""
    sizes = [t.size for t in data.plan.terms]
    out = []
    for lam, scale in zip(lambda_blocks(np.asarray(theta), sizes), design_scales(data)):
        root = np.sqrt(scale)
        scaled = root[:, None] * (lam @ lam.T) * root[None, :]
        singular = np.linalg.eigvalsh(scaled)[0] < BOUNDARY_SHIFT
        out.append(np.diag(BOUNDARY_SHIFT / scale) if singular else np.zeros((lam.shape[0],) * 2))
    return out


@dataclass(frozen=True)
class KenwardRoger:
    """Kenward-Roger ingredients at the REML optimum (k variance parameters, p fixed effects).

    Attributes:
        vcov: (p, p) Phi = (X' Sigma^{-1} X)^{-1}, the unadjusted vcov(beta).
        vcov_adj: (p, p) Phi_A, pbkrtest's ``vcovAdj``.
        jacobian: (k, p, p) P_i = dF / dvarpar_i.
        weight: (k, k) W = 2 I^{-1} (a pseudo-inverse when I is numerically singular, as
            pbkrtest: smallest absolute eigenvalue below 1e-10).
        information: (k, k) the expected information I_ij = tr(P G_i P G_j).
        varpar: (k,) the variance parameters.
        shifted: True when a singular block was evaluated off the boundary.
    """

    vcov: np.ndarray
    vcov_adj: np.ndarray
    jacobian: np.ndarray
    weight: np.ndarray
    information: np.ndarray
    varpar: np.ndarray
    shifted: bool


def kenward_roger(theta: np.ndarray, sigma: float, data: LMMData) -> KenwardRoger:
    """Kenward-Roger ingredients at a REML optimum (theta (n_theta,), computation order).

    Call inside ``interlace_jax.x64()``. The caller checks that the fit is REML.
    """
    sizes = [t.size for t in data.plan.terms]
    varpar = covariance_parameters(theta, sigma, sizes)
    shifts = boundary_shifts(theta, data)
    out, jac, hess = jax.device_get(_kr_derivatives(
        jnp.asarray(varpar), data, [jnp.asarray(s) for s in shifts]))
    p, k = data.plan.n_fixed, varpar.size
    vcov = np.linalg.inv(out[1:].reshape(p, p))
    vcov = (vcov + vcov.T) / 2
    dF = np.moveaxis(jac[1:].reshape(p, p, k), 2, 0)
    d2F = np.moveaxis(hess[1:].reshape(p, p, k, k), (2, 3), (0, 1))
    info = -hess[0]
    info = (info + info.T) / 2
    if np.min(np.abs(np.linalg.eigvalsh(info))) > 1e-10:
        weight = 2.0 * np.linalg.inv(info)
    else:
        weight = 2.0 * np.linalg.pinv(info, hermitian=True)
    u = 0.5 * np.einsum("ij,ijab->ab", weight, d2F)
    u -= np.einsum("ij,iac,cd,jdb->ab", weight, dF, vcov, dF)
    adj = vcov + 2.0 * vcov @ u @ vcov
    return KenwardRoger(
        vcov=vcov, vcov_adj=(adj + adj.T) / 2, jacobian=dF, weight=weight, information=info,
        varpar=varpar, shifted=any(np.any(s) for s in shifts),
    )


def _div_zero(x: float, y: float, tol: float = 1e-14) -> float:
    """x / y, or 1 when both are below tol in absolute value (pbkrtest's convention)."""
    return 1.0 if abs(x) < tol and abs(y) < tol else x / y


def kr_ddf(contrasts: np.ndarray, kr: KenwardRoger) -> tuple[float, float]:
    r"""Kenward-Roger denominator df and F scaling of the joint test of ``contrasts`` (q, p).

    ``contrasts`` must have full row rank q. With ``\Theta = L'(L\Phi L')^{-1}L`` and
    ``u_i = \Theta\Phi P_i\Phi``: ``A_1 = \sum_{ij} W_{ij} \operatorname{tr}u_i
    \operatorname{tr}u_j``, ``A_2 = \sum_{ij} W_{ij} \operatorname{tr}(u_i u_j)``, and the df
    ``m`` and scaling ``\lambda`` of Kenward and Roger (1997, section 4) in pbkrtest's form
    (``F = \lambda \cdot \text{Wald}/q \sim F(q, m)``). For q = 1, ``\lambda = 1`` and ``m`` is
    the Satterthwaite-type df ``2 (l'\Phi l)^2 / (g' W g)``, ``g_i = l'\Phi P_i \Phi l``.

    Returns:
        (ddf, F scaling).
    """
    L = np.atleast_2d(np.asarray(contrasts, dtype=float))
    q = L.shape[0]
    phi = kr.vcov
    theta = L.T @ np.linalg.solve(L @ phi @ L.T, L)
    u = (theta @ phi) @ kr.jacobian @ phi  # (k, p, p): u_i = Theta Phi P_i Phi
    tr = np.trace(u, axis1=1, axis2=2)
    k = u.shape[0]
    a1 = float(tr @ kr.weight @ tr)
    a2 = float(np.sum(kr.weight * (u.reshape(k, -1) @ u.transpose(0, 2, 1).reshape(k, -1).T)))
    b = (a1 + 6.0 * a2) / (2.0 * q)
    g = ((q + 1) * a1 - (q + 4) * a2) / ((q + 2) * a2)
    denom = 3.0 * q + 2.0 * (1.0 - g)
    c1, c2, c3 = g / denom, (q - g) / denom, (q + 2 - g) / denom
    v0, v1, v2 = 1.0 + c1 * b, 1.0 - c2 * b, 1.0 - c3 * b
    v0 = 0.0 if abs(v0) < 1e-10 else v0
    rho = _div_zero(1.0 - a2 / q, v1) ** 2 * v0 / v2 / q
    ddf = 4.0 + (q + 2.0) / (q * rho - 1.0)
    scaling = 1.0 if abs(ddf - 2.0) < 0.01 else ddf * (1.0 - a2 / q) / (ddf - 2.0)
    return float(ddf), float(scaling)
