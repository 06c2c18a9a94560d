r"""The inner problem every Laplace approximation shares: the mode of a penalised objective and
its derivatives with respect to the outer parameters.

A model supplies, for outer parameters x and inner variables v (any pytree of arrays, e.g. the
spherical random effects, or the random effects and the fixed effects together):

* ``objective(v, x, data)``: the penalised objective h(v) it minimises;
* ``gradient(v, x, data)``: grad_v h, with v's structure;
* ``direction(v, x, data)``: a Newton direction -H~^{-1} grad_v h for a positive definite H~
  (the exact Hessian, Fisher's, or a sparse approximation of either: any such H~ makes the
  damped iteration converge to the same mode);
* ``hessian_solve(v, x, data, r)``: H^{-1} r with H the *exact* Hessian of h at the mode.

:func:`damped_newton` runs the iteration in ``lax.while_loop`` (step halving until h decreases);
:func:`implicit_mode` wraps it in a ``jax.custom_jvp`` whose rule is the implicit function
theorem, ``dv = -H^{-1} d(grad_v h)``: the loop is never differentiated, and the rule is itself
differentiable, so exact Hessians of an objective built on the mode follow by
forward-over-forward autodiff.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

MAX_INNER_STEPS = 60
INNER_STEP_TOL = 1e-10


def max_abs(tree) -> jax.Array:
    """() the largest absolute entry of a pytree of arrays (0 for empty arrays)."""
    return jnp.max(jnp.stack([jnp.max(jnp.abs(a), initial=0.0)
                              for a in jax.tree_util.tree_leaves(tree)]))


def _axpy(t, d, v):
    return jax.tree_util.tree_map(lambda a, b: b + t * a, d, v)


def damped_newton(objective: Callable, direction: Callable, x: jax.Array, v0, data, *,
                  max_steps: int = MAX_INNER_STEPS, tol: float = INNER_STEP_TOL):
    """Minimise ``objective(v, x, data)`` over v from v0 by Newton steps with step halving.

    A step is accepted when h does not increase by more than 1e-12 relative; the iteration stops
    when the accepted step's largest entry (scaled by its step length) is below ``tol``, when
    no halving (up to 30) decreases h, or after ``max_steps`` steps.

    Returns:
        v at the last accepted step (v0's structure).
    """

    def cond(state):
        _, _, size, k = state
        return (size > tol) & (k < max_steps)

    def body(state):
        v, h, _, k = state
        d = direction(v, x, data)

        def shrink(c):
            t, _, j = c
            t = 0.5 * t
            return t, objective(_axpy(t, d, v), x, data), j + 1

        def too_big(c):
            t, h_try, j = c
            return ~(h_try <= h + 1e-12 * jnp.abs(h)) & (j < 30)

        t, h_new, _ = jax.lax.while_loop(
            too_big, shrink, (1.0, objective(_axpy(1.0, d, v), x, data), 0))
        ok = h_new <= h + 1e-12 * jnp.abs(h)
        v_new = jax.tree_util.tree_map(lambda a, b: jnp.where(ok, a, b), _axpy(t, d, v), v)
        size = jnp.where(ok, t * max_abs(d), 0.0)
        return v_new, jnp.where(ok, h_new, h), size, k + 1

    h0 = objective(v0, x, data)
    v, _, _, _ = jax.lax.while_loop(cond, body, (v0, h0, jnp.asarray(jnp.inf, h0.dtype), 0))
    return v


def implicit_mode(find: Callable, gradient: Callable, hessian_solve: Callable) -> Callable:
    """The mode ``v~(x) = find(x, v0, data)`` as a function differentiable in x.

    Args:
        find: ``(x, v0, data) -> v``, the minimiser of h started from v0 (e.g. a
            :func:`damped_newton`); its result must not depend on v0 beyond its tolerance.
        gradient: ``(v, x, data) -> grad_v h``.
        hessian_solve: ``(v, x, data, r) -> H^{-1} r`` with the exact Hessian of h in v.

    Returns:
        ``mode(x, v0, data) -> v`` with a ``jax.custom_jvp`` by the implicit function theorem
        (tangents flow through x only).
    """

    @jax.custom_jvp
    def mode(x, v0, data):
        return find(x, v0, data)

    @mode.defjvp
    def _mode_jvp(primals, tangents):
        x, v0, data = primals
        v = mode(x, v0, data)
        _, dgrad = jax.jvp(lambda z: gradient(v, z, data), (x,), (tangents[0],))
        dv = hessian_solve(v, x, data, jax.tree_util.tree_map(jnp.negative, dgrad))
        return v, dv

    return mode
