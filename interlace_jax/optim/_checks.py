"""After the optimizer: canonical theta, exact zeros at the boundary, and convergence checks.

``rectify`` follows MixedModels.jl v5 (``rectify!``): flip each lambda column so its diagonal is
non-negative, then set diagonal theta below ``xtol_zero`` to exactly 0 when the objective gets no
more than ``ftol_zero`` worse. It is pure JAX (it runs inside the fitting jit, and under vmap).
``convergence_report`` checks the exact gradient and Hessian at the optimum on the host, as lme4's
``checkConv`` does with finite differences.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from interlace_jax.terms import (
    canonical_theta,
    diagonal_mask,
    n_theta,
    theta_slices,
    tril_positions,
)


def diagonal_positions(sizes: tuple[int, ...]) -> np.ndarray:
    """Boolean mask over the flat theta: True for diagonal entries (those bounded below by 0)."""
    return np.concatenate([diagonal_mask(s) for s in sizes])


def _n_theta(sizes: tuple[int, ...]) -> int:
    return sum(n_theta(size) for size in sizes)


def _canonical_signs(theta: jax.Array, sizes: tuple[int, ...]) -> jax.Array:
    parts = []
    for sl, size in zip(theta_slices(sizes), sizes):
        rows, cols = tril_positions(size)
        lam = jnp.zeros((size, size), theta.dtype).at[rows, cols].set(theta[sl])
        signs = jnp.where(jnp.diagonal(lam) < 0, -1.0, 1.0)
        parts.append((lam * signs[None, :])[rows, cols])
    return jnp.concatenate(parts)


def rectify(
    theta: jax.Array,
    sizes: tuple[int, ...],
    objective: Callable[[jax.Array], jax.Array],
    *,
    xtol_zero: float = 1e-4,
    ftol_zero: float = 1e-7,
    value: jax.Array | None = None,
) -> jax.Array:
    """Canonical signs, then exact zeros for negligible diagonal theta.

    Args:
        theta: (n_theta,) optimum, computation order, possibly followed by unconstrained
            parameters (residual correlation), which are kept as they are.
        sizes: S_t of each term in computation order (static).
        objective: theta -> scalar, the objective being minimised (called from one place in
            the program, inside a loop over the diagonal entries).
        value: the objective at theta when known (the signs do not change it).
    """
    theta = jnp.concatenate([_canonical_signs(theta, sizes), theta[_n_theta(sizes):]])
    f_best = objective(theta) if value is None else value
    diagonal = np.flatnonzero(diagonal_positions(sizes))

    def zero_if_negligible(i, carry):
        theta, f_best = carry
        j = jnp.asarray(diagonal)[i]
        small = jnp.abs(theta[j]) < xtol_zero
        trial = theta.at[j].set(0.0)
        f_trial = jax.lax.cond(small, objective, lambda _: jnp.inf * f_best, trial)
        accept = small & (f_trial <= f_best + ftol_zero)
        return (jnp.where(accept, trial, theta),
                jnp.where(accept, jnp.minimum(f_trial, f_best), f_best))

    return jax.lax.fori_loop(0, diagonal.size, zero_if_negligible, (theta, f_best))[0]


def rectify_host(
    theta: np.ndarray,
    sizes: tuple[int, ...],
    objective: Callable[[np.ndarray], float],
    *,
    xtol_zero: float = 1e-4,
    ftol_zero: float = 1e-7,
) -> np.ndarray:
    """:func:`rectify` on the host with a compiled objective (no new compilation)."""
    theta = np.concatenate(
        [canonical_theta(theta[sl], size) for sl, size in zip(theta_slices(sizes), sizes)]
        + [theta[_n_theta(sizes):]]
    )
    f_best = objective(theta)
    n = _n_theta(sizes)
    for j in np.flatnonzero(diagonal_positions(sizes) & (np.abs(theta[:n]) < xtol_zero)):
        trial = theta.copy()
        trial[j] = 0.0
        f_trial = objective(trial)
        if f_trial <= f_best + ftol_zero:
            theta, f_best = trial, min(f_best, f_trial)
    return theta


@dataclass(frozen=True)
class ConvergenceReport:
    """Exact-derivative diagnostics at the optimum.

    Attributes:
        gradient: (n_theta,) gradient of the objective.
        hessian_eigenvalues: eigenvalues of the Hessian restricted to interior parameters.
        boundary: (n_theta,) True where a diagonal theta is exactly 0.
        scaled_gradient: max |H^{-1} g| over interior parameters (lme4's relative gradient).
        messages: human-readable problems found; empty when all is well.
    """

    gradient: np.ndarray
    hessian_eigenvalues: np.ndarray
    boundary: np.ndarray
    scaled_gradient: float
    messages: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.messages


def convergence_report(
    gradient: np.ndarray, hessian: np.ndarray, boundary: np.ndarray, *, tol: float = 2e-3
) -> ConvergenceReport:
    """Check the gradient and Hessian at the optimum (interior parameters only)."""
    interior = ~boundary
    g, h = gradient[interior], hessian[np.ix_(interior, interior)]
    if g.size == 0:
        return ConvergenceReport(gradient, np.zeros(0), boundary, 0.0, ())
    if not (np.all(np.isfinite(h)) and np.all(np.isfinite(g))):
        msg = ("non-finite gradient or Hessian at the optimum",)
        return ConvergenceReport(gradient, np.full(g.size, np.nan), boundary, float("nan"), msg)
    evals = np.linalg.eigvalsh(0.5 * (h + h.T))
    messages = []
    if evals.min() <= 1e-10 * max(1.0, abs(evals.max())):
        messages.append(
            f"Hessian is not positive definite at the optimum (min eigenvalue {evals.min():.3g})"
        )
        scaled = float(np.max(np.abs(g)))
    else:
        scaled = float(np.max(np.abs(np.linalg.solve(h, g))))
    if scaled > tol:
        messages.append(
            f"model failed to converge: max|grad| = {np.max(np.abs(g)):.3g}, "
            f"scaled gradient {scaled:.3g} > {tol:g}"
        )
    return ConvergenceReport(gradient, evals, boundary, scaled, tuple(messages))
