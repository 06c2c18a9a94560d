"""Values with first and second derivatives by forward-over-forward differentiation.

For functions of a handful of parameters (theta, variance parameters) forward mode pushes one
tangent per parameter through the computation, whatever the number of outputs, and compiles to
a smaller program than reverse mode; it is also the cheaper Hessian under ``jax.vmap``.
"""

from __future__ import annotations

from typing import Callable

import jax
import numpy as np


def forward_derivatives(fn: Callable, x: jax.Array):
    """(value, Jacobian, Hessian) of ``fn`` at x (k,): for an output of shape S, the Jacobian
    has shape S + (k,) and the Hessian S + (k, k); for a scalar ``fn``, the gradient and the
    Hessian."""

    def first(z):
        value = fn(z)
        return value, value

    def second(z):
        jac, value = jax.jacfwd(first, has_aux=True)(z)
        return jac, (jac, value)

    hess, (jac, value) = jax.jacfwd(second, has_aux=True)(x)
    return value, jac, hess


def central_derivatives(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray, *,
                        step: float = 1e-4):
    """(value, Jacobian, Hessian) of a host function by central differences of its values, for
    objectives whose exact second derivatives cost too much (lme4's ``checkConv`` does the
    same): ``k^2 + k + 1`` evaluations at x (k,), steps ``step * max(1, |x_i|)``, accurate to
    about ``step^2`` relative. Shapes as :func:`forward_derivatives` (``fn`` returns an array
    of shape S)."""
    x = np.asarray(x, dtype=np.float64)
    k = x.size
    h = step * np.maximum(1.0, np.abs(x))
    centre = np.asarray(fn(x), dtype=np.float64)
    plus, minus = [], []
    for i in range(k):
        e = np.zeros(k)
        e[i] = h[i]
        plus.append(np.asarray(fn(x + e)))
        minus.append(np.asarray(fn(x - e)))
    jac = np.stack([(pl - mi) / (2 * h[i]) for i, (pl, mi) in enumerate(zip(plus, minus))], -1)
    hess = np.empty(centre.shape + (k, k))
    for i in range(k):
        hess[..., i, i] = (plus[i] - 2 * centre + minus[i]) / h[i] ** 2
        for j in range(i):
            # second order from the diagonal points and two more: f(x + h_ij) + f(x - h_ij)
            # - f(x +- h_i) - f(x +- h_j) + 2 f(x) = 2 h_i h_j f_ij + O(h^4)
            both = np.zeros(k)
            both[i], both[j] = h[i], h[j]
            mixed = (np.asarray(fn(x + both)) + np.asarray(fn(x - both)) - plus[i] - minus[i]
                     - plus[j] - minus[j] + 2 * centre) / (2 * h[i] * h[j])
            hess[..., i, j] = hess[..., j, i] = mixed
    return centre, jac, hess
