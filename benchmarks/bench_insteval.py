"""InstEval, y ~ service + (1 | s) + (1 | d) + (1 | dept:service), ML (73,421 rows;
2,972 x 1,128 x 28 levels): our fit (JIT included, then warm) against lme4 in the same run.

    python benchmarks/bench_insteval.py [--no-r]

The fits use ``df_method="normal"``; the cost of Satterthwaite's df for all coefficients is
timed separately: a warm REML fit with the default ``df_method="satterthwaite"`` against the same
fit with ``"normal"`` (the difference is the df computation).
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
    ij.fit(FORMULA, data)  # compile the REML fit and its derivatives
    t0 = time.perf_counter()
    ij.fit(FORMULA, data, df_method="normal")
    t_normal = time.perf_counter() - t0
    t0 = time.perf_counter()
    reml = ij.fit(FORMULA, data)
    reml.pvalues  # the df are computed when first asked for
    t_satt = time.perf_counter() - t0
    print(f"Satterthwaite df for all {len(reml.fe_params)} coefficients (REML): warm fit "
          f"{t_satt:.2f} s with them, {t_normal:.2f} s without: {t_satt - t_normal:.2f} s; "
          f"df {reml.fe_df.round(1).tolist()}")


if __name__ == "__main__":
    main()
