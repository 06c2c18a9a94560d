"""Shared test helpers: small simulated designs and a dense, obviously correct LMM deviance."""

from __future__ import annotations

import numpy as np

from interlace_jax.terms import ReTerm, lambda_factor


def random_term(rng, n, n_levels, size, group="g"):
    """A ReTerm with every level present, an intercept column and (size - 1) covariates."""
    refs = np.concatenate([np.arange(n_levels), rng.integers(0, n_levels, n - n_levels)])
    rng.shuffle(refs)
    z = np.column_stack([np.ones(n)] + [rng.normal(size=n) for _ in range(size - 1)])
    names = ("(Intercept)",) + tuple(f"x{j}" for j in range(1, size))
    return ReTerm(group, refs.astype(np.int32), z, tuple(range(n_levels)), names)


def dense_z_lambda(terms, theta_user):
    """Dense Z (n, q) and block-diagonal Lambda (q, q), terms and theta in the user's order."""
    blocks_z, blocks_lam, start = [], [], 0
    for t in terms:
        k = t.n_theta
        lam = np.asarray(lambda_factor(np.asarray(theta_user[start : start + k]), t.size))
        start += k
        z = np.zeros((len(t.refs), t.n_levels * t.size))
        for s in range(t.size):
            z[np.arange(len(t.refs)), t.refs * t.size + s] = t.z[:, s]
        blocks_z.append(z)
        blocks_lam.append(np.kron(np.eye(t.n_levels), lam))
    q = sum(b.shape[0] for b in blocks_lam)
    big = np.zeros((q, q))
    o = 0
    for b in blocks_lam:
        big[o : o + b.shape[0], o : o + b.shape[0]] = b
        o += b.shape[0]
    return np.hstack(blocks_z), big


def dense_deviance(terms, X, y, theta_user, reml, weights=None):
    """-2 log (restricted) likelihood from the marginal covariance V, by brute force."""
    n, p = X.shape
    w = np.ones(n) if weights is None else weights
    Z, lam = dense_z_lambda(terms, theta_user)
    zl = Z @ lam
    v_rel = zl @ zl.T + np.diag(1.0 / w)  # V / sigma^2
    vinv = np.linalg.inv(v_rel)
    beta = np.linalg.solve(X.T @ vinv @ X, X.T @ vinv @ y)
    r = y - X @ beta
    rss = r @ vinv @ r
    dof = n - p if reml else n
    sigma2 = rss / dof
    value = np.linalg.slogdet(v_rel)[1] + dof * (1 + np.log(2 * np.pi * sigma2))
    if reml:
        value += np.linalg.slogdet(X.T @ vinv @ X)[1]
    return value
