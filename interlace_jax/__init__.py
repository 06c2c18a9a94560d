"""interlace_jax: mixed models in JAX with lme4 formulas and statsmodels-style results.

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
from interlace_jax import families
from interlace_jax.api import fit, lmer
from interlace_jax.api_clmm import clmm
from interlace_jax.api_coxme import coxme
from interlace_jax.api_glmm import glmer, glmmTMB
from interlace_jax.families import (
    Beta,
    Binomial,
    Gamma,
    Gaussian,
    InverseGaussian,
    NegativeBinomial1,
    NegativeBinomial2,
    OrderedBeta,
    Poisson,
    StudentT,
    TruncatedNegativeBinomial1,
    TruncatedNegativeBinomial2,
    TruncatedPoisson,
)
from interlace_jax.models import AR1, CAR1, CompoundSymmetry
from interlace_jax.results import (
    AnovaTable,
    ClmmResult,
    ConvergenceCheck,
    CoxmeResult,
    EmmGrid,
    GLMMResult,
    GLMMTMBResult,
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
    "AR1",
    "AnovaTable",
    "Beta",
    "Binomial",
    "BootstrapResult",
    "CAR1",
    "ClmmResult",
    "CompoundSymmetry",
    "ConvergenceCheck",
    "ConvergenceWarning",
    "CoxmeResult",
    "DataError",
    "EmmGrid",
    "FormulaError",
    "GLMMResult",
    "GLMMTMBResult",
    "Gamma",
    "Gaussian",
    "InverseGaussian",
    "InterlaceError",
    "LMMResult",
    "ManyFits",
    "ModelError",
    "NegativeBinomial1",
    "NegativeBinomial2",
    "OrderedBeta",
    "Poisson",
    "StudentT",
    "TruncatedNegativeBinomial1",
    "TruncatedNegativeBinomial2",
    "TruncatedPoisson",
    "VarCorr",
    "anova",
    "bootstrap",
    "clmm",
    "contrast",
    "coxme",
    "datasets",
    "emmeans",
    "enable_compilation_cache",
    "families",
    "fit",
    "fit_many",
    "glmer",
    "glmmTMB",
    "lmer",
    "pairs",
    "power",
    "simulate",
    "x64",
]
