"""Everything a GLMM objective reads, built once on the host: the observation-level design,
the ``Z'WZ`` index arrays, the response, offsets and the family (static)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from interlace_jax.families import Family
from interlace_jax.linalg import BlockPlan, make_plan
from interlace_jax.models._response_map import ResponseMap, response_map
from interlace_jax.models._z_products import ZProductMap, z_product_map
from interlace_jax.terms import ReTerm, n_theta


@dataclass(frozen=True)
class ParamLayout:
    """How the flat outer parameter vector splits: ``x = (theta, beta, log phi)``.

    Attributes:
        n_theta: number of relative covariance parameters (computation order).
        n_fixed: p, number of fixed effects.
        has_dispersion: whether a log-dispersion comes last.
    """

    n_theta: int
    n_fixed: int
    has_dispersion: bool

    @property
    def size(self) -> int:
        return self.n_theta + self.n_fixed + int(self.has_dispersion)


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class GLMMData:
    """Arrays of one GLMM (n observations; terms in computation order).

    Attributes:
        rmap: X (n, p), prior weights (n,), the random-effects level codes and model matrices.
        zmap: index arrays to form Z'WZ for any weights.
        y: (n,) response (binomial: the proportion of successes; weights are the trials).
        offset: (n,) known part of the linear predictor.
        log_constant: () the sum over observations of the family's data-only log-density
            terms (:meth:`~interlace_jax.families.Family.log_constant`).
        family: the response family (static).
        layout: the outer parameter layout (static).
    """

    rmap: ResponseMap
    zmap: ZProductMap
    y: jax.Array
    offset: jax.Array
    log_constant: jax.Array
    family: Family = field(metadata=dict(static=True))
    layout: ParamLayout = field(metadata=dict(static=True))

    @property
    def plan(self) -> BlockPlan:
        return self.rmap.plan

    @property
    def conditional(self):
        """The conditional model the Laplace engine evaluates: y | eta from the family
        (:class:`~interlace_jax.models._laplace.FamilyConditional`)."""
        from interlace_jax.models._laplace import FAMILY_CONDITIONAL

        return FAMILY_CONDITIONAL


def with_response(data: GLMMData, y: jax.Array) -> GLMMData:
    """The same model with another response y (n,) (pure JAX: vmap-able over y)."""
    constant = jnp.sum(data.family.log_constant(y, data.rmap.weights))
    return dataclasses.replace(data, y=y, log_constant=constant)


def with_plan(data: GLMMData, plan: BlockPlan) -> GLMMData:
    """The same model with another static plan (e.g. LAPACK-free kernels for vmapped fits)."""
    return dataclasses.replace(data, rmap=dataclasses.replace(data.rmap, plan=plan))


def glmm_data(terms: list[ReTerm], X: np.ndarray, y: np.ndarray, weights: np.ndarray,
              offset: np.ndarray, family: Family) -> GLMMData:
    """Plan the blocks and build the GLMMData (call inside ``jax.enable_x64(True)``).

    Args:
        terms: random-effects terms in the user's order.
        X: (n, p) fixed-effects matrix; y, weights, offset: (n,).
        family: the response family.
    """
    plan, index = make_plan(terms, X.shape[1])
    ordered = [terms[i] for i in plan.order]
    layout = ParamLayout(sum(n_theta(t.size) for t in ordered), X.shape[1],
                         family.has_dispersion)
    data = GLMMData(
        rmap=response_map(plan, ordered, X, weights),
        zmap=z_product_map(plan, index, ordered),
        y=np.asarray(y, dtype=np.float64),
        offset=np.asarray(offset, dtype=np.float64),
        log_constant=np.asarray(jnp.sum(family.log_constant(jnp.asarray(y, jnp.float64),
                                                            jnp.asarray(weights, jnp.float64)))),
        family=family,
        layout=layout,
    )
    return jax.device_put(data)
