"""InstEval, y ~ service + (1 | s) + (1 | d) + (1 | dept:service), ML (73,421 rows;
2,972 x 1,128 x 28 levels): our fit (JIT included, then warm) against lme4 in the same run.

    python benchmarks/bench_insteval.py [--no-r]

The fits use ``df_method="normal"``; the cost of Satterthwaite's df for all coefficients (exact
autodiff derivatives at the optimum, computed when the df are first asked for) is timed
separately on REML fits, the first time (compilation included) and again.
"""

from __future__ import annotations

import sys
import time
import tracemalloc

from _r import report, time_lmer

import interlace_jax as ij

FORMULA = "y ~ service + (1 | s) + (1 | d) + (1 | dept:service)"


def main() -> None:
    data = ij.datasets.load("InstEval")
    t0 = time.perf_counter()
    first = ij.fit(FORMULA, data, method="ML", df_method="normal")
    t_first = time.perf_counter() - t0
    t0 = time.perf_counter()
    warm = ij.fit(FORMULA, data, method="ML", df_method="normal")
    t_warm = time.perf_counter() - t0
    tracemalloc.start()
    ij.fit(FORMULA, data, method="ML", df_method="normal")
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    print(first.theta_fit.optimizer, "steps", first.theta_fit.n_steps, "theta", warm.theta)
    print(f"peak host memory traced during a warm fit: {peak:.0f} MiB")
    r = None if "--no-r" in sys.argv else time_lmer(
        data[["y", "service", "s", "d", "dept"]], FORMULA, False, 1, ["service", "s", "d", "dept"])
    report("InstEval ML", t_first, t_warm, warm.llf, r)
    for label in ("first (compilation included)", "warm"):
        reml = ij.fit(FORMULA, data)
        t0 = time.perf_counter()
        reml.pvalues  # Satterthwaite's df are computed when first asked for
        t_df = time.perf_counter() - t0
        print(f"Satterthwaite df for all {len(reml.fe_params)} coefficients (REML fit, exact "
              f"derivatives), {label}: {t_df:.2f} s; df {reml.fe_df.round(1).tolist()}")


if __name__ == "__main__":
    main()
