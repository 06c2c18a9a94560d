"""Small data frames for the front-end tests (formula/ and data/), built in code."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa


def sleep_like(n_subjects: int = 6, n_days: int = 5, seed: int = 0) -> pd.DataFrame:
    """A small sleepstudy: Reaction ~ Days with a random intercept and slope per Subject.

    Subject is a pandas Categorical whose categories are in a non-alphabetical order
    (``"310", "308", "309", ...``), to check that level order comes from the data.
    """
    rng = np.random.default_rng(seed)
    subjects = [str(308 + k) for k in range(n_subjects)]
    order = [subjects[2], *subjects[:2], *subjects[3:]]
    days = np.tile(np.arange(n_days, dtype=float), n_subjects)
    subj = np.repeat(subjects, n_days)
    b0 = rng.normal(0, 20, n_subjects).repeat(n_days)
    b1 = rng.normal(0, 5, n_subjects).repeat(n_days)
    reaction = 250 + b0 + (10 + b1) * days + rng.normal(0, 10, len(days))
    return pd.DataFrame(
        {
            "Reaction": reaction,
            "Days": days,
            "Subject": pd.Categorical(subj, categories=order),
        }
    )


def to_backend(df: pd.DataFrame, backend: str):
    """``df`` as a pandas, polars or pyarrow table; pandas Categoricals keep their category order
    (polars Enum, pyarrow dictionary)."""
    if backend == "pandas":
        return df
    if backend == "polars":
        cols = {}
        for name in df.columns:
            s = df[name]
            if isinstance(s.dtype, pd.CategoricalDtype):
                cats = [str(c) for c in s.cat.categories]
                cols[name] = pl.Series(name, s.astype(object).tolist(), dtype=pl.Enum(cats))
            elif pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
                cols[name] = pl.Series(name, s.to_numpy())
            else:
                cols[name] = pl.Series(name, [None if pd.isna(v) else v for v in s.tolist()])
        return pl.DataFrame(cols)
    if backend == "pyarrow":
        arrays = {}
        for name in df.columns:
            s = df[name]
            if isinstance(s.dtype, pd.CategoricalDtype):
                arrays[name] = pa.DictionaryArray.from_arrays(
                    pa.array(s.cat.codes.to_numpy(), type=pa.int32(), mask=s.isna().to_numpy()),
                    pa.array([str(c) for c in s.cat.categories]),
                )
            else:
                arrays[name] = pa.array(s.tolist(), from_pandas=True)
        return pa.table(arrays)
    raise ValueError(backend)
