"""The names of the denominator-df methods of t- and F-tests."""

from __future__ import annotations

from interlace_jax._errors import ModelError

DF_METHODS = ("satterthwaite", "kenward-roger", "residual", "normal")


def check_df_method(df_method: str) -> str:
    """Validate ``df_method``; returns it lower-cased with ``_`` as ``-``
    (``"Kenward_Roger"`` -> ``"kenward-roger"``)."""
    value = str(df_method).lower().replace("_", "-")
    if value not in DF_METHODS:
        raise ModelError(f"unknown df_method {df_method!r}; choose one of {', '.join(DF_METHODS)}")
    return value
