"""Profile-likelihood confidence intervals as a table (lme4's ``confint(m, method="profile")``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from interlace_jax._errors import ModelError
from interlace_jax.inference import profile_intervals
from interlace_jax.results._format import r_format
from interlace_jax.results._names import variance_parameter_names


def percent_labels(level: float) -> list[str]:
    """lme4's column labels, e.g. ``["2.5 %", "97.5 %"]`` (R's ``format.perc(a, 3)``)."""
    a = 0.5 * (1.0 - level)
    return [f"{t.strip()} %" for t in r_format(100.0 * np.array([a, 1.0 - a]), 3)]


def profile_frame(result, level: float) -> pd.DataFrame:
    """Profile intervals of every parameter of ``result`` (an LMMResult) at ``level``.

    Rows, in lme4's order: ``.sig01``, ... (the SDs and correlations of the random effects in
    theta's order), ``.sigma``, then the fixed effects under their ``fe_params`` names.
    ``attrs["parameter_names"]`` maps each row to lme4's ``oldNames = FALSE`` name
    (``sd_(Intercept)|Subject``, ``cor_Days.(Intercept)|Subject``, ``sigma``, ``(Intercept)``).
    The profiled criterion is the ML deviance, also for REML fits, which are refitted by ML
    first (as lme4's ``profile`` does): the intervals are centred on the ML estimates
    (``attrs["estimates"]``), and ``attrs["refitted_ml"]`` says whether a refit was made.
    """
    if result.correlation is not None:
        raise ModelError(
            "profile intervals are not available for a fit with correlation= (yet); use "
            "conf_int() (Wald intervals of the fixed effects)")
    ml = result.refit_ml()
    frame, terms = ml.frame, ml._terms
    intervals = profile_intervals(terms, frame.X, frame.y - frame.offset, frame.weights,
                                  ml._data, ml.theta, level=level)
    names = variance_parameter_names([t.group for t in terms], [t.z_names for t in terms])
    index = list(names.profile) + list(result.fe_params.index)
    lme4_names = list(names.descriptive) + list(frame.x_names)
    lower_label, upper_label = percent_labels(level)
    out = pd.DataFrame({lower_label: intervals.lower, upper_label: intervals.upper},
                       index=pd.Index(index, name="parameter"))
    refitted = bool(result.reml)
    out.attrs.update(
        method="profile",
        level=float(level),
        criterion="ML deviance",
        refitted_ml=refitted,
        parameter_names=dict(zip(index, lme4_names)),
        estimates=dict(zip(index, (p.estimate for p in intervals.parameters))),
        deviance=intervals.deviance,
        messages=intervals.messages,
        heading=(
            f"Profile-likelihood {100 * level:g}% intervals from the ML deviance"
            + (" (REML fit refitted by ML, as lme4's profile does)" if refitted else "")
        ),
    )
    return out
