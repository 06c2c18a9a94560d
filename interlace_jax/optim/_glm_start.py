"""Starting values of a GLMM's fixed effects and dispersion: the GLM without random effects,
fitted by iteratively reweighted least squares on the host (R's ``glm.fit``, a few steps)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import numpy as np

from interlace_jax.families import Family


@dataclass(frozen=True)
class GLMStart:
    """The fixed-effects-only GLM fit.

    Attributes:
        beta: (p,) its coefficients.
        phi: the Pearson estimate of the dispersion (1 for families without one).
    """

    beta: np.ndarray
    phi: float


# The family's and link's functions are jax.numpy (the objectives trace them). Called on host
# arrays one by one, each of their operations would be compiled on its own, about 25 ms each
# (0.4 s of a first binomial fit); each step's functions are compiled together instead.


@partial(jax.jit, static_argnums=0)
def _start_terms(family: Family, mu: jax.Array) -> tuple:
    """(eta, dmu/deta, V(mu)), each (n,), at the starting mean mu (n,)."""
    eta = family.link.link(mu)
    return eta, family.link.mu_eta(eta), family.variance(mu)


@partial(jax.jit, static_argnums=0)
def _irls_terms(family: Family, eta: jax.Array) -> tuple:
    """(mu, dmu/deta, V(mu)), each (n,), at the linear predictor eta (n,)."""
    mu = family.link.inverse(eta)
    return mu, family.link.mu_eta(eta), family.variance(mu)


def glm_start(family: Family, X: np.ndarray, y: np.ndarray, weights: np.ndarray,
              offset: np.ndarray, steps: int = 25) -> GLMStart:
    """The fixed-effects-only GLM, from R's ``mustart`` (a few IRLS steps suffice: it only
    starts the Laplace optimisation)."""
    mu = np.asarray(family.start_mu(y, weights), dtype=float)
    eta, mu_eta, variance = (np.asarray(a, dtype=float) for a in _start_terms(family, mu))
    beta = np.zeros(X.shape[1])
    for _ in range(steps):
        w = weights * mu_eta**2 / variance
        z = eta - offset + (y - mu) / mu_eta
        sw = np.sqrt(w)
        new_beta = np.linalg.lstsq(X * sw[:, None], z * sw, rcond=None)[0]
        if not np.all(np.isfinite(new_beta)):
            break
        change = np.max(np.abs(new_beta - beta), initial=0.0)
        beta = new_beta
        eta = X @ beta + offset
        mu, mu_eta, variance = (np.asarray(a, dtype=float) for a in _irls_terms(family, eta))
        if change < 1e-8:
            break
    phi = family.dispersion_start(y, mu, weights) if family.has_dispersion else 1.0
    return GLMStart(beta, float(phi))


@dataclass(frozen=True)
class PartsStart:
    """Starting values of every fixed-effects block of a GLMM.

    Attributes:
        beta: (p,) the conditional mean's coefficients.
        zi: (k_zi,) the zero part's logit coefficients.
        disp: (k_disp,) the log-dispersion's coefficients (family's phi).
        psi: (n_psi,) the family parameters.
    """

    beta: np.ndarray
    zi: np.ndarray
    disp: np.ndarray
    psi: np.ndarray


def _constant_fit(X: np.ndarray, offset: np.ndarray, value: float) -> np.ndarray:
    """Coefficients c with X c + offset closest to the constant ``value`` (least squares);
    exactly ``[value]`` for an intercept-only design."""
    if X.shape[1] == 1 and np.all(X == 1.0) and not np.any(offset):
        return np.array([value])
    return np.linalg.lstsq(X, np.full(X.shape[0], value) - offset, rcond=None)[0]


def parts_start(family: Family, zeros, X: np.ndarray, y: np.ndarray, weights: np.ndarray,
                offset: np.ndarray, X_zi: np.ndarray, offset_zi: np.ndarray,
                X_disp: np.ndarray, offset_disp: np.ndarray) -> PartsStart:
    """Starting values from GLMs without random effects: the conditional GLM on the rows that
    inform the mean (a hurdle model's positive counts), the family's moment estimates of its
    dispersion and parameters at that fit, and for the zero part a constant probability
    (the zero model's :meth:`zero_probability_start`).

    Args:
        zeros: the zero model (:mod:`interlace_jax.families._zero_models`).
        X: (n, p); y, weights, offset: (n,); X_zi: (n, k_zi); X_disp: (n, k_disp) (k = 0 for
            an absent part) with their offsets (n,).
    """
    rows = zeros.count_rows(y)
    glm = glm_start(family, X[rows], y[rows], weights[rows], offset[rows])
    mu = np.asarray(_irls_terms(family, X @ glm.beta + offset)[0], dtype=float)
    disp = (_constant_fit(X_disp, offset_disp, np.log(glm.phi)) if X_disp.shape[1]
            else np.zeros(0))
    psi = np.asarray(family.psi_start(y[rows], mu[rows], weights[rows]), dtype=float)
    zi = np.zeros(X_zi.shape[1])
    if X_zi.shape[1]:
        p0 = zeros.zero_probability_start(family, y, mu, weights, glm.phi, psi)
        zi = _constant_fit(X_zi, offset_zi, float(np.log(p0 / (1.0 - p0))))
    return PartsStart(glm.beta, zi, disp, psi)
