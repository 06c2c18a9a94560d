"""Parametric bootstrap of a GLMM: draw responses from the fit and refit each one on the device.

A refit is the exact-Hessian Newton iteration of :func:`~interlace_jax.optim.minimize_newton`
on the Laplace (or quadrature) deviance, started from the estimates, with LAPACK-free kernels
(vmapped batched LAPACK calls can deadlock XLA's CPU pool, see
:mod:`interlace_jax.linalg._dense_kernels`); the whole batch is one ``jax.vmap`` per chunk.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np
import pandas as pd

from interlace_jax.models._family_conditional import dispersion
from interlace_jax.models._glmm_data import with_plan, with_response
from interlace_jax.models._laplace import zero_effects
from interlace_jax.models._params import split_params
from interlace_jax.optim import Status, minimize_newton
from interlace_jax.results._names import variance_parameter_names
from interlace_jax.simulation._chunks import replicate_keys, run_in_chunks
from interlace_jax.simulation._replicate import sd_cor
from interlace_jax.simulation._simulate_glmm import draw_glmm_response


def _summary(x, deviance, data):
    lay = data.layout
    out = dict(beta=x[lay.beta],
               sdcor=sd_cor(x[lay.theta], jnp.ones((), x.dtype), data.plan)[:-1],
               deviance=deviance)
    if lay.has_dispersion and data.disp.constant:
        out["phi"] = dispersion(split_params(x, lay), data)
    return out


def _replicate(key, shared, *, objective):
    x_hat, data = shared
    refit_data = with_response(data, draw_glmm_response(key, x_hat, data))
    start = zero_effects(refit_data, x_hat.dtype)
    opt = minimize_newton(lambda z: objective(z, refit_data, start)[0], x_hat, gtol=1e-6)
    small = jnp.max(jnp.abs(opt.grad)) <= 1e-5 * jnp.maximum(1.0, jnp.abs(opt.fun))
    ok = (opt.status == Status.CONVERGED) | ((opt.status == Status.STALLED) & small)
    return dict(**_summary(opt.x, opt.fun, refit_data), status=opt.status, converged=ok)


def bootstrap_glmm(result, nsim: int, seed: int, chunk_size: int, progress: bool):
    """(replicates DataFrame, observed Series) of a GLMMResult's parametric bootstrap."""
    from interlace_jax.api_glmm import objective_for

    data = result._data
    lapack_free = with_plan(data, dataclasses.replace(data.plan, lapack=False))
    objective = objective_for(result.n_agq, result._terms)
    x_hat = jnp.asarray(result.fit.x)
    keys = replicate_keys(seed, nsim)
    out = run_in_chunks(_replicate, keys, (x_hat, lapack_free), static=dict(objective=objective),
                        chunk_size=chunk_size, progress=progress, desc="bootstrap")
    names = list(variance_parameter_names([t.group for t in result._terms],
                                          [t.z_names for t in result._terms]).descriptive[:-1])
    columns = {n: out["beta"][:, j] for j, n in enumerate(result.fe_params.index)}
    columns.update({n: out["sdcor"][:, j] for j, n in enumerate(names)})
    observed = [*result.fe_params.to_numpy(),
                *np.asarray(_summary(x_hat, 0.0, data)["sdcor"])]
    index = [*result.fe_params.index, *names]
    if "phi" in out:
        columns["phi"] = out["phi"]
        observed.append(result.dispersion)
        index.append("phi")
    columns["deviance"] = out["deviance"]
    observed.append(result.deviance)
    index.append("deviance")
    columns["status"] = [Status(int(s)).name for s in out["status"]]
    columns["converged"] = out["converged"].astype(bool)
    return pd.DataFrame(columns), pd.Series(observed, index=index)
