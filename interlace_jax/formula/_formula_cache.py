"""formulaic's parse of a right-hand side, cached by its text."""

from __future__ import annotations

from functools import lru_cache

from formulaic import Formula


@lru_cache(maxsize=512)
def cached_formula(rhs: str) -> Formula:
    """``Formula(rhs)``, cached: parsing dominates the front end of small fits, and building
    model matrices does not change a Formula."""
    return Formula(rhs)
