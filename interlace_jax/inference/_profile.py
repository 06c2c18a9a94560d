r"""Profile-likelihood confidence intervals (lme4's ``confint(m, method = "profile")``).

For each parameter ``p`` (lme4's order: per term the SDs and correlations in theta's order,
then sigma, then the fixed effects) the signed square root of the profiled ML deviance,

.. math::  \zeta(c) = \operatorname{sign}(c - \hat p) \sqrt{\min_{\text{others}} d - \hat d},

is computed by holding ``p = c`` and minimising the deviance over the other parameters with the
exact-Hessian Newton method (:mod:`interlace_jax.inference._profile_objective` says how the other
parameters are written so that the problem is unconstrained). The interval's limits are where
``zeta`` crosses ``-z`` and ``+z``, ``z = Phi^{-1}((1 + level) / 2)``: the crossing is bracketed
by stepping out from the estimate (secant extrapolation of zeta) and then found by Brent's
method (scipy ``brentq``) to ``xtol``. When zeta does not reach ``z`` before the parameter's
bound (0 for an SD, -1 or 1 for a correlation), the limit is the bound, as in lme4.

lme4 instead evaluates zeta on a grid, interpolates it with a spline and inverts the spline; its
limits therefore carry a small interpolation error (about 1e-4 relative), which is the size of
the differences from the limits computed here.

REML fits are profiled on the ML deviance at the ML refit (as lme4's ``devfun2`` does): the
caller passes the ML optimum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from scipy import optimize, stats

from interlace_jax._errors import ModelError
from interlace_jax._x64 import x64
from interlace_jax.inference._profile_objective import (
    SIGMA_FIXED,
    SIGMA_FROM_ROW,
    SIGMA_PROFILED,
    OffsetProducts,
    ProfileSpec,
    fixed_profile_deviance,
    fixed_profile_value,
    profile_deviance,
    profile_value,
)
from interlace_jax.models import (
    LMMData,
    forward_derivatives,
    lmm_data,
    lmm_deviance,
    lmm_solution,
    response_products,
)
from interlace_jax.optim import FEW_CALLS, Status, minimize_newton_host
from interlace_jax.terms import ReTerm, lambda_blocks, theta_slices, tril_positions


@dataclass(frozen=True)
class ProfileParameter:
    """One profiled parameter.

    Attributes:
        kind: ``"sd"``, ``"cor"``, ``"sigma"`` or ``"beta"``.
        term: term index in computation order (-1 for sigma and beta).
        row, col: for ``"sd"`` the effect ``k`` twice; for ``"cor"`` the effects ``k > l``
            (row k, column l of the term's covariance); for ``"beta"`` the column j twice;
            -1 for sigma.
        estimate: the ML estimate.
        lower_bound, upper_bound: the parameter's range (SD >= 0, -1 <= correlation <= 1,
            sigma > 0, fixed effects unbounded).
    """

    kind: str
    term: int
    row: int
    col: int
    estimate: float
    lower_bound: float
    upper_bound: float


@dataclass(frozen=True)
class ProfileIntervals:
    """Profile-likelihood intervals of all parameters (m of them, lme4's order).

    Attributes:
        parameters: the m ProfileParameters.
        lower, upper: (m,) the limits.
        level: the confidence level.
        deviance: the ML deviance at the optimum, d-hat.
        n_evaluations: number of conditional minimisations (zeta evaluations) used.
        messages: problems met (a conditional minimisation that did not converge); empty when
            none.
    """

    parameters: tuple[ProfileParameter, ...]
    lower: np.ndarray
    upper: np.ndarray
    level: float
    deviance: float
    n_evaluations: int
    messages: tuple[str, ...]


def _value_grad_hessian(f: Callable) -> Callable:
    """x, *args -> (f, grad f, Hessian f) by forward over forward mode (cheapest to compile)."""

    def vgh(x, *args):
        return forward_derivatives(lambda y: f(y, *args), x)

    return vgh


#: Compiled with XLA's cheapest backend settings: they compile about twice as fast, and each
#: evaluation is a few small dense factorisations, whose speed hardly changes.
_var_value = jax.jit(profile_value, compiler_options=FEW_CALLS)
_var_vgh = jax.jit(_value_grad_hessian(profile_deviance), compiler_options=FEW_CALLS)
_fix_value = jax.jit(fixed_profile_value, compiler_options=FEW_CALLS)
_fix_vgh = jax.jit(_value_grad_hessian(fixed_profile_deviance), compiler_options=FEW_CALLS)


def profile_parameters(theta: np.ndarray, sigma: float, beta: np.ndarray,
                       sizes: tuple[int, ...]) -> list[ProfileParameter]:
    """The parameters in lme4's order, with their ML estimates (theta in computation order)."""
    out = []
    for t, (lam, size) in enumerate(zip(lambda_blocks(theta, sizes), sizes)):
        cov = sigma**2 * lam @ lam.T
        sd = np.sqrt(np.diag(cov))
        for r, c in zip(*tril_positions(size)):
            if r == c:
                out.append(ProfileParameter("sd", t, int(r), int(r), float(sd[r]), 0.0, np.inf))
            else:
                with np.errstate(invalid="ignore", divide="ignore"):
                    rho = float(cov[r, c] / (sd[r] * sd[c]))
                out.append(ProfileParameter("cor", t, int(r), int(c), rho, -1.0, 1.0))
    out.append(ProfileParameter("sigma", -1, -1, -1, float(sigma), 0.0, np.inf))
    out += [ProfileParameter("beta", -1, j, j, float(b), -np.inf, np.inf)
            for j, b in enumerate(beta)]
    return out


def _minimize(value: Callable, vgh: Callable, u0: np.ndarray, free: np.ndarray):
    """Minimise over the free entries of u from u0: (u, deviance, sigma, Status).

    After Newton's method stops, a negative Hessian eigenvalue means a saddle (a diagonal of
    Lambda exactly at 0, where the gradient vanishes by symmetry): step off along it and restart.
    """
    u0 = np.asarray(u0, dtype=float)

    def full(x):
        u = u0.copy()
        u[free] = x
        return u

    def fun(x):
        return float(value(full(x))[0])

    def sub(x):
        v, g, h = (np.asarray(a) for a in vgh(full(x)))
        return v, g[free], h[np.ix_(free, free)]

    status = Status.CONVERGED
    if free.any():
        x = u0[free]
        for _ in range(3):
            x, status, _, _ = minimize_newton_host(fun, sub, x)
            _, g, h = sub(x)
            evals, evecs = np.linalg.eigh(0.5 * (h + h.T))
            if evals[0] >= -1e-8 * max(1.0, abs(evals[-1])):
                break
            f_here, best = fun(x), x
            for sign in (1.0, -1.0):
                trial = x + sign * 1e-2 * max(1.0, float(np.max(np.abs(x)))) * evecs[:, 0]
                if fun(trial) < f_here:
                    best = trial
                    break
            if best is x:
                break
            x = best
        u0 = full(x)
    dev, sigma = (float(v) for v in value(u0))
    return u0, dev, sigma, status


class _Profiler:
    """zeta(c) for one parameter, by continuation: each minimisation starts from the solution
    at the nearest point already evaluated between the estimate and c, so that the profile
    follows one branch of conditional minima outward from the estimate (a start from a point
    further out can land in another local minimum, such as an SD at 0, and make zeta jump)."""

    def __init__(self, param: ProfileParameter, evaluate: Callable, u_hat: np.ndarray,
                 sigma_hat: float, d_hat: float):
        self.param = param
        self.evaluate = evaluate  # (c, u_start, sigma_start) -> (u, dev, sigma, status)
        self.points = [(param.estimate, u_hat, sigma_hat)]
        self.d_hat = d_hat
        self.messages: list[str] = []
        self.count = 0

    def _start(self, c: float):
        c0 = self.param.estimate
        inward = [pt for pt in self.points
                  if (pt[0] - c0) * (c - c0) >= 0 and abs(pt[0] - c0) <= abs(c - c0)]
        return min(inward, key=lambda pt: abs(pt[0] - c))

    def zeta(self, c: float) -> float:
        _, u, s = self._start(c)
        u, dev, sigma, status = self.evaluate(c, u, s)
        self.count += 1
        if status not in (Status.CONVERGED, Status.STALLED):
            self.messages.append(f"{self.param.kind} = {c:.6g}: {Status(status).message}")
        if not np.isfinite(dev):
            raise ModelError(f"profiling {self.param.kind}: non-finite deviance at {c:.6g}")
        if dev < self.d_hat - 1e-6 * max(1.0, abs(self.d_hat)):
            raise ModelError(
                f"profiling found a lower deviance ({dev:.10g} < {self.d_hat:.10g}) with the "
                f"{self.param.kind} parameter at {c:.6g}: the ML fit has not converged"
            )
        self.points.append((c, u, sigma))
        return float(np.sign(c - self.param.estimate) * np.sqrt(max(dev - self.d_hat, 0.0)))

    def limit(self, direction: float, target: float, first_step: float,
              max_zeta_step: float = 0.5) -> float:
        """The c on the ``direction`` side where |zeta| = target, or the bound.

        Steps outward from the estimate with secant extrapolation of zeta, each step at most
        twice the previous one and predicted to raise |zeta| by at most ``max_zeta_step``; then
        Brent's method on the bracketing step.
        """
        p = self.param
        c0 = p.estimate
        bound = p.upper_bound if direction > 0 else p.lower_bound
        room = abs(bound - c0)
        if room == 0.0:
            return bound
        at_bound = p.kind in ("sd", "cor")  # evaluate exactly at the bound (sigma never is 0)
        x_max = room if at_bound else 0.999 * room

        def g(x):
            return direction * self.zeta(c0 + direction * x) - target

        x_prev, g_prev = 0.0, -target
        x = min(first_step, x_max)
        for _ in range(100):
            gx = g(x)
            if gx >= 0.0:
                tol = 1e-9 * max(abs(c0), first_step)
                root = optimize.brentq(g, x_prev, x, xtol=tol, rtol=1e-12)
                return c0 + direction * root
            if x >= x_max:
                return bound
            step = x - x_prev
            slope = (gx - g_prev) / step
            if slope > 0:
                step_next = min(1.1 * (-gx), max_zeta_step) / slope
            else:
                self.messages.append(f"non-monotonic profile of the {p.kind} parameter near "
                                     f"{c0 + direction * x:.6g}")
                step_next = 2.0 * step
            x_prev, g_prev = x, gx
            x = min(x + min(max(step_next, 0.1 * step), 2.0 * step), x_max)
        raise ModelError(f"profile of the {p.kind} parameter did not reach zeta = {target:.3g}")


def _perm(size: int, k: int, other: int) -> np.ndarray:
    """Permutation matrix P with (P S P')[i, j] = S[order[i], order[j]], order = (other, k,
    the rest): it brings the pair whose correlation is held to the front."""
    order = [other, k] + [i for i in range(size) if i not in (other, k)]
    return np.eye(size)[order]


def _chol(mat: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor of a positive semi-definite matrix (tiny jitter if singular)."""
    try:
        return np.linalg.cholesky(mat)
    except np.linalg.LinAlgError:
        jitter = 1e-10 * max(float(np.max(np.diag(mat))), 1e-300)
        return np.linalg.cholesky(mat + jitter * np.eye(len(mat)))


class _VarianceProfiles:
    """Builds the evaluate() functions of the SD, correlation and sigma parameters."""

    def __init__(self, data: LMMData, theta_hat: np.ndarray, sizes: tuple[int, ...]):
        self.data, self.theta_hat, self.sizes = data, theta_hat, sizes
        self.slices = theta_slices(sizes)
        self.n_theta = theta_hat.size

    def spec(self, mode, sigma_value=1.0, row_mask=None, cor_term=-1, cor_value=0.0,
             perm=None) -> ProfileSpec:
        flags = np.zeros(len(self.sizes))
        perms = [np.eye(s) for s in self.sizes]
        if cor_term >= 0:
            flags[cor_term] = 1.0
            perms[cor_term] = perm
        return ProfileSpec(
            sigma_mode=jnp.asarray(mode, dtype=jnp.int32),
            sigma_value=jnp.asarray(float(sigma_value)),
            row_mask=jnp.asarray(np.zeros(self.n_theta) if row_mask is None else row_mask),
            cor_flags=jnp.asarray(flags),
            cor_value=jnp.asarray(float(cor_value)),
            perms=tuple(jnp.asarray(m) for m in perms),
        )

    def _run(self, spec, u0, free):
        data = self.data
        return _minimize(lambda u: _var_value(u, spec, data), lambda u: _var_vgh(u, spec, data),
                         u0, free)

    def row_entries(self, term: int, k: int) -> np.ndarray:
        rows, _ = tril_positions(self.sizes[term])
        mask = np.zeros(self.n_theta, dtype=bool)
        mask[self.slices[term]] = rows == k
        return mask

    def sigma(self):
        everything = np.ones(self.n_theta, dtype=bool)

        def evaluate(c, u, s):
            return self._run(self.spec(SIGMA_FIXED, c), u * (s / c), everything)

        return evaluate

    def sd(self, term: int, k: int):
        row = self.row_entries(term, k)
        everything = np.ones(self.n_theta, dtype=bool)
        diag = np.flatnonzero(row)[-1]  # the diagonal entry is the last of the row

        def evaluate(c, u, s):
            u = u.copy()
            if c == 0.0:
                u[row] = 0.0
                return self._run(self.spec(SIGMA_PROFILED), u, ~row)
            norm = float(np.sqrt(np.sum(u[row] ** 2)))
            if norm > 0:
                u[row] *= (c / s) / norm
            else:
                u[diag] = c / s
            return self._run(self.spec(SIGMA_FROM_ROW, c, row_mask=row.astype(float)), u,
                             everything)

        return evaluate

    def cor(self, term: int, k: int, other: int):
        """evaluate() and the estimate's u in its coordinates (the permuted factor of the term)."""
        size = self.sizes[term]
        perm = _perm(size, k, other)
        rows, cols = tril_positions(size)
        sl = self.slices[term]
        unused = np.zeros(self.n_theta, dtype=bool)
        unused[np.arange(self.n_theta)[sl][(rows == 1) & (cols == 0)]] = True
        lam = lambda_blocks(self.theta_hat, self.sizes)[term]
        low = _chol(perm @ lam @ lam.T @ perm.T)
        low[1, 1] = np.hypot(low[1, 0], low[1, 1])
        low[1, 0] = 0.0
        u_hat = self.theta_hat.copy()
        u_hat[sl] = low[rows, cols]

        def evaluate(c, u, s):
            spec = self.spec(SIGMA_PROFILED, cor_term=term, cor_value=c, perm=perm)
            return self._run(spec, u, ~unused)

        return evaluate, u_hat


def _fixed_evaluator(terms, X, y, weights, j):
    """evaluate(c, theta, sigma) for beta_j = c: the model without column j, offset c x_j."""
    X_drop = np.delete(X, j, axis=1)
    data = lmm_data(terms, X_drop, y, weights)
    xj = X[:, j]
    off = OffsetProducts(
        x=jax.device_put(response_products(data.plan, terms, X_drop, xj, weights)),
        xy=jnp.asarray(float(xj @ (weights * y))),
    )
    everything = np.ones(sum(t.n_theta for t in terms), dtype=bool)

    def evaluate(c, theta, s):
        c = jnp.asarray(float(c))
        return _minimize(lambda th: _fix_value(th, c, data, off),
                         lambda th: _fix_vgh(th, c, data, off), theta, everything)

    return evaluate


def profile_intervals(
    terms: list[ReTerm],
    X: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray,
    data: LMMData,
    theta: np.ndarray,
    *,
    level: float = 0.95,
) -> ProfileIntervals:
    """Profile-likelihood intervals of every parameter of an LMM at its ML optimum.

    Args:
        terms: random-effects terms in computation order (``data.plan`` order).
        X: (n, p) fixed-effects matrix; y: (n,) response minus offset; weights: (n,).
        data: the model's LMMData (for X, y, weights).
        theta: (n_theta,) the ML optimum, computation order.
        level: confidence level in (0, 1).

    Returns:
        ProfileIntervals in lme4's parameter order.
    """
    if not 0.0 < level < 1.0:
        raise ModelError(f"level must be in (0, 1), got {level!r}")
    target = float(stats.norm.ppf(0.5 * (1.0 + level)))
    sizes = tuple(lay.size for lay in data.plan.terms)
    theta = np.asarray(theta, dtype=float)
    with x64():
        d_hat = float(lmm_deviance(jnp.asarray(theta), data, False))
        sol = jax.device_get(lmm_solution(jnp.asarray(theta), data, False))
        sigma_hat, beta = float(sol.sigma), np.asarray(sol.beta)
        se = sigma_hat * np.sqrt(np.diag(np.asarray(sol.beta_cov_unscaled)))
        params = profile_parameters(theta, sigma_hat, beta, sizes)
        var = _VarianceProfiles(data, theta, sizes)
        lower, upper, messages, count = [], [], [], 0
        for p in params:
            if not np.isfinite(p.estimate):
                lower.append(np.nan)
                upper.append(np.nan)
                messages.append(f"{p.kind} of term {p.term + 1}: estimate undefined, no interval")
                continue
            u_hat = theta
            if p.kind == "sigma":
                evaluate = var.sigma()
                step = target * sigma_hat / np.sqrt(2.0 * float(data.design.n_obs))
            elif p.kind == "sd":
                evaluate = var.sd(p.term, p.row)
                step = 0.25 * p.estimate if p.estimate > 0 else 0.1 * sigma_hat
            elif p.kind == "cor":
                evaluate, u_hat = var.cor(p.term, p.row, p.col)
                step = 0.1
            else:
                evaluate = _fixed_evaluator(terms, X, y, weights, p.row)
                step = target * se[p.row]
            prof = _Profiler(p, evaluate, u_hat, sigma_hat, d_hat)
            lower.append(prof.limit(-1.0, target, step))
            upper.append(prof.limit(1.0, target, step))
            messages += prof.messages
            count += prof.count
    return ProfileIntervals(tuple(params), np.asarray(lower), np.asarray(upper), level, d_hat,
                            count, tuple(messages))
