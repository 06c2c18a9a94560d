"""Parametric bootstrap of a linear mixed model: every refit in one vmapped, jitted computation.

As lme4's ``bootMer(m, FUN, nsim, use.u = FALSE)`` and MixedModels.jl's
``parametricbootstrap``: simulate responses from the fitted model (new random effects and
residuals), refit each one from the estimates (a warm start), and collect the estimates.
"""

from __future__ import annotations

from typing import Callable

import jax.numpy as jnp
import numpy as np
import pandas as pd
from scipy import stats

from interlace_jax._errors import ModelError
from interlace_jax._x64 import x64
from interlace_jax.optim import Status
from interlace_jax.results import GLMMResult
from interlace_jax.simulation._bootstrap_glmm import bootstrap_glmm
from interlace_jax.simulation._chunks import fit_chunk_size, replicate_keys, run_in_chunks
from interlace_jax.simulation._from_result import check_simulable, model_of, params_of
from interlace_jax.simulation._replicate import converged, draw_response, refit, sd_cor
from interlace_jax.simulation._chunks import check_count

INTERVAL_METHODS = ("percentile", "basic", "normal")


class BootstrapResult:
    """Replicates of a parametric bootstrap.

    Attributes:
        replicates: DataFrame, one row per replicate: the fixed effects (``fe_params`` names),
            the variance parameters in theta's order under lme4's ``confint(oldNames =
            FALSE)`` names (``sd_(Intercept)|Subject``, ``cor_Days.(Intercept)|Subject``, ...),
            ``sigma``,
            ``deviance``, the user statistic's columns (``stat_0``, ...) if any, and
            ``status`` (optimizer Status name) and ``converged``.
        observed: the same quantities at the original fit (a Series).
        nsim: number of replicates; n_failed: replicates whose refit did not converge (kept in
            ``replicates``, left out of the intervals).
        seed: the seed used.
    """

    def __init__(self, replicates: pd.DataFrame, observed: pd.Series, seed: int):
        self.replicates = replicates
        self.observed = observed
        self.seed = seed

    @property
    def nsim(self) -> int:
        return len(self.replicates)

    @property
    def n_failed(self) -> int:
        return int((~self.replicates["converged"]).sum())

    def conf_int(self, level: float = 0.95, method: str = "percentile") -> pd.DataFrame:
        """Bootstrap intervals from the converged replicates, one row per parameter.

        ``"percentile"`` (lme4's ``confint(m, method = "boot")`` default, boot.ci "perc"):
        quantiles of the replicates; ``"basic"``: 2 * observed - those quantiles, reversed;
        ``"normal"``: observed - bias -+ z * SD of the replicates. The frame's
        ``attrs["n_used"]`` counts the replicates used.
        """
        if not 0 < level < 1:
            raise ModelError(f"level must be in (0, 1), got {level}")
        if method not in INTERVAL_METHODS:
            raise ModelError(f"unknown interval method {method!r}; choose one of "
                             f"{', '.join(INTERVAL_METHODS)}")
        cols = list(self.observed.index)
        reps = self.replicates.loc[self.replicates["converged"], cols]
        a = (1 - level) / 2
        lo_q, hi_q = reps.quantile(a), reps.quantile(1 - a)
        obs = self.observed
        if method == "percentile":
            lo, hi = lo_q, hi_q
        elif method == "basic":
            lo, hi = 2 * obs - hi_q, 2 * obs - lo_q
        else:
            z = stats.norm.ppf(1 - a)
            bias, sd = reps.mean() - obs, reps.std(ddof=1)
            lo, hi = obs - bias - z * sd, obs - bias + z * sd
        out = pd.DataFrame({f"{100 * a:g} %": lo, f"{100 * (1 - a):g} %": hi})
        out.attrs["n_used"] = len(reps)
        return out

    def __repr__(self) -> str:
        return (f"<BootstrapResult: {self.nsim} replicates, {self.n_failed} not converged, "
                f"seed {self.seed}>")


def _observed(result, sdcor: np.ndarray, names: list[str]) -> pd.Series:
    return pd.Series(np.concatenate([result.fe_params.to_numpy(), sdcor, [result.deviance]]),
                     index=[*result.fe_params.index, *names, "deviance"])


