r"""Threshold structures of cumulative link models (ordinal's ``threshold =``).

A response with K ordered categories has K - 1 cut points ``theta = tJac @ alpha``, where
``alpha`` are the threshold parameters ordinal reports and ``tJac`` (K - 1, n_alpha) is
ordinal's threshold Jacobian:

* ``flexible``: ``alpha = theta``, one free cut point per boundary;
* ``equidistant``: ``alpha = (threshold.1, spacing)``, ``theta_j = threshold.1 + (j - 1)
  spacing``;
* ``symmetric``: cut points symmetric about a centre (an odd number of cut points: ``alpha =
  (central, spacing.1, ...)``, ``theta = central -+ spacing.k``) or about two central ones (an
  even number: ``alpha = (central.1, central.2, spacing.1, ...)``, ``theta = (central.1 -
  spacing.k, ..., central.1, central.2, ..., central.2 + spacing.k)``).

The objective never sees alpha itself: it is a function of unconstrained parameters ``tau``
(a first value plus logs of positive increments) for which every tau gives strictly increasing
cut points, so the category probabilities are positive by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import jax.numpy as jnp
import numpy as np

from interlace_jax._errors import ModelError

#: Smallest increment a starting value gets when alpha is not strictly ordered.
_MIN_INCREMENT = 1e-3


def _log_increments(values: np.ndarray) -> np.ndarray:
    return np.log(np.maximum(np.diff(values), _MIN_INCREMENT))


class Thresholds:
    """Abstract threshold structure for ``n_categories`` ordered categories (frozen
    dataclasses, hashable: they are static in compiled code).

    Class attributes:
        name: ordinal's name (``"flexible"``, ``"symmetric"``, ``"equidistant"``).
    """

    name: ClassVar[str]
    n_categories: int

    def __post_init__(self):
        if self.n_categories < 3:
            raise ModelError(
                f"a cumulative link model needs a response with at least 3 ordered categories, "
                f"got {self.n_categories}")

    @property
    def n_cuts(self) -> int:
        return self.n_categories - 1

    @property
    def n_alpha(self) -> int:
        return self.jacobian.shape[1]

    @property
    def jacobian(self) -> np.ndarray:
        """(K - 1, n_alpha) ordinal's ``tJac``: cut points = jacobian @ alpha."""
        raise NotImplementedError

    def alpha_names(self, levels: tuple) -> list[str]:
        """ordinal's names of the threshold parameters for the category labels ``levels``."""
        raise NotImplementedError

    def alpha_of(self, tau: jnp.ndarray) -> jnp.ndarray:
        """(n_alpha,) threshold parameters from the unconstrained tau (n_alpha,) (pure JAX)."""
        raise NotImplementedError

    def tau_of(self, alpha: np.ndarray) -> np.ndarray:
        """(n_alpha,) the tau of threshold parameters alpha (host; increments that are not
        positive are raised to a small positive value)."""
        raise NotImplementedError

    def cuts(self, tau: jnp.ndarray) -> jnp.ndarray:
        """(K - 1,) strictly increasing cut points for tau (n_alpha,)."""
        return jnp.asarray(self.jacobian, tau.dtype) @ self.alpha_of(tau)

    def alpha_fitting(self, cuts: np.ndarray) -> np.ndarray:
        """(n_alpha,) the alpha whose cut points are closest (least squares) to ``cuts``."""
        return np.linalg.lstsq(self.jacobian, np.asarray(cuts, float), rcond=None)[0]


@dataclass(frozen=True)
class Flexible(Thresholds):
    """One free cut point per category boundary: tau = (theta_1, log(theta_j - theta_{j-1}))."""

    n_categories: int
    name: ClassVar[str] = "flexible"

    @property
    def jacobian(self) -> np.ndarray:
        return np.eye(self.n_cuts)

    def alpha_names(self, levels):
        return [f"{a}|{b}" for a, b in zip(levels[:-1], levels[1:])]

    def alpha_of(self, tau):
        return jnp.cumsum(jnp.concatenate([tau[:1], jnp.exp(tau[1:])]))

    def tau_of(self, alpha):
        alpha = np.asarray(alpha, float)
        return np.concatenate([alpha[:1], _log_increments(alpha)])


@dataclass(frozen=True)
class Equidistant(Thresholds):
    """Equally spaced cut points: tau = (threshold.1, log spacing)."""

    n_categories: int
    name: ClassVar[str] = "equidistant"

    @property
    def jacobian(self) -> np.ndarray:
        return np.column_stack([np.ones(self.n_cuts), np.arange(self.n_cuts, dtype=float)])

    def alpha_names(self, levels):
        return ["threshold.1", "spacing"]

    def alpha_of(self, tau):
        return jnp.stack([tau[0], jnp.exp(tau[1])])

    def tau_of(self, alpha):
        alpha = np.asarray(alpha, float)
        return np.array([alpha[0], np.log(max(alpha[1], _MIN_INCREMENT))])


@dataclass(frozen=True)
class Symmetric(Thresholds):
    """Cut points symmetric about one central cut point (odd K - 1) or two (even K - 1):
    tau = (central[.1], [log(central.2 - central.1),] log spacing.1, log(spacing.2 -
    spacing.1), ...)."""

    n_categories: int
    name: ClassVar[str] = "symmetric"

    @property
    def _n_central(self) -> int:
        return 1 if self.n_cuts % 2 else 2

    @property
    def _n_spacing(self) -> int:
        return (self.n_cuts - self._n_central) // 2

    @property
    def jacobian(self) -> np.ndarray:
        n, c, m = self.n_cuts, self._n_central, self._n_spacing
        jac = np.zeros((n, c + m))
        last_central = m + c - 1  # row of the last central cut point (central.1 is row m)
        jac[: m + 1, 0] = 1.0  # central.1 and the cut points below it
        jac[m + 1 :, c - 1] = 1.0  # the last central value and the cut points above it
        for k in range(1, m + 1):
            jac[m - k, c - 1 + k] = -1.0
            jac[last_central + k, c - 1 + k] = 1.0
        return jac

    def alpha_names(self, levels):
        central = ["central"] if self._n_central == 1 else ["central.1", "central.2"]
        return central + [f"spacing.{k}" for k in range(1, self._n_spacing + 1)]

    def alpha_of(self, tau):
        c = self._n_central
        central = tau[:1] if c == 1 else jnp.stack([tau[0], tau[0] + jnp.exp(tau[1])])
        return jnp.concatenate([central, jnp.cumsum(jnp.exp(tau[c:]))])

    def tau_of(self, alpha):
        alpha = np.asarray(alpha, float)
        c = self._n_central
        central = alpha[:1] if c == 1 else np.array(
            [alpha[0], np.log(max(alpha[1] - alpha[0], _MIN_INCREMENT))])
        return np.concatenate([central, _log_increments(np.concatenate([[0.0], alpha[c:]]))])


THRESHOLDS: dict[str, type[Thresholds]] = {
    cls.name: cls for cls in (Flexible, Symmetric, Equidistant)
}


def thresholds_of(threshold: str, n_categories: int) -> Thresholds:
    """The threshold structure named ``threshold`` for ``n_categories`` categories."""
    cls = THRESHOLDS.get(threshold) if isinstance(threshold, str) else None
    if cls is None:
        raise ModelError(f"unknown threshold {threshold!r}; choose one of {tuple(THRESHOLDS)}")
    return cls(n_categories)
