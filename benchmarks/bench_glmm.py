"""GLMMs against lme4's glmer in the same run: VerbAgg (7,584 binary responses, 316 subjects x
24 items crossed, the issue's speed case; Laplace and ``nAGQ = 0``) and cbpp (binomial counts,
56 rows).

    python benchmarks/bench_glmm.py [--no-r] [--reps 3]

For each case: interlace_jax's first fit in this process (JIT compilation included), then the
median of --reps warm fits (same structure, compiled code reused; formula processing included),
and lme4's glmer (``benchmarks/r/time_glmer.R``, median of --reps) when Rscript is on PATH,
with both log-likelihoods. Note that lme4's reported logLik is not fully converged in the
random effects (tests/fixtures/glmm/README.md), so ours is typically a little higher.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import interlace_jax as ij

HERE = Path(__file__).parent

VERBAGG = ("VerbAgg", "r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)", "binomial",
           "logit", ["Gender", "btype", "situ", "id", "item", "r2"])
#: (dataset, formula, family, link, factor columns for R, nAGQ)
CASES = [
    (*VERBAGG, 1),
    (*VERBAGG, 0),
    ("cbpp", "cbind(incidence, size - incidence) ~ period + (1 | herd)", "binomial", "logit",
     ["period", "herd"], 1),
]


def time_glmer(frame, formula, family, link, reps, factors, n_agq):
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.csv"
        frame.to_csv(path, index=False)
        out = subprocess.run(
            ["Rscript", str(HERE / "r" / "time_glmer.R"), str(path), formula, family, link,
             str(n_agq),
             str(reps), ",".join(factors)], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-r", action="store_true")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    for name, formula, family, link, factors, n_agq in CASES:
        df = ij.datasets.load(name)
        start = time.perf_counter()
        m = ij.glmer(formula, df, family, link=link, nAGQ=n_agq)
        first = time.perf_counter() - start
        warm = []
        for _ in range(args.reps):
            start = time.perf_counter()
            m = ij.glmer(formula, df, family, link=link, nAGQ=n_agq)
            warm.append(time.perf_counter() - start)
        warm_s = statistics.median(warm)
        print(f"{name} (nAGQ = {n_agq}): interlace_jax first fit (JIT included) {first:.2f} s, warm fit "
              f"{warm_s:.3f} s (median of {args.reps}), logLik {m.llf:.6f}")
        r = None if args.no_r else time_glmer(df, formula, family, link, args.reps, factors,
                                              n_agq)
        if r is None:
            print("  lme4: not run")
            continue
        lme4_s = statistics.median(r["seconds"])
        print(f"  lme4 glmer: {lme4_s:.3f} s (median of {len(r['seconds'])}), logLik "
              f"{r['logLik']:.6f}; ratio lme4/ours: first {lme4_s / first:.2f}x, warm "
              f"{lme4_s / warm_s:.2f}x; logLik difference {m.llf - r['logLik']:.3g}")


if __name__ == "__main__":
    main()
