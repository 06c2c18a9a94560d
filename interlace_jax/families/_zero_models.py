r"""How zeros are modelled on top of a family: not at all, zero inflation, or a hurdle.

With ``p = plogis(zeta)`` from the zero part's linear predictor zeta (glmmTMB's ``ziformula``):

* :class:`ZeroInflation` (a family with a mass at zero): ``P(y = 0) = p + (1 - p) f(0)`` and
  ``(1 - p) f(y)`` for ``y > 0``;
* :class:`Hurdle` (a zero-truncated family): ``P(y = 0) = p`` and ``(1 - p) f_+(y)`` for
  ``y > 0``, ``f_+`` the truncated density;
* :class:`NoZeroModel`: the family alone.

Each gives the per-observation log-density the Laplace engine sums and its data-only part
(pure JAX), the mean of the response and the variance of its Pearson residuals, and the
host checks; the family is passed
in, so the three small classes combine with every family. :func:`zero_model_for` picks one and
refuses combinations glmmTMB cannot identify.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import jax.numpy as jnp
import numpy as np
from jax.nn import log_sigmoid, sigmoid

from interlace_jax._errors import DataError, ModelError
from interlace_jax.families._family import Family


@dataclass(frozen=True)
class NoZeroModel:
    """The family alone (no ``ziformula``)."""

    has_zero_part: ClassVar[bool] = False

    def log_density(self, family: Family, y, mu, weights, phi, psi, zeta):
        """(n,) log p(y_i) less the data-only part, for the zero part's predictor zeta."""
        return family.log_density(y, mu, weights, phi, psi)

    def log_constant(self, family: Family, y, weights):
        """(n,) the data-only part of each log p(y_i) (jax.numpy)."""
        return family.log_constant(y, weights)

    def mean(self, family: Family, mu, phi, psi, zeta):
        """(n,) E[y]."""
        return family.mean(mu, phi, psi)

    def pearson_variance(self, family: Family, mu, weights, phi, psi, zeta):
        """(n,) the variance of a Pearson residual (see ``Family.pearson_variance``)."""
        return family.pearson_variance(mu, weights, phi, psi)

    def check_response(self, family: Family, y: np.ndarray, weights: np.ndarray,
                       what: str) -> None:
        family.check_response(y, weights, what)

    def count_rows(self, y: np.ndarray) -> np.ndarray:
        """(n,) bool: the rows that inform the family's mean (for starting values)."""
        return np.ones(np.shape(y), bool)


def _check_zeros(y: np.ndarray, what: str, model: str) -> None:
    n_zero = int(np.sum(y == 0))
    if n_zero == 0:
        raise ModelError(
            f"{what} has no zeros, so the {model} probability cannot be estimated (its "
            "coefficients diverge); drop ziformula")
    if n_zero == len(y):
        raise ModelError(f"{what} is all zeros: the {model} model cannot be estimated")


@dataclass(frozen=True)
class ZeroInflation(NoZeroModel):
    """Zero inflation: a structural zero with probability ``plogis(zeta)``."""

    has_zero_part: ClassVar[bool] = True

    def log_density(self, family, y, mu, weights, phi, psi, zeta):
        count = family.log_density(y, mu, weights, phi, psi)
        zero = jnp.logaddexp(log_sigmoid(zeta),
                             log_sigmoid(-zeta) + family.log_zero_probability(mu, weights, phi,
                                                                              psi))
        return jnp.where(y == 0, zero, log_sigmoid(-zeta) + count)

    def log_constant(self, family, y, weights):
        # log P(0) is computed whole on the device; the count's constant is 0 at y = 0 anyway
        return jnp.where(y == 0, 0.0, family.log_constant(y, weights))

    def mean(self, family, mu, phi, psi, zeta):
        return sigmoid(-zeta) * family.mean(mu, phi, psi)

    def pearson_variance(self, family, mu, weights, phi, psi, zeta):
        p = sigmoid(zeta)
        m = family.mean(mu, phi, psi)
        return (1 - p) * family.pearson_variance(mu, weights, phi, psi) + p * (1 - p) * m**2

    def check_response(self, family, y, weights, what):
        family.check_response(y, weights, what)
        _check_zeros(y, what, "zero-inflation")

    def zero_probability_start(self, family: Family, y: np.ndarray, mu: np.ndarray,
                               weights: np.ndarray, phi: float, psi: np.ndarray) -> float:
        """A starting zero-part probability from a fit of the count part (host): the share
        of zeros beyond those the count distribution expects."""
        f0 = np.exp(np.asarray(family.log_zero_probability(mu, weights, phi, psi)))
        excess = (np.mean(y == 0) - np.mean(f0)) / max(1.0 - float(np.mean(f0)), 1e-8)
        return float(np.clip(excess, 0.05, 0.9))


@dataclass(frozen=True)
class Hurdle(ZeroInflation):
    """Hurdle: zeros only from the zero part, ``P(y = 0) = plogis(zeta)``; positive counts
    from the zero-truncated family."""

    def log_density(self, family, y, mu, weights, phi, psi, zeta):
        zero = y == 0
        count = family.log_density(jnp.where(zero, 1.0, y), mu, weights, phi, psi)
        return jnp.where(zero, log_sigmoid(zeta), log_sigmoid(-zeta) + count)

    def check_response(self, family, y, weights, what):
        positive = y > 0
        if np.any(y < 0):
            raise DataError(f"{what} has negative values: not counts for the {family.name} "
                            "hurdle model")
        family.check_response(y[positive], weights[positive], what)
        _check_zeros(y, what, "hurdle (zero)")

    def count_rows(self, y):
        return y > 0

    def zero_probability_start(self, family, y, mu, weights, phi, psi):
        return float(np.clip(np.mean(y == 0), 0.01, 0.99))


def zero_model_for(family: Family, has_zero_part: bool) -> NoZeroModel:
    """The zero model of a family with or without a ``ziformula`` (glmmTMB's rules: a
    zero-truncated family with one is a hurdle model).

    Raises:
        ModelError: for a ``ziformula`` with a family that has no mass at zero.
    """
    if not has_zero_part:
        return NoZeroModel()
    if family.zero_truncated:
        return Hurdle()
    if family.has_zero_mass:
        return ZeroInflation()
    raise ModelError(
        f"ziformula needs a family with a probability mass at zero (poisson, binomial, "
        f"nbinom1, nbinom2) or a truncated count family (a hurdle model); the {family.name} "
        "family has none")
