"""sleepstudy, Reaction ~ Days + (Days | Subject), REML (180 rows, 18 subjects, correlated
intercept and slope): warm fits of interlace_jax against lme4 and the Python peers, in one run.

    python benchmarks/bench_sleepstudy.py [--no-r] [--reps 50] [--peer-reps 20] \
        [--peer-python NAME=/path/to/python ...]

interlace_jax: a first fit (JIT compile included), then --reps warm fits of
``ij.fit(FORMULA, df)`` (formula processing included; same structure, so the compiled code is
reused), with the default Satterthwaite df and with ``df_method="normal"``.

Every timed fit, ours and the peers', runs with Python's garbage collector paused, as
``timeit`` times code; collections happen between fits. (Forcing a full collection before each
fit, as this script did before 2026-12-06 evening, slows the next fit of any process with a
large heap by evicting the CPU caches: ours 2.7 -> 4.9 ms.)

lme4: ``benchmarks/r/time_lmer.R`` through ``_r.time_lmer`` with --reps fits, when Rscript is
on PATH (R reports elapsed times to the millisecond).

Python peers (statsmodels MixedLM, interlace-lme, lme-python, mixedlm, bossanova) are never
dependencies of interlace_jax. Each one is timed in a subprocess, by a small snippet that reads
sleepstudy from a CSV this script writes and prints one line of JSON. The interpreter for a
peer is, in order: ``--peer-python NAME=PATH``, the environment variable
``PEER_PYTHON="NAME=PATH,NAME=PATH"``, or this interpreter when the peer imports here;
otherwise the peer is reported as not installed. Peers may pin conflicting versions (of jax,
numpy, ...), so give each its own virtual environment, e.g.

    python -m venv /tmp/peer_mixedlm && /tmp/peer_mixedlm/bin/pip install mixedlm pandas
    python benchmarks/bench_sleepstudy.py --peer-python mixedlm=/tmp/peer_mixedlm/bin/python

BLAS is pinned to one thread (see BLAS_THREADS) unless OPENBLAS_NUM_THREADS etc. are set.

Peer names: statsmodels, interlace, lme-python, mixedlm, bossanova.
interlace-lme takes its fast CHOLMOD path with scikit-sparse: on Debian 12,
``apt-get install libsuitesparse-dev`` and ``pip install "scikit-sparse<0.5"`` (0.5 needs
SuiteSparse 7); without it, it warns and falls back to SuperLU.
"""

from __future__ import annotations

import os

# A 180-row fit makes many tiny LAPACK calls; OpenBLAS waking its thread pool for each one
# made scipy-based peers 2-13x slower on a 2-core machine (mixedlm 72 ms -> 5 ms). So BLAS is
# pinned to one thread here and in every peer's subprocess (inherited), unless the caller set
# these variables. Set before numpy loads. R's reference BLAS and XLA's CPU pool ignore them.
BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
for _var in BLAS_THREADS:
    os.environ.setdefault(_var, "1")

import argparse
import gc
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _r import report, time_lmer

import interlace_jax as ij

FORMULA = "Reaction ~ Days + (Days | Subject)"


# ---------------------------------------------------------------------------------------------
# interlace_jax, in this process


def time_ours(df, reps: int, **kwargs) -> tuple[float, list[float], float]:
    """First fit (JIT included), then `reps` warm fits: (first s, warm seconds, logLik)."""
    t0 = time.perf_counter()
    ij.fit(FORMULA, df, **kwargs)
    first = time.perf_counter() - t0
    seconds = []
    for _ in range(reps):
        gc.disable()  # timeit's convention, as in the peers' harness below
        t0 = time.perf_counter()
        m = ij.fit(FORMULA, df, **kwargs)
        seconds.append(time.perf_counter() - t0)
        gc.enable()
    return first, seconds, float(m.llf)


# ---------------------------------------------------------------------------------------------
# Python peers, each in a subprocess of its own interpreter

# Runs in the peer's interpreter: argv = CSV path, reps, distribution name. The peer's code
# (below) defines load(path) -> data, fit(data) -> result and loglik(result) -> float.
HARNESS = r"""
import gc, json, sys, time, warnings
from importlib.metadata import version
warnings.simplefilter("ignore")
CSV, REPS, DIST = sys.argv[1], int(sys.argv[2]), sys.argv[3]
{code}
data = load(CSV)
t0 = time.perf_counter(); res = fit(data); first = time.perf_counter() - t0
seconds = []
for _ in range(REPS):
    gc.disable()
    t0 = time.perf_counter(); res = fit(data); seconds.append(time.perf_counter() - t0)
    gc.enable()
print(json.dumps({{"version": version(DIST), "first": first, "seconds": seconds,
                  "logLik": float(loglik(res))}}))
"""


