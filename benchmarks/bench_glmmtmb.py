"""glmmTMB() against glmmTMB in the same run, on the data of the glmmTMB fixtures
(tests/fixtures/glmm/tmb_*.json and their CSVs: negative binomials, zero inflation, hurdles,
beta, ordered beta, Gamma, dispersion formulas, Student t).

    python benchmarks/bench_glmmtmb.py [--no-r] [--reps 3] [case ...]

For each case: interlace_jax's first fit in this process (JIT compilation included), then the
median (and best) of --reps warm fits (same structure, compiled code reused; formula
processing included), each as elapsed and CPU seconds, and glmmTMB's fit (``benchmarks/r/time_glmmtmb.R``, median of
--reps) when Rscript is on PATH, with both log-likelihoods. The machine is shared: CPU seconds
are the steadier comparison when other jobs run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd

import interlace_jax as ij

HERE = Path(__file__).parent
FIXTURES = HERE.parent / "tests" / "fixtures" / "glmm"
CASES = ["tmb_nbinom2", "tmb_nbinom2_slope", "tmb_nbinom1", "tmb_zip_x", "tmb_zinb2",
         "tmb_hurdle_poisson", "tmb_hurdle_nbinom2", "tmb_beta", "tmb_ordbeta", "tmb_gamma_log",
         "tmb_gaussian_disp", "tmb_nbinom2_disp", "tmb_student_t"]
#: glmmTMB's family(m)$family -> its family function
FAMILY_FUNCTION = {"beta": "beta_family", "t": "t_family"}


def _case(name: str):
    ref = json.loads((FIXTURES / f"{name}.json").read_text())
    frame = pd.read_csv(FIXTURES / ref["data"][len("file:"):])
    factors = list(ref.get("csv_factors") or {})
    for col, levels in (ref.get("csv_factors") or {}).items():
        frame[col] = pd.Categorical(frame[col].astype(str), categories=levels)
    return ref, frame, factors


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def time_glmmtmb(frame, ref, reps: int, factors: list[str]) -> dict | None:
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.csv"
        frame.to_csv(path, index=False)
        family = FAMILY_FUNCTION.get(ref["family"], ref["family"])
        out = subprocess.run(
            ["Rscript", str(HERE / "r" / "time_glmmtmb.R"), str(path), ref["formula"], family,
             ref["link"], ref["ziformula"], ref["dispformula"], str(reps), ",".join(factors)],
            check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-r", action="store_true")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("cases", nargs="*", default=CASES)
    args = parser.parse_args()
    for name in args.cases:
        ref, frame, factors = _case(name)
        zi = None if ref["ziformula"] == "~0" else ref["ziformula"]
        disp = None if ref["dispformula"] == "~1" else ref["dispformula"]

        def fit():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ij.ConvergenceWarning)
                return ij.glmmTMB(ref["formula"], frame,
                                  FAMILY_FUNCTION.get(ref["family"], ref["family"]),
                                  link=ref["link"], ziformula=zi, dispformula=disp)

        m, first, first_cpu = _timed(fit)
        warm = [_timed(fit)[1:] for _ in range(args.reps)]
        warm_s = statistics.median(w for w, _ in warm)
        warm_cpu = statistics.median(c for _, c in warm)
        print(f"{name}: interlace_jax first fit {first:.2f} s (cpu {first_cpu:.2f}), warm "
              f"{warm_s:.3f} s (cpu {warm_cpu:.3f}, median of {args.reps}; best "
              f"{min(w for w, _ in warm):.3f} s), logLik {m.llf:.6f}", flush=True)
        r = None if args.no_r else time_glmmtmb(frame, ref, args.reps, factors)
        if r is None:
            print("  glmmTMB: not run")
            continue
        tmb_s, tmb_cpu = statistics.median(r["seconds"]), statistics.median(r["cpu_seconds"])
        print(f"  glmmTMB: {tmb_s:.3f} s (cpu {tmb_cpu:.3f}, median of {len(r['seconds'])}), "
              f"logLik {r['logLik']:.6f}; ours/glmmTMB: first {first / tmb_s:.2f}, warm "
              f"{warm_s / tmb_s:.3f} (cpu {warm_cpu / tmb_cpu:.3f}); logLik difference "
              f"{m.llf - r['logLik']:.3g}", flush=True)


if __name__ == "__main__":
    main()
