"""A random-effects term as the numeric core sees it: level codes and a small model matrix.

Z is never formed. Observation ``i`` contributes ``z[i] @ b[refs[i]]`` to the linear predictor,
where ``b`` has one ``S``-vector per level (MixedModels.jl's ``ReMat``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from interlace_jax.terms._covariance import n_theta


@dataclass(frozen=True, eq=False)
class ReTerm:
    """One random-effects term ``(z | group)``.

    Attributes:
        group: name of the grouping factor, e.g. ``"Subject"`` or ``"batch:cask"``.
        refs: int32 array (n,), the level of each observation, in ``0..n_levels-1``.
        z: float64 array (n, S), the term's model matrix (the left side of the bar).
        levels: labels of the levels, length n_levels.
        z_names: names of the S columns of ``z``, e.g. ``("(Intercept)", "Days")``.
    """

    group: str
    refs: np.ndarray
    z: np.ndarray
    levels: tuple
    z_names: tuple

    @property
    def n_levels(self) -> int:
        return len(self.levels)

    @property
    def size(self) -> int:
        """S, the number of random effects per level."""
        return self.z.shape[1]

    @property
    def n_theta(self) -> int:
        return n_theta(self.size)
