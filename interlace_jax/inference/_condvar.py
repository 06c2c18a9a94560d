r"""Conditional covariances of the random effects (lme4's ``ranef(m, condVar = TRUE)``).

Given the data, theta, beta and sigma, the spherical random effects ``u`` (``b = Lambda u``) are
normal with covariance ``sigma^2 M^{-1}``, ``M = Lambda'Z'WZ Lambda + I = L_Z L_Z'``; lme4's
"postVar" is this covariance of ``b`` for each level, ``sigma^2 Lambda_t [M^{-1}]_{tt} Lambda_t'``,
with beta held at its estimate (it does not include the uncertainty of beta).

The random-effects part of the blocked factor is

.. math::

    L_Z = \begin{pmatrix} A & 0 \\ C & D \end{pmatrix}, \qquad
    L_Z^{-1} = \begin{pmatrix} A^{-1} & 0 \\ -W & D^{-1} \end{pmatrix}, \quad W = D^{-1} C A^{-1},

with ``A`` block-diagonal (one ``S1 x S1`` block per level of the first term), ``C`` the sparse
coupling rows and ``D`` the dense factor of the other terms (the first ``q`` rows of the rest
block; X and y come after them, so they do not enter). An entry of ``M^{-1} = L_Z^{-T} L_Z^{-1}``
is the inner product of two columns of ``L_Z^{-1}``: a column of a first-term level has
``A_k^{-1}`` in that level's rows and ``-W`` below; a column of another term has ``D^{-1}``
below and zeros above. Only the per-level blocks are formed: ``A_k^{-T} A_k^{-1} + W_k' W_k``
for the first term and ``D_i^{-T} D_i^{-1}`` (columns of ``D^{-1}``) for the others.

Cost: ``D^{-1}`` is a dense ``q x q`` triangular inverse and ``W`` a dense ``q x (L_1 S_1)``
matrix (``q`` = random effects outside the first term); for a model with one term, or terms
nested in the first, this is small; for large crossed designs (InstEval: q = 1,156,
L_1 S_1 = 2,972) it is a few tens of megabytes and under a second.
"""

from __future__ import annotations

import jax
import numpy as np
from scipy.linalg import solve_triangular

from interlace_jax._x64 import x64
from interlace_jax.models import LMMData, factor_at
from interlace_jax.terms import lambda_blocks


#: The blocked factor at theta as one compiled program (run eagerly, each of its operations
#: would be compiled on its own the first time a fit's conditional variances are asked for).
_factor_at = jax.jit(factor_at)


class ConditionalCovariance:
    """Per-level blocks of the conditional covariance of the random effects b.

    Args:
        theta: (n_theta,) in computation order.
        data: the model's LMMData.
        sigma: the residual SD of the fit (the scale of the covariance).
    """

    def __init__(self, theta: np.ndarray, data: LMMData, sigma: float):
        plan = data.plan
        with x64():
            factor = jax.device_get(_factor_at(np.asarray(theta, dtype=np.float64), data))
        self._sizes = [lay.size for lay in plan.terms]
        self._lams = lambda_blocks(np.asarray(theta, dtype=float), self._sizes)
        self._sigma2 = float(sigma) ** 2
        self._plan = plan
        self._a_inv = np.linalg.inv(np.asarray(factor.l11))  # (L1, S1, S1)
        q = plan.n_rest
        first = plan.terms[0]
        if q:
            d = np.asarray(factor.rest)[:q, :q]
            self._d_inv = solve_triangular(d, np.eye(q), lower=True)
            rows = np.asarray(data.design.scalar_row)
            levels = np.asarray(data.design.scalar_first)
            ca = np.einsum("rs,rst->rt", np.asarray(factor.coupling), self._a_inv[levels])
            g = np.zeros((q, first.n_levels, first.size))
            np.add.at(g, (rows, levels), ca)
            self._w = (self._d_inv @ g.reshape(q, -1)).reshape(q, first.n_levels, first.size)
        else:
            self._d_inv = np.zeros((0, 0))
            self._w = np.zeros((0, first.n_levels, first.size))

    def _below(self, t: int) -> np.ndarray:
        """(q, L_t, S_t): the rows of L_Z^{-1} below the first block, for term t's columns."""
        if t == 0:
            return -self._w
        lay = self._plan.terms[t]
        cols = self._d_inv[:, lay.offset : lay.offset + lay.n_levels * lay.size]
        return cols.reshape(-1, lay.n_levels, lay.size)

    def spherical_block(self, t: int, s: int) -> np.ndarray:
        """(L, S_t, S_s) per-level blocks of M^{-1} between terms t and s (same number of
        levels L, level i with level i: terms on the same grouping factor, or t == s)."""
        out = np.einsum("qls,qlr->lsr", self._below(t), self._below(s))
        if t == 0 and s == 0:
            out = out + np.einsum("lus,lur->lsr", self._a_inv, self._a_inv)
        return out

    def block(self, t: int, s: int) -> np.ndarray:
        """(L, S_t, S_s) per-level conditional covariances of b_t and b_s (sigma^2 scale)."""
        sph = self.spherical_block(t, s)
        return self._sigma2 * np.einsum("ab,lbc,dc->lad", self._lams[t], sph, self._lams[s])
