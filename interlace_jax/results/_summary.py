"""lme4's printed layout of a fitted linear mixed model (``summary(lmer(...))``)."""

from __future__ import annotations

import numpy as np

from interlace_jax.results._format import format_pvalue, r_format, table, zapsmall
from interlace_jax.results._names import group_labels


def random_effects_table(result, residual: bool = True) -> str:
    """lme4's "Random effects:" table; with ``residual``, the residual row from result.scale."""
    covs = result._covariances
    groups = [c.group for c in covs]
    labels = iter(group_labels(groups))
    show_corr = any(len(c.names) > 1 for c in covs)
    header = ["Groups", "Name", "Variance", "Std.Dev."] + (["Corr"] if show_corr else [])
    variances = [c.cov[i, i] for c in covs for i in range(len(c.names))]
    variances += [result.scale] if residual else []
    sds = [np.sqrt(v) for v in variances]
    var_txt, sd_txt = r_format(variances), r_format(sds)
    rows, k = [], 0
    for c in covs:
        label = next(labels)
        corr = c.corr
        for i, name in enumerate(c.names):
            row = [label if i == 0 else "", name, var_txt[k], sd_txt[k]]
            if show_corr:
                cells = [f"{corr[i, j]:.2f}" if np.isfinite(corr[i, j]) else "NaN"
                         for j in range(i)]
                row.append(" ".join(c.rjust(5) for c in cells))
            rows.append(row)
            k += 1
    if residual:
        rows.append(["Residual", "", var_txt[k], sd_txt[k]] + ([""] if show_corr else []))
    return table(header, rows, left=2)


def _fixed_effects_table(result) -> str:
    names = list(result.frame.x_names)
    est, se = result.fe_params.to_numpy(), result.bse.to_numpy()
    t = est / se
    df = result.fe_df.to_numpy()
    normal = result.df_method == "normal"
    header = ["", "Estimate", "Std. Error"] + ([] if normal else ["df"])
    header += ["z value" if normal else "t value", "Pr(>|z|)" if normal else "Pr(>|t|)"]
    cols = [r_format(est, 5), r_format(se, 4)]
    if not normal:
        cols.append(r_format(df, 4))
    cols.append([f"{v:.3f}" for v in t])
    cols.append([format_pvalue(p) for p in result.pvalues.to_numpy()])
    rows = [[n, *vals] for n, *vals in zip(names, *cols)]
    return table(header, rows)


def correlation_table(names: list[str], cov: np.ndarray) -> str:
    """lme4's "Correlation of Fixed Effects:" lower triangle for the (p, p) covariance."""
    sd = np.sqrt(np.diag(cov))
    corr = cov / np.outer(sd, sd)
    short = [n[:6] if len(n) <= 6 else n.replace("(", "").replace(")", "")[:6] for n in names]
    rows = []
    for i in range(1, len(names)):
        rows.append([names[i]] + [f"{corr[i, j]:.3f}" for j in range(i)])
    return table([""] + short[:-1], rows)


def _correlation_structure(result) -> list[str]:
    """nlme's block for a residual correlation structure (empty without one)."""
    if result.correlation is None:
        return []
    params = result.correlation_params
    widths = [max(len(n), len(v)) for n, v in zip(params.index, r_format(params.to_numpy(), 7))]
    values = r_format(params.to_numpy(), 7)
    return [
        f"Correlation Structure: {result.correlation.label}",
        f" Formula: {result.correlation.formula()}",
        " Parameter estimate(s):",
        " ".join(n.rjust(w) for n, w in zip(params.index, widths)),
        " ".join(v.rjust(w) for v, w in zip(values, widths)),
        "",
    ]


def fixed_effects_notes(result, cov: np.ndarray) -> list[str]:
    """The lines after lme4's fixed-effects table: the rank-deficiency note and the
    correlation of the fixed effects from their (p, p) covariance (not shown beyond 12)."""
    lines = []
    dropped = result.frame.dropped_columns
    if dropped:
        lines.append(f"fixed-effect model matrix is rank deficient so dropping "
                     f"{len(dropped)} columns / coefficients: {', '.join(dropped)}")
    p = len(result.fe_params)
    if 1 < p <= 12:
        lines += ["", "Correlation of Fixed Effects:",
                  correlation_table(list(result.frame.x_names), cov)]
    elif p > 12:
        lines += ["", f"Correlation matrix not shown by default, as p = {p} > 12."]
    return lines


class LMMSummary:
    """The printed summary of an :class:`LMMResult`; ``str(summary)`` is lme4's layout."""

    def __init__(self, result):
        self.result = result

    def __str__(self) -> str:
        r = self.result
        kind = "REML" if r.reml else "maximum likelihood"
        df_note = {
            "satterthwaite": " t-tests use Satterthwaite's method",
            "kenward-roger": " t-tests use Kenward-Roger's method",
            "residual": " t-tests use residual df",
            "normal": "",
        }[r.df_method]
        lines = [f"Linear mixed model fit by {kind}.{df_note} ['LMMResult']"]
        lines.append(f"Formula: {r.formula}")
        if r.data_name:
            lines.append(f"   Data: {r.data_name}")
        if r.frame.n_dropped:
            lines.append(f"   ({r.frame.n_dropped} observations deleted due to missingness)")
        lines.append("")
        if r.reml:
            lines.append(f"REML criterion at convergence: {r.objective:.1f}")
        else:
            stats_row = [r.aic, r.bic, r.llf, r.deviance, r.nobs - r.n_params]
            lines.append(table(["AIC", "BIC", "logLik", "deviance", "df.resid"],
                               [[f"{v:.1f}" for v in stats_row[:4]] + [f"{stats_row[4]}"]],
                               left=0))
        lines.append("")
        scaled = r.resid.to_numpy() * np.sqrt(r.frame.weights) / r.sigma
        quart = np.quantile(scaled, [0, 0.25, 0.5, 0.75, 1.0])
        lines.append("Scaled residuals: ")
        lines.append(table(["Min", "1Q", "Median", "3Q", "Max"],
                           [r_format(zapsmall(quart, 5), 4)], left=0))
        lines.append("")
        lines.append("Random effects:")
        lines.append(" " + random_effects_table(r).replace("\n", "\n "))
        lines += _correlation_structure(r)
        groups = ", ".join(f"{g}, {n}" for g, n in r.ngroups.items())
        lines.append(f"Number of obs: {r.nobs}, groups:  {groups}")
        lines.append("")
        if len(r.fe_params):
            lines.append("Fixed effects:")
            lines.append(_fixed_effects_table(r))
            # lme4's vcov, also under Kenward-Roger (as lmerTest)
            lines += fixed_effects_notes(r, r._vcov_unadjusted)
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
