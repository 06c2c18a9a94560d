"""Response families and link functions of generalised linear mixed models."""

from interlace_jax.families._counts import (
    NegativeBinomial1,
    NegativeBinomial2,
    TruncatedNegativeBinomial1,
    TruncatedNegativeBinomial2,
    TruncatedPoisson,
)
from interlace_jax.families._family import (
    Binomial,
    Family,
    Gamma,
    Gaussian,
    InverseGaussian,
    Poisson,
)
from interlace_jax.families._host import on_host
from interlace_jax.families._links import (
    LINKS,
    Cauchit,
    Cloglog,
    Identity,
    Inverse,
    InverseSquare,
    Link,
    Log,
    Logit,
    Loglog,
    Probit,
    Sqrt,
)
from interlace_jax.families._registry import FAMILIES, family_of
from interlace_jax.families._student_t import StudentT
from interlace_jax.families._unit_interval import Beta, OrderedBeta
from interlace_jax.families._zero_models import (
    Hurdle,
    NoZeroModel,
    ZeroInflation,
    zero_model_for,
)

__all__ = [
    "on_host",
    "FAMILIES",
    "LINKS",
    "Beta",
    "Binomial",
    "Cauchit",
    "Cloglog",
    "Family",
    "Gamma",
    "Gaussian",
    "Hurdle",
    "Identity",
    "Inverse",
    "InverseGaussian",
    "InverseSquare",
    "Link",
    "Log",
    "Logit",
    "Loglog",
    "NegativeBinomial1",
    "NegativeBinomial2",
    "NoZeroModel",
    "OrderedBeta",
    "Poisson",
    "Probit",
    "Sqrt",
    "StudentT",
    "TruncatedNegativeBinomial1",
    "TruncatedNegativeBinomial2",
    "TruncatedPoisson",
    "ZeroInflation",
    "family_of",
    "zero_model_for",
]
