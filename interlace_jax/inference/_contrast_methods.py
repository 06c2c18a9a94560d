"""Contrast families of marginal means, as emmeans' ``.emmc`` functions.

Each family is a small class whose ``coefficients(labels)`` gives, for the ``n`` means of one
``by`` group (labelled ``labels``), the contrasts' names and their (k, n) coefficient matrix,
together with emmeans' default p-value adjustment, the kind of estimates ("pairs" allows Tukey's
adjustment) and the family size (the number of means compared). Names follow emmeans:
``"A - B"``, ``"B - A"``, ``"A effect"``, ``"linear"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from interlace_jax._errors import ModelError

POLY_NAMES = ("linear", "quadratic", "cubic", "quartic")


@dataclass(frozen=True)
class ContrastCoefficients:
    """One family of contrasts over n means.

    Attributes:
        names: k contrast names.
        matrix: (k, n) coefficients.
        adjust: emmeans' default p-value adjustment of the family.
        kind: "pairs" (pairwise differences), "contrast" (coefficients summing to 0) or
            "prediction" (other linear combinations).
        family_size: the number of means the family compares (Tukey's ``nmeans``).
        description: emmeans' description, e.g. "pairwise differences".
    """

    names: tuple[str, ...]
    matrix: np.ndarray
    adjust: str
    kind: str
    family_size: int
    description: str


@dataclass(frozen=True)
class Pairwise:
    """All pairwise differences: ``l_i - l_j`` for i < j (emmeans' ``pairwise``), or
    ``l_j - l_i`` for j > i ordered by j then i (``revpairwise``, ``reverse=True``);
    Tukey's adjustment by default."""

    reverse: bool = False

    def coefficients(self, labels: Sequence[str]) -> ContrastCoefficients:
        n = len(labels)
        pairs = ([(j, i) for j in range(1, n) for i in range(j)] if self.reverse
                 else [(i, j) for i in range(n - 1) for j in range(i + 1, n)])
        matrix = np.zeros((len(pairs), n))
        for row, (a, b) in enumerate(pairs):
            matrix[row, a], matrix[row, b] = 1.0, -1.0
        names = tuple(f"{labels[a]} - {labels[b]}" for a, b in pairs)
        return ContrastCoefficients(names, matrix, "tukey", "pairs", n, "pairwise differences")


@dataclass(frozen=True)
class TrtVsCtrl:
    """Each mean minus the control (emmeans' ``trt.vs.ctrl``): ``ref`` is the control's label
    or 0-based position (default the first; -1 the last, as ``trt.vs.ctrlk``), or several of
    them (their average, named ``avg(a,b)``); ``reverse=True`` gives control minus each.
    Adjusted by emmeans' ``dunnettx`` approximation of Dunnett's method by default."""

    ref: int | str | Sequence = 0
    reverse: bool = False

    def _reference(self, labels: Sequence[str]) -> list[int]:
        refs = [self.ref] if isinstance(self.ref, (int, str, np.integer)) else list(self.ref)
        out = []
        for r in refs:
            if isinstance(r, str):
                if r not in labels:
                    raise ModelError(f"trt.vs.ctrl: reference {r!r} is not one of the levels "
                                     f"{', '.join(map(repr, labels))}")
                out.append(list(labels).index(r))
            elif -len(labels) <= int(r) < len(labels):
                out.append(int(r) % len(labels))
            else:
                raise ModelError(f"trt.vs.ctrl: reference position {r} is out of range for "
                                 f"{len(labels)} levels")
        if not out:
            raise ModelError("trt.vs.ctrl: give at least one reference level")
        return sorted(set(out))

    def coefficients(self, labels: Sequence[str]) -> ContrastCoefficients:
        refs = self._reference(labels)
        n = len(labels)
        control = (labels[refs[0]] if len(refs) == 1
                   else "avg(" + ",".join(labels[r] for r in refs) + ")")
        rows, names = [], []
        for i in range(n):
            if i in refs:
                continue
            row = np.zeros(n)
            row[refs] = -1.0 / len(refs)
            row[i] = 1.0
            rows.append(-row if self.reverse else row)
            names.append(f"{control} - {labels[i]}" if self.reverse
                         else f"{labels[i]} - {control}")
        return ContrastCoefficients(tuple(names), np.array(rows).reshape(len(rows), n),
                                    "dunnettx", "contrast", n, "differences from control")


@dataclass(frozen=True)
class Effects:
    """Each mean minus the grand mean (emmeans' ``eff``, named ``"A effect"``), or minus the
    mean of the others (``del.eff``, ``others=True``); FDR-adjusted by default."""

    others: bool = False

    def coefficients(self, labels: Sequence[str]) -> ContrastCoefficients:
        n = len(labels)
        matrix = np.eye(n) - 1.0 / n
        if self.others:
            matrix = matrix / np.diag(matrix)[:, None]
        description = ("differences from mean of others" if self.others
                       else "differences from grand mean")
        return ContrastCoefficients(tuple(f"{lev} effect" for lev in labels), matrix, "fdr",
                                    "contrast", n, description)


@dataclass(frozen=True)
class Poly:
    """Orthogonal polynomial contrasts over equally spaced levels (emmeans' ``poly``), scaled
    to integers as emmeans does, up to ``max_degree`` (default min(6, n - 1)); unadjusted."""

    max_degree: int | None = None

    def coefficients(self, labels: Sequence[str]) -> ContrastCoefficients:
        n = len(labels)
        if n < 2:
            raise ModelError("polynomial contrasts need at least two levels")
        degree = min(6, n - 1) if self.max_degree is None else int(self.max_degree)
        degree = min(degree, 20, n - 1)
        if degree < 1:
            raise ModelError(f"poly: max_degree must be at least 1, got {self.max_degree!r}")
        rows = [_integer_scaled(c) for c in orthogonal_polynomials(n, degree).T]
        names = (POLY_NAMES + tuple(f"degree {d}" for d in range(5, 21)))[:degree]
        return ContrastCoefficients(names, np.array(rows), "none", "contrast", n,
                                    "polynomial contrasts")


def orthogonal_polynomials(n: int, degree: int) -> np.ndarray:
    """(n, degree) orthonormal polynomials of degrees 1..degree on the points 1..n (R's
    ``poly(1:n, degree)``), each with a positive leading coefficient."""
    x = np.arange(1, n + 1, dtype=float)
    vander = np.vander(x - x.mean(), degree + 1, increasing=True)
    q, r = np.linalg.qr(vander)
    q = q * np.sign(np.diag(r))
    return q[:, 1:]


def _integer_scaled(column: np.ndarray) -> np.ndarray:
    """emmeans' scaling of an orthogonal polynomial to small integers."""
    con = column / np.min(column[column > 0.01])
    z = np.max(np.abs(con - np.round(con)))
    while z > 0.05:
        con = con / z
        z = np.max(np.abs(con - np.round(con)))
    return np.round(con)


@dataclass(frozen=True)
class Custom:
    """User-given contrasts: ``{name: coefficients}``, each of length n (the means of one by
    group); no adjustment by default."""

    weights: Mapping = field(default_factory=dict)

    def coefficients(self, labels: Sequence[str]) -> ContrastCoefficients:
        n = len(labels)
        if not self.weights:
            raise ModelError("a custom contrast needs at least one {name: coefficients} entry")
        rows = []
        for name, values in self.weights.items():
            try:
                row = np.asarray(values, dtype=float).reshape(-1)
            except (TypeError, ValueError):
                raise ModelError(f"contrast {name!r}: coefficients must be numbers") from None
            if row.size != n or not np.all(np.isfinite(row)):
                raise ModelError(
                    f"contrast {name!r} has {row.size} coefficients; it needs {n} finite "
                    f"numbers, one per mean ({', '.join(map(str, labels))})")
            rows.append(row)
        matrix = np.array(rows)
        kind = "contrast" if np.all(np.abs(matrix.sum(axis=1)) < 1e-3) else "prediction"
        return ContrastCoefficients(tuple(str(k) for k in self.weights), matrix, "none", kind,
                                    n, "custom contrasts")


METHODS = {
    "pairwise": Pairwise,
    "tukey": Pairwise,
    "revpairwise": lambda **kw: Pairwise(reverse=True, **kw),
    "trt.vs.ctrl": TrtVsCtrl,
    "trt.vs.ctrl1": TrtVsCtrl,
    "dunnett": TrtVsCtrl,
    "trt.vs.ctrlk": lambda **kw: TrtVsCtrl(**{"ref": -1, **kw}),
    "eff": Effects,
    "del.eff": lambda **kw: Effects(others=True, **kw),
    "poly": Poly,
}


def contrast_method(method, **options):
    """The contrast family for ``method``: a name of :data:`METHODS` (with its ``options``, e.g.
    ``ref=`` for ``"trt.vs.ctrl"``), a ``{name: coefficients}`` mapping, or an object with a
    ``coefficients(labels)`` method (returned as it is)."""
    if isinstance(method, Mapping):
        return Custom(dict(method))
    if hasattr(method, "coefficients"):
        return method
    if isinstance(method, str) and method in METHODS:
        try:
            return METHODS[method](**options)
        except TypeError as e:
            raise ModelError(f"contrast method {method!r} does not take these options: "
                             f"{e}") from None
    raise ModelError(f"unknown contrast method {method!r}; choose one of "
                     f"{', '.join(map(repr, METHODS))}, or give {{name: coefficients}}")
