r"""Link functions: small final classes with methods, one per link (R's ``make.link``).

A link maps the mean ``mu`` to the linear predictor ``eta = g(mu)``. Each class provides
``link`` (g), ``inverse`` (g^{-1}) and ``mu_eta`` (d mu / d eta), all elementwise on arrays of
any shape and pure JAX, so the GLMM objective can be differentiated through them.

The links of probabilities (logit, probit, cloglog, loglog, cauchit) are also the cumulative
distribution functions ``F = g^{-1}`` of cumulative link models (ordinal's ``clmm``); for those
they give ``log F(eta)``, ``log(1 - F(eta))`` and the log-density ``log F'(eta)`` accurately in
both tails (``log_inverse``, ``log1m_inverse``, ``log_mu_eta``), where ``inverse`` and
``mu_eta`` clip to stay inside (0, 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import jax.numpy as jnp
from jax.scipy.special import log_ndtr, ndtr, ndtri

_TINY = 2.220446049250313e-16  # R's .Machine$double.eps, used by R's links to stay inside (0, 1)
_EXP_MAX = 700.0  # exp() stays finite below this
_EXP_TAIL = -30.0  # below this, log(1 - exp(-exp(x))) = x - exp(x)/2 to double precision


def _log_one_minus_exp_exp(x):
    """log(1 - exp(-exp(x))) for any x (the log of cloglog's inverse), finite derivatives."""
    safe = jnp.maximum(x, _EXP_TAIL)
    exact = jnp.log(-jnp.expm1(-jnp.exp(jnp.minimum(safe, _EXP_MAX))))
    return jnp.where(x < _EXP_TAIL, x - 0.5 * jnp.exp(jnp.minimum(x, _EXP_TAIL)), exact)


class Link:
    """Abstract link. Subclasses are frozen dataclasses with a ``name`` as R spells it."""

    name: ClassVar[str]

    def link(self, mu):
        raise NotImplementedError

    def inverse(self, eta):
        raise NotImplementedError

    def mu_eta(self, eta):
        raise NotImplementedError

    def log_inverse(self, eta):
        """log g^{-1}(eta), accurate in the tails (links of probabilities only)."""
        raise NotImplementedError(f"the {self.name} link is not a distribution function")

    def log1m_inverse(self, eta):
        """log(1 - g^{-1}(eta)), accurate in the tails (links of probabilities only)."""
        raise NotImplementedError(f"the {self.name} link is not a distribution function")

    def log_mu_eta(self, eta):
        """log(d mu / d eta), the log-density of g^{-1} (links of probabilities only)."""
        raise NotImplementedError(f"the {self.name} link is not a distribution function")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


@dataclass(frozen=True, repr=False)
class Identity(Link):
    name: ClassVar[str] = "identity"

    def link(self, mu):
        return mu

    def inverse(self, eta):
        return eta

    def mu_eta(self, eta):
        return jnp.ones_like(eta)


@dataclass(frozen=True, repr=False)
class Log(Link):
    name: ClassVar[str] = "log"

    def link(self, mu):
        return jnp.log(mu)

    def inverse(self, eta):
        return jnp.maximum(jnp.exp(eta), _TINY)

    def mu_eta(self, eta):
        return jnp.maximum(jnp.exp(eta), _TINY)


@dataclass(frozen=True, repr=False)
class Logit(Link):
    name: ClassVar[str] = "logit"

    def link(self, mu):
        return jnp.log(mu / (1.0 - mu))

    def inverse(self, eta):
        return jnp.clip(1.0 / (1.0 + jnp.exp(-eta)), _TINY, 1.0 - _TINY)

    def mu_eta(self, eta):
        e = jnp.exp(-jnp.abs(eta))
        return jnp.maximum(e / (1.0 + e) ** 2, _TINY)

    def log_inverse(self, eta):
        return -jnp.logaddexp(0.0, -eta)

    def log1m_inverse(self, eta):
        return -jnp.logaddexp(0.0, eta)

    def log_mu_eta(self, eta):
        return -jnp.abs(eta) - 2.0 * jnp.log1p(jnp.exp(-jnp.abs(eta)))


@dataclass(frozen=True, repr=False)
class Probit(Link):
    name: ClassVar[str] = "probit"

    def link(self, mu):
        return ndtri(mu)

    def inverse(self, eta):
        bound = -ndtri(_TINY)
        return ndtr(jnp.clip(eta, -bound, bound))

    def mu_eta(self, eta):
        return jnp.maximum(jnp.exp(-0.5 * eta**2) / jnp.sqrt(2.0 * jnp.pi), _TINY)

    def log_inverse(self, eta):
        return log_ndtr(eta)

    def log1m_inverse(self, eta):
        return log_ndtr(-eta)

    def log_mu_eta(self, eta):
        return -0.5 * eta**2 - 0.5 * jnp.log(2.0 * jnp.pi)


@dataclass(frozen=True, repr=False)
class Cloglog(Link):
    name: ClassVar[str] = "cloglog"

    def link(self, mu):
        return jnp.log(-jnp.log1p(-mu))

    def inverse(self, eta):
        return jnp.clip(-jnp.expm1(-jnp.exp(eta)), _TINY, 1.0 - _TINY)

    def mu_eta(self, eta):
        eta = jnp.minimum(eta, 700.0)
        return jnp.maximum(jnp.exp(eta) * jnp.exp(-jnp.exp(eta)), _TINY)

    def log_inverse(self, eta):
        return _log_one_minus_exp_exp(eta)

    def log1m_inverse(self, eta):
        return -jnp.exp(jnp.minimum(eta, _EXP_MAX))

    def log_mu_eta(self, eta):
        return eta - jnp.exp(jnp.minimum(eta, _EXP_MAX))


@dataclass(frozen=True, repr=False)
class Loglog(Link):
    """R's ordinal ``"loglog"``: ``mu = exp(-exp(-eta))``, the mirror image of cloglog."""

    name: ClassVar[str] = "loglog"

    def link(self, mu):
        return -jnp.log(-jnp.log(mu))

    def inverse(self, eta):
        return jnp.clip(jnp.exp(-jnp.exp(-eta)), _TINY, 1.0 - _TINY)

    def mu_eta(self, eta):
        eta = jnp.maximum(eta, -700.0)
        return jnp.maximum(jnp.exp(-eta) * jnp.exp(-jnp.exp(-eta)), _TINY)

    def log_inverse(self, eta):
        return -jnp.exp(jnp.minimum(-eta, _EXP_MAX))

    def log1m_inverse(self, eta):
        return _log_one_minus_exp_exp(-eta)

    def log_mu_eta(self, eta):
        return -eta - jnp.exp(jnp.minimum(-eta, _EXP_MAX))


@dataclass(frozen=True, repr=False)
class Cauchit(Link):
    name: ClassVar[str] = "cauchit"

    def link(self, mu):
        return jnp.tan(jnp.pi * (mu - 0.5))

    def inverse(self, eta):
        bound = -jnp.tan(jnp.pi * (_TINY - 0.5))
        eta = jnp.clip(eta, -bound, bound)
        return 0.5 + jnp.arctan(eta) / jnp.pi

    def mu_eta(self, eta):
        return jnp.maximum(1.0 / (jnp.pi * (1.0 + eta**2)), _TINY)

    def log_inverse(self, eta):
        # 1/2 + atan(eta)/pi = atan2(1, -eta)/pi, without cancellation for eta << 0
        return jnp.log(jnp.arctan2(1.0, -eta)) - jnp.log(jnp.pi)

    def log1m_inverse(self, eta):
        return jnp.log(jnp.arctan2(1.0, eta)) - jnp.log(jnp.pi)

    def log_mu_eta(self, eta):
        return -jnp.log1p(eta**2) - jnp.log(jnp.pi)


@dataclass(frozen=True, repr=False)
class Inverse(Link):
    name: ClassVar[str] = "inverse"

    def link(self, mu):
        return 1.0 / mu

    def inverse(self, eta):
        return 1.0 / eta

    def mu_eta(self, eta):
        return -1.0 / eta**2


@dataclass(frozen=True, repr=False)
class Sqrt(Link):
    name: ClassVar[str] = "sqrt"

    def link(self, mu):
        return jnp.sqrt(mu)

    def inverse(self, eta):
        return eta**2

    def mu_eta(self, eta):
        return 2.0 * eta


@dataclass(frozen=True, repr=False)
class InverseSquare(Link):
    name: ClassVar[str] = "1/mu^2"

    def link(self, mu):
        return 1.0 / mu**2

    def inverse(self, eta):
        return 1.0 / jnp.sqrt(eta)

    def mu_eta(self, eta):
        return -1.0 / (2.0 * eta**1.5)


LINKS: dict[str, type[Link]] = {
    cls.name: cls
    for cls in (Identity, Log, Logit, Probit, Cloglog, Loglog, Cauchit, Inverse, Sqrt,
                InverseSquare)
}
