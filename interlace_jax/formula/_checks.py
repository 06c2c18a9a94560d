"""lme4's identifiability checks on the random-effects terms (``checkNlevels``, ``checkZdims``),
and a linear mixed model's check that its response is not fitted exactly.

lme4 stops, by default, when a grouping factor has fewer than 2 levels, and for linear mixed
models when it has at least as many levels as there are observations, or when a term has at
least as many random effects (levels x columns) as there are observations.
"""

from __future__ import annotations

import numpy as np

from .._errors import DataError, ModelError


def check_response_varies(y: np.ndarray, X: np.ndarray, weights: np.ndarray,
                          name: str) -> None:
    """Raise DataError when the fixed effects fit the response y (n,) exactly (a constant
    response, or one that is a linear function of the columns of X (n, p)) on the rows of
    positive weight: the residual variance is then 0 and the (RE)ML criterion has no minimum.
    """
    rows = weights > 0
    y, X = y[rows], X[rows]
    fitted = X @ np.linalg.lstsq(X, y, rcond=None)[0] if X.shape[1] else np.zeros_like(y)
    scale = max(float(np.max(np.abs(y), initial=0.0)), 1e-300)
    if float(np.max(np.abs(y - fitted), initial=0.0)) <= 1e-10 * scale:
        what = (f"is constant ({y[0]:g})" if np.all(y == y[0])
                else "is fitted exactly by the fixed effects")
        raise DataError(f"the response {name!r} {what}: with no residual variation a linear "
                        "mixed model cannot be estimated")


def check_term_sizes(label: str, group: str, n_levels: int, size: int, n_obs: int,
                     residual: bool = True) -> None:
    """Raise ModelError when a random-effects term cannot be identified.

    Args:
        label: the term as written, for the message, e.g. ``"(1 + Days | Subject)"``.
        group: its grouping factor, e.g. ``"Subject"``.
        n_levels: number of levels ``L`` of the grouping factor.
        size: number of columns ``S`` of the term's model matrix.
        n_obs: number of observations ``n``.
        residual: the model has a residual variance (an LMM). Without one (a GLMM), lme4's
            ``glmerControl`` skips the checks against the number of observations: an
            observation-level random effect models overdispersion.
    """
    if n_levels < 2:
        raise ModelError(
            f"grouping factor {group!r} has {n_levels} level{'' if n_levels == 1 else 's'}; "
            f"a random effect needs at least 2 (term {label})"
        )
    if not residual:
        return
    if n_levels >= n_obs:
        raise ModelError(
            "number of levels of each grouping factor must be < number of observations: "
            f"grouping factor {group!r} has {n_levels} levels and there are {n_obs} "
            f"observations (term {label})"
        )
    if n_levels * size >= n_obs:
        raise ModelError(
            f"number of observations (={n_obs}) <= number of random effects "
            f"(={n_levels * size}) for term {label}; the random-effects parameters and the "
            "residual variance (or scale parameter) are probably unidentifiable"
        )
