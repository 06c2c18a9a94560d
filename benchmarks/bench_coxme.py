"""Cox models with random effects against R's coxme: the issue's nested fit (about 2,000 rows,
``(1 | center/trt)``, simulated by tests/fixtures/make_coxme_fixtures.R) and rats
(``(1 | litter)``, 300 rows, coxme's sparse approximation of 100 litters).

    python benchmarks/bench_coxme.py [--no-r] [--reps 3]

For each case: interlace_jax's first fit in a new process (JIT compilation included; run in a
subprocess so that it is really the first), then the median of --reps warm fits in this process
(formula processing included), with the log-likelihood (``llf``, coxme's ``loglik[2]``).
Elapsed and CPU seconds are both printed: on a machine shared with other jobs the CPU times are
the steadier comparison.

coxme is not packaged for Debian. When ``Rscript -e 'library(coxme)'`` works (e.g. with
``R_LIBS_USER`` pointing at a private library built with ``R CMD INSTALL`` from bdsmatrix's and
coxme's CRAN sources), coxme is timed in the same run by ``benchmarks/r/time_coxme.R`` on the
same data with the same factor levels (median of --reps). Otherwise only our fits are timed and
"coxme not available" is printed: the times recorded in the fixtures (``seconds_all``) are not a
substitute, they were taken at another load (4.2 s for the nested fit against 1.1-1.7 s in a
same-run measurement at load 0.4).

BLAS is pinned to one thread unless OPENBLAS_NUM_THREADS etc. are set (see bench_clmm.py).
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
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402

import interlace_jax as ij  # noqa: E402

HERE = Path(__file__).parent
FIXTURES = HERE.parent / "tests" / "fixtures" / "coxme"

#: (name, fixture case whose data, formula and recorded coxme times are used)
CASES = [("nested, (1 | center/trt), 2,002 rows", "nested_center_trt"),
         ("rats, (1 | litter), 300 rows", "rats_efron")]

FIRST_FIT = """
import sys, time
import interlace_jax as ij
sys.path.insert(0, {here!r})
from bench_coxme import case_data
formula, df = case_data({case!r})
wall, cpu = time.perf_counter(), time.process_time()
m = ij.coxme(formula, df)
print(time.perf_counter() - wall, time.process_time() - cpu, m.llf)
"""


def case_data(case: str) -> tuple[str, pd.DataFrame]:
    """The fixture's formula and data (R's factor levels for the simulated CSV files)."""
    ref = json.loads((FIXTURES / f"{case}.json").read_text())
    source = ref["data"]
    if not source.startswith("file:"):
        return ref["formula"], ij.datasets.load(source)
    frame = pd.read_csv(FIXTURES / source[len("file:"):])
    for col, levels in (ref.get("csv_factors") or {}).items():
        frame[col] = pd.Categorical(frame[col].astype(str), categories=levels)
    return ref["formula"], frame


def coxme_available() -> bool:
    if shutil.which("Rscript") is None:
        return False
    probe = subprocess.run(["Rscript", "-e", "library(coxme)"], capture_output=True)
    return probe.returncode == 0


def factor_levels(df: pd.DataFrame) -> str:
    """The categorical columns' levels for time_coxme.R: ``col:l1,l2;col2:...``."""
    return ";".join(f"{col}:" + ",".join(str(v) for v in df[col].cat.categories)
                    for col in df.columns if isinstance(df[col].dtype, pd.CategoricalDtype))


def time_coxme(formula: str, df: pd.DataFrame, reps: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.csv"
        df.to_csv(path, index=False)
        out = subprocess.run(["Rscript", str(HERE / "r" / "time_coxme.R"), str(path), formula,
                              str(reps), factor_levels(df)],
                             check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def first_fit(case: str) -> tuple[float, float, float]:
    """Elapsed and CPU seconds and llf of the first fit in a new Python process."""
    code = FIRST_FIT.format(here=str(HERE), case=case)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout.split()
    return float(out[0]), float(out[1]), float(out[2])


def timed_fit(formula: str, df: pd.DataFrame):
    wall, cpu = time.perf_counter(), time.process_time()
    m = ij.coxme(formula, df)
    return m, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-r", action="store_true")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    with_r = not args.no_r and coxme_available()
    print(f"load average at start: {os.getloadavg()[0]:.1f}; coxme in R: "
          f"{'timed in this run' if with_r else 'coxme not available'}")
    for name, case in CASES:
        formula, df = case_data(case)
        first, first_cpu, first_llf = first_fit(case)
        timed_fit(formula, df)
        warm = [timed_fit(formula, df) for _ in range(args.reps)]
        m = warm[-1][0]
        warm_s = statistics.median(w for _, w, _ in warm)
        warm_cpu = statistics.median(c for _, _, c in warm)
        print(f"{name}: interlace_jax first fit (JIT included, new process) {first:.2f} s "
              f"({first_cpu:.2f} s CPU, llf {first_llf:.6f}), warm {warm_s:.3f} s ({warm_cpu:.3f} "
              f"s CPU, median of {args.reps}), llf {m.llf:.6f}")
        if not with_r:
            print("  coxme not available")
            continue
        r = time_coxme(formula, df, args.reps)
        r_s, r_cpu = statistics.median(r["seconds"]), statistics.median(r["cpu"])
        print(f"  coxme {r['coxme_version']}: {r_s:.3f} s ({r_cpu:.3f} s CPU, median of "
              f"{len(r['seconds'])}), loglik[2] {r['loglik']:.6f}; ratio ours/coxme: first "
              f"{first / r_s:.2f} ({first_cpu / r_cpu:.2f} CPU), warm {warm_s / r_s:.2f}; "
              f"llf - loglik[2] {m.llf - r['loglik']:.3g}")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
