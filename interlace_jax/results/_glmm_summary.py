"""glmer's printed layout of a fitted GLMM (``summary(glmer(...))``)."""

from __future__ import annotations

import numpy as np

from interlace_jax.results._format import format_pvalue, r_format, table, zapsmall
from interlace_jax.results._summary import fixed_effects_notes, random_effects_table


def _fixed_effects_table(result) -> str:
    est, se = result.fe_params.to_numpy(), result.bse.to_numpy()
    cols = [r_format(est, 5), r_format(se, 4), [f"{v:.3f}" for v in est / se],
            [format_pvalue(p) for p in result.pvalues.to_numpy()]]
    rows = [[n, *vals] for n, *vals in zip(result.frame.x_names, *cols)]
    return table(["", "Estimate", "Std. Error", "z value", "Pr(>|z|)"], rows)


def _method(result) -> str:
    if result.n_agq != 1:
        return f"Adaptive Gauss-Hermite Quadrature, nAGQ = {result.n_agq}"
    return "Laplace Approximation"


class GLMMSummary:
    """The printed summary of a :class:`GLMMResult`; ``str(summary)`` is glmer's layout."""

    def __init__(self, result):
        self.result = result

    def __str__(self) -> str:
        r = self.result
        fam = r.family
        lines = [f"Generalized linear mixed model fit by maximum likelihood ({_method(r)}) "
                 "['GLMMResult']",
                 f" Family: {fam.name}  ( {fam.link.name} )",
                 f"Formula: {r.formula}"]
        if r.data_name:
            lines.append(f"   Data: {r.data_name}")
        if r.n_dropped:
            lines.append(f"   ({r.n_dropped} observations deleted due to missingness)")
        lines.append("")
        stats_row = [r.aic, r.bic, r.llf, r.deviance]
        lines.append(table(["AIC", "BIC", "logLik", "deviance", "df.resid"],
                           [[f"{v:.1f}" for v in stats_row] + [f"{r.nobs - r.n_params}"]],
                           left=0))
        lines.append("")
        quart = np.quantile(r.resid_pearson.to_numpy(), [0, 0.25, 0.5, 0.75, 1.0])
        lines.append("Scaled residuals: ")
        lines.append(table(["Min", "1Q", "Median", "3Q", "Max"],
                           [r_format(zapsmall(quart, 5), 4)], left=0))
        lines.append("")
        lines.append("Random effects:")
        lines.append(" " + random_effects_table(r, residual=False).replace("\n", "\n "))
        groups = ", ".join(f"{g}, {n}" for g, n in r.ngroups.items())
        lines.append(f"Number of obs: {r.nobs}, groups:  {groups}")
        if fam.has_dispersion:
            lines.append("")
            lines.append(f"Dispersion estimate for {fam.name} family (phi): "
                         f"{r_format([r.dispersion], 3)[0]}")
        lines.append("")
        if len(r.fe_params):
            lines.append("Fixed effects:")
            lines.append(_fixed_effects_table(r))
            lines += fixed_effects_notes(r, r.cov_params().to_numpy())
        else:
            lines.append("No fixed effect coefficients")
        for msg in r.convergence_messages:
            lines.append(msg)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        import html

        return f"<pre>{html.escape(str(self))}</pre>"
