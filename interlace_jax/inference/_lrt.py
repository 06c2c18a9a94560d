r"""Likelihood-ratio tests between nested models (lme4's ``anova(m1, m2, ...)``).

The models are sorted by their number of parameters ``k`` (stable, so ties keep the given
order); each is compared with the one before it:

.. math::

    \chi^2_i = 2 \max(0, \ell_i - \ell_{i-1}), \qquad \text{df}_i = k_i - k_{i-1},
    \qquad p_i = P(\chi^2_{\text{df}_i} > \chi^2_i)

(``p`` undefined when ``df = 0``). As in lme4, nothing checks that the models are nested, and
the chi-square reference ignores that variance parameters tested at their boundary (an SD of 0)
make the test conservative.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class LikelihoodRatioTable:
    """The numbers of an lme4 ``anova`` table for m models, rows sorted by number of parameters.

    Attributes:
        order: (m,) the input position of each row.
        npar, loglik, aic, bic, deviance: (m,) per row; deviance = -2 loglik.
        chisq, df, p: (m,) the test of each row against the previous one (NaN in row 0, and p
            NaN where df = 0).
    """

    order: np.ndarray
    npar: np.ndarray
    loglik: np.ndarray
    aic: np.ndarray
    bic: np.ndarray
    deviance: np.ndarray
    chisq: np.ndarray
    df: np.ndarray
    p: np.ndarray


def likelihood_ratio_table(loglik, npar, nobs: int) -> LikelihoodRatioTable:
    """The table for log-likelihoods (m,) with parameter counts (m,) on ``nobs`` observations."""
    loglik, npar = np.asarray(loglik, dtype=float), np.asarray(npar, dtype=int)
    order = np.argsort(npar, kind="stable")
    ll, k = loglik[order], npar[order]
    chisq = np.concatenate([[np.nan], 2.0 * np.maximum(0.0, np.diff(ll))])
    df = np.concatenate([[np.nan], np.diff(k).astype(float)])
    with np.errstate(invalid="ignore"):
        p = np.where(df > 0, stats.chi2.sf(chisq, np.where(df > 0, df, 1.0)), np.nan)
    return LikelihoodRatioTable(
        order=order, npar=k, loglik=ll, aic=-2.0 * ll + 2.0 * k,
        bic=-2.0 * ll + np.log(nobs) * k, deviance=-2.0 * ll, chisq=chisq, df=df, p=p,
    )
