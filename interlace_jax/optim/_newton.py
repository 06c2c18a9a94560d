"""Damped Newton with the exact Hessian, inside ``lax.while_loop``: for a few parameters.

Mixed models have few variance parameters (a handful of theta), so the exact Hessian from
autodiff costs a few gradients and buys quadratic convergence: typically 5-10 iterations where a
quasi-Newton method needs dozens. On the host each step solves with the Hessian's
eigen-decomposition, every eigenvalue replaced by ``max(|lambda|, eps * max|lambda|)`` (so the
direction is a descent direction even away from a minimum, "saddle-free" Newton). On the device
(vmapped batches of fits) the same step uses a Jacobi eigendecomposition written in jax.numpy,
because batched LAPACK kernels can deadlock under vmap (beyond 8 parameters: a shifted Cholesky
step). Both backtrack until the Armijo
condition holds, up to an allowance of ``fnoise * max(1, |f|)`` for the rounding noise of the
objective (profiled deviances are noisy at about 1e-12 relative): near the optimum the
predicted decrease of a Newton step falls below that noise, and a backtracking search that
insisted on a measurable decrease would only take random tiny steps. Jit-able and vmap-able;
outcomes are :class:`Status` codes.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from interlace_jax.linalg import (
    UNROLL_MAX,
    cholesky,
    solve_lower,
    solve_lower_transposed,
    symmetric_eigen,
)
from interlace_jax.models import central_derivatives_jax, forward_derivatives
from interlace_jax.optim._result import OptResult, Status


def _direction(g: np.ndarray, h: np.ndarray, eps: float) -> np.ndarray:
    """Saddle-free Newton direction (host): eigenvalues replaced by max(|lambda|, eps scale)."""
    evals, evecs = np.linalg.eigh(0.5 * (h + h.T))
    scale = max(float(np.max(np.abs(evals))), 1e-12)
    evals = np.maximum(np.abs(evals), eps * scale)
    return -evecs @ ((evecs.T @ g) / evals)


def _device_direction(g: jax.Array, h: jax.Array, eps: float) -> jax.Array:
    """The host's saddle-free direction with a LAPACK-free (Jacobi) eigendecomposition for up
    to UNROLL_MAX parameters; a shifted Cholesky step beyond."""
    if h.shape[0] > UNROLL_MAX:
        return _shifted_direction(g, h, eps)
    evals, evecs = symmetric_eigen(0.5 * (h + h.T))
    scale = jnp.maximum(jnp.max(jnp.abs(evals)), 1e-12)
    evals = jnp.maximum(jnp.abs(evals), eps * scale)
    return -evecs @ ((evecs.T @ g) / evals)


def _shifted_direction(g: jax.Array, h: jax.Array, eps: float) -> jax.Array:
    """Newton direction on the device, free of LAPACK (an eigendecomposition is a batched
    LAPACK call under vmap; see :mod:`interlace_jax.linalg._dense_kernels`).

    With ``s`` the largest |h_ij|: when every eigenvalue of ``h`` is at least ``eps s`` (its
    Cholesky factor after subtracting ``eps s I`` exists) the step is the Newton step;
    otherwise it solves with ``h + 2 mu I`` for the smallest mu in eps s, 10 eps s, ... such
    that ``h + (mu - eps s) I`` is positive definite. Like the host's eigenvalue floor, this
    keeps steps along nearly flat directions bounded.
    """
    h = 0.5 * (h + h.T)
    eye = jnp.eye(h.shape[0], dtype=h.dtype)
    floor = eps * jnp.maximum(jnp.max(jnp.abs(h)), 1e-12)

    def cond(c):
        _, low, k = c
        return ~jnp.all(jnp.isfinite(low)) & (k < 40)

    def body(c):
        mu, _, k = c
        mu = jnp.where(mu == 0.0, floor, 10.0 * mu)
        return mu, cholesky(h + (mu - floor) * eye, lapack=False), k + 1

    mu, _, _ = jax.lax.while_loop(
        cond, body, (jnp.zeros_like(floor), cholesky(h - floor * eye, lapack=False), 0))
    low = cholesky(h + 2.0 * mu * eye, lapack=False)
    half = solve_lower(low, g[:, None], lapack=False)
    return -solve_lower_transposed(low, half, lapack=False)[:, 0]


def _sufficient(f_try, f, t, slope, fnoise, xp=jnp):
    """Armijo's condition with an allowance for rounding noise in f."""
    allowance = fnoise * xp.maximum(1.0, xp.abs(f))
    return xp.isfinite(f_try) & (f_try <= f + 1e-4 * t * slope + allowance)


