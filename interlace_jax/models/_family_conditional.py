"""A GLMM's conditional model for the Laplace engine: ``y_i | eta_i`` from the data's family,
with its zero model (zero inflation, hurdle), dispersion and family parameters.

Only the conditional mean's linear predictor ``eta`` carries random effects. The zero-inflation
probability and the dispersion have their own fixed-effects predictors (``ziformula``,
``dispformula``) computed from their parameter blocks, and are passed to the family's
log-density per observation; the family parameters ``psi`` likewise. Which curvature the
engine uses follows the data's :class:`~interlace_jax.models._glmm_data.Convention`.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from interlace_jax.models._laplace import eta_derivatives
from interlace_jax.models._params import Params


def dispersion(p: Params, data) -> jax.Array:
    """() or (n,) the family's dispersion phi = exp(log-dispersion predictor); 1 without."""
    if not data.layout.has_dispersion:
        return jnp.ones((), p.beta.dtype)
    return jnp.exp(data.disp.predictor(p.disp))


def zero_predictor(p: Params, data) -> jax.Array | None:
    """() or (n,) the zero part's logit (None without a zero part)."""
    if not data.zeros.has_zero_part:
        return None
    return data.zi.predictor(p.zi)


def fisher_weights(eta: jax.Array, p: Params, data) -> jax.Array:
    """(n,) expected information of each eta_i."""
    return data.family.fisher_weights(eta, data.rmap.weights, dispersion(p, data))


@dataclass(frozen=True)
class FamilyConditional:
    """The :class:`~interlace_jax.models._laplace.ConditionalModel` of a GLMM (stateless: the
    family, zero model, convention and part designs are the GLMMData's)."""

    def log_density(self, eta, p, data):
        family = data.family
        return data.zeros.log_density(family, data.y, family.link.inverse(eta),
                                      data.rmap.weights, dispersion(p, data), p.psi,
                                      zero_predictor(p, data))

    def newton_weights(self, eta, observed, p, data):
        """Fisher scoring (lme4's PIRLS, for the exponential families) or the observed
        curvature floored at zero (TMB, and families without an expected information; the
        log-density need not be concave)."""
        if data.convention.expected_information and data.family.fisher_scoring:
            return fisher_weights(eta, p, data)
        return jnp.maximum(observed, 0.0)

    def laplace_weights(self, eta, p, data):
        """Fisher's (lme4, for the families that say so) or observed (TMB)."""
        if data.convention.expected_information and data.family.fisher_laplace:
            return fisher_weights(eta, p, data)
        return eta_derivatives(eta, p, data)[2]


FAMILY_CONDITIONAL = FamilyConditional()
