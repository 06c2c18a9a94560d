"""Values with first and second derivatives by forward-over-forward differentiation.

For functions of a handful of parameters (theta, variance parameters) forward mode pushes one
tangent per parameter through the computation, whatever the number of outputs, and compiles to
a smaller program than reverse mode; it is also the cheaper Hessian under ``jax.vmap``.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
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


def _stencil(k: int) -> np.ndarray:
    """(k^2 + k + 1, k) unit offsets of the central-difference stencil: 0, then +-e_i for
    each i, then +-(e_i + e_j) for each pair j < i."""
    eye = np.eye(k)
    points = [np.zeros(k)]
    for i in range(k):
        points += [eye[i], -eye[i]]
    for i in range(k):
        for j in range(i):
            points += [eye[i] + eye[j], -(eye[i] + eye[j])]
    return np.array(points)


def _combine(values, h, xp):
    """(value, Jacobian, Hessian) from the values (k^2 + k + 1,) + S at the points of
    :func:`_stencil` scaled by the steps h (k,); xp is numpy or jax.numpy."""
    k = h.shape[0]
    centre, plus, minus = values[0], values[1 : 2 * k + 1 : 2], values[2 : 2 * k + 1 : 2]
    extra = (slice(None),) + (None,) * (values.ndim - 1)
    jac = xp.moveaxis((plus - minus) / (2 * h[extra]), 0, -1)
    diag = (plus - 2 * centre + minus) / (h**2)[extra]
    rows = []
    pair = 2 * k + 1
    for i in range(k):
        row = []
        for j in range(k):
            if i == j:
                row.append(diag[i])
                continue
            a, b = max(i, j), min(i, j)
            at = pair + 2 * (a * (a - 1) // 2 + b)
            # second order from the diagonal points and two more: f(x + h_ij) + f(x - h_ij)
            # - f(x +- h_i) - f(x +- h_j) + 2 f(x) = 2 h_i h_j f_ij + O(h^4)
            row.append((values[at] + values[at + 1] - plus[i] - minus[i] - plus[j] - minus[j]
                        + 2 * centre) / (2 * h[i] * h[j]))
        rows.append(xp.stack(row, axis=-1))
    return centre, jac, xp.stack(rows, axis=-2)


def central_steps(x, step: float, xp=np):
    """Steps (k,) of the central differences at x (k,): ``step * max(1, |x_i|)``."""
    return step * xp.maximum(1.0, xp.abs(x))


def central_derivatives(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray, *,
                        step: float = 1e-4):
    """(value, Jacobian, Hessian) of a host function by central differences of its values, for
    objectives whose exact second derivatives cost too much (lme4's ``checkConv`` does the
    same): ``k^2 + k + 1`` evaluations at x (k,), steps ``step * max(1, |x_i|)``, accurate to
    about ``step^2`` relative. Shapes as :func:`forward_derivatives` (``fn`` returns an array
    of shape S)."""
    x = np.asarray(x, dtype=np.float64)
    h = central_steps(x, step)
    values = np.stack([np.asarray(fn(p), dtype=np.float64) for p in x + _stencil(x.size) * h])
    return _combine(values, h, np)


def central_derivatives_jax(fn: Callable, x: jax.Array, *, step: float = 1e-4,
                            extrapolate: bool = False, centre: jax.Array | None = None):
    """:func:`central_derivatives` of a JAX function, its ``k^2 + k + 1`` evaluations as one
    ``jax.vmap`` over the stencil: jit-able and vmap-able.

    Where the function is a factorisation of a dense block (a batched LMM fit with crossed
    terms), forward-over-forward derivatives cost ~28 evaluations for two parameters (the
    tangents ride through a column-by-column Cholesky loop); these 7 evaluations give the
    same Newton iterates and optimum (crossed 50 x 40 design: deviances equal to 1e-12).

    With ``extrapolate``, Richardson's extrapolation of the differences at steps h and 2h,
    ``(4 D(h) - D(2h)) / 3``, cancels their error of order h^2 (twice the evaluations): for
    derivatives that are results (Satterthwaite's df), not only a search direction.
    ``centre``, when given, is fn(x) (known to a caller such as Newton's line search) and is
    not evaluated again.
    """
    h = central_steps(x, step, jnp)
    stencil = jnp.asarray(_stencil(x.shape[0]), x.dtype)
    offsets = stencil * h if not extrapolate else jnp.concatenate(
        [stencil * h, stencil[1:] * (2 * h)])
    if centre is None:
        values = jax.vmap(fn)(x + offsets)
    else:
        values = jnp.concatenate([jnp.asarray(centre)[None], jax.vmap(fn)(x + offsets[1:])])
    if not extrapolate:
        return _combine(values, h, jnp)
    fine = _combine(values[: stencil.shape[0]], h, jnp)
    coarse = _combine(jnp.concatenate([values[:1], values[stencil.shape[0]:]]), 2 * h, jnp)
    return fine[0], *((4 * f - c) / 3 for f, c in zip(fine[1:], coarse[1:]))

