"""formulaic's parse of a right-hand side (R's spellings read as Python's), cached by its text."""

from __future__ import annotations

from functools import lru_cache

from formulaic import Formula

from ._r_syntax import python_spelling


@lru_cache(maxsize=512)
def cached_formula(rhs: str) -> Formula:
    """``Formula(rhs)`` after :func:`~interlace_jax.formula._r_syntax.python_spelling`, cached:
    parsing dominates the front end of small fits, and building model matrices does not change a
    Formula."""
    return Formula(python_spelling(rhs))
