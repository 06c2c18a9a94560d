r"""glmmTMB's families for responses in the unit interval: beta and ordered beta.

* ``beta`` (glmmTMB's ``beta_family``): ``Beta(mu phi, (1 - mu) phi)`` for ``0 < y < 1``,
  ``Var = mu (1 - mu) / (1 + phi)``; phi (the precision) is glmmTMB's ``sigma``.
* ``ordbeta`` (Kubinec's ordered beta, glmmTMB's ``ordbeta``) for ``0 <= y <= 1``: with
  cutpoints ``psi = (k1, k2)`` on the linear-predictor scale, ``P(y = 0) = 1 - plogis(eta - k1)``,
  ``P(y = 1) = plogis(eta - k2)`` and for ``0 < y < 1`` the density
  ``(plogis(eta - k1) - plogis(eta - k2)) Beta(y; mu phi, (1 - mu) phi)``, ``mu = plogis(eta)``.
  glmmTMB reports ``plogis(psi)`` as the cutoffs, and mu as the fitted mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import jax.numpy as jnp
import numpy as np
from jax.nn import log_sigmoid

from interlace_jax._errors import ModelError
from interlace_jax.families._family import Family, _require
from interlace_jax.families._links import Link
from interlace_jax.families._special import log_gamma


def _beta_kernel(y, mu, phi):
    """log Beta(y; mu phi, (1 - mu) phi) + log y + log(1 - y) (the data-only part left out)."""
    a, b = mu * phi, (1.0 - mu) * phi
    return log_gamma(phi) - log_gamma(a) - log_gamma(b) + a * jnp.log(y) + b * jnp.log1p(-y)


def _precision_start(y: np.ndarray, mu: np.ndarray) -> float:
    """Moment estimate of phi from ``Var = mu (1 - mu) / (1 + phi)``."""
    ratio = np.mean(mu * (1.0 - mu)) / max(float(np.mean((y - mu) ** 2)), 1e-12)
    return float(np.clip(ratio - 1.0, 1.0, 1e4))


@dataclass(frozen=True, repr=False)
class Beta(Family):
    """Beta with mean mu and precision phi (glmmTMB's ``beta_family``)."""

    link: str | Link = "logit"
    name: ClassVar[str] = "beta"
    links: ClassVar[tuple[str, ...]] = ("logit", "probit", "cloglog", "cauchit")
    has_dispersion: ClassVar[bool] = True

    def log_density(self, y, mu, weights, phi, psi=()):
        return weights * _beta_kernel(y, mu, phi)

    def log_constant(self, y, weights):
        return -weights * (jnp.log(y) + jnp.log1p(-y))

    def variance(self, mu):
        return mu * (1.0 - mu)

    def check_response(self, y, weights, what):
        _require(bool(np.all((y > 0) & (y < 1))),
                 f"{what} must lie strictly between 0 and 1 for the beta family (values "
                 f"in [{np.min(y):g}, {np.max(y):g}]); for exact zeros and ones use "
                 "family='ordbeta'")

    def start_mu(self, y, weights):
        return np.asarray(y, dtype=float)

    def dispersion_start(self, y, mu, weights):
        return _precision_start(y, mu)

    def sigma(self, phi):
        return phi


@dataclass(frozen=True, repr=False)
class OrderedBeta(Family):
    """Ordered beta for ``0 <= y <= 1`` (glmmTMB's ``ordbeta``): psi are the cutpoints."""

    link: str | Link = "logit"
    name: ClassVar[str] = "ordbeta"
    links: ClassVar[tuple[str, ...]] = ("logit",)
    has_dispersion: ClassVar[bool] = True
    psi_names: ClassVar[tuple[str, ...]] = ("lower cutoff", "upper cutoff")

    def log_density(self, y, mu, weights, phi, psi=()):
        k1, k2 = psi[0], psi[1]
        eta = self.link.link(mu)
        zero, one = y == 0.0, y == 1.0
        inside = ~(zero | one)
        y_inside = jnp.where(inside, y, 0.5)
        # log(plogis(eta - k1) - plogis(eta - k2)), for k1 < k2
        log_between = log_sigmoid(eta - k1) + log_sigmoid(k2 - eta) + jnp.log(-jnp.expm1(k1 - k2))
        value = jnp.where(zero, log_sigmoid(k1 - eta),
                          jnp.where(one, log_sigmoid(eta - k2),
                                    log_between + _beta_kernel(y_inside, mu, phi)))
        return weights * value

    def log_constant(self, y, weights):
        inside = (y > 0) & (y < 1)
        y_inside = jnp.where(inside, y, 0.5)
        return jnp.where(inside, -weights * (jnp.log(y_inside) + jnp.log1p(-y_inside)), 0.0)

    def variance(self, mu):
        return mu * (1.0 - mu)

    def check_response(self, y, weights, what):
        _require(bool(np.all((y >= 0) & (y <= 1))),
                 f"{what} must lie in [0, 1] for the ordbeta family (values in "
                 f"[{np.min(y):g}, {np.max(y):g}])")
        for value, cut in ((0.0, "lower"), (1.0, "upper")):
            if not np.any(y == value):
                raise ModelError(
                    f"{what} has no {value:g}s, so the ordbeta family's {cut} cutoff cannot be "
                    "estimated (it diverges); for a response strictly inside (0, 1) use "
                    "family='beta'")

    def start_mu(self, y, weights):
        return np.clip(np.asarray(y, dtype=float), 0.05, 0.95)

    def dispersion_start(self, y, mu, weights):
        inside = (y > 0) & (y < 1)
        return _precision_start(y[inside], mu[inside]) if np.any(inside) else 1.0

    def psi_start(self, y, mu, weights):
        eta = np.log(mu / (1.0 - mu))
        frac_zero = np.clip(np.mean(y == 0), 0.01, 0.49)
        frac_one = np.clip(np.mean(y == 1), 0.01, 0.49)
        # P(0) = plogis(k1 - eta), P(1) = plogis(eta - k2), at the average eta
        center = float(np.mean(eta))
        return np.array([center + np.log(frac_zero / (1 - frac_zero)),
                         center - np.log(frac_one / (1 - frac_one))])

    def sigma(self, phi):
        return phi

    def family_params(self, psi):
        return {name: float(1.0 / (1.0 + np.exp(-v))) for name, v in zip(self.psi_names, psi)}
