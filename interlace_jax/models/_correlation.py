r"""Residual correlation structures (nlme's ``corAR1``, ``corCAR1``, ``corCompSymm``).

The residuals of a linear mixed model with a correlation structure are
``eps ~ N(0, sigma^2 W^{-1/2} R W^{-1/2})``: ``W`` the prior weights and ``R`` block diagonal,
one block per correlation group, with one correlation parameter. Each structure is a small
frozen dataclass that names its columns and knows, as methods:

* ``layout``: where each observation sits in its group (host, once; validates the columns);
* ``natural``: the parameter from its unconstrained value (nlme's parameterisation, so the
  optimizer works on the real line);
* ``whiten``: ``F M`` for a matrix ``M`` (n, k) with ``F'F = R^{-1}`` block by block, and
  ``log|R|``, pure JAX (differentiable in the parameter, vmap-able).

Whitening ``[Z X y]`` turns the model into an ordinary LMM with independent residuals; the
likelihood then gains ``log|R|`` (see :mod:`interlace_jax.models._correlated`).

AR(1) with correlation ``phi^|t_i - t_j|`` is Markov: with each group in time order,
``F`` maps row i to ``(m_i - a_i m_{i-1}) / sqrt(1 - a_i^2)``, ``a_i = phi^(t_i - t_{i-1})``
(``a = 0`` for a group's first observation), and ``log|R| = sum log(1 - a_i^2)``.
Compound symmetry ``R_g = (1 - rho) I + rho J`` has eigenvalues ``1 - rho`` and
``1 + (m - 1) rho``; ``F`` is its symmetric inverse square root,
``(m_i - mean_g) / sqrt(1 - rho) + mean_g / sqrt(1 + (m_g - 1) rho)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from interlace_jax._errors import ModelError
from interlace_jax.models._correlation_layout import (
    BlockLayout,
    SeriesLayout,
    block_layout,
    series_layout,
)


def _series_whiten(a: jax.Array, layout: SeriesLayout, m: jax.Array):
    """Bidiagonal whitening of an AR(1) series: a (n,) lag correlations, m (n, k)."""
    a = jnp.where(layout.has_previous, a, 0.0)
    one_minus = (1.0 - a) * (1.0 + a)
    out = (m - a[:, None] * m[layout.previous]) / jnp.sqrt(one_minus)[:, None]
    return out, jnp.sum(jnp.log(one_minus))


class _Structure:
    """What every structure shares: its columns, its formula as nlme prints it."""

    group: str
    time: str | None

    #: names of the parameters, as nlme prints them
    names: tuple[str, ...] = ()
    #: nlme's name of the structure
    label: str = ""
    #: adds one constant covariance within each group (so it is confounded with a random
    #: intercept on the same grouping)
    exchangeable: bool = False

    @property
    def n_params(self) -> int:
        return len(self.names)

    def columns(self) -> tuple[str, str | None]:
        """(group, time) column names; time is None when the order of the data is used."""
        return self.group, self.time

    def formula(self) -> str:
        """nlme's form, e.g. ``~week | Subject`` or ``~1 | Subject``."""
        return f"~{self.time or 1} | {self.group}"

    def describe(self) -> str:
        """The structure as the user wrote it, for messages."""
        time = f"time={self.time!r}, " if self.time is not None else ""
        return f"{type(self).__name__}({time}group={self.group!r})"


@dataclass(frozen=True, kw_only=True)
class AR1(_Structure):
    """First-order autoregressive residuals within groups (nlme's ``corAR1``).

    ``AR1(group="Subject")`` orders each group's observations as they appear in the data
    (``corAR1(form = ~ 1 | Subject)``); ``AR1(time="week", group="Subject")`` places them at
    integer time positions, gaps allowed (``corAR1(form = ~ week | Subject)``): the correlation
    of two observations is ``phi^|t_i - t_j|``, ``-1 < phi < 1``.
    """

    group: str
    time: str | None = None
    names = ("Phi",)
    label = "AR(1)"

    def layout(self, groups: np.ndarray, levels: tuple, time: np.ndarray | None):
        return series_layout(groups, levels, time, self.describe(), integer_lags=True)

    def natural(self, params: jax.Array, layout) -> jax.Array:
        """phi = tanh(r / 2) (nlme's ``log((1 + phi) / (1 - phi))``)."""
        return jnp.tanh(0.5 * params)

    def unconstrained(self, natural: np.ndarray, layout) -> np.ndarray:
        return 2.0 * np.arctanh(np.asarray(natural, dtype=np.float64))

    def start_values(self, layout) -> np.ndarray:
        """(m, 1) unconstrained starts: phi in 0 (nlme's start), 0.3, 0.6, 0.9, -0.3."""
        return self.unconstrained(np.array([[0.0], [0.3], [0.6], [0.9], [-0.3]]), layout)

    def whiten(self, params: jax.Array, layout: SeriesLayout, m: jax.Array):
        phi = self.natural(params, layout)[0]
        power, square = jnp.ones(layout.lag.shape, dtype=m.dtype), phi
        for bit in range(layout.n_bits):  # phi ** lag for integer lags, any sign of phi
            power = jnp.where((layout.lag >> bit) & 1, power * square, power)
            square = square * square
        return _series_whiten(power, layout, m)


