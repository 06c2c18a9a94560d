"""Fit statistics shared by every fitted mixed model (linear, generalised)."""

from __future__ import annotations

import math
from functools import cached_property

import numpy as np
import pandas as pd

from interlace_jax.terms import diagonal_mask


class FitStatistics:
    """Mixin of the statistics lme4 derives from any fit: the host class provides ``frame``
    (the ModelFrame), ``_terms`` (ReTerms in computation order), ``theta``, ``llf``,
    ``n_params``, ``fe_params`` and ``cov_params()``."""

    @cached_property
    def bse(self) -> pd.Series:
        """Standard errors of the fixed effects (square roots of ``cov_params()``'s diagonal)."""
        return pd.Series(np.sqrt(np.diag(self.cov_params())), index=self.fe_params.index,
                         name="bse")

    @property
    def nobs(self) -> int:
        return int(self.frame.y.shape[0])

    @property
    def n_dropped(self) -> int:
        """Rows dropped because a used column had a missing value (lme4's na.omit)."""
        return int(self.frame.n_dropped)

    @property
    def ngroups(self) -> dict[str, int]:
        """Number of levels of each grouping factor."""
        return {t.group: t.n_levels for t in self._terms}

    @property
    def aic(self) -> float:
        return -2 * self.llf + 2 * self.n_params

    @property
    def bic(self) -> float:
        return -2 * self.llf + math.log(self.nobs) * self.n_params

    @property
    def is_singular(self) -> bool:
        """True when a random-effects covariance matrix is singular (a diagonal theta ~ 0)."""
        diag = np.concatenate([diagonal_mask(t.size) for t in self._terms])
        return bool(np.any(np.abs(self.theta[diag]) < 1e-4))
