"""Simulation-based power for linear mixed models (the simr use case), batched with vmap.

For a design (a data frame of predictors and grouping factors) and assumed parameters, draw
``nsim`` responses, refit each one, and count how often each tested fixed effect is
significant by the Satterthwaite t test (the default test of :func:`interlace_jax.fit`).
``n_subjects=[...]`` repeats this for designs with more or fewer levels of one grouping
factor, giving a power curve.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import jax
import numpy as np
import pandas as pd
from scipy import stats

from interlace_jax._errors import ModelError
from interlace_jax._x64 import x64
from interlace_jax.data import n_rows, with_columns, with_group_count
from interlace_jax.formula import build_model_frame, parse_formula
from interlace_jax.models import lmm_data
from interlace_jax.simulation._chunks import fit_chunk_size, replicate_keys, run_in_chunks
from interlace_jax.simulation._fit_many import fit_with_derivatives, satterthwaite_rows
from interlace_jax.simulation._replicate import LMMParams, data_for, device_model, draw_response
from interlace_jax.simulation._chunks import check_count
from interlace_jax.terms import ReTerm, tril_positions


def _power_replicate(key, shared, *, reml: bool):
    params, model = shared
    y = draw_response(key, params, model)
    return fit_with_derivatives(data_for(y, model), params.theta, reml=reml)


def _term_theta(term: ReTerm, sd, corr, sigma: float) -> np.ndarray:
    sd = np.atleast_1d(np.asarray(sd, dtype=np.float64))
    if sd.shape != (term.size,) or np.any(sd < 0) or not np.all(np.isfinite(sd)):
        raise ModelError(f"params['sd'][{term.group!r}] needs {term.size} non-negative SDs "
                         f"(for {list(term.z_names)}), got {sd.tolist()}")
    corr = np.eye(term.size) if corr is None else np.asarray(corr, dtype=np.float64)
    if corr.shape != (term.size, term.size):
        raise ModelError(f"params['corr'][{term.group!r}] must be {term.size}x{term.size}")
    cov = np.outer(sd, sd) * corr
    evals = np.linalg.eigvalsh(cov)
    if evals.min() < -1e-10 * max(1.0, evals.max()):
        raise ModelError(f"the covariance of {term.group!r} is not positive semi-definite")
    lam = np.linalg.cholesky(cov) if evals.min() > 0 else _semidefinite_factor(cov)
    rows, cols = tril_positions(term.size)
    return lam[rows, cols] / sigma


def _semidefinite_factor(cov: np.ndarray) -> np.ndarray:
    """A lower-triangular L with L L' = cov for a singular covariance (an LDL' pivot-free
    Cholesky that skips zero pivots)."""
    n = cov.shape[0]
    low = np.zeros_like(cov)
    for j in range(n):
        d = cov[j, j] - low[j, :j] @ low[j, :j]
        if d > 1e-14 * max(1.0, cov[j, j]):
            low[j, j] = np.sqrt(d)
            low[j + 1:, j] = (cov[j + 1:, j] - low[j + 1:, :j] @ low[j, :j]) / low[j, j]
    return low


def _params(params: Mapping, frame, ordered: list[ReTerm]) -> LMMParams:
    unknown = sorted(set(params) - {"beta", "sd", "corr", "sigma"})
    if unknown:
        raise ModelError(f"params: unknown keys {unknown}; use 'beta', 'sd', 'corr', 'sigma'")
    names = list(frame.x_names_formulaic)
    beta_in = params.get("beta")
    if not isinstance(beta_in, Mapping):
        raise ModelError(f"params['beta'] must map each coefficient {names} to a value")
    missing = [n for n in names if n not in beta_in]
    extra = sorted(set(beta_in) - set(names))
    if missing or extra:
        raise ModelError(f"params['beta']: missing {missing}, unknown {extra}; the model's "
                         f"coefficients are {names}")
    sigma = float(params.get("sigma", np.nan))
    if not (np.isfinite(sigma) and sigma > 0):
        raise ModelError(f"params['sigma'] must be a positive residual SD, got "
                         f"{params.get('sigma')!r}")
    sds, corrs = dict(params.get("sd", {})), dict(params.get("corr", {}))
    groups = [t.group for t in ordered]
    unknown = sorted((set(sds) | set(corrs)) - set(groups))
    if unknown:
        raise ModelError(f"params['sd'/'corr']: unknown grouping factors {unknown}; the model's "
                         f"are {groups}")
    if len(set(groups)) < len(groups):
        raise ModelError("power() needs one random-effects term per grouping factor")
    theta = []
    for t in ordered:
        if t.group not in sds:
            raise ModelError(f"params['sd'] has no entry for grouping factor {t.group!r}")
        theta.append(_term_theta(t, sds[t.group], corrs.get(t.group), sigma))
    beta = np.asarray([float(beta_in[n]) for n in names])
    return LMMParams(jax.numpy.asarray(beta), jax.numpy.asarray(np.concatenate(theta)),
                     jax.numpy.asarray(sigma))


def _one_design(parsed, design, params, nsim, alpha, effects, seed, reml, chunk_size,
                progress, weights, offset):
    response = parsed.response
    data = with_columns(design, {response: np.zeros(n_rows(design))})
    frame = build_model_frame(parsed, data, weights=weights, offset=offset)
    terms = [ReTerm(t.group, t.refs, t.z, t.levels, t.z_names) for t in frame.terms]
    names = list(frame.x_names_formulaic)
    tested = [n for n in names if n != "Intercept"] if effects is None else list(effects)
    unknown = [e for e in tested if e not in names]
    if unknown:
        raise ModelError(f"effects {unknown} are not coefficients of the model: {names}")
    with x64():
        base = lmm_data(terms, frame.X, frame.y - frame.offset, frame.weights)
        ordered = [terms[i] for i in base.plan.order]
        model = device_model(base.plan, base.design, ordered, frame.X, frame.weights,
                             frame.offset)
        true = _params(params, frame, ordered)
        keys = replicate_keys(seed, nsim)
        chunk = (fit_chunk_size(base.plan, frame.X.shape[0]) if chunk_size is None
                 else chunk_size)
        out = run_in_chunks(_power_replicate, keys, (true, model), static=dict(reml=reml),
                            chunk_size=chunk, progress=progress, desc="power")
    cols = [names.index(e) for e in tested]
    ok = out["converged"].astype(bool)
    df = satterthwaite_rows(out)[:, cols]
    se = np.sqrt(np.diagonal(out["derivatives"].cov_unscaled, axis1=1, axis2=2)[:, cols])
    t = out["beta"][:, cols] / (out["sigma"][:, None] * se)
    p = 2 * stats.t.sf(np.abs(t), df)
    rows = []
    for j, name in enumerate(tested):
        hits = int(np.sum((p[:, j] < alpha) & ok))
        used = int(ok.sum())
        lo, hi = _clopper_pearson(hits, used)
        rows.append(dict(effect=name, power=hits / max(used, 1), lower=lo, upper=hi,
                         nsim=nsim, n_failed=nsim - used, nobs=len(frame.y)))
    return rows


def _clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    if n == 0:
        return float("nan"), float("nan")
    a = (1 - level) / 2
    lo = 0.0 if k == 0 else stats.beta.ppf(a, k, n - k + 1)
    hi = 1.0 if k == n else stats.beta.ppf(1 - a, k + 1, n - k)
    return float(lo), float(hi)


def power(formula: str, design: Any, params: Mapping, nsim: int = 1000, alpha: float = 0.05,
          effects: Sequence[str] | None = None, *, seed: int = 0, method: str = "REML",
          n_subjects: Sequence[int] | None = None, subject: str | None = None,
          weights=None, offset=None, chunk_size: int | None = None,
          progress: bool = False) -> pd.DataFrame:
    """Power of Satterthwaite t tests of fixed effects, by simulation.

    Args:
        formula: lme4 formula whose response names the simulated column, e.g.
            ``"y ~ cond + (1 | subj) + (1 | item)"``.
        design: data frame with every predictor and grouping factor (the response column is
            created).
        params: assumed parameters: ``beta`` {coefficient (``fe_params`` name, e.g.
            ``"cond[T.b]"``): value} for every coefficient, ``sd`` {grouping factor: SD, or
            the SDs of its effects in the term's order}, optional ``corr`` {grouping factor:
            correlation matrix}, and ``sigma`` (residual SD).
        nsim: replicates per design.
        alpha: significance level of the two-sided tests.
        effects: coefficients to test (default every one but the intercept).
        seed: integer seed (replicate i uses the i-th key split from it, whatever the chunks).
        method: "REML" (default) or "ML" refits.
        n_subjects: levels of ``subject`` to try (a power curve): the design's rows for its
            levels are reused in turn (level k copies level k mod L) with new labels.
        subject: the grouping factor that ``n_subjects`` changes (default: the grouping factor
            of the first random-effects term).
        weights, offset: as in :func:`interlace_jax.fit`.
        chunk_size: replicates per vmapped call; by default
            :func:`~interlace_jax.simulation._chunks.fit_chunk_size`.
        progress: show a progress bar.

    Returns:
        DataFrame with one row per (design size, effect): ``n_subjects`` (when given),
        ``effect``, ``power``, its 95% Clopper-Pearson interval ``lower``/``upper``, ``nsim``,
        ``n_failed`` (refits that did not converge: counted, left out of the power) and
        ``nobs``.
    """
    from interlace_jax.api import _reml

    nsim = check_count(nsim, "nsim")
    if not 0 < alpha < 1:
        raise ModelError(f"alpha must be in (0, 1), got {alpha}")
    parsed = parse_formula(formula)
    if parsed.response is None:
        raise ModelError(f"power() needs a response name on the left of '~' in {formula!r}")
    if not parsed.bars:
        raise ModelError(f"no random-effects terms in {formula!r}")
    reml = _reml(method)
    run = dict(params=params, nsim=nsim, alpha=alpha, effects=effects, seed=seed, reml=reml,
               chunk_size=chunk_size, progress=progress, weights=weights, offset=offset)
    if n_subjects is None:
        return pd.DataFrame(_one_design(parsed, design, **run))
    subject = subject or parsed.bars[0].group
    rows = []
    for n in n_subjects:
        sized = with_group_count(design, subject, check_count(n, "n_subjects"))
        rows += [dict(n_subjects=int(n), **r) for r in _one_design(parsed, sized, **run)]
    return pd.DataFrame(rows)
