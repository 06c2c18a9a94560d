r"""Tests of general linear hypotheses ``L beta = rhs`` about the fixed effects (lmerTest's
``contest``, ``contest1D`` and ``contestMD``).

Each way of getting denominator degrees of freedom is a small final class with two methods,
``ttests(L, rhs)`` (one t-test per row of ``L``, lmerTest's ``contest1D`` or
``contest(joint = FALSE)``) and ``ftest(L, rhs)`` (the joint F-test, lmerTest's ``contestMD``):

* :class:`SatterthwaiteTests`. t-tests: ``df = 2 v^2 / (\nabla v' A \nabla v)``,
  ``v = l' V l`` (:func:`satterthwaite_df`). F-test of q > 1 rows: with the eigen-decomposition
  ``L V L' = P D P'`` (eigenvalues not above ``sqrt(machine eps) * d_max`` dropped, giving
  ``q`` rows), ``F = \sum_m (P_m' L \beta)^2 / d_m / q`` and the df combine the 1-df
  Satterthwaite df ``\nu_m`` of the rows ``P_m' L``: ``E = \sum_m \nu_m / (\nu_m - 2)``,
  ``\text{DenDF} = 2E / (E - q)`` (the mean when all ``\nu_m`` agree to 1e-8; 2 when any
  ``\nu_m \le 2``).
* :class:`KenwardRogerTests`: the adjusted covariance ``\Phi_A`` for the Wald statistic, and
  :func:`kr_ddf` for the df and the F scaling (pbkrtest's ``KRmodcomp``: ``F = \lambda W / q``).
  A rank-deficient ``L`` is replaced by an orthonormal basis of its row space, as pbkrtest does.
* :class:`FixedDfTests`: one df for every test (``n - p`` for ``df_method="residual"``,
  infinity for ``"normal"``: z and chi-square/q tests).

A non-zero ``rhs`` shifts beta by ``pinv(L) rhs`` (lmerTest's convention), which tests
``L beta = rhs`` when ``L`` has full row rank. The F tables report, as lmerTest does,
``Mean Sq = sigma^2 * Wald / q`` (with the unadjusted Wald statistic for Kenward-Roger) and
``Sum Sq = q * Mean Sq``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from interlace_jax.inference._kenward_roger import KenwardRoger, kr_ddf
from interlace_jax.inference._satterthwaite import satterthwaite_df

#: lmerTest's tolerance for dropping eigenvalues of L V L' (sqrt of the machine epsilon).
EIGEN_TOL = float(np.sqrt(np.finfo(float).eps))


@dataclass(frozen=True)
class TTests:
    """One t-test per contrast row (m rows): estimate, se, df, t, p, each of shape (m,)."""

    estimate: np.ndarray
    se: np.ndarray
    df: np.ndarray
    t: np.ndarray
    p: np.ndarray


@dataclass(frozen=True)
class FTest:
    """A joint F-test: sum and mean squares, numerator and denominator df, F and its p-value."""

    sum_sq: float
    mean_sq: float
    num_df: int
    den_df: float
    f_value: float
    p_value: float


def t_pvalues(t: np.ndarray, df: np.ndarray) -> np.ndarray:
    """Two-sided p-values of t statistics (normal where df is infinite)."""
    t, df = np.abs(np.asarray(t, float)), np.broadcast_to(np.asarray(df, float), np.shape(t))
    finite = np.isfinite(df)
    return np.where(finite, 2.0 * stats.t.sf(t, np.where(finite, df, 1.0)), 2.0 * stats.norm.sf(t))


def f_pvalue(f: float, num_df: int, den_df: float) -> float:
    """Upper tail of F(num_df, den_df) at f (chi-square(num_df) / num_df when den_df is inf)."""
    if np.isinf(den_df):
        return float(stats.chi2.sf(f * num_df, num_df))
    return float(stats.f.sf(f, num_df, den_df))


def shifted_beta(L: np.ndarray, rhs: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """beta - pinv(L) rhs, so that ``L beta = rhs`` becomes ``L beta_shifted = 0``."""
    return beta - np.linalg.pinv(L) @ rhs if np.any(rhs) else beta


def _ftest(wald_over_q: float, num_df: int, den_df: float, sigma: float,
           scaling: float = 1.0) -> FTest:
    mean_sq = wald_over_q * sigma**2
    f_value = wald_over_q * scaling
    return FTest(mean_sq * num_df, mean_sq, num_df, den_df, f_value,
                 f_pvalue(f_value, num_df, den_df))


def _ttests(L, rhs, beta, var, df) -> TTests:
    estimate = L @ beta
    se = np.sqrt(var)
    t = (estimate - rhs) / se
    return TTests(estimate, se, np.asarray(df, float), t, t_pvalues(t, df))


def combine_satterthwaite_df(nu: np.ndarray, tol: float = 1e-8) -> float:
    """lmerTest's denominator df of a q-df F from the 1-df Satterthwaite df ``nu`` (q,)."""
    nu = np.asarray(nu, float)
    if nu.size == 1:
        return float(nu[0])
    if np.all(np.abs(np.diff(nu)) < tol):
        return float(np.mean(nu))
    if np.any(nu <= 2):
        return 2.0
    e = float(np.sum(nu / (nu - 2.0)))
    return 2.0 * e / (e - nu.size)


