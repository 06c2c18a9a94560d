"""R's spelling inside formula expressions, read the way an lme4 user means it.

formulaic evaluates the expressions of a formula (``I(x^2)``, ``log(y)``, ``poly(x, 2)``) as
Python. :func:`python_spelling` rewrites the R-only spellings first, outside quotes and
backticks: ``^`` -> ``**`` (a power inside a call; between terms both mean crossing, as in R),
``TRUE``/``FALSE`` -> ``True``/``False``, ``as.factor(`` -> ``as_factor(`` and ``as.numeric(``
-> ``as_numeric(`` (:func:`r_spelling` turns names back). :data:`R_FUNCTIONS` are R's
functions that formulaic does not have, passed as the evaluation context when a model matrix
is built and when it is replayed on new data.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from formulaic.transforms import C

_REWRITES = (
    (re.compile(r"\^"), "**"),
    (re.compile(r"\bTRUE\b"), "True"),
    (re.compile(r"\bFALSE\b"), "False"),
    (re.compile(r"(?<![\w.])as\.factor\s*\("), "as_factor("),
    (re.compile(r"(?<![\w.])as\.numeric\s*\("), "as_numeric("),
)
_QUOTED = re.compile(r"`[^`]*`|'[^']*'|\"[^\"]*\"")


def python_spelling(text: str) -> str:
    """``text`` (a formula or a part of one) with R's spellings in Python's, quotes untouched.

    Example
    -------
    >>> python_spelling("I(x^2) + poly(z, 2, raw = TRUE) + as.factor(`a^b`)")
    'I(x**2) + poly(z, 2, raw = True) + as_factor(`a^b`)'
    """
    pieces, start = [], 0
    for quoted in _QUOTED.finditer(text):
        pieces.append(_rewrite(text[start:quoted.start()]))
        pieces.append(quoted.group())
        start = quoted.end()
    pieces.append(_rewrite(text[start:]))
    return "".join(pieces)


def r_spelling(name: str) -> str:
    """A column name formulaic wrote, with R's spelling of what :func:`python_spelling`
    changed: ``I(x ** 2)`` -> ``I(x^2)``, ``as_factor(g)`` -> ``as.factor(g)``."""
    name = name.replace(" ** ", "^").replace("**", "^")
    return _PYTHON_NAMES.sub(lambda m: m.group().replace("_", "."), name)


_PYTHON_NAMES = re.compile(r"(?<![\w.])as_(?:factor|numeric)(?=\()")


def _rewrite(text: str) -> str:
    for pattern, replacement in _REWRITES:
        text = pattern.sub(replacement, text)
    return text


def factor(x, levels=None):
    """R's ``factor(x)``: x as a categorical variable (levels sorted, or as given). Whole
    numbers stored as floats are levels ``1``, ``2``, ... as R prints them, not ``1.0``."""
    values = np.asarray(x)
    if values.dtype.kind == "f" and np.all(np.isfinite(values)) and np.all(values % 1 == 0):
        x = pd.Series(values.astype(np.int64), index=getattr(x, "index", None))
    return C(x, levels=levels)


def as_numeric(x):
    """R's ``as.numeric(x)`` of a numeric or logical column, as float64."""
    return np.asarray(x, dtype=np.float64)


#: R functions an lme4 formula may call that formulaic's own transforms lack (np for numpy's)
R_FUNCTIONS = {
    "np": np,
    "factor": factor,
    "as_factor": factor,
    "as_numeric": as_numeric,
    "sqrt": np.sqrt,
    "abs": np.abs,
    "log2": np.log2,
    "log1p": np.log1p,
    "expm1": np.expm1,
}
