"""Response families and link functions of generalised linear mixed models."""

from interlace_jax.families._family import (
    Binomial,
    Family,
    Gamma,
    Gaussian,
    InverseGaussian,
    Poisson,
)
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

__all__ = [
    "FAMILIES",
    "LINKS",
    "Binomial",
    "Cauchit",
    "Cloglog",
    "Family",
    "Gamma",
    "Gaussian",
    "Identity",
    "Inverse",
    "InverseGaussian",
    "InverseSquare",
    "Link",
    "Log",
    "Logit",
    "Loglog",
    "Poisson",
    "Probit",
    "Sqrt",
    "family_of",
]