@dataclass(frozen=True, kw_only=True)
class CAR1(_Structure):
    """Continuous-time first-order autoregressive residuals (nlme's ``corCAR1``).

    ``CAR1(time="t", group="Subject")``: the correlation of two observations of a group is
    ``phi^|t_i - t_j|``, ``0 < phi < 1``, for any real times (``corCAR1(form = ~ t | Subject)``).
    """

    time: str
    group: str
    names = ("Phi",)
    label = "Continuous AR(1)"

    def layout(self, groups: np.ndarray, levels: tuple, time: np.ndarray | None):
        return series_layout(groups, levels, time, self.describe(), integer_lags=False)

    def natural(self, params: jax.Array, layout) -> jax.Array:
        """phi = 1 / (1 + exp(-r)) (nlme's ``log(phi / (1 - phi))``)."""
        return jax.nn.sigmoid(params)

    def unconstrained(self, natural: np.ndarray, layout) -> np.ndarray:
        natural = np.asarray(natural, dtype=np.float64)
        return np.log(natural / (1.0 - natural))

    def start_values(self, layout) -> np.ndarray:
        """(m, 1) unconstrained starts: phi in 0.2 (nlme's start), 0.5, 0.8, 0.95."""
        return self.unconstrained(np.array([[0.2], [0.5], [0.8], [0.95]]), layout)

    def whiten(self, params: jax.Array, layout: SeriesLayout, m: jax.Array):
        log_phi = -jax.nn.softplus(-params[0])
        return _series_whiten(jnp.exp(layout.lag * log_phi), layout, m)


@dataclass(frozen=True, kw_only=True)
class CompoundSymmetry(_Structure):
    """Exchangeable residuals within groups (nlme's ``corCompSymm``).

    ``CompoundSymmetry(group="Subject")``: every two observations of a group have correlation
    ``rho``, ``-1/(m - 1) < rho < 1`` with ``m`` the largest group (nlme's bound). A random
    intercept on the same grouping adds the same covariance, so the two together are not
    identifiable: :func:`interlace_jax.fit` refuses that combination.
    """

    group: str
    time = None  # no time: every pair of a group has the same correlation
    names = ("Rho",)
    label = "Compound symmetry"
    exchangeable = True

    def layout(self, groups: np.ndarray, levels: tuple, time: np.ndarray | None):
        return block_layout(groups, self.describe())

    @staticmethod
    def _lower(layout: BlockLayout) -> float:
        return -1.0 / (layout.max_size - 1)

    def natural(self, params: jax.Array, layout: BlockLayout) -> jax.Array:
        """rho = (exp(r) + lower) / (exp(r) + 1), lower = -1/(m - 1) (nlme's)."""
        e = jnp.exp(params)
        return (e + self._lower(layout)) / (e + 1.0)

    def unconstrained(self, natural: np.ndarray, layout: BlockLayout) -> np.ndarray:
        natural = np.asarray(natural, dtype=np.float64)
        return np.log((natural - self._lower(layout)) / (1.0 - natural))

    def start_values(self, layout: BlockLayout) -> np.ndarray:
        """(m, 1) unconstrained starts: rho in 0 (nlme's start), 0.3, 0.6, 0.9."""
        return self.unconstrained(np.array([[0.0], [0.3], [0.6], [0.9]]), layout)

    def whiten(self, params: jax.Array, layout: BlockLayout, m: jax.Array):
        r, lower = params[0], self._lower(layout)
        sizes = layout.sizes
        # log(1 - rho) and log(1 + (m_g - 1) rho), written to stay finite at the bounds
        log_within = jnp.log1p(-lower) - jax.nn.softplus(r)
        between_const = 1.0 + (sizes - 1.0) * lower  # >= 0, 0 for the largest groups
        log_between = jnp.logaddexp(jnp.log(sizes) + r, jnp.log(between_const)) - (
            jax.nn.softplus(r))
        means = jax.ops.segment_sum(m, layout.groups, num_segments=layout.n_groups)
        means = (means / sizes[:, None])[layout.groups]
        scale_between = jnp.exp(-0.5 * log_between)[layout.groups]
        out = (m - means) * jnp.exp(-0.5 * log_within) + means * scale_between[:, None]
        log_det = jnp.sum((sizes - 1.0) * log_within + log_between)
        return out, log_det


#: The structures ``fit(correlation=...)`` accepts.
STRUCTURES = (AR1, CAR1, CompoundSymmetry)


def check_structure(value):
    """``value`` when it is one of STRUCTURES (or None); a ModelError otherwise."""
    if value is None or isinstance(value, STRUCTURES):
        return value
    raise ModelError(
        "correlation must be a structure such as AR1(group='Subject'), "
        "AR1(time='week', group='Subject'), CAR1(time='t', group='Subject') or "
        f"CompoundSymmetry(group='Subject'), got {value!r}")
