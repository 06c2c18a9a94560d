"""Shared fixtures: float64 JAX for the low-level tests, lme4 references, fitted-model cache."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import numpy as np
import pandas as pd
import pytest

FIXTURES = Path(__file__).parent / "fixtures"

# The library scopes float64 itself; tests that call the pure objectives directly need it too.
jax.config.update("jax_enable_x64", True)


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """Free every compiled XLA program after each test module.

    Each program compiled for the CPU keeps a few memory mappings of its own; the suite compiles
    thousands in one process and would otherwise reach the kernel's limit on mappings per
    process (``vm.max_map_count``, 65530 by default), where XLA's compiler crashes with a
    segmentation fault.
    """
    yield
    jax.clear_caches()


def load_reference(case: str, folder: str = "lmm") -> dict:
    """The reference JSON of a fixture case in ``tests/fixtures/<folder>/``."""
    return json.loads((FIXTURES / folder / f"{case}.json").read_text())


def reference_data(ref: dict, folder: str = "lmm") -> pd.DataFrame:
    """The data a reference was fitted on: a shipped dataset or the case's CSV in
    ``tests/fixtures/<folder>/`` (factors with R's levels), plus the columns R derived."""
    from interlace_jax import datasets

    source = ref["data"]
    if source.startswith("file:"):
        frame = pd.read_csv(FIXTURES / folder / source[len("file:") :])
        for col, levels in (ref.get("csv_factors") or {}).items():
            frame[col] = pd.Categorical(frame[col].astype(str), categories=levels)
    else:
        frame = datasets.load(source)
    for col, spec in (ref.get("derived_columns") or {}).items():
        frame[col] = spec["values"]
    return frame


@pytest.fixture(scope="session")
def lme4_fit():
    """fit(case) -> (our result, reference), fitted once per session."""
    import interlace_jax as ij

    cache: dict[str, tuple] = {}

    def get(case: str):
        if case not in cache:
            ref = load_reference(case)
            result = ij.fit(
                ref["formula"], reference_data(ref), method="REML" if ref["REML"] else "ML",
                weights=ref.get("weights"),
            )
            cache[case] = (result, ref)
        return cache[case]

    return get


@pytest.fixture(scope="session")
def kr_fit():
    """fit(case) -> (our df_method="kenward-roger" result, reference), once per session."""
    import interlace_jax as ij

    cache: dict[str, tuple] = {}

    def get(case: str):
        if case not in cache:
            ref = load_reference(case)
            result = ij.fit(ref["formula"], reference_data(ref), df_method="kenward-roger")
            cache[case] = (result, ref)
        return cache[case]

    return get


def load_inference(case: str) -> dict:
    """The lmerTest/pbkrtest reference JSON of an inference fixture case."""
    return json.loads((FIXTURES / "inference" / f"{case}.json").read_text())


@pytest.fixture
def rng():
    return np.random.default_rng(20261122)