def _replicate(key, shared, *, reml: bool, statistic):
    """One bootstrap replicate: draw from the estimates, refit from them, summarise."""
    params, model = shared
    fit = refit(draw_response(key, params, model), params.theta, model, reml)
    out = dict(beta=fit.solution.beta, sdcor=sd_cor(fit.theta, fit.solution.sigma, model.plan),
               deviance=fit.solution.deviance, status=fit.opt.status, converged=converged(fit))
    if statistic is not None:
        raw = statistic(fit)
        try:
            value = jnp.asarray(raw)
        except TypeError:
            value = None
        if value is None or not jnp.issubdtype(value.dtype, jnp.number) or value.ndim > 1:
            raise ModelError("statistic must return a number or a vector of numbers (a JAX "
                             f"function of the refit), not {type(raw).__name__}")
        out["statistic"] = jnp.atleast_1d(value)
    return out


def bootstrap(result, nsim: int, *, seed: int = 0, statistic: Callable | None = None,
              chunk_size: int | None = None, progress: bool = False) -> BootstrapResult:
    """Parametric bootstrap: ``nsim`` responses simulated from the fit, each refitted.

    Refits start from the estimates and run as one ``jax.vmap`` of the whole fit (Newton
    iterations included) per chunk of ``chunk_size`` replicates, compiled once.

    For a GLMM (:func:`interlace_jax.glmer`) each refit is the exact-Hessian Newton iteration
    on the same (Laplace or quadrature) deviance; ``replicates`` then has the fixed effects, the
    random effects' SDs and correlations (no sigma), ``phi`` for families with a dispersion,
    and the deviance; ``statistic`` is not available for GLMMs yet.

    Args:
        result: a fitted :class:`~interlace_jax.LMMResult` (REML or ML; refits use the same)
            or :class:`~interlace_jax.GLMMResult`.
        nsim: number of replicates.
        seed: integer seed; replicate i uses the i-th of ``nsim`` keys split from it, so the
            replicates do not depend on ``chunk_size``.
        statistic: optional JAX function of a refit (an
            :class:`~interlace_jax.optim.LMMFitArrays`: ``.theta``, ``.solution.beta``,
            ``.solution.sigma``, ...) returning a scalar or a vector; its values become the
            columns ``stat_0, stat_1, ...`` of ``replicates``.
        chunk_size: replicates per vmapped call (memory grows with it); by default
            :func:`~interlace_jax.simulation._chunks.fit_chunk_size` for an LMM, 128 for a GLMM.
        progress: show a progress bar.

    Returns:
        A :class:`BootstrapResult`.
    """
    check_simulable(result, "bootstrap")
    nsim = check_count(nsim, "nsim")
    if isinstance(result, GLMMResult):
        if statistic is not None:
            raise ModelError("statistic= is not available for GLMM bootstraps yet")
        chunk = 128 if chunk_size is None else chunk_size
        with x64():
            replicates, observed = bootstrap_glmm(result, nsim, seed, chunk, progress)
        return BootstrapResult(replicates, observed, int(seed))
    names = list(result._variance_names.descriptive)
    with x64():
        model = model_of(result)
        chunk = fit_chunk_size(model.plan, result.nobs) if chunk_size is None else chunk_size
        params = params_of(result)
        observed_sdcor = np.asarray(sd_cor(params.theta, params.sigma, model.plan))
        keys = replicate_keys(seed, nsim)
        out = run_in_chunks(_replicate, keys, (params, model),
                            static=dict(reml=result.reml, statistic=statistic),
                            chunk_size=chunk, progress=progress, desc="bootstrap")
    columns = {n: out["beta"][:, j] for j, n in enumerate(result.fe_params.index)}
    columns.update({n: out["sdcor"][:, j] for j, n in enumerate(names)})
    columns["deviance"] = out["deviance"]
    if statistic is not None:
        columns.update({f"stat_{j}": out["statistic"][:, j]
                        for j in range(out["statistic"].shape[1])})
    columns["status"] = [Status(int(s)).name for s in out["status"]]
    columns["converged"] = out["converged"].astype(bool)
    return BootstrapResult(pd.DataFrame(columns), _observed(result, observed_sdcor, names),
                           int(seed))
