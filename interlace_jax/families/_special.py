r"""``log Gamma`` whose derivatives of every order are compact elementwise code.

The Laplace objective differentiates a log-density up to third order in the linear predictor
(Newton steps, the observed Hessian, its gradient). Through ``jax.scipy.special.gammaln`` that
means ``polygamma`` of orders 1 and 2, whose XLA expansions are large: for the families whose
``log Gamma`` terms depend on the mean (nbinom1, beta, ordered beta) they more than doubled the
compile time of the objective. :func:`log_gamma` keeps XLA's ``lgamma`` for the value and takes
its derivatives from :func:`digamma`, :func:`trigamma` and :func:`tetragamma` written with
plain arithmetic (upward recurrence to ``x + SHIFT``, then the asymptotic series), each the
derivative rule of the one before, so no order of differentiation expands an expression.
For ``x > 0`` they agree with ``scipy.special.polygamma`` to a few units in the last place.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

#: the recurrence moves x to at least SHIFT, where the series' first omitted term is < 2e-15
SHIFT = 8

#: B_2k of the asymptotic series, k = 1..7
_BERNOULLI = (1.0 / 6.0, -1.0 / 30.0, 1.0 / 42.0, -1.0 / 30.0, 5.0 / 66.0, -691.0 / 2730.0,
              7.0 / 6.0)


def _series(z, coefficients):
    """sum_k c_k z^-(2k), k = 1.., by Horner's rule in 1 / z^2."""
    w = 1.0 / (z * z)
    total = 0.0
    for c in reversed(coefficients):
        total = w * (c + total)
    return total


@jax.custom_jvp
def log_gamma(x):
    """log Gamma(x) for x > 0, elementwise; derivatives through :func:`digamma`."""
    return jax.lax.lgamma(x)


@jax.custom_jvp
def digamma(x):
    """psi(x) for x > 0: log z - 1/(2z) - sum_k B_2k / (2k z^2k) at z = x + SHIFT, less the
    recurrence terms 1 / (x + j)."""
    z = x + SHIFT
    series = _series(z, [b / (2 * k) for k, b in enumerate(_BERNOULLI, start=1)])
    return jnp.log(z) - 0.5 / z - series - sum(1.0 / (x + j) for j in range(SHIFT))


@jax.custom_jvp
def trigamma(x):
    """psi'(x) for x > 0: 1/z + 1/(2z^2) + sum_k B_2k / z^(2k+1), plus 1 / (x + j)^2."""
    z = x + SHIFT
    series = _series(z, _BERNOULLI) / z
    return 1.0 / z + 0.5 / (z * z) + series + sum(1.0 / (x + j) ** 2 for j in range(SHIFT))


def tetragamma(x):
    """psi''(x) for x > 0 (differentiated by autodiff if ever needed)."""
    z = x + SHIFT
    series = _series(z, [(2 * k + 1) * b for k, b in enumerate(_BERNOULLI, start=1)]) / z**2
    return (-1.0 / z**2 - 1.0 / z**3 - series
            - sum(2.0 / (x + j) ** 3 for j in range(SHIFT)))


@log_gamma.defjvp
def _log_gamma_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    return log_gamma(x), digamma(x) * dx


@digamma.defjvp
def _digamma_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    return digamma(x), trigamma(x) * dx


@trigamma.defjvp
def _trigamma_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    return trigamma(x), tetragamma(x) * dx
