r"""Response distributions of generalised linear mixed models (lme4's ``family`` objects).

A family is a small frozen class holding its :class:`~interlace_jax.families.Link`. It gives the
model everything it needs as pure JAX functions of the linear predictor:

* :meth:`Family.log_density`: per-observation log-likelihood ``log p(y_i | mu_i, phi)``, with
  the prior weights in R's sense (binomial: the number of trials; others: precision weights),
  less the part that depends on the data alone, :meth:`Family.log_constant`, which is computed
  once per response (the binomial coefficients, ``log y!``): the inner loops never see it;
* :meth:`Family.variance` and :meth:`Family.unit_deviance`, R's ``variance`` and
  ``dev.resids``;
* the host-side checks of the response and R's starting values (``mustart``);
* glmmTMB's extras: family parameters ``psi`` beyond the dispersion (Student-t degrees of
  freedom, ordered-beta cutpoints), the probability of a zero (zero-inflated models) and
  glmmTMB's ``sigma``.

The dispersion ``phi`` is in the family's own parameterisation (Gamma: ``1 / shape``;
negative binomial 2: the size; beta: the precision) and may be a scalar or one value per
observation (a dispersion formula). ``dispersion_sign`` says how glmmTMB's dispersion
coefficients relate to it: glmmTMB models ``dispersion_sign * log(phi)``.

The curvature used by the Laplace approximation is either the expected (Fisher) information
``w mu_eta^2 / (phi V(mu))`` (lme4's convention, ``fisher_laplace = True``) or the observed one,
``-d^2 log p / d eta^2`` from autodiff (TMB's, and glmmTMB's); they coincide for canonical links.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln, xlog1py, xlogy

from interlace_jax._errors import DataError, ModelError
from interlace_jax.families._links import LINKS, Link


def link_of(link: str | Link, family: str, allowed: tuple[str, ...]) -> Link:
    """The Link object for ``link`` (a name as R spells it, or a Link), checked against the
    links the family allows."""
    if isinstance(link, Link):
        name = link.name
    elif isinstance(link, str):
        name = link
    else:
        raise ModelError(f"link must be a name such as 'logit' or a Link, not {link!r}")
    if name not in allowed:
        raise ModelError(
            f"link {name!r} is not available for the {family} family; choose one of {allowed}")
    return link if isinstance(link, Link) else LINKS[name]()


class Family:
    """Abstract response family; subclasses are frozen dataclasses with a ``link`` field.

    Class attributes:
        name: the family as R spells it (``"binomial"``, ``"Gamma"``).
        links: the link names the family accepts; the first is the default (canonical).
        has_dispersion: whether a dispersion parameter phi is estimated.
        fisher_laplace: the Laplace log-determinant uses the expected information (lme4).
        fisher_scoring: :meth:`fisher_weights` is the expected information (an exponential
            family with ``Var(y) = phi V(mu) / w``), so lme4's inner Newton steps may use it
            (PIRLS); the others take the observed curvature.
    """

    name: ClassVar[str]
    links: ClassVar[tuple[str, ...]]
    has_dispersion: ClassVar[bool] = False
    fisher_laplace: ClassVar[bool] = False
    fisher_scoring: ClassVar[bool] = False
    #: names of the family parameters beyond the dispersion (psi), as glmmTMB orders them
    psi_names: ClassVar[tuple[str, ...]] = ()
    #: P(y = 0) > 0, so zero inflation (``ziformula``) is identified
    has_zero_mass: ClassVar[bool] = False
    #: a zero-truncated count family (with ``ziformula``: glmmTMB's hurdle model)
    zero_truncated: ClassVar[bool] = False
    #: glmmTMB's dispersion model is for ``dispersion_sign * log(phi)``
    dispersion_sign: ClassVar[float] = 1.0
    link: Link

    def __post_init__(self):
        object.__setattr__(self, "link", link_of(self.link, self.name, self.links))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(link={self.link.name!r})"

    @property
    def n_psi(self) -> int:
        return len(self.psi_names)

    # -- pure JAX, elementwise ------------------------------------------------------------
    def log_density(self, y, mu, weights, phi, psi=()):
        """(n,) log p(y_i | mu_i) - log_constant_i for prior weights (n,), dispersion phi
        (() or (n,)) and family parameters psi (n_psi,)."""
        raise NotImplementedError

    def log_zero_probability(self, mu, weights, phi, psi=()):
        """(n,) log P(y_i = 0 | mu_i), all constants included (families with a mass at 0)."""
        raise NotImplementedError(f"the {self.name} family has no probability mass at zero")

    def mean(self, mu, phi, psi=()):
        """(n,) the mean glmmTMB reports for the conditional part (``predict(type =
        "conditional")``): mu itself, except for zero-truncated counts (E[y | y > 0])."""
        return mu

    def pearson_variance(self, mu, weights, phi, psi=()):
        """(n,) the variance a Pearson residual divides by: R's variance function over the
        prior weights, ``V(mu) / w``, without an exponential-family dispersion (lme4's and
        glmmTMB's convention); with the negative binomial's size, which is part of its variance
        function."""
        return self.variance(mu) / weights

    def log_constant(self, y, weights):
        """(n,) the part of log p(y_i | mu_i) that depends on the data alone (jax.numpy, so
        that simulated responses get it on the device too)."""
        return jnp.zeros_like(y)

    def variance(self, mu):
        """(n,) the variance function V(mu)."""
        raise NotImplementedError

    def unit_deviance(self, y, mu, weights):
        """(n,) R's ``dev.resids``: weighted unit deviances (their sum is the GLM deviance)."""
        raise ModelError(f"deviance residuals are not available for the {self.name} family; "
                         "use the 'pearson' or 'response' residuals")

    def sample(self, key, mu, weights, phi):
        """(n,) a response drawn from the family at means mu (n,), in the response convention
        of :meth:`log_density` (binomial: proportions of ``weights`` trials)."""
        raise ModelError(f"drawing responses from the {self.name} family is not available")

    def fisher_weights(self, eta, weights, phi):
        """(n,) expected information ``w mu_eta(eta)^2 / (phi V(mu))`` of each eta_i."""
        mu = self.link.inverse(eta)
        return weights * self.link.mu_eta(eta) ** 2 / (phi * self.variance(mu))

    # -- host ------------------------------------------------------------------------------
    def check_response(self, y: np.ndarray, weights: np.ndarray, what: str) -> None:
        """Raise DataError when y (n,) is outside the family's support."""

    def start_mu(self, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """R's ``mustart``: a starting mean (n,) inside the support."""
        return np.asarray(y, dtype=float)

    def dispersion_start(self, y: np.ndarray, mu: np.ndarray, weights: np.ndarray) -> float:
        """A starting dispersion from a fitted mean (the Pearson estimate)."""
        return 1.0

    def psi_start(self, y: np.ndarray, mu: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """(n_psi,) starting family parameters from a fitted mean."""
        return np.zeros(0)

    def sigma(self, phi):
        """glmmTMB's ``sigma(m)`` for dispersion phi: the residual SD for the Gaussian, the
        coefficient of variation ``1 / sqrt(shape)`` for the Gamma; 1 without a dispersion."""
        return np.sqrt(phi) if self.has_dispersion else np.ones_like(phi)

    def family_params(self, psi: np.ndarray) -> dict[str, float]:
        """glmmTMB's ``family_params(m)`` from psi (n_psi,); empty without psi."""
        return {}


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise DataError(message)


@dataclass(frozen=True, repr=False)
class Binomial(Family):
    """Binomial: y a proportion of ``weights`` trials (0/1 responses have one trial each)."""

    link: str | Link = "logit"
    name: ClassVar[str] = "binomial"
    links: ClassVar[tuple[str, ...]] = ("logit", "probit", "cloglog", "cauchit", "log")
    fisher_scoring: ClassVar[bool] = True
    fisher_laplace: ClassVar[bool] = True
    has_zero_mass: ClassVar[bool] = True

    def log_density(self, y, mu, weights, phi, psi=()):
        successes = jnp.round(weights * y)
        failures = jnp.round(weights) - successes
        return xlogy(successes, mu) + xlog1py(failures, -mu)

    def log_zero_probability(self, mu, weights, phi, psi=()):
        return xlog1py(jnp.round(weights), -mu)

    def log_constant(self, y, weights):
        trials = jnp.round(weights)
        successes = jnp.round(weights * y)
        return (gammaln(trials + 1.0) - gammaln(successes + 1.0)
                - gammaln(trials - successes + 1.0))

    def variance(self, mu):
        return mu * (1.0 - mu)

    def sample(self, key, mu, weights, phi):
        trials = jnp.round(weights)
        draws = jax.random.binomial(key, trials, mu)
        return jnp.where(trials > 0, draws / jnp.maximum(trials, 1.0), 0.0)

    def unit_deviance(self, y, mu, weights):
        return 2.0 * weights * (xlogy(y, y / mu) + xlogy(1.0 - y, (1.0 - y) / (1.0 - mu)))

    def check_response(self, y, weights, what):
        _require(bool(np.all((y >= 0) & (y <= 1))),
                 f"{what} must lie in [0, 1] for the binomial family (0/1 outcomes or "
                 "proportions with weights= trials, or write cbind(successes, failures))")
        trials = weights * y
        _require(bool(np.allclose(trials, np.round(trials), atol=1e-7)),
                 f"{what}: weights * response must be whole numbers of successes for the "
                 "binomial family (proportions need weights= the number of trials)")

    def start_mu(self, y, weights):
        return (weights * y + 0.5) / (weights + 1.0)


@dataclass(frozen=True, repr=False)
class Poisson(Family):
    """Poisson counts."""

    link: str | Link = "log"
    name: ClassVar[str] = "poisson"
    links: ClassVar[tuple[str, ...]] = ("log", "sqrt", "identity")
    fisher_scoring: ClassVar[bool] = True
    fisher_laplace: ClassVar[bool] = True
    has_zero_mass: ClassVar[bool] = True

    def log_density(self, y, mu, weights, phi, psi=()):
        return weights * (xlogy(y, mu) - mu)

    def log_zero_probability(self, mu, weights, phi, psi=()):
        return -weights * mu

    def log_constant(self, y, weights):
        return -weights * gammaln(y + 1.0)

    def variance(self, mu):
        return mu

    def sample(self, key, mu, weights, phi):
        return jax.random.poisson(key, mu).astype(mu.dtype)

    def unit_deviance(self, y, mu, weights):
        return 2.0 * weights * (xlogy(y, y / mu) - (y - mu))

    def check_response(self, y, weights, what):
        _require(bool(np.all(y >= 0)), f"{what} has negative values: not counts for the poisson "
                 "family")
        _require(bool(np.allclose(y, np.round(y))),
                 f"{what} has non-integer values: not counts for the poisson family")

    def start_mu(self, y, weights):
        return y + 0.1


@dataclass(frozen=True, repr=False)
class Gamma(Family):
    """Gamma with mean mu and variance ``phi mu^2 / w`` (shape ``w / phi``)."""

    link: str | Link = "inverse"
    name: ClassVar[str] = "Gamma"
    links: ClassVar[tuple[str, ...]] = ("inverse", "log", "identity")
    fisher_scoring: ClassVar[bool] = True
    has_dispersion: ClassVar[bool] = True
    dispersion_sign: ClassVar[float] = -1.0  # glmmTMB models log(shape) = -log(phi)

    def log_density(self, y, mu, weights, phi, psi=()):
        shape = weights / phi
        return shape * jnp.log(shape * y / mu) - shape * y / mu - gammaln(shape)

    def log_constant(self, y, weights):
        return -jnp.log(y)

    def variance(self, mu):
        return mu**2

    def sample(self, key, mu, weights, phi):
        shape = weights / phi
        return jax.random.gamma(key, shape) * mu / shape

    def unit_deviance(self, y, mu, weights):
        return -2.0 * weights * (jnp.log(y / mu) - (y - mu) / mu)

    def check_response(self, y, weights, what):
        _require(bool(np.all(y > 0)), f"{what} must be positive for the Gamma family")

    def dispersion_start(self, y, mu, weights):
        return float(np.mean(weights * (y - mu) ** 2 / mu**2))


@dataclass(frozen=True, repr=False)
class InverseGaussian(Family):
    """Inverse Gaussian with mean mu and variance ``phi mu^3 / w``."""

    link: str | Link = "1/mu^2"
    name: ClassVar[str] = "inverse.gaussian"
    links: ClassVar[tuple[str, ...]] = ("1/mu^2", "inverse", "log", "identity")
    fisher_scoring: ClassVar[bool] = True
    has_dispersion: ClassVar[bool] = True

    def log_density(self, y, mu, weights, phi, psi=()):
        precision = weights / phi
        return 0.5 * jnp.log(precision) - precision * (y - mu) ** 2 / (2.0 * mu**2 * y)

    def log_constant(self, y, weights):
        return -0.5 * jnp.log(2.0 * jnp.pi * y**3)

    def variance(self, mu):
        return mu**3

    def sample(self, key, mu, weights, phi):
        """Michael, Schucany and Haas (1976): a root of the chi-square transform, chosen at
        random with the right probabilities."""
        k_normal, k_uniform = jax.random.split(key)
        lam = weights / phi
        v = jax.random.normal(k_normal, mu.shape) ** 2
        x = mu + mu**2 * v / (2 * lam) - mu / (2 * lam) * jnp.sqrt(
            4 * mu * lam * v + mu**2 * v**2)
        return jnp.where(jax.random.uniform(k_uniform, mu.shape) <= mu / (mu + x), x, mu**2 / x)

    def unit_deviance(self, y, mu, weights):
        return weights * (y - mu) ** 2 / (y * mu**2)

    def check_response(self, y, weights, what):
        _require(bool(np.all(y > 0)), f"{what} must be positive for the inverse Gaussian family")

    def dispersion_start(self, y, mu, weights):
        return float(np.mean(weights * (y - mu) ** 2 / mu**3))


@dataclass(frozen=True, repr=False)
class Gaussian(Family):
    """Normal with variance ``phi / w``; with a non-identity link a GLMM (identity: use fit)."""

    link: str | Link = "identity"
    name: ClassVar[str] = "gaussian"
    links: ClassVar[tuple[str, ...]] = ("identity", "log", "inverse")
    fisher_scoring: ClassVar[bool] = True
    has_dispersion: ClassVar[bool] = True

    def log_density(self, y, mu, weights, phi, psi=()):
        return 0.5 * jnp.log(weights / phi) - weights * (y - mu) ** 2 / (2.0 * phi)

    def log_constant(self, y, weights):
        return jnp.full(jnp.shape(y), -0.5 * jnp.log(2.0 * jnp.pi))

    def variance(self, mu):
        return jnp.ones_like(mu)

    def sample(self, key, mu, weights, phi):
        return mu + jnp.sqrt(phi / weights) * jax.random.normal(key, mu.shape)

    def unit_deviance(self, y, mu, weights):
        return weights * (y - mu) ** 2

    def dispersion_start(self, y, mu, weights):
        return float(np.mean(weights * (y - mu) ** 2))
