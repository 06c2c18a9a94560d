"""Values with first and second derivatives by forward-over-forward differentiation.

For functions of a handful of parameters (theta, variance parameters) forward mode pushes one
tangent per parameter through the computation, whatever the number of outputs, and compiles to
a smaller program than reverse mode; it is also the cheaper Hessian under ``jax.vmap``.
"""

from __future__ import annotations

from typing import Callable

import jax


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