def _backtrack(fun, x, f, g, d, max_halvings: int, fnoise: float):
    """Largest t in 1, 1/2, 1/4, ... meeting :func:`_sufficient`; (x_new, f_new, ok)."""
    slope = g @ d

    def cond(c):
        t, f_try, k = c
        return (k == 0) | (~_sufficient(f_try, f, t, slope, fnoise) & (k <= max_halvings))

    def body(c):
        t, _, k = c
        t = jnp.where(k == 0, 1.0, 0.5 * t)
        return t, fun(x + t * d), k + 1

    # one call site of fun (each one is compiled): the first pass tries the full step
    t, f_try, k = jax.lax.while_loop(cond, body, (1.0, f, 0))
    ok = _sufficient(f_try, f, t, slope, fnoise)
    return jnp.where(ok, x + t * d, x), jnp.where(ok, f_try, f), ok


def minimize_newton(
    fun: Callable[[jax.Array], jax.Array],
    x0: jax.Array,
    *,
    max_steps: int = 100,
    gtol: float = 1e-8,
    dtol: float = 1e-15,
    eps: float = 1e-8,
    max_halvings: int = 40,
    fnoise: float = 1e-11,
    derivatives: Callable[[jax.Array, jax.Array | None], tuple] | None = None,
    last_step_dtol: float | None = None,
) -> OptResult:
    """Minimise a smooth scalar function of a short parameter vector with exact Newton steps.

    Converged when ``max |grad| <= gtol`` or when the Newton decrement ``-grad' d`` (twice the
    predicted decrease of a full step) is at most ``dtol * max(1, |f|)``: beyond that, the
    objective's own rounding noise dominates. With ``last_step_dtol``, a decrement at most
    ``last_step_dtol * max(1, |f|)`` ends the iteration too, after one more full step (taken
    when it does not increase f beyond the rounding allowance): near the optimum the error
    squares at each step, so that step lands where the next decrement would be far below
    ``dtol``, and the derivatives there, which only would confirm it, are not evaluated. The
    result's ``grad`` is then the one before that step.

    Args:
        fun: x (n,) -> scalar, traceable by JAX (twice differentiable).
        x0: (n,) starting point.
        max_steps: iteration limit.
        gtol: absolute gradient tolerance.
        dtol: relative Newton-decrement tolerance.
        eps: relative floor of the Hessian eigenvalues used in a step.
        max_halvings: line-search limit; when no step decreases f, status is STALLED.
        fnoise: relative rounding noise of f allowed in the line search.
        derivatives: (x, f) -> (f, gradient (n,), Hessian (n, n)), f being fun at x when
            known (from the line search) or None; by default exact, in one
            forward-over-forward pass (cheaper under vmap than reverse-mode gradients plus a
            forward-over-reverse Hessian).
        last_step_dtol: relative decrement after which one last full step ends the
            iteration (None: the iteration ends where the derivatives show convergence).
    """
    value_grad_hessian = derivatives or (lambda x, f: forward_derivatives(fun, x))

    def small(f, g, d, tol):
        return -(g @ d) <= tol * jnp.maximum(1.0, jnp.abs(f))

    def converged(f, g, d):
        return (jnp.max(jnp.abs(g)) <= gtol) | small(f, g, d, dtol)

    def last_step(f, g, d):
        return (jnp.asarray(False) if last_step_dtol is None
                else small(f, g, d, last_step_dtol) & ~converged(f, g, d))

    def cond(c):
        _, f, g, d, step, ok = c
        running = (step < max_steps) & ~converged(f, g, d) & ~last_step(f, g, d)
        return running & ok & jnp.isfinite(f)

    def body(c):
        x, f, g, d, step, _ = c
        x_new, f_new, ok = _backtrack(fun, x, f, g, d, max_halvings, fnoise)
        f_new, g_new, h_new = value_grad_hessian(x_new, f_new)
        return x_new, f_new, g_new, _device_direction(g_new, h_new, eps), step + 1, ok

    f0, g0, h0 = value_grad_hessian(x0, None)
    d0 = _device_direction(g0, h0, eps)
    x, f, g, d, step, ok = jax.lax.while_loop(
        cond, body, (x0, f0, g0, d0, jnp.asarray(0), jnp.asarray(True))
    )
    finite = jnp.isfinite(f) & jnp.all(jnp.isfinite(g))
    done = converged(f, g, d)
    if last_step_dtol is not None:
        ending = last_step(f, g, d) & finite & ok
        f_end = fun(x + d)
        take = ending & _sufficient(f_end, f, 1.0, g @ d, fnoise)
        x, f = jnp.where(take, x + d, x), jnp.where(take, f_end, f)
        done = done | ending
        step = step + take
    status = jnp.where(
        ~finite,
        Status.NONFINITE,
        jnp.where(done, Status.CONVERGED, jnp.where(ok, Status.MAX_STEPS, Status.STALLED)),
    ).astype(jnp.int32)
    return OptResult(x=x, fun=f, grad=g, n_steps=step, status=status, fun_initial=f0)


