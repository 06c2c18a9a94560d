"""Family names as R spells them -> family classes, and the argument parser of ``family=``."""

from __future__ import annotations

from interlace_jax._errors import ModelError
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
from interlace_jax.families._student_t import StudentT
from interlace_jax.families._unit_interval import Beta, OrderedBeta

FAMILIES: dict[str, type[Family]] = {
    "binomial": Binomial,
    "poisson": Poisson,
    "Gamma": Gamma,
    "inverse.gaussian": InverseGaussian,
    "inverse_gaussian": InverseGaussian,
    "gaussian": Gaussian,
    # glmmTMB's families, by the names of its R functions and of family(m)$family
    "nbinom2": NegativeBinomial2,
    "nbinom1": NegativeBinomial1,
    "truncated_poisson": TruncatedPoisson,
    "truncated_nbinom2": TruncatedNegativeBinomial2,
    "truncated_nbinom1": TruncatedNegativeBinomial1,
    "beta": Beta,
    "beta_family": Beta,
    "ordbeta": OrderedBeta,
    "t": StudentT,
    "t_family": StudentT,
    "student_t": StudentT,
}


def family_of(family: str | Family, link: str | None = None) -> Family:
    """The Family object for ``family=``: a name as R spells it (``"binomial"``, ``"Gamma"``,
    ``"inverse_gaussian"``, glmmTMB's ``"nbinom2"``, ``"beta_family"``, ...) with an optional
    ``link`` name, or a Family object such as
    ``Binomial(link="probit")``."""
    if isinstance(family, Family):
        if link is not None and link != family.link.name:
            raise ModelError(
                f"link={link!r} conflicts with the family object {family!r}; give the link "
                "inside the family object")
        return family
    if not isinstance(family, str):
        raise ModelError(f"family must be a name or a Family object, not {family!r}")
    cls = FAMILIES.get(family) or FAMILIES.get(family.strip().lower())
    if cls is None:
        raise ModelError(
            f"unknown family {family!r}; known families: {sorted(set(FAMILIES))} "
            "(or pass a Family object)")
    return cls() if link is None else cls(link=link)
