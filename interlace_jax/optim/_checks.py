"""After the optimizer: canonical theta, exact zeros at the boundary, and convergence checks.

``rectify`` follows MixedModels.jl v5 (``rectify!``): flip each lambda column so its diagonal is
non-negative, then set diagonal theta below ``xtol_zero`` to exactly 0 when the objective gets no
more than ``ftol_zero`` worse. ``convergence_report`` evaluates the exact gradient and Hessian at
the optimum, as lme4's ``checkConv`` does with finite differences.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from interlace_jax.terms import canonical_theta, diagonal_mask


def theta_layout(sizes: list[int]) -> list[slice]:
    """Slices of the flat theta belonging to each term of the given sizes S_t."""
    out, start = [], 0
    for s in sizes:
        k = s * (s + 1) // 2
        out.append(slice(start, start + k))
        start += k
    return out


def diagonal_positions(sizes: list[int]) -> np.ndarray:
    """Boolean mask over the flat theta: True for diagonal entries (those bounded below by 0)."""
    return np.concatenate([diagonal_mask(s) for s in sizes])


def rectify(
    theta: np.ndarray,
    sizes: list[int],
    objective: Callable[[np.ndarray], float],
    *,
    xtol_zero: float = 1e-4,
    ftol_zero: float = 1e-7,
) -> np.ndarray:
    """Canonical signs, then exact zeros for negligible diagonal theta.

    Args:
        theta: (n_theta,) optimum, computation order.
        sizes: S_t of each term in computation order.
        objective: theta -> float, the objective being minimised.
    """
    out = np.concatenate(
        [canonical_theta(theta[sl], s) for sl, s in zip(theta_layout(sizes), sizes)]
    )
    f_best = objective(out)
    for j in np.flatnonzero(diagonal_positions(sizes) & (np.abs(out) < xtol_zero)):
        trial = out.copy()
        trial[j] = 0.0
        f_trial = objective(trial)
        if f_trial <= f_best + ftol_zero:
            out, f_best = trial, min(f_best, f_trial)
    return out


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
    messages = []
    if g.size == 0:
        return ConvergenceReport(gradient, np.zeros(0), boundary, 0.0, ())
    evals = np.linalg.eigvalsh(0.5 * (h + h.T))
    if not np.all(np.isfinite(evals)) or not np.all(np.isfinite(g)):
        messages.append("non-finite gradient or Hessian at the optimum")
        return ConvergenceReport(gradient, evals, boundary, float("nan"), tuple(messages))
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