@dataclass
class Peer:
    name: str  # name used with --peer-python
    dist: str  # pip distribution name
    module: str  # import name
    code: str  # defines load, fit, loglik
    note: str = ""


def peer_statsmodels() -> Peer:
    return Peer(
        "statsmodels",
        "statsmodels",
        "statsmodels",
        """
import pandas as pd
import statsmodels.formula.api as smf
def load(path):
    return pd.read_csv(path, dtype={"Subject": str})
def fit(df):
    return smf.mixedlm("Reaction ~ Days", df, groups="Subject", re_formula="~Days").fit(reml=True)
def loglik(m):
    return m.llf
""",
        "MixedLM, re_formula='~Days', REML",
    )


def peer_interlace() -> Peer:
    # interlace 0.3.2 reads "(Days | Subject)" as a random intercept only (1 theta, logLik
    # -883.26), so the intercept is written out.
    return Peer(
        "interlace",
        "interlace-lme",
        "interlace",
        """
import pandas as pd
import interlace
def load(path):
    return pd.read_csv(path, dtype={"Subject": str})
def fit(df):
    return interlace.fit("Reaction ~ Days", df, random=["(1 + Days | Subject)"], method="REML")
def loglik(m):
    return m.llf
""",
        "random=['(1 + Days | Subject)']",
    )


def peer_lme_python() -> Peer:
    # polars is lme-python's native frame; pandas string columns would need pyarrow.
    return Peer(
        "lme-python",
        "lme-python",
        "lme_python",
        """
import polars as pl
import lme_python
def load(path):
    return pl.read_csv(path, schema_overrides={"Subject": pl.String})
def fit(df):
    return lme_python.lmer("Reaction ~ Days + (Days | Subject)", df, reml=True)
def loglik(m):
    return m.log_likelihood
""",
        "polars frame",
    )


def peer_mixedlm() -> Peer:
    return Peer(
        "mixedlm",
        "mixedlm",
        "mixedlm",
        """
import pandas as pd
import mixedlm
def load(path):
    return pd.read_csv(path, dtype={"Subject": str})
def fit(df):
    return mixedlm.lmer("Reaction ~ Days + (Days | Subject)", df, REML=True)
def loglik(m):
    return m.logLik().value
""",
    )


def peer_bossanova() -> Peer:
    # bossanova's model() takes a polars frame; its tables round to 4 significant digits
    # unless told otherwise.
    return Peer(
        "bossanova",
        "bossanova",
        "bossanova",
        """
import polars as pl
import bossanova
bossanova.set_display_digits(17)
def load(path):
    return pl.read_csv(path, schema_overrides={"Subject": pl.String})
def fit(df):
    m = bossanova.model("Reaction ~ Days + (Days | Subject)", data=df)
    m.fit()
    return m
def loglik(m):
    return m.diagnostics["loglik"][0]
""",
        "polars frame",
    )


PEERS = [
    peer_statsmodels(),
    peer_interlace(),
    peer_lme_python(),
    peer_mixedlm(),
    peer_bossanova(),
]


