"""coxme's printed layout of a fitted Cox mixed model (``print(coxme(...))``)."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from interlace_jax.results._format import r_format, table


def _signif(x: float, digits: int) -> str:
    return "0" if x == 0 or not math.isfinite(x) else f"{x:.{digits}g}"


def _likelihood_tests(r) -> str:
    """The chi-square tests of the integrated and penalised loglik against the null model."""
    rows = []
    for label, chi, df in (("Integrated loglik", 2 * (r.llf - r.llf_null), r.df[0]),
                           (" Penalized loglik", 2 * (r.llf_fitted - r.llf_null), r.df[1])):
        p = stats.chi2.sf(chi, df) if df > 0 else float("nan")
        rows.append([label, f"{chi:.2f}", f"{df:.2f}", _signif(p, 5), f"{chi - 2 * df:.2f}",
                     f"{chi - math.log(r.n_events) * df:.2f}"])
    return table(["", "Chisq", "df", "p", "AIC", "BIC"], rows)


def _fixed_table(r) -> str:
    est, se = r.fe_params.to_numpy(), r.bse.to_numpy()
    z = est / se
    p = stats.chi2.sf(z**2, 1)
    rows = [[name, *vals] for name, *vals in zip(
        r.frame.x_names, r_format(est, 7), r_format(np.exp(est), 7), r_format(se, 7),
        [f"{v:.2f}" for v in z], [_signif(v, 2) for v in p])]
    return table(["", "coef", "exp(coef)", "se(coef)", "z", "p"], rows)


def _random_table(r) -> str:
    rows = []
    max_size = max(t.size for t in r.terms)
    for term, cov in zip(r.terms, r._covariances):
        sd = np.sqrt(np.diag(cov.cov))
        corr = cov.corr
        for i, name in enumerate(term.z_names):
            cells = [term.group if i == 0 else "", "Intercept" if name == "(Intercept)" else name,
                     r_format([sd[i]], 7)[0], r_format([cov.cov[i, i]], 7)[0]]
            cells += [r_format([corr[i, j]], 4)[0] if j > i else ""
                      for j in range(1, max_size)]
            rows.append(cells)
    header = ["Group", "Variable", "Std Dev", "Variance"]
    if max_size > 1:
        header += ["Corr"] + [""] * (max_size - 2)
    return table(header, rows, left=2)


class CoxmeSummary:
    """The printed summary of a :class:`CoxmeResult`; ``str(summary)`` is coxme's layout."""

    def __init__(self, result):
        self.result = result

    def __str__(self) -> str:
        r = self.result
        lines = ["Cox mixed-effects model fit by maximum likelihood"]
        if r.data_name:
            lines.append(f"  Data: {r.data_name}")
        events = f"  events, n = {r.n_events}, {r.nobs}"
        if r.n_dropped:
            events += f" ({r.n_dropped} observations deleted due to missingness)"
        lines.append(events)
        lines.append(f"  Iterations= {r.fit.n_steps} ")
        lines.append(table(["", "NULL", "Integrated", "Fitted"],
                           [["Log-likelihood", *r_format([r.llf_null, r.llf, r.llf_fitted], 7)]]))
        lines.append("")
        lines.append(_likelihood_tests(r))
        lines.append("")
        lines.append(f"Model:  {r.formula} ")
        if r.fe_params.size:
            lines.append("Fixed coefficients")
            lines.append(_fixed_table(r))
        lines.append("")
        lines.append("Random effects")
        lines.append(_random_table(r))
        if r.n_sparse:
            lines.append(f"({r.n_sparse} random effects with the sparse Laplace approximation)")
        if not r.converged:
            lines.append("")
            lines.append("Warning: " + "; ".join(r.convergence_messages))
        return "\n".join(lines)
