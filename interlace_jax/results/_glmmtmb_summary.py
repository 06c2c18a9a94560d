"""glmmTMB's printed layout of a fitted model (``summary(glmmTMB(...))``): one coefficient
table per part ("Conditional model:", "Zero-inflation model:", "Dispersion model:") and the
dispersion line of a constant dispersion."""

from __future__ import annotations

from interlace_jax.results._format import format_pvalue, r_format, table
from interlace_jax.results._summary import random_effects_table

#: part -> glmmTMB's heading
HEADINGS = {"cond": "Conditional model", "zi": "Zero-inflation model",
            "disp": "Dispersion model"}

#: families whose dispersion glmmTMB prints as a variance, "(sigma^2)"
CLASSIC_DISPERSION = ("gaussian", "Gamma", "t")


def _coefficient_table(result, part: str) -> str:
    tab = result.coef_table(part)
    cols = [r_format(tab["Estimate"], 5), r_format(tab["Std. Error"], 4),
            r_format(tab["z value"], 4), [format_pvalue(p) for p in tab["Pr(>|z|)"]]]
    rows = [[name, *vals] for name, *vals in zip(tab.index, *cols)]
    return table(["", "Estimate", "Std. Error", "z value", "Pr(>|z|)"], rows)


def dispersion_line(result) -> str | None:
    """glmmTMB's "Dispersion ... for <family> family" line (None when the family has no
    dispersion or a dispersion formula makes it vary)."""
    fam = result.family
    if not fam.has_dispersion or not result._data.disp.constant:
        return None
    if fam.name in CLASSIC_DISPERSION:
        return (f"Dispersion estimate for {fam.name} family (sigma^2): "
                f"{result.sigma ** 2:.3g}")
    return f"Dispersion parameter for {fam.name} family (): {result.sigma:.3g}"


class GLMMTMBSummary:
    """The printed summary of a :class:`GLMMTMBResult`; ``str(summary)`` is glmmTMB's
    layout."""

    def __init__(self, result):
        self.result = result

    def __str__(self) -> str:
        r = self.result
        fam = r.family
        indent = " " * (len(r.frame.response_name) + 2)
        lines = [f" Family: {fam.name}  ( {fam.link.name} )",
                 f"Formula:          {r.formula}"]
        if r._data.zeros.has_zero_part:
            lines.append(f"Zero inflation:  {indent}{r.frame.parts['zi'].spec.text}")
        if "disp" in r.frame.parts and not r._data.disp.constant:
            lines.append(f"Dispersion:      {indent}{r.frame.parts['disp'].spec.text}")
        if r.data_name:
            lines.append(f"Data: {r.data_name}")
        if r.n_dropped:
            lines.append(f"   ({r.n_dropped} observations deleted due to missingness)")
        lines.append("")
        stats_row = [f"{v:.1f}" for v in (r.aic, r.bic, r.llf, r.deviance)]
        lines.append(table(["AIC", "BIC", "logLik", "deviance", "df.resid"],
                           [stats_row + [f"{r.nobs - r.n_params}"]], left=0))
        lines.append("")
        lines.append("Random effects:")
        lines.append("")
        lines.append(f"{HEADINGS['cond']}:")
        residual = fam.name == "gaussian" and r._data.disp.constant
        lines.append(" " + random_effects_table(r, residual=residual).replace("\n", "\n "))
        groups = ", ".join(f"{g}, {n}" for g, n in r.ngroups.items())
        lines.append(f"Number of obs: {r.nobs}, groups:  {groups}")
        line = dispersion_line(r)
        if line is not None:
            lines.extend(["", line])
        for part in ("cond", "zi", "disp"):
            if part == "disp" and r._data.disp.constant:
                continue  # glmmTMB prints a constant dispersion as the line above
            if len(r.params(part)):
                lines.extend(["", f"{HEADINGS[part]}:", _coefficient_table(r, part)])
        if r.frame.dropped_columns:
            lines.append(f"fixed-effect model matrix is rank deficient so dropping "
                         f"{len(r.frame.dropped_columns)} columns / coefficients: "
                         f"{', '.join(r.frame.dropped_columns)}")
        lines.extend(r.convergence_messages)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        import html

        return f"<pre>{html.escape(str(self))}</pre>"
