r"""Student t responses (glmmTMB's ``t_family``): ``(y - mu) / sigma ~ t_df``.

The dispersion phi is the scale sigma (glmmTMB: ``betad = log(sigma)``); the degrees of
freedom are the one family parameter, ``psi = log(df)``, estimated with the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import jax.numpy as jnp
import numpy as np

from interlace_jax.families._family import Family, _require
from interlace_jax.families._links import Link
from interlace_jax.families._special import log_gamma

#: starting degrees of freedom
DF_START = 5.0


@dataclass(frozen=True, repr=False)
class StudentT(Family):
    """Student t with location mu, scale phi and ``exp(psi)`` degrees of freedom."""

    link: str | Link = "identity"
    name: ClassVar[str] = "t"
    links: ClassVar[tuple[str, ...]] = ("identity", "log", "inverse")
    has_dispersion: ClassVar[bool] = True
    psi_names: ClassVar[tuple[str, ...]] = ("Student-t df",)

    def log_density(self, y, mu, weights, phi, psi=()):
        df = jnp.exp(psi[0])
        z = (y - mu) / phi
        return weights * (log_gamma(0.5 * (df + 1.0)) - log_gamma(0.5 * df) - 0.5 * jnp.log(df)
                          - jnp.log(phi) - 0.5 * (df + 1.0) * jnp.log1p(z**2 / df))

    def log_constant(self, y, weights):
        return jnp.full(jnp.shape(y), -0.5 * jnp.log(jnp.pi)) * weights

    def variance(self, mu):
        return jnp.ones_like(mu)

    def check_response(self, y, weights, what):
        _require(bool(np.all(np.isfinite(y))), f"{what} must be finite for the t family")

    def dispersion_start(self, y, mu, weights):
        scale = np.sqrt(np.mean((y - mu) ** 2) * (DF_START - 2.0) / DF_START)
        return float(max(scale, 1e-8))

    def psi_start(self, y, mu, weights):
        return np.array([np.log(DF_START)])

    def sigma(self, phi):
        return phi

    def family_params(self, psi):
        return {self.psi_names[0]: float(np.exp(psi[0]))}
