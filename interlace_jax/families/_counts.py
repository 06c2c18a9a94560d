r"""glmmTMB's count families: negative binomial NB2 and NB1, and zero-truncated counts.

* ``nbinom2``: ``NB(mu, size = phi)``, ``Var = mu + mu^2 / phi``; glmmTMB's ``sigma`` is phi.
* ``nbinom1``: ``NB(mu, size = mu / phi)``, ``Var = mu (1 + phi)``; ``sigma`` is phi.
* ``truncated_*``: the count conditioned on ``y > 0``, ``f(y) / (1 - f(0))``; with a
  ``ziformula`` glmmTMB's hurdle model (the zero part then gives ``P(y = 0)``).

Prior weights multiply the log-density, as in glmmTMB. All use TMB's observed Hessian in the
Laplace approximation. The inner Newton steps of the conditional mode use the observed
curvature too (see :mod:`interlace_jax.models._laplace`), so ``variance`` is only the
working variance of the GLM that starts the fixed effects (Poisson's, which gives NB's mean
estimates).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln, xlogy

from interlace_jax._errors import ModelError
from interlace_jax.families._family import Family, Poisson, _require
from interlace_jax.families._links import Link
from interlace_jax.families._special import log_gamma


def log1mexp(a):
    """log(1 - exp(a)) for a < 0, accurate near 0 and for very negative a."""
    return jnp.where(a > -0.6931471805599453, jnp.log(-jnp.expm1(a)), jnp.log1p(-jnp.exp(a)))


def _check_counts(y: np.ndarray, what: str, family: str) -> None:
    _require(bool(np.all(y >= 0)), f"{what} has negative values: not counts for the {family} "
             "family")
    _require(bool(np.allclose(y, np.round(y))),
             f"{what} has non-integer values: not counts for the {family} family")


class _NegativeBinomial(Family):
    """Shared parts of NB1 and NB2 (subclasses give the size ``size(mu, phi)``)."""

    links: ClassVar[tuple[str, ...]] = ("log", "sqrt", "identity")
    has_dispersion: ClassVar[bool] = True
    has_zero_mass: ClassVar[bool] = True

    def size(self, mu, phi):
        raise NotImplementedError

    def log_density(self, y, mu, weights, phi, psi=()):
        size = self.size(mu, phi)
        log_total = jnp.log(size + mu)
        return weights * (log_gamma(y + size) - log_gamma(size) + size * (jnp.log(size) - log_total)
                          + xlogy(y, mu) - y * log_total)

    def log_zero_probability(self, mu, weights, phi, psi=()):
        size = self.size(mu, phi)
        return -weights * size * jnp.log1p(mu / size)

    def log_constant(self, y, weights):
        return -weights * gammaln(y + 1.0)

    def variance(self, mu):
        return mu

    def check_response(self, y, weights, what):
        _check_counts(y, what, self.name)

    def start_mu(self, y, weights):
        return y + 0.1


@dataclass(frozen=True, repr=False)
class NegativeBinomial2(_NegativeBinomial):
    """NB2: size phi, ``Var = mu + mu^2 / phi`` (glmmTMB's ``nbinom2``)."""

    link: str | Link = "log"
    name: ClassVar[str] = "nbinom2"

    def size(self, mu, phi):
        return phi * jnp.ones_like(mu)

    def pearson_variance(self, mu, weights, phi, psi=()):
        return (mu + mu**2 / phi) / weights

    def dispersion_start(self, y, mu, weights):
        excess = np.sum((y - mu) ** 2 - mu) / np.sum(mu**2)
        return float(1.0 / np.clip(excess, 0.05, 20.0))

    def sigma(self, phi):
        return phi


@dataclass(frozen=True, repr=False)
class NegativeBinomial1(_NegativeBinomial):
    """NB1: size ``mu / phi``, ``Var = mu (1 + phi)`` (glmmTMB's ``nbinom1``)."""

    link: str | Link = "log"
    name: ClassVar[str] = "nbinom1"

    def size(self, mu, phi):
        return mu / phi

    def pearson_variance(self, mu, weights, phi, psi=()):
        return mu * (1.0 + phi) / weights

    def dispersion_start(self, y, mu, weights):
        return float(np.clip(np.mean((y - mu) ** 2 / mu) - 1.0, 0.05, 20.0))

    def sigma(self, phi):
        return phi


class _ZeroTruncated:
    """Mixin: the count family of the next base class, conditioned on ``y > 0``."""

    zero_truncated: ClassVar[bool] = True
    has_zero_mass: ClassVar[bool] = False
    fisher_laplace: ClassVar[bool] = False
    fisher_scoring: ClassVar[bool] = False

    def _log_positive(self, mu, phi, psi):
        """log P(y > 0) of one unweighted untruncated count."""
        return log1mexp(super().log_zero_probability(mu, jnp.ones_like(mu), phi, psi))

    def log_density(self, y, mu, weights, phi, psi=()):
        return (super().log_density(y, mu, weights, phi, psi)
                - weights * self._log_positive(mu, phi, psi))

    def log_zero_probability(self, mu, weights, phi, psi=()):
        raise NotImplementedError(f"the {self.name} family has no mass at zero")

    def sample(self, key, mu, weights, phi):
        raise ModelError(f"drawing responses from the {self.name} family is not available")

    def unit_deviance(self, y, mu, weights):
        raise ModelError(f"deviance residuals are not available for the {self.name} family; "
                         "use the 'pearson' or 'response' residuals")

    def mean(self, mu, phi, psi=()):
        return mu / jnp.exp(self._log_positive(mu, phi, psi))

    def pearson_variance(self, mu, weights, phi, psi=()):
        """The variance of the truncated count."""
        positive = jnp.exp(self._log_positive(mu, phi, psi))
        second = (super().pearson_variance(mu, weights, phi, psi) + mu**2) / positive
        return second - (mu / positive) ** 2

    def check_response(self, y, weights, what):
        super().check_response(y, weights, what)
        _require(bool(np.all(y > 0)),
                 f"{what} has zeros, impossible under the zero-truncated {self.name} family; "
                 "for a hurdle model add a ziformula (e.g. ziformula='~1')")

    def start_mu(self, y, weights):
        return np.maximum(y - 0.5, 0.5)


@dataclass(frozen=True, repr=False)
class TruncatedPoisson(_ZeroTruncated, Poisson):
    """Zero-truncated Poisson (glmmTMB's ``truncated_poisson``)."""

    link: str | Link = "log"
    name: ClassVar[str] = "truncated_poisson"


@dataclass(frozen=True, repr=False)
class TruncatedNegativeBinomial2(_ZeroTruncated, NegativeBinomial2):
    """Zero-truncated NB2 (glmmTMB's ``truncated_nbinom2``); phi is the untruncated size."""

    link: str | Link = "log"
    name: ClassVar[str] = "truncated_nbinom2"


@dataclass(frozen=True, repr=False)
class TruncatedNegativeBinomial1(_ZeroTruncated, NegativeBinomial1):
    """Zero-truncated NB1 (glmmTMB's ``truncated_nbinom1``)."""

    link: str | Link = "log"
    name: ClassVar[str] = "truncated_nbinom1"
