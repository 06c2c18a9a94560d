"""What the batched functions take from a fitted LMMResult: its device model, its parameters
(or the user's ``newparams``) and the names of the variance parameters."""

from __future__ import annotations

from typing import Any, Mapping

import jax.numpy as jnp
import numpy as np

from interlace_jax._errors import ModelError
from interlace_jax.simulation._replicate import DeviceModel, LMMParams, device_model


def check_simulable(result, what: str) -> None:
    """Raise ModelError unless ``result`` is a fit that ``what`` (simulate, bootstrap) can
    redraw: a linear mixed model or a GLMM (not a cumulative link or Cox model)."""
    from interlace_jax.results import GLMMResult, LMMResult

    if not isinstance(result, (LMMResult, GLMMResult)):
        raise ModelError(f"{what}() takes a fit of interlace_jax.fit, glmer or glmmTMB, not a "
                         f"{type(result).__name__}")


def model_of(result) -> DeviceModel:
    """The result's DeviceModel (call inside ``jax.enable_x64(True)``)."""
    if result.correlation is not None:
        raise ModelError(
            "simulate, bootstrap and conf_int(method='boot') are not available for a fit with "
            "correlation= (they draw independent residuals)")
    frame = result.frame
    return device_model(result._data.plan, result._data.design, result._terms, frame.X,
                        frame.weights, frame.offset)


def vector_param(value: Any, names: list[str], what: str) -> np.ndarray:
    """A ``newparams`` entry as a float vector ordered as ``names`` (array or {name: value})."""
    if isinstance(value, Mapping) or hasattr(value, "keys"):
        value = dict(value)
        unknown = sorted(set(value) - set(names))
        missing = [n for n in names if n not in value]
        if unknown or missing:
            raise ModelError(f"newparams[{what!r}]: unknown names {unknown}, missing {missing}; "
                             f"expected {names}")
        value = [value[n] for n in names]
    out = np.asarray(value, dtype=np.float64).ravel()
    if out.size != len(names) or not np.all(np.isfinite(out)):
        raise ModelError(f"newparams[{what!r}] must be {len(names)} finite numbers, got {value}")
    return out


def params_of(result, newparams: Mapping | None = None) -> LMMParams:
    """The fitted parameters, with any of ``beta`` (array or {fe_params name: value}),
    ``theta`` (lme4 order) and ``sigma`` replaced from ``newparams`` (lme4's ``newparams``)."""
    newparams = dict(newparams or {})
    unknown = sorted(set(newparams) - {"beta", "theta", "sigma"})
    if unknown:
        raise ModelError(f"newparams: unknown keys {unknown}; use 'beta', 'theta', 'sigma'")
    beta = result.fe_params.to_numpy()
    theta = np.asarray(result.theta, dtype=np.float64)
    sigma = result.sigma
    if "beta" in newparams:
        beta = vector_param(newparams["beta"], list(result.fe_params.index), "beta")
    if "theta" in newparams:
        theta = vector_param(newparams["theta"], [f"theta{i}" for i in range(theta.size)], "theta")
    if "sigma" in newparams:
        sigma = float(newparams["sigma"])
        if not (np.isfinite(sigma) and sigma > 0):
            raise ModelError(f"newparams['sigma'] must be positive, got {newparams['sigma']}")
    return LMMParams(jnp.asarray(beta), jnp.asarray(theta), jnp.asarray(sigma))
