"""clmm's printed layout of a fitted cumulative link mixed model (``summary(clmm(...))``)."""

from __future__ import annotations

import numpy as np
from scipy import stats

from interlace_jax.results._format import format_pvalue, r_format, table
from interlace_jax.results._names import group_labels

SIGNIF_LEGEND = "Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1"


def _stars(p: float) -> str:
    return next(s for cut, s in ((0.001, "***"), (0.01, "**"), (0.05, "*"), (0.1, "."),
                                 (np.inf, " ")) if p <= cut)


def _method(result) -> str:
    if result.n_agq > 1:
        return ("Cumulative Link Mixed Model fitted with the adaptive Gauss-Hermite \n"
                f"quadrature approximation with {result.n_agq} quadrature points \n")
    return "Cumulative Link Mixed Model fitted with the Laplace approximation\n"


def _info_table(r) -> str:
    fit = r.fit
    h = 0.5 * (fit.hessian + fit.hessian.T)
    with np.errstate(all="ignore"):
        ev = np.abs(np.linalg.eigvalsh(h)) if np.all(np.isfinite(h)) else np.array([np.nan])
    cond = ev.max() / ev.min() if ev.size and ev.min() > 0 else np.inf
    header = ["link", "threshold", "nobs", "logLik", "AIC", "niter", "max.grad", "cond.H"]
    row = [r.link.name, r.threshold, f"{r.nobs}", f"{r.llf:.2f}", f"{r.aic:.2f}",
           f"{fit.n_steps}", f"{np.max(np.abs(fit.gradient)):.2e}", f"{cond:.1e}"]
    widths = [max(len(a), len(b)) for a, b in zip(header, row)]
    return "\n".join(" " + " ".join(c.ljust(w) for c, w in zip(line, widths))
                     for line in (header, row))


def _random_effects_table(r) -> str:
    covs = r._covariances
    labels = iter(group_labels([c.group for c in covs]))
    show_corr = any(len(c.names) > 1 for c in covs)
    variances = [c.cov[i, i] for c in covs for i in range(len(c.names))]
    var_txt, sd_txt = r_format(variances), r_format(np.sqrt(variances))
    header = ["Groups", "Name", "Variance", "Std.Dev."] + (["Corr"] if show_corr else [])
    rows, k = [], 0
    for c in covs:
        label = next(labels)
        for i, name in enumerate(c.names):
            row = [label if i == 0 else "", name, var_txt[k], sd_txt[k]]
            if show_corr:
                row.append(" ".join(f"{c.corr[i, j]:.3f}" for j in range(i)))
            rows.append(row)
            k += 1
    return table(header, rows, left=len(header))


def _coefficients_table(names, est, se, with_p: bool) -> str:
    z = est / se
    joint = r_format(np.concatenate([est, se]), 4)  # printCoefmat formats them together
    cols = [joint[: len(est)], joint[len(est) :], [f"{v:.3f}" for v in z]]
    header = ["", "Estimate", "Std. Error", "z value"]
    if with_p:
        p = 2 * stats.norm.sf(np.abs(z))
        cols.append([format_pvalue(v) for v in p])
        cols.append([_stars(v) if np.isfinite(v) else "" for v in p])
        header += ["Pr(>|z|)", ""]
    rows = [[n, *vals] for n, *vals in zip(names, *cols)]
    return table(header, rows)


class ClmmSummary:
    """The printed summary of a :class:`ClmmResult`; ``str(summary)`` is clmm's layout."""

    def __init__(self, result):
        self.result = result

    def __str__(self) -> str:
        r = self.result
        lines = [_method(r), f"formula: {r.formula}"]
        if r.data_name:
            lines.append(f"data:    {r.data_name}")
        lines += ["", _info_table(r), "", "Random effects:",
                  " " + _random_effects_table(r).replace("\n", "\n ")]
        groups = ",  ".join(f"{g} {n}" for g, n in r.ngroups.items())
        lines.append(f"Number of groups:  {groups} ")
        lines.append("")
        if len(r.fe_params):
            lines.append("Coefficients:")
            lines.append(_coefficients_table(list(r.frame.x_names), r.fe_params.to_numpy(),
                                             r.bse.to_numpy(), with_p=True))
            lines += ["---", SIGNIF_LEGEND]
        else:
            lines.append("No Coefficients")
        lines += ["", "Threshold coefficients:",
                  _coefficients_table(list(r.thresholds.index), r.thresholds.to_numpy(),
                                      r.thresholds_bse.to_numpy(), with_p=False)]
        if r.n_dropped:
            lines.append(f"({r.n_dropped} observations deleted due to missingness)")
        if r.frame.dropped_columns:
            dropped = ", ".join(r.frame.dropped_columns)
            lines.append(f"design matrix is rank deficient so dropping "
                         f"{len(r.frame.dropped_columns)} coefficients: {dropped}")
        lines += list(r.convergence_messages)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        import html

        return f"<pre>{html.escape(str(self))}</pre>"