def _key(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def peer_pythons(options: list[str]) -> dict[str, str]:
    """NAME -> interpreter, from $PEER_PYTHON then --peer-python (later wins)."""
    pairs = [
        p for p in os.environ.get("PEER_PYTHON", "").split(",") if p.strip()
    ] + options
    known = {_key(p.name) for p in PEERS} | {_key(p.dist) for p in PEERS}
    out = {}
    for pair in pairs:
        name, sep, path = pair.partition("=")
        if not sep or _key(name) not in known:
            sys.exit(
                f"--peer-python wants NAME=PATH with NAME one of "
                f"{', '.join(p.name for p in PEERS)}; got {pair!r}"
            )
        out[_key(name)] = path.strip()
    return out


def run_peer(peer: Peer, python: str | None, csv: Path, reps: int) -> dict:
    """The peer's timings as a dict, or {"error": one line}."""
    if python is None:
        if importlib.util.find_spec(peer.module) is None:
            return {
                "error": "not installed (pass --peer-python "
                f"{peer.name}=/path/to/python of a venv with {peer.dist})"
            }
        python = sys.executable
    try:
        proc = subprocess.run(
            [
                python,
                "-c",
                HARNESS.format(code=peer.code),
                str(csv),
                str(reps),
                peer.dist,
            ],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"error": f"could not run {python}: {exc}"}
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
        return {
            "error": f"failed in {python}: {lines[-1] if lines else proc.returncode}"
        }
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------


def row(package, version, first, seconds, llf) -> tuple:
    return (
        package,
        version,
        f"{first:.3f}" if first is not None else "",
        f"{statistics.median(seconds) * 1e3:.1f}",
        f"{min(seconds) * 1e3:.1f}",
        f"{llf:.6f}",
    )


def print_table(rows: list[tuple]) -> None:
    head = ("package", "version", "first fit s", "warm median ms", "best ms", "logLik")
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]

    def line(cells) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"

    print(line(head))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--reps", type=int, default=50, help="warm fits for interlace_jax and lme4"
    )
    ap.add_argument(
        "--peer-reps", type=int, default=20, help="warm fits for each Python peer"
    )
    ap.add_argument("--peer-python", action="append", default=[], metavar="NAME=PATH")
    ap.add_argument("--no-r", action="store_true", help="skip lme4")
    args = ap.parse_args()
    pythons = peer_pythons(args.peer_python)

    df = ij.datasets.load("sleepstudy")
    print(
        f"sleepstudy {FORMULA}, REML; {len(df)} rows, {df['Subject'].nunique()} subjects; "
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; "
        + ", ".join(f"{v}={os.environ[v]}" for v in BLAS_THREADS)
    )
    rows = []

    first, secs, llf = time_ours(df, args.reps)
    rows.append(row("interlace_jax", ij.__version__, first, secs, llf))
    _, secs_n, llf_n = time_ours(df, args.reps, df_method="normal")
    rows.append(row("interlace_jax df=normal", ij.__version__, None, secs_n, llf_n))
    print(
        f"interlace_jax: first fit {first:.3f} s; warm (Satterthwaite) median "
        f"{statistics.median(secs) * 1e3:.1f} ms, best {min(secs) * 1e3:.1f} ms; warm "
        f"(df_method='normal') median {statistics.median(secs_n) * 1e3:.1f} ms, best "
        f"{min(secs_n) * 1e3:.1f} ms; logLik {llf:.6f}"
    )

    r = (
        None
        if args.no_r
        else time_lmer(
            df[["Reaction", "Days", "Subject"]], FORMULA, True, args.reps, ["Subject"]
        )
    )
    if r is None:
        print("  lme4: " + ("skipped (--no-r)" if args.no_r else "Rscript not found"))
    else:
        report("sleepstudy REML (best of each)", first, min(secs), llf, r)
        rows.append(
            row(
                "lme4 (R lmer)",
                r["lme4_version"],
                r["seconds"][0],
                r["seconds"],
                r["logLik"],
            )
        )

    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "sleepstudy.csv"
        df.assign(Subject=df["Subject"].astype(str)).to_csv(csv, index=False)
        for peer in PEERS:
            out = run_peer(peer, pythons.get(_key(peer.name)), csv, args.peer_reps)
            if "error" in out:
                print(f"  {peer.name}: {out['error']}")
                failures.append(peer.name)
                continue
            label = peer.name + (f" ({peer.note})" if peer.note else "")
            print(
                f"  {label}: first {out['first']:.3f} s, warm median "
                f"{statistics.median(out['seconds']) * 1e3:.1f} ms, best "
                f"{min(out['seconds']) * 1e3:.1f} ms, logLik {out['logLik']:.6f}"
                f" (vs ours {out['logLik'] - llf:+.3g})"
            )
            rows.append(
                row(
                    peer.name,
                    out["version"],
                    out["first"],
                    out["seconds"],
                    out["logLik"],
                )
            )

    print()
    print(
        f"warm fits: {args.reps} for interlace_jax and lme4, {args.peer_reps} for each Python "
        "peer; first fit = the first call in a fresh process (JIT/compile included)"
    )
    print_table(rows)
    if failures:
        print("not timed: " + ", ".join(failures))


if __name__ == "__main__":
    main()
