"""Batched statistics against lme4 in the same run: the sleepstudy parametric bootstrap and one
crossed design fitted to many responses.

    python benchmarks/bench_batch.py [--nsim 10000] [--r-nsim 500] [--responses 1000]
                                     [--r-responses 50] [--no-r]

bootstrap: ``ij.bootstrap(m, nsim)`` for ``Reaction ~ Days + (Days | Subject)`` (REML), timed
twice in one process: the first call includes XLA compilation, the second reuses it. lme4:
``bootMer`` with --r-nsim replicates (per-replicate time reported; the ratio compares per
replicate).

fit_many: a crossed design of 50 subjects x 40 items (2,000 rows), ``~ x + (1 | subj) +
(1 | item)``, with --responses simulated response columns, timed the same way; lme4: a loop
of ``lmer`` over --r-responses of the columns (per-fit time, scaled to all responses for the
ratio). The log-likelihoods of the common responses are compared.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import interlace_jax as ij

HERE = Path(__file__).parent


def _r(mode: str, frame: pd.DataFrame, formula: str, n: int, factors: str) -> dict | None:
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.csv"
        frame.to_csv(path, index=False)
        out = subprocess.run(["Rscript", str(HERE / "r" / "time_batch.R"), mode, str(path),
                              formula, str(n), factors],
                             check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def bench_bootstrap(nsim: int, r_nsim: int, use_r: bool) -> None:
    data = ij.datasets.load("sleepstudy")
    m = ij.fit("Reaction ~ Days + (Days | Subject)", data)
    boot, first = _timed(lambda: ij.bootstrap(m, nsim, seed=1))
    boot, warm = _timed(lambda: ij.bootstrap(m, nsim, seed=2))
    print(f"bootstrap sleepstudy: {nsim} replicates, first call (JIT included) {first:.2f} s "
          f"({first / nsim * 1e3:.3f} ms/replicate), second {warm:.2f} s "
          f"({warm / nsim * 1e3:.3f} ms/replicate); {boot.n_failed} not converged")
    r = _r("bootmer", data, "Reaction ~ Days + (Days | Subject)", r_nsim, "Subject") \
        if use_r else None
    if r is None:
        print("  lme4: not run")
        return
    per = r["per_item"]
    print(f"  lme4 bootMer: {r['seconds']:.2f} s for {r['n']} ({per * 1e3:.2f} ms/replicate)")
    print(f"  ratio per replicate lme4/ours: first call {per / (first / nsim):.1f}x, "
          f"second {per / (warm / nsim):.1f}x")


def _crossed(n_resp: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    subj, item = np.meshgrid(np.arange(50), np.arange(40), indexing="ij")
    frame = pd.DataFrame({"subj": [f"s{s}" for s in subj.ravel()],
                          "item": [f"i{i}" for i in item.ravel()]})
    frame["x"] = rng.normal(size=len(frame))
    bs, bi = rng.normal(size=(n_resp, 50)), 0.5 * rng.normal(size=(n_resp, 40))
    ys = (0.3 * frame["x"].to_numpy()[None, :] + bs[:, subj.ravel()] + bi[:, item.ravel()]
          + rng.normal(size=(n_resp, len(frame))))
    responses = pd.DataFrame(ys.T, columns=[f"y_{j + 1}" for j in range(n_resp)])
    return pd.concat([frame, responses], axis=1)


def bench_fit_many(n_resp: int, r_resp: int, use_r: bool) -> None:
    frame = _crossed(n_resp)
    names = [f"y_{j + 1}" for j in range(n_resp)]
    rhs = "~ x + (1 | subj) + (1 | item)"
    many, first = _timed(lambda: ij.fit_many(rhs, frame, names))
    many, warm = _timed(lambda: ij.fit_many(rhs, frame, names))
    print(f"fit_many crossed 50x40 (2,000 rows): {n_resp} responses, first call {first:.2f} s, "
          f"second {warm:.2f} s ({warm / n_resp * 1e3:.2f} ms/response); "
          f"{many.n_failed} not converged, {many.n_singular} singular")
    r = _r("loop", frame[["subj", "item", "x", *names[:r_resp]]], rhs, r_resp, "subj,item") \
        if use_r else None
    if r is None:
        print("  lme4: not run")
        return
    per = r["per_item"]
    diff = many.llf.to_numpy()[:r_resp] - np.asarray(r["logLik"])
    print(f"  lme4 lmer loop: {per * 1e3:.1f} ms/fit ({r['n']} fits), "
          f"{per * n_resp:.1f} s for {n_resp}; logLik ours - lme4 from {diff.min():.2g} to "
          f"{diff.max():.2g}")
    print(f"  ratio lme4/ours for {n_resp} responses: first call {per * n_resp / first:.1f}x, "
          f"second {per * n_resp / warm:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nsim", type=int, default=10000)
    parser.add_argument("--r-nsim", type=int, default=500)
    parser.add_argument("--responses", type=int, default=1000)
    parser.add_argument("--r-responses", type=int, default=50)
    parser.add_argument("--no-r", action="store_true")
    args = parser.parse_args()
    bench_bootstrap(args.nsim, args.r_nsim, not args.no_r)
    bench_fit_many(args.responses, args.r_responses, not args.no_r)


if __name__ == "__main__":
    main()