def minimize_newton_central(fun: Callable[[jax.Array], jax.Array], x0: jax.Array, *,
                            step: float = 1e-4, last_step_dtol: float = 1e-12,
                            **options) -> OptResult:
    """:func:`minimize_newton` with the gradient and Hessian by central differences of exact
    values (:func:`~interlace_jax.models._forward.central_derivatives_jax`, ``n^2 + n``
    evaluations in one vmap around a point whose value the line search gave), for batches of
    fits whose objective factors a dense block, where exact second derivatives cost several
    times more. The optimum's value is that of
    :func:`minimize_newton` to rounding; along nearly flat directions its location is only
    as precise as the differences' noise (about 1e-6 relative). Ends with one last step
    (``last_step_dtol``, see :func:`minimize_newton`): on a crossed design the relative
    decrements run 8e-6, 6e-9, 4e-15, 1e-22, so the stencil at the last point is spared.
    ``options`` as for :func:`minimize_newton`."""
    return minimize_newton(
        fun, x0, derivatives=lambda x, f: central_derivatives_jax(fun, x, step=step, centre=f),
        last_step_dtol=last_step_dtol, **options)


def _lapack_direction(g: jax.Array, h: jax.Array, eps: float) -> jax.Array:
    """The host's saddle-free direction, compiled (LAPACK's eigh, as numpy): one fit, no vmap."""
    evals, evecs = jnp.linalg.eigh(0.5 * (h + h.T))
    scale = jnp.maximum(jnp.max(jnp.abs(evals)), 1e-12)
    evals = jnp.maximum(jnp.abs(evals), eps * scale)
    return -evecs @ ((evecs.T @ g) / evals)


#: status of an iteration that has not stopped yet (never returned)
_RUNNING = -1


