"""lme4's ``anova(m1, m2, ...)``: likelihood-ratio tests between fitted models."""

from __future__ import annotations

import numpy as np
import pandas as pd

from interlace_jax._errors import ModelError
from interlace_jax.inference import likelihood_ratio_table
from interlace_jax.results._clmm_result import ClmmResult
from interlace_jax.results._format import format_pvalue, r_format
from interlace_jax.results._glmm_result import GLMMResult
from interlace_jax.results._lmm_result import LMMResult

REFIT_MESSAGE = "refitting model(s) with ML (instead of REML)"
SIGNIF_LEGEND = "Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1"


def _stars(p: float) -> str:
    if not np.isfinite(p):
        return ""
    return next(s for cut, s in ((0.001, "***"), (0.01, "**"), (0.05, "*"), (0.1, "."),
                                 (np.inf, " ")) if p <= cut)


class AnovaTable(pd.DataFrame):
    """The table returned by :func:`anova`: a DataFrame whose printed form starts with lme4's
    heading (kept in ``attrs["heading"]``: the ML-refit note, the data, the models) and prints
    the numbers as R does. Operations on it return plain DataFrames."""

    @property
    def _constructor(self):
        return pd.DataFrame

    def _formatted(self) -> str:
        cols = {
            "npar": [f"{int(v)}" for v in self["npar"]],
            "AIC": r_format(self["AIC"], 5), "BIC": r_format(self["BIC"], 5),
            "logLik": r_format(self["logLik"], 5), "deviance": r_format(self["deviance"], 5),
            "Chisq": r_format(self["Chisq"], 5),
            "Df": ["" if np.isnan(v) else f"{int(v)}" for v in self["Df"]],
            "Pr(>Chisq)": ["" if np.isnan(v) else format_pvalue(v, 4) for v in self["Pr(>Chisq)"]],
            "": [_stars(v) for v in self["Pr(>Chisq)"]],
        }
        cols = {k: ["" if t == "NaN" else t for t in v] for k, v in cols.items()}
        names = [str(i) for i in self.index]
        widths = {k: max(len(k), *(len(t) for t in v)) for k, v in cols.items()}
        wn = max(len(n) for n in names)
        lines = [" " * wn + " " + " ".join(k.rjust(widths[k]) if k else "" for k in cols)]
        for i, name in enumerate(names):
            cells = [cols[k][i].rjust(widths[k]) if k else cols[k][i] for k in cols]
            lines.append(name.ljust(wn) + " " + " ".join(cells))
        text = "\n".join(line.rstrip() for line in lines)
        if self["Pr(>Chisq)"].notna().any():
            text += "\n---\n" + SIGNIF_LEGEND
        return text

    def __repr__(self) -> str:
        heading = self.attrs.get("heading", ())
        return "\n".join([*heading, self._formatted()])

    __str__ = __repr__


def _check_same_data(models: list[LMMResult], names: list[str]) -> None:
    first = models[0]
    for m, name in zip(models[1:], names[1:]):
        if m.nobs != first.nobs:
            raise ModelError(
                f"models were not all fitted to the same size of dataset: {names[0]} has "
                f"{first.nobs} observations, {name} has {m.nobs}"
            )
        if not np.array_equal(m.frame.y, first.frame.y):
            raise ModelError(f"models {names[0]} and {name} were not fitted to the same response")
        if not np.array_equal(m.frame.weights, first.frame.weights):
            raise ModelError(f"models {names[0]} and {name} use different prior weights")


def anova(*models: LMMResult | GLMMResult | ClmmResult, names=None,
          refit: bool = True) -> AnovaTable:
    """Likelihood-ratio tests between nested mixed models, as lme4's ``anova(m1, m2)``.

    Args:
        *models: two or more fits of the same response to the same rows: all linear
            (:func:`fit`), all generalised (:func:`glmer`, same family) or all cumulative
            link models (:func:`clmm`, same link; their thresholds may differ, e.g.
            equidistant within flexible).
        names: row names, one per model (default ``MODEL1``, ``MODEL2``, ..., lme4's names
            when it cannot see the variables' names).
        refit: refit REML fits by ML first (lme4's default, ``refit = TRUE``): REML
            likelihoods of models with different fixed effects are not comparable. The table's
            heading then starts with lme4's note "refitting model(s) with ML (instead of REML)".

    Returns:
        An :class:`AnovaTable` (a DataFrame) with rows ordered by number of parameters and
        columns npar, AIC, BIC, logLik, deviance, Chisq, Df, Pr(>Chisq); each row is tested
        against the row above (2 max(0, difference in logLik) on the difference in npar).
        ``attrs["heading"]`` holds the printed heading, ``attrs["refitted"]`` the names of the
        models refitted by ML. As lme4, the models are not checked to be nested.

    Raises:
        ModelError: fewer than two models, something that is not an LMMResult,
            GLMMResult or ClmmResult, a mix of kinds, of GLMM families or of clmm links,
            names of the wrong length or repeated, or models fitted to different data (number
            of observations, response or prior weights).
    """
    models = list(models)
    if len(models) < 2:
        raise ModelError("anova() compares two or more fitted models: anova(m1, m2, ...)")
    for m in models:
        if not isinstance(m, (LMMResult, GLMMResult, ClmmResult)):
            raise ModelError("anova() takes fitted models (LMMResult, GLMMResult or "
                             f"ClmmResult), got {type(m).__name__}")
    if len({type(m) for m in models}) > 1:
        raise ModelError("anova() compares models of one kind: all linear (fit), all "
                         "generalised (glmer) or all cumulative link models (clmm)")
    if isinstance(models[0], GLMMResult) and len({m.family for m in models}) > 1:
        raise ModelError("anova() compares GLMMs of the same family and link, got "
                         f"{sorted({repr(m.family) for m in models})}")
    if isinstance(models[0], ClmmResult) and len({m.link.name for m in models}) > 1:
        raise ModelError("anova() compares cumulative link models with the same link, got "
                         f"{sorted({m.link.name for m in models})}")
    names = [f"MODEL{i + 1}" for i in range(len(models))] if names is None else [
        str(n) for n in names]
    if len(names) != len(models) or len(set(names)) != len(names):
        raise ModelError(f"names must be {len(models)} distinct names, got {names!r}")
    _check_same_data(models, names)
    heading, refitted = [], []
    reml = [m.reml for m in models]
    if refit and any(reml):
        heading.append(REFIT_MESSAGE)
        refitted = [n for n, r in zip(names, reml) if r]
        models = [m.refit_ml() for m in models]
    elif any(reml) and not all(reml):
        heading.append("some models fit with REML = TRUE, some not")
    tab = likelihood_ratio_table([m.llf for m in models], [m.n_params for m in models],
                                 models[0].nobs)
    ordered = [names[i] for i in tab.order]
    data_names = {m.data_name for m in models}
    if len(data_names) == 1 and None not in data_names:
        heading.append(f"Data: {data_names.pop()}")
    heading.append("Models:")
    heading += [f"{names[i]}: {models[i].formula}" for i in tab.order]
    out = AnovaTable({
        "npar": tab.npar, "AIC": tab.aic, "BIC": tab.bic, "logLik": tab.loglik,
        "deviance": tab.deviance, "Chisq": tab.chisq, "Df": tab.df, "Pr(>Chisq)": tab.p,
    }, index=pd.Index(ordered))
    out.attrs.update(heading=tuple(heading), refitted=tuple(refitted))
    return out
