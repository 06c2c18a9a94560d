"""Command line: ``python -m interlace_jax demo`` or ``python -m interlace_jax fit FORMULA DATA``.

``fit`` reads a CSV or parquet file (or a dataset shipped with the package, by name), fits the
linear mixed model and prints its lme4-style summary; ``demo`` fits
``Reaction ~ Days + (Days | Subject)`` on the shipped sleepstudy data.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEMO_FORMULA = "Reaction ~ Days + (Days | Subject)"


def _read(source: str):
    import pandas as pd

    from interlace_jax import datasets

    path = Path(source)
    if path.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if path.exists():
        return pd.read_csv(path)
    if source in datasets.list_datasets():
        return datasets.load(source)
    raise SystemExit(f"error: {source!r} is neither a file nor a shipped dataset "
                     f"({', '.join(datasets.list_datasets())})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m interlace_jax", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("demo", help=f"fit {DEMO_FORMULA} on sleepstudy and print the summary")
    fit_cmd = sub.add_parser("fit", help="fit a linear mixed model and print the summary")
    fit_cmd.add_argument("formula", help='lme4 formula, e.g. "y ~ x + (1 | g)"')
    fit_cmd.add_argument("data", nargs="?", default="sleepstudy",
                         help="CSV or parquet file, or a shipped dataset name")
    fit_cmd.add_argument("--ml", action="store_true", help="maximum likelihood instead of REML")
    args = parser.parse_args(argv)

    import interlace_jax as ij
    from interlace_jax._errors import InterlaceError

    if args.command in (None, "demo"):
        formula, source, method = DEMO_FORMULA, "sleepstudy", "REML"
    else:
        formula, source, method = args.formula, args.data, "ML" if args.ml else "REML"
    try:
        result = ij.fit(formula, _read(source), method=method)
    except InterlaceError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    result.data_name = source
    print(result.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
