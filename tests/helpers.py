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


def dense_kenward_roger(terms, X, theta, sigma, weights=None):
    """pbkrtest's vcovAdj by brute force: Sigma and the G_i as dense n x n matrices.

    ``terms`` and ``theta`` in one (the same) order. The residual part is ``sigma^2 W^{-1}``
    (pbkrtest has W = I). Returns (Phi, Phi_A, P (k, p, p), W (k, k), information (k, k)).
    """
    n = X.shape[0]
    w = np.ones(n) if weights is None else weights
    Z, _ = dense_z_lambda(terms, theta)
    gs, varpar, col, start = [], [], 0, 0
    for t in terms:
        k = t.n_theta
        lam = np.asarray(lambda_factor(np.asarray(theta[start : start + k]), t.size))
        start += k
        cov = sigma**2 * lam @ lam.T
        zt = Z[:, col : col + t.n_levels * t.size]
        col += t.n_levels * t.size
        for c in range(t.size):
            for r in range(c, t.size):
                e = np.zeros((t.size, t.size))
                e[r, c] = e[c, r] = 1.0
                gs.append(zt @ np.kron(np.eye(t.n_levels), e) @ zt.T)
                varpar.append(cov[r, c])
    gs.append(np.diag(1.0 / w))
    varpar.append(sigma**2)
    sigma_mat = sum(v * g for v, g in zip(varpar, gs))
    sinv = np.linalg.inv(sigma_mat)
    phi = np.linalg.inv(X.T @ sinv @ X)
    P = np.stack([-X.T @ sinv @ g @ sinv @ X for g in gs])
    k = len(gs)
    Q = np.array([[X.T @ sinv @ gs[i] @ sinv @ gs[j] @ sinv @ X for j in range(k)]
                  for i in range(k)])
    info = np.array([[np.trace(sinv @ gs[i] @ sinv @ gs[j]) - 2 * np.trace(phi @ Q[i, j])
                      + np.trace(phi @ P[i] @ phi @ P[j]) for j in range(k)] for i in range(k)])
    weight = 2 * np.linalg.inv(info)
    u = sum(weight[i, j] * (Q[i, j] - P[i] @ phi @ P[j]) for i in range(k) for j in range(k))
    return phi, phi + 2 * phi @ u @ phi, P, weight, info
