"""Starting values of a GLMM's fixed effects and dispersion: the GLM without random effects,
fitted by iteratively reweighted least squares on the host (R's ``glm.fit``, a few steps)."""

from __future__ import annotations

from dataclasses import dataclass

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


def glm_start(family: Family, X: np.ndarray, y: np.ndarray, weights: np.ndarray,
              offset: np.ndarray, steps: int = 25) -> GLMStart:
    """The fixed-effects-only GLM, from R's ``mustart`` (a few IRLS steps suffice: it only
    starts the Laplace optimisation)."""
    link = family.link
    mu = np.asarray(family.start_mu(y, weights), dtype=float)
    eta = np.asarray(link.link(mu), dtype=float)
    beta = np.zeros(X.shape[1])
    for _ in range(steps):
        mu_eta = np.asarray(link.mu_eta(eta), dtype=float)
        variance = np.asarray(family.variance(mu), dtype=float)
        w = weights * mu_eta**2 / variance
        z = eta - offset + (y - mu) / mu_eta
        sw = np.sqrt(w)
        new_beta = np.linalg.lstsq(X * sw[:, None], z * sw, rcond=None)[0]
        if not np.all(np.isfinite(new_beta)):
            break
        change = np.max(np.abs(new_beta - beta))
        beta = new_beta
        eta = X @ beta + offset
        mu = np.asarray(link.inverse(eta), dtype=float)
        if change < 1e-8:
            break
    phi = family.dispersion_start(y, mu, weights) if family.has_dispersion else 1.0
    return GLMStart(beta, float(phi))
