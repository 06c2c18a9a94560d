"""R's two-column binomial response ``cbind(successes, failures)``."""

from __future__ import annotations

from .._errors import FormulaError
from ._scan import is_wrapped, top_level


def cbind_parts(expr: str) -> tuple[str, str] | None:
    """The two expressions of ``cbind(a, b)``, or None when ``expr`` is not a cbind() call.

    Example:
        >>> cbind_parts("cbind(incidence, size - incidence)")
        ('incidence', 'size - incidence')
    """
    text = expr.strip()
    if not text.startswith("cbind") or not is_wrapped(text[5:].strip()):
        return None
    inner = text[5:].strip()[1:-1]
    commas = top_level(inner, ",")
    if len(commas) != 1:
        raise FormulaError(
            f"cbind() in the response {expr!r} needs exactly two columns: "
            "cbind(successes, failures)")
    first, second = inner[: commas[0]].strip(), inner[commas[0] + 1 :].strip()
    if not first or not second:
        raise FormulaError(f"cbind() in the response {expr!r} has an empty column")
    return first, second
