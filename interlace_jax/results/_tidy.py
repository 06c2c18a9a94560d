"""broom.mixed's ``tidy`` and ``glance`` tables of a fitted linear mixed model."""

from __future__ import annotations

import numpy as np
import pandas as pd

from interlace_jax._errors import ModelError
from interlace_jax.results._names import variance_parameter_names

EFFECTS = ("fixed", "ran_pars")
TIDY_COLUMNS = ["effect", "group", "term", "estimate", "std.error", "statistic", "df", "p.value"]


def _check_effects(effects) -> tuple[str, ...]:
    effects = (effects,) if isinstance(effects, str) else tuple(effects)
    bad = [e for e in effects if e not in EFFECTS]
    if bad or not effects:
        raise ModelError(f"effects must be among {EFFECTS}, got {effects!r}")
    return effects


def _fixed_rows(result) -> pd.DataFrame:
    return pd.DataFrame({
        "effect": "fixed",
        "group": None,
        "term": list(result.frame.x_names),
        "estimate": result.fe_params.to_numpy(),
        "std.error": result.bse.to_numpy(),
        "statistic": result.tvalues.to_numpy(),
        "df": result.fe_df.to_numpy(),
        "p.value": result.pvalues.to_numpy(),
    })


def _ran_pars_rows(result) -> pd.DataFrame:
    terms = result._terms
    names = variance_parameter_names([t.group for t in terms], [t.z_names for t in terms])
    estimates = []
    for c in result._covariances:  # theta's order: lower triangle column by column
        size = len(c.names)
        for j in range(size):
            estimates.append(c.sd[j])
            estimates += [c.corr[i, j] for i in range(j + 1, size)]
    estimates.append(result.sigma)
    nan = np.full(len(estimates), np.nan)
    return pd.DataFrame({
        "effect": "ran_pars", "group": list(names.broom_group), "term": list(names.broom_term),
        "estimate": estimates, "std.error": nan, "statistic": nan, "df": nan, "p.value": nan,
    })


def tidy_frame(result, effects=EFFECTS, conf_int: bool = False, conf_level: float = 0.95,
               conf_method: str = "wald") -> pd.DataFrame:
    """broom.mixed's ``tidy(m)`` (see :meth:`LMMResult.tidy`)."""
    effects = _check_effects(effects)
    parts = []
    if "fixed" in effects:
        parts.append(_fixed_rows(result))
    if "ran_pars" in effects:
        parts.append(_ran_pars_rows(result))
    out = pd.concat(parts, ignore_index=True)[TIDY_COLUMNS]
    if conf_int:
        ci = result.conf_int(method=conf_method, level=conf_level)
        low, high = np.full(len(out), np.nan), np.full(len(out), np.nan)
        p = len(result.fe_params)
        fixed = (out["effect"] == "fixed").to_numpy()
        low[fixed], high[fixed] = ci.iloc[-p:, 0], ci.iloc[-p:, 1]
        if ci.attrs.get("method") == "profile":
            ran = (out["effect"] == "ran_pars").to_numpy()
            low[ran], high[ran] = ci.iloc[:-p, 0], ci.iloc[:-p, 1]
        out["conf.low"], out["conf.high"] = low, high
    return out


def glance_frame(result) -> pd.DataFrame:
    """broom.mixed's ``glance(m)``: one row of fit statistics (see :meth:`LMMResult.glance`)."""
    criterion = "REMLcrit" if result.reml else "deviance"
    return pd.DataFrame([{
        "nobs": result.nobs, "sigma": result.sigma, "logLik": result.llf, "AIC": result.aic,
        "BIC": result.bic, criterion: result.deviance,
        "df.residual": result.nobs - result.n_params,
    }])
