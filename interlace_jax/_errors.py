"""Exceptions raised at the Python boundary of interlace_jax.

Every error a user can trigger with bad input is one of these, raised on the host before any
JAX code runs, with a message that names the offending column, term or argument.
"""


class InterlaceError(Exception):
    """Base class of all interlace_jax errors."""


class FormulaError(InterlaceError, ValueError):
    """A malformed model formula or random-effects specification."""


class DataError(InterlaceError, ValueError):
    """Data that cannot be used: a missing column, a non-numeric response, non-finite values."""


class ModelError(InterlaceError, ValueError):
    """A model that cannot be fitted as specified (e.g. more random effects than observations)."""


class ConvergenceWarning(UserWarning):
    """The optimizer stopped without meeting the convergence checks; the figures are in the
    message and on ``result.theta_fit.report``."""
