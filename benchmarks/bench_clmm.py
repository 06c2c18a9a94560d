"""Cumulative link mixed models against ordinal's clmm in the same run: soup (1,847 ratings on
a 6-point scale, respondents and respondent x product nested, the issue's speed case) and wine
(72 ratings, nine judges).

    python benchmarks/bench_clmm.py [--no-r] [--reps 3]

For each case: interlace_jax's first fit in this process (JIT compilation included), then the
median of --reps warm fits (same structure, compiled code reused; formula processing included),
and ordinal's clmm (``benchmarks/r/time_clmm.R``, median of --reps) when Rscript is on PATH,
with both log-likelihoods. Elapsed and CPU seconds are both printed: on a machine shared with
other jobs the CPU times are the steadier comparison.

BLAS is pinned to one thread unless OPENBLAS_NUM_THREADS etc. are set: jaxlib's LAPACK calls
(the dense block of the nested terms) otherwise wait for busy OpenBLAS threads on a loaded
2-core machine (a 187 x 187 Cholesky factor: 0.3 ms pinned, over 200 ms unpinned at load 8).
"""

from __future__ import annotations

import os

BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
for _var in BLAS_THREADS:
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import interlace_jax as ij  # noqa: E402

HERE = Path(__file__).parent

CASES = [
    ("soup", "SURENESS ~ PROD + (1 | RESP) + (1 | RESP:PROD)", "SURENESS", ["PROD", "RESP"]),
    ("wine", "rating ~ temp + contact + (1 | judge)", "rating", ["temp", "contact", "judge"]),
]


def time_clmm(frame, formula, response, reps, factors):
    if shutil.which("Rscript") is None:
        return None
    levels = ",".join(str(c) for c in frame[response].cat.categories)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.csv"
        frame.to_csv(path, index=False)
        out = subprocess.run(
            ["Rscript", str(HERE / "r" / "time_clmm.R"), str(path), formula, "logit",
             "flexible", "1", str(reps), levels, ",".join(factors)],
            check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def timed_fit(formula, df):
    wall, cpu = time.perf_counter(), time.process_time()
    m = ij.clmm(formula, df)
    return m, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-r", action="store_true")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    for name, formula, response, factors in CASES:
        df = ij.datasets.load(name)
        m, first, first_cpu = timed_fit(formula, df)
        warm = [timed_fit(formula, df)[1:] for _ in range(args.reps)]
        warm_s = statistics.median(w for w, _ in warm)
        warm_cpu = statistics.median(c for _, c in warm)
        print(f"{name}: interlace_jax first fit (JIT included) {first:.2f} s ({first_cpu:.2f} s "
              f"CPU), warm fit {warm_s:.3f} s ({warm_cpu:.3f} s CPU, median of {args.reps}), "
              f"logLik {m.llf:.6f}")
        r = None if args.no_r else time_clmm(df, formula, response, args.reps, factors)
        if r is None:
            print("  ordinal: not run")
            continue
        r_s, r_cpu = statistics.median(r["seconds"]), statistics.median(r["cpu"])
        print(f"  ordinal clmm {r['ordinal_version']}: {r_s:.3f} s ({r_cpu:.3f} s CPU, median of "
              f"{len(r['seconds'])}), logLik {r['logLik']:.6f}; ratio ordinal/ours: first "
              f"{r_s / first:.2f}x ({r_cpu / first_cpu:.2f}x CPU), warm {r_s / warm_s:.1f}x; "
              f"logLik difference {m.llf - r['logLik']:.3g}")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
