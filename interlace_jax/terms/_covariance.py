"""Relative covariance factors: theta <-> lower-triangular Lambda for one random-effects term.

A term with ``S`` random effects per level has an unstructured ``S x S`` lower-triangular factor
``lambda_t`` such that ``Var(b_level) = sigma^2 * lambda_t @ lambda_t.T``. Its parameters ``theta_t``
are the lower triangle in column-major order, exactly as lme4 stores ``theta``:
for ``S = 2``, ``theta_t = (lambda_11, lambda_21, lambda_22)``.

theta is unconstrained during optimisation (MixedModels.jl v5); :func:`canonical_theta` flips the
sign of any column whose diagonal is negative afterwards, which leaves ``lambda_t @ lambda_t.T``
unchanged.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np


def n_theta(size: int) -> int:
    """Number of theta parameters of an unstructured ``size x size`` factor."""
    return size * (size + 1) // 2


def tril_positions(size: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of the lower triangle in column-major (lme4) order, each of shape (n_theta,)."""
    rows = [r for c in range(size) for r in range(c, size)]
    cols = [c for c in range(size) for _ in range(c, size)]
    return np.asarray(rows, dtype=np.int32), np.asarray(cols, dtype=np.int32)


def diagonal_mask(size: int) -> np.ndarray:
    """Boolean mask over theta_t, shape (n_theta,): True where theta_t is a diagonal of lambda_t."""
    rows, cols = tril_positions(size)
    return rows == cols


def lambda_factor(theta_t: jnp.ndarray, size: int) -> jnp.ndarray:
    """Lower-triangular factor of shape (size, size) from theta_t of shape (n_theta(size),)."""
    rows, cols = tril_positions(size)
    return jnp.zeros((size, size), dtype=theta_t.dtype).at[rows, cols].set(theta_t)


def theta_slices(sizes) -> list[slice]:
    """Slices of a flat theta (all terms) belonging to each term of the given sizes S_t."""
    out, start = [], 0
    for size in sizes:
        out.append(slice(start, start + n_theta(size)))
        start += n_theta(size)
    return out


def lambda_blocks(theta: np.ndarray, sizes) -> list[np.ndarray]:
    """Per term, the (S_t, S_t) numpy lambda factor from a flat theta (all terms)."""
    out = []
    for sl, size in zip(theta_slices(sizes), sizes):
        rows, cols = tril_positions(size)
        lam = np.zeros((size, size))
        lam[rows, cols] = theta[sl]
        out.append(lam)
    return out


def canonical_theta(theta_t: np.ndarray, size: int) -> np.ndarray:
    """theta_t with each lambda_t column's sign flipped so that its diagonal is non-negative."""
    rows, cols = tril_positions(size)
    lam = np.zeros((size, size))
    lam[rows, cols] = theta_t
    signs = np.where(np.diag(lam) < 0, -1.0, 1.0)
    return (lam * signs[None, :])[rows, cols]
