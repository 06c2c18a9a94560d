r"""Cumulative link mixed models (ordinal's ``clmm``) as a conditional model of the Laplace
engine.

For a response with K ordered categories coded 0..K-1 and cut points ``theta`` (K - 1,) from
the threshold structure (:mod:`~interlace_jax.models._thresholds`),

.. math::

    P(Y_i \le j \mid b) = F(\theta_j - \eta_i), \qquad \eta_i = x_i'\beta + o_i + z_i'b,

so ``log p(y_i = k | eta_i) = log(F(theta_k - eta_i) - F(theta_{k-1} - eta_i))`` with
``theta_{-1} = -inf`` and ``theta_{K-1} = +inf`` (ordinal's sign convention: X has no
intercept, the thresholds absorb it). This is elementwise in eta given the thresholds, so the
shared engine (:mod:`~interlace_jax.models._laplace`) applies as it is; the thresholds are
the model's own block of the outer parameters: ``x = (theta_cov, beta, tau)``, tau being the
layout's ``psi`` (no zero-inflation or dispersion blocks). As ordinal, the Laplace approximation
uses the exact (observed) curvature, and so do the inner Newton steps (floored at zero: the
log-likelihood is concave in eta for log-concave F, but not for the cauchit).

The log-probabilities are computed from ``log F`` and ``log(1 - F)`` of the link
(``log_inverse``, ``log1m_inverse``): in the lower tail as ``log F(u) + log(1 - F(l)/F(u))``,
in the upper as ``log(1 - F(l)) + log(1 - (1 - F(u))/(1 - F(l)))``, so a probability of
1e-300 is as accurate as one of 0.5 and the infinite outer cut points are exact (ordinal
stands in +-1e5 for them, which costs the heavy-tailed cauchit ~3e-6 per probability). Their
derivatives are written out with the link's log-density (a ``jax.custom_jvp``): the engine
differentiates the log-density up to three times, and nested autodiff of the branches above
would make programs several times larger.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from interlace_jax.families import Link
from interlace_jax.linalg import BlockPlan, make_plan
from interlace_jax.models._laplace import eta_derivatives
from interlace_jax.models._params import ParamLayout, Params
from interlace_jax.models._response_map import ResponseMap, response_map
from interlace_jax.models._thresholds import Thresholds
from interlace_jax.models._z_products import ZProductMap, z_product_map
from interlace_jax.terms import ReTerm, n_theta

#: Links of cumulative link models (ordinal's ``link =``).
ORDINAL_LINKS = ("logit", "probit", "cloglog", "loglog", "cauchit")


def _log_difference(log_upper: jax.Array, log_lower: jax.Array) -> jax.Array:
    """log(exp(log_upper) - exp(log_lower)) for log_upper > log_lower."""
    return log_upper + jnp.log(-jnp.expm1(log_lower - log_upper))


@partial(jax.custom_jvp, nondiff_argnums=(0,))
def interval_log_prob(link: Link, upper: jax.Array, lower: jax.Array, first: jax.Array,
                      last: jax.Array) -> jax.Array:
    """(n,) log(F(upper) - F(lower)), where ``first`` (n,) (1.0 or 0.0) marks lower = -inf and
    ``last`` marks upper = +inf (their finite stand-ins are then ignored).

    Its derivatives are written out (``d/d upper = F'(upper) / p``, ``d/d lower = -F'(lower) /
    p``, recursively), so that the engine's nested derivatives stay small programs.
    """
    high = lower > 0.0  # both in the upper half: work with 1 - F
    middle = jnp.where(
        high,
        _log_difference(link.log1m_inverse(lower), link.log1m_inverse(upper)),
        _log_difference(link.log_inverse(upper), link.log_inverse(lower)))
    return jnp.where(first > 0.0, link.log_inverse(upper),
                     jnp.where(last > 0.0, link.log1m_inverse(lower), middle))


@interval_log_prob.defjvp
def _interval_log_prob_jvp(link, primals, tangents):
    upper, lower, first, last = primals
    d_upper, d_lower = tangents[0], tangents[1]
    value = interval_log_prob(link, upper, lower, first, last)
    at_upper = (1.0 - last) * jnp.exp(link.log_mu_eta(upper) - value)
    at_lower = (1.0 - first) * jnp.exp(link.log_mu_eta(lower) - value)
    return value, at_upper * d_upper - at_lower * d_lower


def category_log_prob(link: Link, cuts: jax.Array, y: jax.Array, eta: jax.Array) -> jax.Array:
    """(n,) log P(Y_i = y_i) for cut points cuts (K - 1,), categories y (n,) in 0..K-1 and
    linear predictors eta (n,)."""
    first = (y == 0).astype(eta.dtype)
    last = (y == cuts.shape[0]).astype(eta.dtype)
    # finite stand-ins for the infinite outer cut points
    upper = jnp.concatenate([cuts, cuts[-1:] + 1.0])[y] - eta
    lower = jnp.concatenate([cuts[:1] - 1.0, cuts])[y] - eta
    return interval_log_prob(link, upper, lower, first, last)


@partial(jax.jit, static_argnums=0)
def category_probabilities(link: Link, cuts: jax.Array, eta: jax.Array) -> jax.Array:
    """(m, K) P(Y = k) for every category k at linear predictors eta (m,). Compiled as one
    program: the results call it on host arrays."""
    k = cuts.shape[0] + 1
    codes = jnp.arange(k, dtype=jnp.int32)
    return jnp.exp(jax.vmap(lambda c: category_log_prob(
        link, cuts, jnp.full(eta.shape, c), eta), out_axes=1)(codes))


@dataclass(frozen=True)
class CumulativeLink:
    """The conditional model of a cumulative link mixed model (a
    :class:`~interlace_jax.models._laplace.ConditionalModel`).

    Attributes:
        link: the link whose inverse is the latent distribution F.
        thresholds: the threshold structure.
    """

    link: Link
    thresholds: Thresholds

    def cut_points(self, p: Params) -> jax.Array:
        """(K - 1,) the increasing cut points of the unconstrained thresholds ``p.psi``."""
        return self.thresholds.cuts(p.psi)

    def log_density(self, eta, p, data):
        return data.rmap.weights * category_log_prob(self.link, self.cut_points(p), data.y,
                                                     eta)

    def newton_weights(self, eta, observed, p, data):
        return jnp.maximum(observed, 0.0)

    def laplace_weights(self, eta, p, data):
        return eta_derivatives(eta, p, data)[2]


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class OrdinalData:
    """Arrays of one cumulative link mixed model (n observations; terms in computation order).

    Attributes:
        rmap: X (n, p) without intercept, case weights (n,), the random-effects level codes and
            model matrices.
        zmap: index arrays to form Z'WZ for any weights.
        y: (n,) int32 category codes 0..K-1.
        offset: (n,) known part of the linear predictor.
        log_constant: () zero (no data-only terms), for the engine.
        conditional: the CumulativeLink (static).
        layout: the outer parameter layout (static): theta, beta and the unconstrained
            thresholds tau as ``psi``.
    """

    rmap: ResponseMap
    zmap: ZProductMap
    y: jax.Array
    offset: jax.Array
    log_constant: jax.Array
    conditional: CumulativeLink = field(metadata=dict(static=True))
    layout: ParamLayout = field(metadata=dict(static=True))

    @property
    def plan(self) -> BlockPlan:
        return self.rmap.plan


def ordinal_data(terms: list[ReTerm], X: np.ndarray, y: np.ndarray, weights: np.ndarray,
                 offset: np.ndarray, model: CumulativeLink) -> OrdinalData:
    """Plan the blocks and build the OrdinalData (call inside ``jax.enable_x64(True)``).

    Args:
        terms: random-effects terms in the user's order.
        X: (n, p) location design without intercept; y: (n,) codes 0..K-1; weights, offset:
            (n,).
        model: the link and threshold structure.
    """
    plan, index = make_plan(terms, X.shape[1])
    ordered = [terms[i] for i in plan.order]
    layout = ParamLayout(sum(n_theta(t.size) for t in ordered), X.shape[1],
                         n_psi=model.thresholds.n_alpha)
    data = OrdinalData(
        rmap=response_map(plan, ordered, X, weights),
        zmap=z_product_map(plan, index, ordered),
        y=np.asarray(y, dtype=np.int32),
        offset=np.asarray(offset, dtype=np.float64),
        log_constant=np.zeros((), np.float64),
        conditional=model,
        layout=layout,
    )
    return jax.device_put(data)
