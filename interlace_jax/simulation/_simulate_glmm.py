"""Responses drawn from a fitted GLMM (lme4's ``simulate.merMod`` for ``glmer`` fits)."""

from __future__ import annotations

from typing import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from interlace_jax._errors import ModelError
from interlace_jax.models._family_conditional import dispersion
from interlace_jax.models._glmm_data import GLMMData
from interlace_jax.models._laplace import eta_of
from interlace_jax.models._params import split_params
from interlace_jax.simulation._chunks import replicate_keys, run_in_chunks
from interlace_jax.simulation._from_result import vector_param


def draw_glmm_response(key: jax.Array, x: jax.Array, data: GLMMData, spherical=None):
    """A response (n,) drawn from the GLMM at outer parameters x (theta, beta, log phi for
    lme4's families): new spherical effects ``u ~ N(0, I)`` unless ``spherical`` (first,
    rest) is given."""
    if data.zeros.has_zero_part or data.family.n_psi:
        raise ModelError(f"drawing responses from a {data.family.name} model with a zero part "
                         "or family parameters is not available")
    plan = data.plan
    k_first, k_rest, k_y = jax.random.split(key, 3)
    if spherical is None:
        first = plan.terms[0]
        spherical = (jax.random.normal(k_first, (first.n_levels, first.size)),
                     jax.random.normal(k_rest, (plan.n_rest,)))
    eta = eta_of(spherical, x, data)
    phi = dispersion(split_params(x, data.layout), data)
    family = data.family
    return family.sample(k_y, family.link.inverse(eta), data.rmap.weights, phi)


def _draw(key, shared):
    x, data, spherical = shared
    return draw_glmm_response(key, x, data, spherical)


def glmm_parameters(result, newparams: Mapping | None) -> np.ndarray:
    """The outer parameters of a GLMMResult with ``beta``, ``theta`` or ``phi`` replaced."""
    newparams = dict(newparams or {})
    unknown = sorted(set(newparams) - {"beta", "theta", "phi"})
    if unknown:
        raise ModelError(f"newparams: unknown keys {unknown}; use 'beta', 'theta', 'phi'")
    lay = result._data.layout
    x = np.array(result.fit.x, dtype=np.float64)
    if "theta" in newparams:
        x[lay.theta] = vector_param(newparams["theta"],
                                    [f"theta{i}" for i in range(lay.n_theta)], "theta")
    if "beta" in newparams:
        x[lay.beta] = vector_param(newparams["beta"], list(result.fe_params.index), "beta")
    if "phi" in newparams:
        if not lay.has_dispersion:
            raise ModelError(f"the {result.family.name} family has no dispersion parameter phi")
        if not result._data.disp.constant:
            raise ModelError("newparams['phi'] needs a constant dispersion (no dispformula)")
        phi = float(newparams["phi"])
        if not (np.isfinite(phi) and phi > 0):
            raise ModelError(f"newparams['phi'] must be positive, got {newparams['phi']}")
        x[lay.disp] = np.log(phi)
    return x


def simulate_glmm(result, nsim: int, seed: int, newparams, include_re: bool, use_u: bool,
                  chunk_size: int, progress: bool) -> np.ndarray:
    """(n, nsim) responses from a GLMMResult (see :func:`interlace_jax.simulate`)."""
    data = result._data
    x = jnp.asarray(glmm_parameters(result, newparams))
    spherical = None
    if use_u:
        spherical = tuple(jnp.asarray(a) for a in result._u)
    elif not include_re:
        first = data.plan.terms[0]
        spherical = (jnp.zeros((first.n_levels, first.size)), jnp.zeros(data.plan.n_rest))
    keys = replicate_keys(seed, nsim)
    ys = run_in_chunks(_draw, keys, (x, data, spherical), chunk_size=chunk_size,
                       progress=progress, desc="simulate")
    return np.asarray(ys).T
