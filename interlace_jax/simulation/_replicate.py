"""One replicate on the device: draw a response from given parameters and refit the model to it.

Everything here is a pure JAX function of arrays, so that :mod:`interlace_jax.simulation` runs a
whole family of replicates as one ``jax.vmap`` over random keys (or response columns), jitted
once per model structure and chunk size.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import jax
import jax.numpy as jnp
import numpy as np

from interlace_jax.models import (
    DesignProducts,
    LMMData,
    ResponseMap,
    effects_from_spherical,
    linear_predictor,
    response_map,
    response_products_of,
    split_theta,
)
from interlace_jax.optim import LMMFitArrays, Status, fit_lmm_arrays
from interlace_jax.terms import tril_positions


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class LMMParams:
    """Parameters of a linear mixed model, as simulate and refit use them.

    Attributes:
        beta: (p,) fixed effects (model-matrix column order).
        theta: (n_theta,) relative covariance parameters, computation (lme4) order.
        sigma: () residual standard deviation.
    """

    beta: jax.Array
    theta: jax.Array
    sigma: jax.Array


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class DeviceModel:
    """What drawing and refitting need: the y-independent products, the observation-level map
    and the offset (n,)."""

    design: DesignProducts
    rmap: ResponseMap
    offset: jax.Array

    @property
    def plan(self):
        return self.rmap.plan


def draw_response(key: jax.Array, params: LMMParams, model: DeviceModel,
                  spherical=None) -> jax.Array:
    """A response (n,) drawn from the model: ``offset + X beta + Z Lambda u + sigma e / sqrt(w)``.

    Args:
        key: a JAX random key.
        params: the parameters to simulate from.
        model: the DeviceModel.
        spherical: None to draw new random effects ``u ~ N(0, sigma^2 I)`` (lme4's default,
            ``use.u = FALSE``), or a pair (u_first (L1, S1), u_rest (q_rest,)) to keep fixed
            (zeros for no random effects, the fitted modes for lme4's ``use.u = TRUE``).
    """
    plan = model.rmap.plan
    k_first, k_rest, k_noise = jax.random.split(key, 3)
    if spherical is None:
        first = plan.terms[0]
        spherical = (
            params.sigma * jax.random.normal(k_first, (first.n_levels, first.size)),
            params.sigma * jax.random.normal(k_rest, (plan.n_rest,)),
        )
    b_first, b_rest = effects_from_spherical(params.theta, *spherical, plan)
    eta = model.offset + linear_predictor(params.beta, b_first, b_rest, model.rmap)
    noise = jax.random.normal(k_noise, eta.shape) / jnp.sqrt(model.rmap.weights)
    return eta + params.sigma * noise


def data_for(y: jax.Array, model: DeviceModel) -> LMMData:
    """The LMMData of the model with response y (n,) (offset included)."""
    return LMMData(model.design, response_products_of(y - model.offset, model.rmap), model.plan)


def refit(y: jax.Array, theta0: jax.Array, model: DeviceModel, reml: bool,
          optimizer: str = "newton") -> LMMFitArrays:
    """Fit the model to the response y (n,) from theta0 (n_theta,) on the device."""
    return fit_lmm_arrays(theta0, data_for(y, model), reml, optimizer)


def sd_cor(theta: jax.Array, sigma: jax.Array, plan) -> jax.Array:
    """The variance parameters on lme4's sd/cor scale, in theta's order (per term the lower
    triangle column by column: an SD on the diagonal, a correlation below it), then sigma.
    Shape (n_theta + 1,); names from
    :func:`~interlace_jax.results._names.variance_parameter_names` (``descriptive``)."""
    out = []
    for lam in split_theta(theta, plan):
        cov = sigma**2 * lam @ lam.T
        sd = jnp.sqrt(jnp.diagonal(cov))
        rows, cols = tril_positions(lam.shape[0])
        safe = jnp.where(sd > 0, sd, 1.0)
        corr = jnp.where((sd[rows] > 0) & (sd[cols] > 0),
                         cov[rows, cols] / (safe[rows] * safe[cols]), jnp.nan)
        out.append(jnp.where(rows == cols, sd[rows], corr))
    out.append(jnp.reshape(sigma, (1,)))
    return jnp.concatenate(out)


def device_model(plan, design: DesignProducts, ordered_terms, X: np.ndarray,
                 weights: np.ndarray, offset: np.ndarray) -> DeviceModel:
    """The DeviceModel of a model, its plan switched to LAPACK-free kernels for vmapped batches.

    Call inside ``jax.enable_x64(True)``. ``ordered_terms`` are the ReTerms in computation order.
    """
    batch_plan = replace(plan, lapack=False)
    return DeviceModel(design, response_map(batch_plan, ordered_terms, X, weights),
                       jax.device_put(np.asarray(offset, dtype=np.float64)))


def converged(fit: LMMFitArrays) -> jax.Array:
    """() bool: the refit converged. The optimizer's STALLED (no decrease possible at the
    rounding floor) counts when the gradient is negligible, as in the single-fit checks."""
    small = jnp.max(jnp.abs(fit.opt.grad)) <= 1e-6 * jnp.maximum(1.0, jnp.abs(fit.opt.fun))
    status = fit.opt.status
    return (status == Status.CONVERGED) | ((status == Status.STALLED) & small)
