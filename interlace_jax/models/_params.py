"""The outer parameters of the Laplace engine's models as named blocks: one flat vector x for
the optimiser, split by a static :class:`ParamLayout` into :class:`Params` for the model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import jax


@dataclass(frozen=True)
class ParamLayout:
    """How the flat outer parameter vector splits into named blocks, in this order:
    ``x = (theta, beta, beta_zi, beta_disp, psi)``.

    Attributes:
        n_theta: relative covariance parameters (computation order).
        n_fixed: p, fixed effects of the conditional mean (of the location for a cumulative
            link model).
        n_zi: coefficients of the zero-inflation (or hurdle) logit; 0 without ``ziformula``.
        n_disp: coefficients of the log-dispersion; 1 for a constant dispersion (lme4's
            ``log phi``), 0 for a model without one.
        n_psi: the conditional model's own parameters (Student-t log df, ordered-beta
            cutpoints, a cumulative link model's unconstrained thresholds).
    """

    n_theta: int
    n_fixed: int
    n_zi: int = 0
    n_disp: int = 0
    n_psi: int = 0

    @property
    def has_dispersion(self) -> bool:
        return self.n_disp > 0

    @property
    def theta(self) -> slice:
        return slice(0, self.n_theta)

    @property
    def beta(self) -> slice:
        return slice(self.theta.stop, self.theta.stop + self.n_fixed)

    @property
    def zi(self) -> slice:
        return slice(self.beta.stop, self.beta.stop + self.n_zi)

    @property
    def disp(self) -> slice:
        return slice(self.zi.stop, self.zi.stop + self.n_disp)

    @property
    def psi(self) -> slice:
        return slice(self.disp.stop, self.disp.stop + self.n_psi)

    @property
    def size(self) -> int:
        return self.psi.stop


class Params(NamedTuple):
    """The blocks of the outer parameters (sizes as the :class:`ParamLayout` says)."""

    theta: jax.Array
    beta: jax.Array
    zi: jax.Array
    disp: jax.Array
    psi: jax.Array


def split_params(x: jax.Array, layout: ParamLayout) -> Params:
    """The named blocks of x (layout.size,) = (theta, beta, beta_zi, beta_disp, psi)."""
    return Params(x[layout.theta], x[layout.beta], x[layout.zi], x[layout.disp],
                  x[layout.psi])
