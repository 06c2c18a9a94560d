"""Everything a GLMM objective reads, built once on the host: the observation-level design,
the ``Z'WZ`` index arrays, the response, offsets, the designs of the zero-inflation and
dispersion parts, and the static description of the model (family, zero model, conventions,
parameter layout)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from interlace_jax.families import Family, NoZeroModel, on_host
from interlace_jax.linalg import BlockPlan, make_plan
from interlace_jax.models._family_conditional import FAMILY_CONDITIONAL, FamilyConditional
from interlace_jax.models._params import ParamLayout
from interlace_jax.models._response_map import ResponseMap, response_map
from interlace_jax.models._z_products import ZProductMap, z_product_map
from interlace_jax.terms import ReTerm, n_theta


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class PartDesign:
    """The linear predictor ``X c + offset`` of an extra part (zero inflation, dispersion).

    Attributes:
        X: (n, k) design; (0, k) when ``constant``.
        offset: (n,) known part; (0,) when ``constant``.
        constant: (static) the design is one column of ones without offset, so the predictor
            is the scalar ``c[0]`` (no per-observation arrays are stored or multiplied).
    """

    X: jax.Array
    offset: jax.Array
    constant: bool = field(metadata=dict(static=True))

    def predictor(self, coef: jax.Array) -> jax.Array:
        """() or (n,) the linear predictor for coefficients coef (k,)."""
        if self.constant:
            return coef[0]
        return self.X @ coef + self.offset


def part_design(X: np.ndarray | None, offset: np.ndarray | None, n: int) -> PartDesign:
    """The PartDesign of a design (n, k) and offset (n,) (None: no part, k = 0)."""
    if X is None:
        return PartDesign(np.zeros((n, 0)), np.zeros(n), False)
    X = np.asarray(X, dtype=np.float64)
    offset = np.zeros(n) if offset is None else np.asarray(offset, dtype=np.float64)
    if X.shape[1] == 1 and np.all(X == 1.0) and not np.any(offset):
        return PartDesign(np.zeros((0, 1)), np.zeros(0), True)
    return PartDesign(X, offset, False)


@dataclass(frozen=True)
class Convention:
    """Whose Laplace approximation: lme4's or TMB's (glmmTMB's).

    Attributes:
        name: ``"lme4"`` or ``"glmmTMB"`` (for printing).
        expected_information: True (lme4): the inner Newton steps are Fisher scoring (PIRLS)
            for the exponential families (``Family.fisher_scoring``) and the Laplace
            log-determinant uses the expected information where the family says so
            (``Family.fisher_laplace``). False (TMB): both use the observed curvature (the
            steps with negative curvatures floored at zero).
    """

    name: str
    expected_information: bool


LME4 = Convention("lme4", True)
TMB = Convention("glmmTMB", False)


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class GLMMData:
    """Arrays of one GLMM (n observations; terms in computation order).

    Attributes:
        rmap: X (n, p), prior weights (n,), the random-effects level codes and model matrices.
        zmap: index arrays to form Z'WZ for any weights.
        y: (n,) response (binomial: the proportion of successes; weights are the trials).
        offset: (n,) known part of the linear predictor.
        log_constant: () the sum over observations of the data-only log-density terms
            (:meth:`~interlace_jax.families.NoZeroModel.log_constant`).
        zi: the zero-inflation (hurdle) logit's design (k = 0 without ``ziformula``).
        disp: the log-dispersion's design (k = 0 for a family without a dispersion).
        family: the response family (static).
        zeros: the zero model: none, zero inflation or hurdle (static).
        convention: lme4's or TMB's Laplace approximation (static).
        layout: the outer parameter layout (static).
    """

    rmap: ResponseMap
    zmap: ZProductMap
    y: jax.Array
    offset: jax.Array
    log_constant: jax.Array
    zi: PartDesign
    disp: PartDesign
    family: Family = field(metadata=dict(static=True))
    zeros: NoZeroModel = field(metadata=dict(static=True))
    convention: Convention = field(metadata=dict(static=True))
    layout: ParamLayout = field(metadata=dict(static=True))

    @property
    def plan(self) -> BlockPlan:
        return self.rmap.plan

    @property
    def conditional(self) -> FamilyConditional:
        """The conditional model the Laplace engine evaluates: y | eta from the family."""
        return FAMILY_CONDITIONAL


def with_response(data: GLMMData, y: jax.Array) -> GLMMData:
    """The same model with another response y (n,) (pure JAX: vmap-able over y)."""
    constant = jnp.sum(data.zeros.log_constant(data.family, y, data.rmap.weights))
    return dataclasses.replace(data, y=y, log_constant=constant)


def with_plan(data: GLMMData, plan: BlockPlan) -> GLMMData:
    """The same model with another static plan (e.g. LAPACK-free kernels for vmapped fits)."""
    return dataclasses.replace(data, rmap=dataclasses.replace(data.rmap, plan=plan))


def glmm_data(terms: list[ReTerm], X: np.ndarray, y: np.ndarray, weights: np.ndarray,
              offset: np.ndarray, family: Family, *, X_zi: np.ndarray | None = None,
              offset_zi: np.ndarray | None = None, X_disp: np.ndarray | None = None,
              offset_disp: np.ndarray | None = None, zeros: NoZeroModel = NoZeroModel(),
              convention: Convention = LME4) -> GLMMData:
    """Plan the blocks and build the GLMMData (call inside ``jax.enable_x64(True)``).

    Args:
        terms: random-effects terms in the user's order.
        X: (n, p) fixed-effects matrix; y, weights, offset: (n,).
        family: the response family.
        X_zi, offset_zi: (n, k_zi), (n,) the zero part's design (``zeros`` must have one).
        X_disp, offset_disp: (n, k_disp), (n,) the log-dispersion's design; by default a
            constant dispersion for a family that has one.
        zeros: the zero model.
        convention: lme4's (default) or TMB's Laplace approximation.
    """
    n = X.shape[0]
    plan, index = make_plan(terms, X.shape[1])
    ordered = [terms[i] for i in plan.order]
    if X_disp is None and family.has_dispersion:
        X_disp = np.ones((n, 1))
    zi = part_design(X_zi if zeros.has_zero_part else None, offset_zi, n)
    disp = part_design(X_disp, offset_disp, n)
    layout = ParamLayout(sum(n_theta(t.size) for t in ordered), X.shape[1],
                         n_zi=zi.X.shape[1], n_disp=disp.X.shape[1], n_psi=family.n_psi)
    y = np.asarray(y, dtype=np.float64)
    data = GLMMData(
        rmap=response_map(plan, ordered, X, weights),
        zmap=z_product_map(plan, index, ordered),
        y=y,
        offset=np.asarray(offset, dtype=np.float64),
        log_constant=np.sum(on_host(zeros, "log_constant", y,
                                    np.asarray(weights, dtype=np.float64), static=(family,))),
        zi=zi,
        disp=disp,
        family=family,
        zeros=zeros,
        convention=convention,
        layout=layout,
    )
    return jax.device_put(data)
