"""Variance components from theta and sigma: lme4's ``VarCorr``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from interlace_jax.results._names import group_labels
from interlace_jax.terms import lambda_blocks


@dataclass(frozen=True)
class TermCovariance:
    """Covariance of one term's random effects.

    Attributes:
        group: grouping factor name, e.g. ``"Subject"``.
        names: names of the S random effects, e.g. ``("(Intercept)", "Days")``.
        cov: (S, S) covariance matrix sigma^2 Lambda_t Lambda_t'.
    """

    group: str
    names: tuple
    cov: np.ndarray

    @property
    def sd(self) -> np.ndarray:
        return np.sqrt(np.diag(self.cov))

    @property
    def corr(self) -> np.ndarray:
        sd = self.sd
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.cov / np.outer(sd, sd)


def term_covariances(theta: np.ndarray, sigma: float, groups, names, sizes) -> list[TermCovariance]:
    """One TermCovariance per term, theta (n_theta,) in the same (computation) order."""
    return [
        TermCovariance(group, tuple(nm), sigma**2 * lam @ lam.T)
        for group, nm, lam in zip(groups, names, lambda_blocks(theta, sizes))
    ]


def varcorr_frame(covs: list[TermCovariance], sigma: float):
    """lme4's ``as.data.frame(VarCorr(m))``: columns grp, var1, var2, vcov, sdcor.

    Per term the variances first, then the covariances (column by column of the lower
    triangle); a grouping factor with several terms (``||``) is labelled ``g``, ``g.1``, ...
    """
    import pandas as pd

    rows = []
    for c, label in zip(covs, group_labels([c.group for c in covs])):
        for i, name in enumerate(c.names):
            rows.append((label, name, None, c.cov[i, i], c.sd[i]))
        for j in range(len(c.names)):
            for i in range(j + 1, len(c.names)):
                rows.append((label, c.names[j], c.names[i], c.cov[i, j], c.corr[i, j]))
    rows.append(("Residual", None, None, sigma**2, sigma))
    return pd.DataFrame(rows, columns=["grp", "var1", "var2", "vcov", "sdcor"])
