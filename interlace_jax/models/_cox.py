r"""The Cox partial likelihood and its curvature, by cumulative sums over event groups.

With ``e_i = exp(eta_i)``, risk-set sums ``S_k = sum_{i at risk at group k} e_i`` and the tied
deaths' sums ``T_k``, the log partial likelihood is

.. math::

    \ell(\eta) = \sum_{\text{deaths } i} \eta_i - \sum_m w_m \log(S_{k_m} - c_m T_{k_m})

over the denominator terms m of :mod:`~interlace_jax.models._cox_data` (Breslow: c = 0,
w = d_k; Efron: c = r / d_k, w = 1). It is not a sum over rows: its negative Hessian in eta is

.. math::

    -\nabla^2 \ell = \mathrm{diag}(\omega) - \sum_m g_m g_m', \qquad
    g_m = \sqrt{w_m}\, \partial_\eta D_m / D_m,\quad D_m = S_{k_m} - c_m T_{k_m},

a diagonal part ``omega_i = e_i (sum_{k at risk} A_k - delta_i B_{k_i})`` (A_k, B_k: sums of
w_m / D_m and w_m c_m / D_m over the group's terms) minus one rank-one term per denominator
term. For a design C (columns of Z Lambda and X) the product is ``C' diag(omega) C - G'G`` with
``G = [R(e C) - c T(e C)]_{k_m} sqrt(w_m) / D_m``: risk-set and tie sums of the columns, which
cost a scatter and a cumulative sum each (never an n x n matrix).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from interlace_jax.models._cox_data import CoxData


def _segmented_cumsum(a: jax.Array, starts: jax.Array) -> jax.Array:
    """Cumulative sums of a (K, ...) along axis 0, restarting where ``starts`` (K,) is True."""

    def combine(left, right):
        f_l, v_l = left
        f_r, v_r = right
        flag = f_r.reshape(f_r.shape + (1,) * (v_r.ndim - f_r.ndim))
        return f_l | f_r, jnp.where(flag, v_r, v_l + v_r)

    return jax.lax.associative_scan(combine, (starts, a))[1]


def forward_cumsum(a: jax.Array, data: CoxData) -> jax.Array:
    """Within-stratum cumulative sums over the groups, first to last, of a (K, ...)."""
    if not data.layout.segmented:
        return jnp.cumsum(a, axis=0)
    return _segmented_cumsum(a, data.group_first)


def reverse_cumsum(a: jax.Array, data: CoxData) -> jax.Array:
    """Within-stratum cumulative sums over the groups, last to first, of a (K, ...)."""
    if not data.layout.segmented:
        return jnp.flip(jnp.cumsum(jnp.flip(a, 0), axis=0), 0)
    return jnp.flip(_segmented_cumsum(jnp.flip(a, 0), jnp.flip(data.group_last, 0)), 0)


def risk_sums(values: jax.Array, data: CoxData, columns: jax.Array | None = None,
              width: int | None = None) -> jax.Array:
    """Risk-set sums over the groups.

    Args:
        values: (n,) or (n, m) per-row values; with ``columns`` (n, m) int the values are
            scattered into ``width`` columns (a sparse design) instead.

    Returns:
        (K,) or (K, width / m): ``sum over rows at risk at group k`` of the values.
    """
    K = data.layout.n_groups

    def scatter(rows):
        if columns is None:
            return jnp.zeros((K,) + values.shape[1:], values.dtype).at[rows].add(
                values, mode="drop")
        rows = jnp.broadcast_to(rows[:, None], columns.shape)
        return jnp.zeros((K, width), values.dtype).at[rows, columns].add(values, mode="drop")

    total = reverse_cumsum(scatter(data.risk_last), data)
    if data.layout.has_start:
        total = total - reverse_cumsum(scatter(data.risk_before), data)
    return total


def tie_sums(values: jax.Array, data: CoxData, columns: jax.Array | None = None,
             width: int | None = None) -> jax.Array:
    """Sums over each group's deaths, shaped as :func:`risk_sums`."""
    K = data.layout.n_groups
    v = values[data.death_rows]
    if columns is None:
        return jnp.zeros((K,) + v.shape[1:], v.dtype).at[data.death_group].add(v)
    cols = columns[data.death_rows]
    rows = jnp.broadcast_to(data.death_group[:, None], cols.shape)
    return jnp.zeros((K, width), v.dtype).at[rows, cols].add(v)


def group_totals(per_group: jax.Array, data: CoxData) -> jax.Array:
    """(n,) for each row, the sum of ``per_group`` (K,) over the groups it is at risk at."""
    padded = jnp.append(forward_cumsum(per_group, data), 0.0)
    total = padded[data.risk_last]
    if data.layout.has_start:
        total = total - padded[data.risk_before]
    return total


def _exp_shifted(eta: jax.Array) -> tuple[jax.Array, jax.Array]:
    shift = jax.lax.stop_gradient(jnp.max(eta))
    return jnp.exp(eta - shift), shift


def _denominators(e: jax.Array, data: CoxData) -> jax.Array:
    """(M,) D_m = S_{k_m} - c_m T_{k_m}."""
    s = risk_sums(e, data)
    t = tie_sums(e, data)
    return s[data.term_group] - data.term_coef * t[data.term_group]


def partial_loglik(eta: jax.Array, data: CoxData) -> jax.Array:
    """() the log partial likelihood (Efron's or Breslow's for ties) at eta (n,)."""
    e, shift = _exp_shifted(eta)
    d = _denominators(e, data)
    return jnp.sum(eta[data.death_rows] - shift) - jnp.sum(data.term_weight * jnp.log(d))


def curvature(eta: jax.Array, data: CoxData):
    """The pieces of the derivatives of the partial likelihood at eta (n,).

    Returns:
        ``(score, omega, e, scale)``: score (n,) = d loglik / d eta; omega (n,) the diagonal
        part of the negative Hessian; e (n,) = exp(eta - shift); scale (M,) =
        sqrt(w_m) / D_m, with which ``G = scale * (R(e C) - c T(e C))`` at the terms' groups
        (the same shift cancels in G).
    """
    e, _ = _exp_shifted(eta)
    d = _denominators(e, data)
    K = data.layout.n_groups
    a = jnp.zeros(K, eta.dtype).at[data.term_group].add(data.term_weight / d)
    b = jnp.zeros(K, eta.dtype).at[data.term_group].add(data.term_weight * data.term_coef / d)
    dead = jnp.zeros_like(eta).at[data.death_rows].set(1.0)
    tied = jnp.zeros_like(eta).at[data.death_rows].set(b[data.death_group])
    omega = e * (group_totals(a, data) - tied)
    return dead - omega, omega, e, jnp.sqrt(data.term_weight) / d
