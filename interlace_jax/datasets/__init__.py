"""Example datasets from R packages (lme4, ordinal, survival), shipped for tests and examples.

The data were exported from R by ``tests/fixtures/export_datasets.R``; factor columns come back
as :class:`pandas.Categorical` with R's level order, so model matrices built from them use the
same contrasts coding as R.

Example
-------
>>> from interlace_jax import datasets
>>> "sleepstudy" in datasets.list_datasets()
True
>>> sleep = datasets.load("sleepstudy")
>>> sleep.shape
(180, 3)
>>> list(sleep["Subject"].cat.categories[:3])
['308', '309', '310']
"""

from ._load import describe, list_datasets, load

__all__ = ["describe", "list_datasets", "load"]
