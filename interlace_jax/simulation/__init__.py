"""Batched statistics with vmap: simulation, parametric bootstrap, many responses, power."""

from interlace_jax.simulation._bootstrap import BootstrapResult, bootstrap
from interlace_jax.simulation._fit_many import ManyFits, fit_many
from interlace_jax.simulation._power import power
from interlace_jax.simulation._simulate import simulate

__all__ = ["BootstrapResult", "ManyFits", "bootstrap", "fit_many", "power", "simulate"]