@dataclass(frozen=True)
class SatterthwaiteTests:
    """Satterthwaite tests (lmerTest).

    Attributes:
        beta: (p,) estimates; vcov: (p, p) vcov(beta); sigma: residual sd.
        varpar_cov: (k+1, k+1) asymptotic covariance A of (theta, sigma).
        jacobian: (p, p, k+1) d vcov(beta) / d (theta, sigma).
    """

    beta: np.ndarray
    vcov: np.ndarray
    sigma: float
    varpar_cov: np.ndarray
    jacobian: np.ndarray

    def _df(self, L: np.ndarray) -> np.ndarray:
        return satterthwaite_df(L, self.vcov, self.varpar_cov, self.jacobian)

    def ttests(self, L: np.ndarray, rhs: np.ndarray) -> TTests:
        var = np.einsum("mi,ij,mj->m", L, self.vcov, L)
        return _ttests(L, rhs, self.beta, var, self._df(L))

    def ftest(self, L: np.ndarray, rhs: np.ndarray) -> FTest:
        beta = shifted_beta(L, rhs, self.beta)
        d, vecs = np.linalg.eigh(L @ self.vcov @ L.T)
        d, vecs = d[::-1], vecs[:, ::-1]
        keep = d > max(EIGEN_TOL * d[0], 0.0)
        rows = vecs[:, keep].T @ L  # (q, p)
        d = d[keep]
        q = rows.shape[0]
        if q == 0:
            return _EMPTY_FTEST
        wald = float(np.sum((rows @ beta) ** 2 / d))
        nu = self._df(rows)
        return _ftest(wald / q, q, combine_satterthwaite_df(nu), self.sigma)


def full_row_rank(L: np.ndarray) -> np.ndarray:
    """L itself when of full row rank, else an orthonormal basis (r, p) of its row space."""
    rank = np.linalg.matrix_rank(L)
    if rank == L.shape[0]:
        return L
    return np.linalg.svd(L)[2][:rank]


@dataclass(frozen=True)
class KenwardRogerTests:
    """Kenward-Roger tests (pbkrtest through lmerTest).

    Attributes:
        beta: (p,) estimates; sigma: residual sd; kr: the :class:`KenwardRoger` ingredients.
    """

    beta: np.ndarray
    sigma: float
    kr: KenwardRoger

    def ttests(self, L: np.ndarray, rhs: np.ndarray) -> TTests:
        var = np.einsum("mi,ij,mj->m", L, self.kr.vcov_adj, L)
        df = [kr_ddf(row[None, :], self.kr)[0] for row in L]
        return _ttests(L, rhs, self.beta, var, df)

    def ftest(self, L: np.ndarray, rhs: np.ndarray) -> FTest:
        L, q, wald = _wald(L, rhs, self.beta, self.kr.vcov_adj)
        if q == 0:
            return _EMPTY_FTEST
        ddf, scaling = kr_ddf(L, self.kr)
        return _ftest(wald / q, q, ddf, self.sigma, scaling)


@dataclass(frozen=True)
class FixedDfTests:
    """Wald tests with one denominator df for all (``n - p``, or ``inf`` for z / chi-square).

    Attributes:
        beta: (p,) estimates; vcov: (p, p) vcov(beta); sigma: residual sd; df: the df.
    """

    beta: np.ndarray
    vcov: np.ndarray
    sigma: float
    df: float

    def ttests(self, L: np.ndarray, rhs: np.ndarray) -> TTests:
        var = np.einsum("mi,ij,mj->m", L, self.vcov, L)
        return _ttests(L, rhs, self.beta, var, np.full(L.shape[0], self.df))

    def ftest(self, L: np.ndarray, rhs: np.ndarray) -> FTest:
        _, q, wald = _wald(L, rhs, self.beta, self.vcov)
        if q == 0:
            return _EMPTY_FTEST
        return _ftest(wald / q, q, self.df, self.sigma)


_EMPTY_FTEST = FTest(float("nan"), float("nan"), 0, float("nan"), float("nan"), float("nan"))


def _wald(L: np.ndarray, rhs: np.ndarray, beta: np.ndarray, vcov: np.ndarray):
    """(L reduced to full row rank (q, p), q, Wald statistic of ``L beta = rhs`` with
    covariance vcov); the statistic is NaN when q = 0."""
    beta = shifted_beta(L, rhs, beta)
    L = full_row_rank(L)
    q = L.shape[0]
    if q == 0:
        return L, 0, float("nan")
    diff = L @ beta
    return L, q, float(diff @ np.linalg.solve(L @ vcov @ L.T, diff))
