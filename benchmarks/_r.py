"""Run lme4 on the same data in the same run, when Rscript is installed."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).parent


def time_lmer(frame, formula: str, reml: bool, reps: int, factors: list[str]) -> dict | None:
    """lme4's timings and estimates as a dict, or None without Rscript."""
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.csv"
        frame.to_csv(path, index=False)
        out = subprocess.run(
            ["Rscript", str(HERE / "r" / "time_lmer.R"), str(path), formula,
             "TRUE" if reml else "FALSE", str(reps), ",".join(factors)],
            check=True, capture_output=True, text=True,
        ).stdout
    return json.loads(out.strip().splitlines()[-1])


def report(name: str, ours_first: float, ours_warm: float, ours_llf: float, r: dict | None):
    """Print our times next to lme4's and the ratios."""
    print(f"{name}: interlace_jax first fit (JIT included) {ours_first:.3f} s, "
          f"warm fit {ours_warm * 1e3:.1f} ms, logLik {ours_llf:.6f}")
    if r is None:
        print("  lme4: Rscript not found, no comparison")
        return
    best = min(r["seconds"])
    print(f"  lme4 lmer: {best:.3f} s (best of {len(r['seconds'])}), logLik {r['logLik']:.6f}")
    print(f"  ratio lme4/ours: first fit {best / ours_first:.1f}x, warm fit {best / ours_warm:.1f}x;"
          f" logLik difference {ours_llf - r['logLik']:.3g}")
