"""Number formatting in R's style (``format(x, digits=)``), for lme4-like printing."""

from __future__ import annotations

import math

import numpy as np


def _decimals_needed(x: float, digits: int) -> int:
    """Decimals R shows for x at ``digits`` significant digits (trailing zeros dropped)."""
    if x == 0 or not math.isfinite(x):
        return 0
    magnitude = math.floor(math.log10(abs(x))) + 1
    target = round(x, digits - magnitude)
    for sig in range(1, digits + 1):
        if round(x, sig - magnitude) == target:
            return max(0, sig - magnitude)
    return max(0, digits - magnitude)


def r_format(values, digits: int = 4) -> list[str]:
    """Format a column like R: a common number of decimals, enough for ``digits`` significant
    digits in every element. NaN prints as ``NaN``, infinities as ``Inf``/``-Inf``."""
    vals = [float(v) for v in np.asarray(values, dtype=float).ravel()]
    finite = [v for v in vals if math.isfinite(v)]
    decimals = max((_decimals_needed(v, digits) for v in finite), default=0)
    decimals = min(decimals, 15)
    out = []
    for v in vals:
        if math.isnan(v):
            out.append("NaN")
        elif math.isinf(v):
            out.append("Inf" if v > 0 else "-Inf")
        else:
            out.append(f"{v:.{decimals}f}")
    return out


def zapsmall(values, digits: int = 5) -> np.ndarray:
    """R's ``zapsmall``: round to ``digits`` significant digits of the largest magnitude."""
    values = np.asarray(values, dtype=float)
    largest = np.max(np.abs(values[np.isfinite(values)]), initial=0.0)
    if largest == 0:
        return values
    return np.round(values, max(0, digits - int(math.ceil(math.log10(largest)))))


def format_pvalue(p: float, digits: int = 3) -> str:
    """R's format.pval at ``digits`` significant digits with eps 2e-16."""
    if not math.isfinite(p):
        return "NaN"
    if p < 2.2e-16:
        return "< 2e-16"
    return f"{p:.{digits}g}" if p >= 1e-4 else f"{p:.{digits - 1}e}"


def table(header: list[str], rows: list[list[str]], *, left: int = 1) -> str:
    """Right-aligned text table; the first ``left`` columns are left-aligned."""
    cols = list(zip(header, *rows))
    widths = [max(len(c) for c in col) for col in cols]
    lines = []
    for row in [header, *rows]:
        cells = [
            cell.ljust(w) if j < left else cell.rjust(w)
            for j, (cell, w) in enumerate(zip(row, widths))
        ]
        lines.append(" ".join(cells).rstrip())
    return "\n".join(lines)
