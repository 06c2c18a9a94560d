"""interlace_jax: linear mixed models in JAX with lme4 formulas and statsmodels-style results.

    >>> import interlace_jax as ij
    >>> m = ij.fit("Reaction ~ Days + (Days | Subject)", ij.datasets.load("sleepstudy"))
    >>> print(m.summary())  # doctest: +SKIP

Computation runs in float64 inside a scoped ``jax.enable_x64`` context; the user's global JAX
configuration is left as it is.
"""

from interlace_jax import datasets
from interlace_jax._compilation_cache import enable_compilation_cache
from interlace_jax._errors import (
    ConvergenceWarning,
    DataError,
    FormulaError,
    InterlaceError,
    ModelError,
)
from interlace_jax._x64 import x64
from interlace_jax.api import fit, lmer
from interlace_jax.results import (
    AnovaTable,
    ConvergenceCheck,
    EmmGrid,
    LMMResult,
    VarCorr,
    anova,
    contrast,
    emmeans,
    pairs,
)
from interlace_jax.simulation import (
    BootstrapResult,
    ManyFits,
    bootstrap,
    fit_many,
    power,
    simulate,
)

__version__ = "0.1.0"

__all__ = [
    "AnovaTable",
    "BootstrapResult",
    "ConvergenceCheck",
    "ConvergenceWarning",
    "DataError",
    "EmmGrid",
    "FormulaError",
    "InterlaceError",
    "LMMResult",
    "ManyFits",
    "ModelError",
    "VarCorr",
    "anova",
    "bootstrap",
    "contrast",
    "datasets",
    "emmeans",
    "enable_compilation_cache",
    "fit",
    "fit_many",
    "lmer",
    "pairs",
    "power",
    "simulate",
    "x64",
]
