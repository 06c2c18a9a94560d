"""``simulate``: responses drawn from a fitted linear mixed model (lme4's ``simulate.merMod``)."""

from __future__ import annotations

from typing import Mapping

import jax.numpy as jnp
import numpy as np

from interlace_jax._errors import ModelError
from interlace_jax._x64 import x64
from interlace_jax.results import GLMMResult
from interlace_jax.simulation._chunks import check_count, replicate_keys, run_in_chunks
from interlace_jax.simulation._from_result import check_simulable, model_of, params_of
from interlace_jax.simulation._replicate import draw_response
from interlace_jax.simulation._simulate_glmm import simulate_glmm


def _draw(key, shared):
    params, model, spherical = shared
    return draw_response(key, params, model, spherical)


def simulate(result, nsim: int = 1, *, seed: int = 0, newparams: Mapping | None = None,
             include_re: bool = True, use_u: bool = False, as_frame: bool = False,
             chunk_size: int = 1000, progress: bool = False):
    """Draw ``nsim`` responses from a fitted LMM or GLMM, as lme4's ``simulate(m, nsim, seed)``.

    For an LMM each response is ``offset + X beta + Z b + e`` with ``e ~ N(0, sigma^2 / w)``
    (prior weights w) and, by default, new random effects ``b ~ N(0, sigma^2 Lambda Lambda')``.
    For a GLMM (:func:`interlace_jax.glmer`) the response is drawn from the family at the mean
    ``g^{-1}(offset + X beta + Z b)``, ``b ~ N(0, Lambda Lambda')``, in the fit's response
    convention (binomial: proportions of the trials, which are the prior weights).

    Args:
        result: a fitted :class:`~interlace_jax.LMMResult` or :class:`~interlace_jax.GLMMResult`.
        nsim: number of responses.
        seed: integer seed; replicate i uses the i-th of ``nsim`` keys split from it, so the
            draws do not depend on ``chunk_size``.
        newparams: parameters to simulate from instead of the estimates: any of ``beta``
            (array or {name: value} over ``fe_params``), ``theta`` (lme4 order), ``sigma``
            (LMMs) or ``phi`` (GLMMs with a dispersion parameter).
        include_re: False leaves the random effects out (population-level simulation).
        use_u: keep the fitted conditional modes instead of drawing new random effects
            (lme4's ``use.u = TRUE``).
        as_frame: return a pandas DataFrame with columns ``sim_1 ... sim_nsim`` indexed by the
            model rows (lme4's layout) instead of an array.
        chunk_size: responses drawn per vmapped call.
        progress: show a progress bar.

    Returns:
        (n, nsim) array (or DataFrame), one column per simulated response.
    """
    check_simulable(result, "simulate")
    nsim = check_count(nsim, "nsim")
    if use_u and not include_re:
        raise ModelError("use_u=True keeps the fitted random effects: it needs include_re=True")
    if isinstance(result, GLMMResult):
        with x64():
            ys = simulate_glmm(result, nsim, seed, newparams, include_re, use_u, chunk_size,
                               progress)
        return _as_frame(ys, result, as_frame)
    with x64():
        model = model_of(result)
        params = params_of(result, newparams)
        spherical = None
        if use_u:
            sol = result._solution
            spherical = (jnp.asarray(sol.u_first), jnp.asarray(sol.u_rest))
        elif not include_re:
            first = model.plan.terms[0]
            spherical = (jnp.zeros((first.n_levels, first.size)), jnp.zeros(model.plan.n_rest))
        keys = replicate_keys(seed, nsim)
        ys = run_in_chunks(_draw, keys, (params, model, spherical), chunk_size=chunk_size,
                           progress=progress, desc="simulate")
    return _as_frame(np.asarray(ys).T, result, as_frame)


def _as_frame(ys: np.ndarray, result, as_frame: bool):
    """ys (n, nsim) as it is, or as lme4's DataFrame with columns sim_1 ... sim_nsim."""
    if not as_frame:
        return ys
    import pandas as pd

    return pd.DataFrame(ys, index=result.frame.row_index,
                        columns=[f"sim_{i + 1}" for i in range(ys.shape[1])])
