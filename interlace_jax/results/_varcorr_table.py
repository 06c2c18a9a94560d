"""lme4's ``VarCorr(m)``: the estimated variance components, printed as lme4 prints them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from interlace_jax._errors import ModelError
from interlace_jax.results._format import r_format
from interlace_jax.results._names import group_labels
from interlace_jax.results._varcorr import TermCovariance, varcorr_frame

COMPONENTS = ("Variance", "Std.Dev.")


def _check_comp(comp) -> tuple[str, ...]:
    comp = (comp,) if isinstance(comp, str) else tuple(comp)
    bad = [c for c in comp if c not in COMPONENTS]
    if bad or not comp:
        raise ModelError(f"comp must name one or both of {COMPONENTS}, got {comp!r}")
    return tuple(c for c in COMPONENTS if c in comp)


def _corr_cells(corr: np.ndarray, digits: int) -> list[list[str]]:
    """The lower triangle of a correlation matrix as R's ``format(round(x, d), nsmall = d)``:
    a common number of decimals and a common width over the whole matrix."""
    d = max(2, digits - 2)
    values = np.round(corr, d)
    texts = [f"{v:.{d}f}" if np.isfinite(v) else "NaN" for v in values.ravel()]
    width = max(len(t) for t in texts)
    texts = np.asarray([t.rjust(width) for t in texts]).reshape(corr.shape)
    return [[texts[i, j] for j in range(i)] for i in range(len(corr))]


class VarCorr:
    """Estimated variances, standard deviations and correlations of a fitted model's random
    effects and residual (lme4's ``VarCorr``).

    ``str(VarCorr(m))`` is lme4's ``print(VarCorr(m))`` (standard deviations and correlations);
    ``VarCorr(m, comp=("Variance", "Std.Dev."))`` prints both columns, as
    ``print(VarCorr(m), comp = c("Variance", "Std.Dev."))``. ``as_frame()`` is
    ``as.data.frame(VarCorr(m))``; ``vc["Subject"]`` is the covariance matrix of that term
    (repeated grouping factors, as from ``||``, are labelled ``Subject``, ``Subject.1``).

    Example:
        >>> import interlace_jax as ij
        >>> m = ij.fit("Reaction ~ Days + (Days | Subject)", ij.datasets.load("sleepstudy"))
        >>> print(ij.VarCorr(m))  # doctest: +NORMALIZE_WHITESPACE
         Groups   Name        Std.Dev. Corr
         Subject  (Intercept) 24.7405
                  Days         5.9221  0.066
         Residual             25.5918
    """

    def __init__(self, result, comp=("Std.Dev.",), digits: int = 5):
        self.comp = _check_comp(comp)
        self.digits = int(digits)
        self._covs = list(result._covariances)
        # GLMMs, cumulative link and Cox models have no residual row (lme4's VarCorr of a
        # binomial or Poisson glmer fit)
        self._sigma = float(result.sigma) if hasattr(result, "sigma") else None
        self._labels = group_labels([c.group for c in self._covs])

    @classmethod
    def from_covariances(cls, covs: list[TermCovariance], sigma: float,
                         comp=("Std.Dev.",), digits: int = 5) -> "VarCorr":
        """A VarCorr from per-term covariances (computation order) and the residual SD."""
        self = cls.__new__(cls)
        self.comp, self.digits = _check_comp(comp), int(digits)
        self._covs, self._sigma = list(covs), float(sigma)
        self._labels = group_labels([c.group for c in self._covs])
        return self

    def __getitem__(self, label: str) -> pd.DataFrame:
        for c, lab in zip(self._covs, self._labels):
            if lab == label:
                return pd.DataFrame(c.cov, index=list(c.names), columns=list(c.names))
        raise KeyError(f"no random-effects term labelled {label!r}; have {self._labels}")

    def keys(self) -> list[str]:
        return list(self._labels)

    @property
    def sigma(self) -> float | None:
        """The residual standard deviation (None for a model without a residual)."""
        return self._sigma

    def as_frame(self) -> pd.DataFrame:
        """lme4's ``as.data.frame(VarCorr(m))``: columns grp, var1, var2, vcov, sdcor."""
        if self._sigma is None:
            return varcorr_frame(self._covs, 1.0).iloc[:-1].reset_index(drop=True)
        return varcorr_frame(self._covs, self._sigma)

    def format(self, comp=None, digits: int | None = None) -> str:
        """The printed table; ``comp`` and ``digits`` default to the object's."""
        comp = self.comp if comp is None else _check_comp(comp)
        digits = self.digits if digits is None else int(digits)
        residual = [] if self._sigma is None else [np.array([self._sigma])]
        sds = np.concatenate([c.sd for c in self._covs] + residual)
        columns = {"Variance": r_format(sds**2, digits), "Std.Dev.": r_format(sds, digits)}
        for name in columns:  # R's format() pads numbers to a common width, right-aligned
            width = max(len(t) for t in columns[name])
            columns[name] = [t.rjust(width) for t in columns[name]]
        sizes = [len(c.names) for c in self._covs]
        n_corr = max(sizes) - 1
        rows, k = [], 0
        for c, label in zip(self._covs, self._labels):
            corr = _corr_cells(c.corr, digits) if n_corr else [[] for _ in c.names]
            for i, name in enumerate(c.names):
                cells = [label if i == 0 else "", name] + [columns[x][k] for x in comp]
                rows.append(cells + corr[i] + [""] * (n_corr - len(corr[i])))
                k += 1
        if self._sigma is not None:
            rows.append(["Residual", ""] + [columns[x][k] for x in comp] + [""] * n_corr)
        header = ["Groups", "Name", *comp] + (["Corr"] + [""] * (n_corr - 1) if n_corr else [])
        widths = [max(len(r[j]) for r in [header, *rows]) for j in range(len(header))]
        # R's print of a character matrix, quote = FALSE: left-aligned cells, empty row names
        lines = [" " + " ".join(cell.ljust(w) for cell, w in zip(row, widths))
                 for row in [header, *rows]]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()

    def __repr__(self) -> str:
        return self.format()