def minimize_newton_finished(
    fun: Callable[[jax.Array], jax.Array],
    derivatives: Callable[[jax.Array], tuple],
    finish: Callable[[jax.Array, jax.Array], jax.Array],
    x0: jax.Array,
    *,
    max_steps: int = 100,
    gtol: float = 1e-8,
    dtol: float = 1e-15,
    eps: float = 1e-8,
    max_halvings: int = 40,
    fnoise: float = 1e-11,
) -> tuple[OptResult, object]:
    """The iteration of :func:`minimize_newton_host` as one compiled loop, then ``finish``.

    For one fit (not vmapped): the whole optimisation is a single dispatch. When the iteration
    stops, one more pass of the same loop body applies ``finish`` to x (rectification) and,
    when that moves x, evaluates the derivatives there, so the program holds one copy of
    ``derivatives`` (the costly part to compile) however the fit ends.

    Args:
        fun: x (n,) -> scalar objective (line search).
        derivatives: x (n,) -> (f, gradient (n,), Hessian (n, n), aux), aux any pytree (the
            caller's full set of derivatives at x).
        finish: (x (n,), f) -> x (n,), applied once at the end (f is fun at x).
        x0: (n,) start. Tolerances as in :func:`minimize_newton`.

    Returns:
        ``(opt, aux)``: the OptResult (``x`` is the finished point, ``fun`` and ``grad`` are
        at it; ``status`` and ``n_steps`` describe the iteration before ``finish``) and
        ``aux`` at ``x``.
    """
    def status_of(f, g, h, d, step, ok):
        finite = jnp.isfinite(f) & jnp.all(jnp.isfinite(g)) & jnp.all(jnp.isfinite(h))
        converged = (jnp.max(jnp.abs(g)) <= gtol) | (
            -(g @ d) <= dtol * jnp.maximum(1.0, jnp.abs(f)))
        return jnp.where(~finite, Status.NONFINITE, jnp.where(
            converged, Status.CONVERGED, jnp.where(
                step >= max_steps, Status.MAX_STEPS, jnp.where(
                    ok, _RUNNING, Status.STALLED)))).astype(jnp.int32)

    def cond(c):
        return c["status"] == _RUNNING

    def body(c):
        status = jnp.where(c["fresh"], _RUNNING,
                           status_of(c["f"], c["g"], c["h"], c["d"], c["step"], c["ok"]))
        running = status == _RUNNING
        stepping = running & ~c["fresh"]

        def newton_step(_):
            x_new, _, ok = _backtrack(fun, c["x"], c["f"], c["g"], c["d"], max_halvings,
                                      fnoise)
            return x_new, ok

        x_new, ok = jax.lax.switch(
            jnp.where(c["fresh"], 0, jnp.where(running, 1, 2)),
            [lambda _: (c["x"], c["ok"]), newton_step, lambda _: (finish(c["x"], c["f"]), c["ok"])],
            None)
        f, g, h, aux = jax.lax.cond(
            c["fresh"] | jnp.any(x_new != c["x"]), lambda _: derivatives(x_new),
            lambda _: (c["f"], c["g"], c["h"], c["aux"]), None)
        return dict(x=x_new, f=f, g=g, h=h, aux=aux, d=_lapack_direction(g, h, eps),
                    step=c["step"] + (stepping & ok), ok=ok, status=status,
                    fresh=jnp.asarray(False), f_initial=jnp.where(c["fresh"], f, c["f_initial"]))

    # the first pass of the loop evaluates the derivatives at x0 (no copy outside the loop);
    # as a jitted function, its trace for the shapes below is reused in the loop
    derivatives = jax.jit(derivatives)
    f0, g0, h0, aux0 = jax.tree_util.tree_map(
        lambda s: jnp.zeros(s.shape, s.dtype), jax.eval_shape(derivatives, x0))
    start = dict(x=x0, f=f0, g=g0, h=h0, aux=aux0, d=jnp.zeros_like(g0), step=jnp.asarray(0),
                 ok=jnp.asarray(True), status=jnp.asarray(_RUNNING, jnp.int32),
                 fresh=jnp.asarray(True), f_initial=f0)
    c = jax.lax.while_loop(cond, body, start)
    opt = OptResult(x=c["x"], fun=c["f"], grad=c["g"], n_steps=c["step"], status=c["status"],
                    fun_initial=c["f_initial"])
    return opt, c["aux"]


def minimize_newton_host(
    fun: Callable[[jax.Array], jax.Array],
    value_grad_hessian: Callable[[jax.Array], tuple],
    x0: np.ndarray,
    *,
    max_steps: int = 100,
    gtol: float = 1e-8,
    dtol: float = 1e-15,
    eps: float = 1e-8,
    max_halvings: int = 40,
    fnoise: float = 1e-11,
) -> tuple[np.ndarray, Status, int, float]:
    """The same iteration as :func:`minimize_newton`, driven from Python.

    For a single fit this compiles only ``fun`` and ``value_grad_hessian`` (each used many
    times) instead of one large loop, which makes the first fit of a new model structure
    several times faster to compile. Returns (x, status, n_steps, f(x0)).
    """
    x = np.asarray(x0, dtype=np.float64)
    f, g, h = (np.asarray(a) for a in value_grad_hessian(x))
    f_initial = float(f)
    for step in range(max_steps + 1):
        if not (np.isfinite(f) and np.all(np.isfinite(g)) and np.all(np.isfinite(h))):
            return x, Status.NONFINITE, step, f_initial
        d = _direction(g, h, eps)
        if np.max(np.abs(g)) <= gtol or -(g @ d) <= dtol * max(1.0, abs(float(f))):
            return x, Status.CONVERGED, step, f_initial
        if step == max_steps:
            break
        slope, t = float(g @ d), 1.0
        for _ in range(max_halvings + 1):
            f_try = float(fun(x + t * d))
            if _sufficient(f_try, float(f), t, slope, fnoise, xp=np):
                break
            t *= 0.5
        else:
            return x, Status.STALLED, step, f_initial
        x = x + t * d
        f, g, h = (np.asarray(a) for a in value_grad_hessian(x))
    return x, Status.MAX_STEPS, max_steps, f_initial
