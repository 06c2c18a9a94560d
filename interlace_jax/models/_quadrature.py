r"""Adaptive Gauss-Hermite quadrature for a mixed model with one random-effects term (any
conditional model of the Laplace engine: GLMMs, cumulative link models).

With a single grouping factor the integral over the random effects factorises over its levels
k. Centred at the conditional mode ``u_k`` and scaled by the Cholesky factor ``L_k`` of the
level's block of ``Lambda'Z'WZ Lambda + I`` (``u = u_k + L_k^{-T} t``),

.. math::

    -2 \log L = \sum_k \Big[ 2 \log|L_k| - 2 \log \sum_j w_j
        \exp\big(l_k(u_{kj}) - \tfrac12 |u_{kj}|^2 + \tfrac12 |t_j|^2\big) \Big]

where ``(t_j, w_j)`` is the tensor product of ``n`` Gauss-Hermite nodes per dimension for the
standard normal (weights summing to one). One node gives the Laplace approximation; lme4 allows
n > 1 only for a scalar term, here an S-vector term uses the product rule (``n^S`` nodes,
vectorised over levels and nodes). The value is the log-likelihood itself (lme4's nAGQ > 1
deviance omits a constant).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from interlace_jax._errors import ModelError
from interlace_jax.linalg import upper_solve
from interlace_jax.models._laplace import (
    conditional_mode,
    eta_of,
    laplace_curvature,
    penalised_factor,
    zero_effects,
)
from interlace_jax.models._params import split_params
from interlace_jax.terms import ReTerm

#: Largest number of quadrature points per level (n^S) accepted.
MAX_NODES = 20_000


def gauss_hermite_product(n: int, dims: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes (n^dims, dims) and weights (n^dims,) of the product Gauss-Hermite rule for the
    standard normal distribution in ``dims`` dimensions (weights sum to one)."""
    x, w = np.polynomial.hermite_e.hermegauss(n)
    w = w / w.sum()
    grids = np.meshgrid(*([x] * dims), indexing="ij")
    nodes = np.stack([g.ravel() for g in grids], axis=1)
    weights = np.prod(np.stack(np.meshgrid(*([w] * dims), indexing="ij")).reshape(dims, -1),
                      axis=0)
    return nodes, weights


@dataclass(frozen=True)
class QuadratureDeviance:
    """``(x, data) -> (deviance, mode)`` by adaptive Gauss-Hermite quadrature with ``n_nodes``
    nodes per dimension (hashable, so compiled code is cached per rule)."""

    n_nodes: int

    def __call__(self, x: jax.Array, data, u0: tuple | None = None):
        plan = data.plan
        size = plan.terms[0].size
        nodes, weights = gauss_hermite_product(self.n_nodes, size)
        u = conditional_mode(x, zero_effects(data, x.dtype) if u0 is None else u0, data)
        factor, _ = penalised_factor(laplace_curvature(u, x, data), x, data)
        p = split_params(x, data.layout)
        l11 = factor.l11  # (L, S, S): the level blocks' Cholesky factors
        n_levels = l11.shape[0]
        t = jnp.asarray(nodes, x.dtype)  # (J, S)
        shift = upper_solve(l11, jnp.broadcast_to(t.T, (n_levels, size, t.shape[0])),
                            plan.lapack)  # (L, S, J)
        u_nodes = u[0][:, :, None] + shift  # (L, S, J)

        def level_loglik(u_first):
            eta = eta_of((u_first, u[1]), x, data)
            return jax.ops.segment_sum(data.conditional.log_density(eta, p, data),
                                       data.rmap.first_refs, num_segments=n_levels)

        ll = jax.vmap(level_loglik, in_axes=2, out_axes=1)(u_nodes)  # (L, J)
        exponent = (ll - 0.5 * jnp.sum(u_nodes**2, axis=1) + 0.5 * jnp.sum(t**2, axis=1)
                    + jnp.log(jnp.asarray(weights, x.dtype)))
        log_det = 2.0 * jnp.sum(jnp.log(jnp.diagonal(l11, axis1=1, axis2=2)))
        deviance = log_det - 2.0 * (jnp.sum(jax.scipy.special.logsumexp(exponent, axis=1))
                                    + data.log_constant)
        return deviance, u


def quadrature_deviance_for(n_nodes: int, terms: list[ReTerm]) -> QuadratureDeviance:
    """The adaptive quadrature objective, after checking the model has one term."""
    if len(terms) != 1:
        raise ModelError(
            f"nAGQ > 1 needs a single random-effects term (one grouping factor); this model has "
            f"{len(terms)}: {', '.join(t.group for t in terms)}. Write (1 + x | g) rather than "
            "(1 + x || g), or use nAGQ=1 (Laplace)")
    if n_nodes ** terms[0].size > MAX_NODES:
        raise ModelError(
            f"nAGQ={n_nodes} with {terms[0].size} random effects per level needs "
            f"{n_nodes ** terms[0].size} quadrature points per level; use fewer nodes "
            f"(at most {MAX_NODES} points)")
    return QuadratureDeviance(n_nodes)
