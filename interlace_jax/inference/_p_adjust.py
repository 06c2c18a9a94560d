r"""Multiplicity adjustments of p-values and confidence intervals, as emmeans applies them.

A table's rows fall into families (its ``by`` groups, each of n rows; ``size`` means compared).
Each adjustment is a small class with ``pvalues(t, df, family)`` (two-sided, from t ratios) and
``critical_values(level, df, family)`` (the multiplier of the SE in a two-sided interval):

* ``tukey``: Tukey's studentized range with ``size`` means,
  ``p = P(Q_{size,df} > \sqrt2 |t|)``, ``cv = q_{size,df}(level)/\sqrt2`` (scipy's
  ``studentized_range``); emmeans rounds the df to 7 significant digits for the p-values
  (R's ``zapsmall``; to whole numbers when a row is not estimable, as its df counts as
  infinite), which is mirrored. Only for one family of pairwise differences: otherwise
  emmeans changes it to ``sidak``, and so does this module (with emmeans' note).
* ``sidak``: ``1 - (1 - p)^n``; ``cv = t_{df}^{-1}(1 - (1 - level^{1/n})/2)``.
* ``bonferroni``: ``min(1, n p)``; ``cv = t_{df}^{-1}(1 - (1 - level)/(2n))``.
* ``scheffe``: ``P(F_{r,df} > t^2/r)``, ``cv = \sqrt{r F^{-1}_{r,df}(level)}``, r the rank of
  the family's linear functions.
* ``dunnettx``: emmeans' approximation of Dunnett's method for comparisons with a control, a
  mixture of Tukey's and Sidak's distributions: ``P(|T| \le x) \approx w\,P(Q_{s,df} \le \sqrt2
  x) + (1 - w) F_{1,df}(x^2)^n`` with ``w = (n-1)/n`` and ``s = (1 + \sqrt{1 + 8n})/2``; the
  quantile is the root of that distribution, found to emmeans' tolerance (:data:`DUNNETTX_TOL`).
* ``holm``, ``hochberg``, ``hommel``, ``BH`` (``fdr``), ``BY``: R's ``p.adjust`` with ``n`` tests
  per family (non-estimable rows count); their intervals use ``bonferroni``, as emmeans.
* ``none``.

With one test per family, every adjustment but ``scheffe`` is ``none`` (emmeans' rule).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

from interlace_jax._errors import ModelError


@dataclass(frozen=True)
class Family:
    """The multiplicity structure of a table of m rows.

    Attributes:
        by_rows: row indices of each by group (all groups have n rows).
        size: the number of means compared (emmeans' famSize).
        kind: "prediction", "contrast" or "pairs".
        ranks: per by group the rank of its linear functions (Scheffe's r).
    """

    by_rows: tuple[np.ndarray, ...]
    size: int
    kind: str
    ranks: tuple[int, ...]

    @property
    def n_tests(self) -> int:
        return len(self.by_rows[0])


def _finite_df(df: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(df), df, np.inf)


def two_sided_p(t: np.ndarray, df: np.ndarray) -> np.ndarray:
    """Unadjusted two-sided p-values of t ratios (normal where df is infinite)."""
    t, df = np.abs(np.asarray(t, float)), _finite_df(np.asarray(df, float))
    return np.where(np.isinf(df), 2 * stats.norm.sf(t), 2 * stats.t.sf(t, np.where(
        np.isinf(df), 1.0, df)))


def t_quantile(q: np.ndarray, df: np.ndarray) -> np.ndarray:
    df = _finite_df(np.asarray(df, float))
    return np.where(np.isinf(df), stats.norm.ppf(q), stats.t.ppf(q, np.where(np.isinf(df),
                                                                          1.0, df)))


def zapsmall(x: np.ndarray, digits: int = 7) -> np.ndarray:
    """R's ``zapsmall`` (R 4.2): round to ``digits - log10(max |x|)`` decimals (to the nearest
    whole number of decimals, at least 0; so to whole numbers when some x is infinite)."""
    x = np.asarray(x, float)
    present = x[~np.isnan(x)]
    if present.size == 0:
        return x
    mx = np.max(np.abs(present))
    if np.isinf(mx):
        return np.round(x)
    decimals = digits if mx == 0 else max(0, int(np.floor(digits - np.log10(mx) + 0.5)))
    return np.round(x, decimals)


def ptukey_upper(q: np.ndarray, nmeans: float, df: np.ndarray) -> np.ndarray:
    """P(Q > q) of the studentized range (scipy), elementwise over q and df."""
    q, df = np.broadcast_arrays(np.asarray(q, float), _finite_df(np.asarray(df, float)))
    out = np.full(q.shape, np.nan)
    ok = np.isfinite(q) & ~np.isnan(df)
    if np.any(ok):
        out[ok] = stats.studentized_range.sf(q[ok], nmeans, df[ok])
    return out


#: df within this relative distance share one quantile (df computed per row often differ only
#: in their last digits; the quantile moves by far less than 1e-10 relative).
DF_SHARE_TOL = 1e-10


def _per_df(function, df: np.ndarray) -> np.ndarray:
    """function(d) for each distinct df, broadcast back to df's shape (quantiles are costly)."""
    df = _finite_df(np.asarray(df, float))
    out = np.full(df.shape, np.nan)
    for d in np.unique(df[~np.isnan(df)]):
        with np.errstate(invalid="ignore"):
            same = np.isnan(out) & ((df == d) | (np.abs(df - d) <= DF_SHARE_TOL * d))
        if np.any(same):
            out[same] = function(d)
    return out


class NoAdjustment:
    name = "none"

    def pvalues(self, t, df, family):
        return two_sided_p(t, df)

    def critical_values(self, level, df, family):
        return -t_quantile((1 - level) / 2, df)


class Tukey:
    name = "tukey"

    def pvalues(self, t, df, family):
        # emmeans sets missing df (non-estimable rows) to Inf before zapsmall, which then
        # rounds every df of the table to a whole number
        df = np.where(np.isnan(df), np.inf, df)
        return ptukey_upper(np.sqrt(2) * np.abs(t), family.size, zapsmall(df))

    def critical_values(self, level, df, family):
        return _per_df(lambda d: stats.studentized_range.ppf(level, family.size, d), df) \
            / np.sqrt(2)


class Sidak:
    name = "sidak"

    def pvalues(self, t, df, family):
        return 1 - (1 - two_sided_p(t, df)) ** family.n_tests

    def critical_values(self, level, df, family):
        return -t_quantile((1 - level ** (1 / family.n_tests)) / 2, df)


class Scheffe:
    name = "scheffe"

    def pvalues(self, t, df, family):
        rank = _row_values(family.ranks, family)
        stat = np.asarray(t, float) ** 2 / rank
        df = _finite_df(np.asarray(df, float))
        return np.where(np.isinf(df), stats.chi2.sf(stat * rank, rank),
                        stats.f.sf(stat, rank, np.where(np.isinf(df), 1.0, df)))

    def critical_values(self, level, df, family):
        rank = _row_values(family.ranks, family)
        df = _finite_df(np.asarray(df, float))
        q = np.where(np.isinf(df), stats.chi2.ppf(level, rank) / rank,
                     stats.f.ppf(level, rank, np.where(np.isinf(df), 1.0, df)))
        return np.sqrt(rank * q)


def _row_values(per_group, family: Family) -> np.ndarray:
    out = np.empty(sum(len(r) for r in family.by_rows))
    for rows, value in zip(family.by_rows, per_group):
        out[rows] = value
    return out


def dunnx_upper(x: np.ndarray, k: int, df: np.ndarray) -> np.ndarray:
    """1 - :func:`pdunnx`, computed without cancellation (small p-values keep their digits)."""
    weight = (k - 1) / k
    tukey = ptukey_upper(np.sqrt(2) * np.asarray(x, float), (1 + np.sqrt(1 + 8 * k)) / 2, df)
    df = _finite_df(np.asarray(df, float))
    x2 = np.asarray(x, float) ** 2
    single = np.where(np.isinf(df), stats.chi2.sf(x2, 1),
                      stats.f.sf(x2, 1, np.where(np.isinf(df), 1.0, df)))
    return weight * tukey + (1 - weight) * -np.expm1(k * np.log1p(-single))


def pdunnx(x: np.ndarray, k: int, df: np.ndarray) -> np.ndarray:
    """emmeans' approximate P(max |T_i| <= x) of k comparisons with a control."""
    return 1 - dunnx_upper(x, k, df)


#: emmeans' tolerance of the root of :func:`pdunnx` (R's ``uniroot(tol = 5e-4)``); scipy's
#: ``brentq`` with this ``xtol`` takes the same steps as R's ``uniroot`` (both are Brent's
#: zeroin), so the quantiles agree with emmeans' to about 1e-10.
DUNNETTX_TOL = 5e-4


def qdunnx(level: float, k: int, df: float) -> float:
    """The quantile of :func:`pdunnx` (emmeans' ``.qdunnx``)."""
    if k < 1.005:
        return float(t_quantile(1 - 0.5 * (1 - level), df))
    tukey = stats.studentized_range.ppf(level, (1 + np.sqrt(1 + 8 * k)) / 2, df) / np.sqrt(2)
    sidak = float(np.sqrt(stats.f.ppf(level ** (1 / k), 1, df) if np.isfinite(df)
                          else stats.chi2.ppf(level ** (1 / k), 1)))
    if abs(tukey - sidak) < DUNNETTX_TOL:
        return float(tukey)
    lo, hi = sorted((tukey, sidak))
    return optimize.brentq(lambda x: float(pdunnx(x, k, df)) - level, lo, hi,
                           xtol=DUNNETTX_TOL)


class DunnettX:
    name = "dunnettx"

    def pvalues(self, t, df, family):
        return dunnx_upper(np.abs(t), family.n_tests, df)

    def critical_values(self, level, df, family):
        return _per_df(lambda d: qdunnx(level, family.n_tests, d), df)


def p_adjust(p: np.ndarray, method: str, n: int) -> np.ndarray:
    """R's ``p.adjust(p, method, n)``: NaN entries stay NaN and count towards n."""
    p = np.asarray(p, float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    q = p[ok]
    lp = q.size
    if lp == 0 or n <= 1:
        return p.copy()
    if method == "hommel" and n == 2:
        method = "hochberg"
    if method == "bonferroni":
        res = np.minimum(1.0, n * q)
    elif method == "holm":
        o = np.argsort(q, kind="stable")
        i = np.arange(1, lp + 1)
        res = np.empty(lp)
        res[o] = np.minimum(1.0, np.maximum.accumulate((n - i + 1) * q[o]))
    elif method in ("hochberg", "BH", "BY"):
        o = np.argsort(-q, kind="stable")
        i = np.arange(lp, 0, -1)
        factor = {"hochberg": (n + 1 - i), "BH": n / i,
                  "BY": np.sum(1.0 / np.arange(1, n + 1)) * n / i}[method]
        res = np.empty(lp)
        res[o] = np.minimum(1.0, np.minimum.accumulate(factor * q[o]))
    elif method == "hommel":
        res = _hommel(q, n)
    else:
        raise ModelError(f"unknown p.adjust method {method!r}")
    out[ok] = res
    return out


def _hommel(p: np.ndarray, n: int) -> np.ndarray:
    """R's Hommel adjustment of p (lp,) with n >= lp tests."""
    lp = p.size
    o = np.argsort(p, kind="stable")
    ro = np.argsort(o, kind="stable")
    ps = np.concatenate([p[o], np.ones(n - lp)])
    i = np.arange(1, n + 1)
    q = pa = np.full(n, np.min(n * ps / i))
    for m in range(n - 1, 1, -1):
        i1 = np.arange(n - m + 1)
        i2 = np.arange(n - m + 1, n)
        q1 = np.min(m * ps[i2] / np.arange(2, m + 1))
        q = q.copy()
        q[i1] = np.minimum(m * ps[i1], q1)
        q[i2] = q[n - m]
        pa = np.maximum(pa, q)
    return np.maximum(pa, ps)[:lp][ro]


@dataclass(frozen=True)
class PAdjust:
    """One of R's ``p.adjust`` methods within each family; intervals use Bonferroni."""

    name: str
    method: str

    def pvalues(self, t, df, family):
        p = two_sided_p(t, df)
        out = np.empty_like(p)
        for rows in family.by_rows:
            out[rows] = p_adjust(p[rows], self.method, len(rows))
        return out

    def critical_values(self, level, df, family):
        return Bonferroni().critical_values(level, df, family)


class Bonferroni(PAdjust):
    def __init__(self):
        super().__init__("bonferroni", "bonferroni")

    def critical_values(self, level, df, family):
        return -t_quantile((1 - level) / family.n_tests / 2, df)


ADJUSTMENTS = {
    "none": NoAdjustment,
    "tukey": Tukey,
    "sidak": Sidak,
    "scheffe": Scheffe,
    "dunnettx": DunnettX,
    "bonferroni": Bonferroni,
    "holm": lambda: PAdjust("holm", "holm"),
    "hochberg": lambda: PAdjust("hochberg", "hochberg"),
    "hommel": lambda: PAdjust("hommel", "hommel"),
    "bh": lambda: PAdjust("BH", "BH"),
    "fdr": lambda: PAdjust("fdr", "BH"),
    "by": lambda: PAdjust("BY", "BY"),
}

TUKEY_NOTE = ('Note: adjust = "tukey" was changed to "sidak" because "tukey" is only '
              "appropriate for one set of pairwise comparisons")


def adjustment(name: str, family: Family, intervals: bool = False):
    """The adjustment emmeans applies for ``name`` to this family, and a note when it changed
    the method (Tukey outside one family of pairwise differences).

    Args:
        intervals: True for confidence intervals (p.adjust methods become Bonferroni).

    Raises:
        ModelError: for an unknown name, or ``"mvt"`` (the multivariate t, not implemented).
    """
    key = str(name).lower()
    if key == "mvt":
        raise ModelError("adjust='mvt' (the multivariate t distribution) is not implemented; "
                         "use 'dunnettx' for comparisons with a control, or 'sidak', "
                         "'bonferroni', 'holm'")
    if key not in ADJUSTMENTS:
        raise ModelError(f"unknown adjust method {name!r}; choose one of "
                         f"{', '.join(k if k not in ('bh', 'by') else k.upper() for k in ADJUSTMENTS)}")
    note = None
    if family.n_tests == 1 and key != "scheffe":
        key = "none"
    if key == "tukey" and family.kind != "pairs":
        key, note = "sidak", TUKEY_NOTE
    adj = ADJUSTMENTS[key]()
    if intervals and isinstance(adj, PAdjust) and not isinstance(adj, Bonferroni):
        adj = Bonferroni()
    return adj, note


def adjustment_message(adj, family: Family, intervals: bool) -> str | None:
    """emmeans' line about the adjustment, e.g. "P value adjustment: tukey method for comparing
    a family of 3 estimates" (None for no adjustment, or Tukey/Scheffe with fewer than 3
    means)."""
    if adj.name == "none":
        return None
    if adj.name in ("tukey", "scheffe") and family.size < 3:
        return None
    head = "Conf-level adjustment:" if intervals else "P value adjustment:"
    if adj.name == "tukey":
        detail = f"for comparing a family of {family.size} estimates"
    elif adj.name == "scheffe":
        detail = f"with rank {family.ranks[0]}"
    else:
        detail = f"for {family.n_tests} {'estimates' if intervals else 'tests'}"
    return f"{head} {adj.name} method {detail}"
