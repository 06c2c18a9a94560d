"""Tables of estimated marginal means and their contrasts (emmeans' ``emmGrid`` and summary).

An :class:`EmmGrid` holds m linear functions of the fixed effects with their labels (the grid
columns: factors and ``by`` variables, or ``contrast`` and ``by`` variables) and computes, with
the fit's denominator-df method, the table emmeans prints: the estimate (``emmean`` or
``estimate``), ``SE``, ``df``, confidence limits (``lower.CL``/``upper.CL``, or
``asymp.LCL``/``asymp.UCL`` with infinite df), ``t.ratio`` (``z.ratio``) and ``p.value``, with
the multiplicity adjustment of :mod:`interlace_jax.inference._p_adjust` within each ``by`` group.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from interlace_jax._errors import ModelError
from interlace_jax.inference import (
    Family,
    adjustment,
    adjustment_message,
    estimate_linear_functions,
)

#: ``by`` argument meaning "keep the table's own by variables".
KEEP = object()


@dataclass(frozen=True, eq=False)
class EmmContext:
    """What every table derived from one fit shares.

    Attributes:
        tests: the test object of the df method (:func:`inference_for`).
        df_method: "kenward-roger", "satterthwaite" or "asymptotic".
        kept: indices of the fitted columns among ``column_names``.
        null_basis: (p, r) null space of the full fixed-effects matrix.
        column_names: formulaic's names of the p full columns.
        notes: notes about the df method (e.g. why it was chosen).
    """

    tests: object
    df_method: str
    kept: np.ndarray
    null_basis: np.ndarray
    column_names: tuple[str, ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class EmmGrid:
    """Estimated marginal means or contrasts of them (emmeans' ``emmGrid``).

    Returned by :func:`interlace_jax.emmeans`, :func:`interlace_jax.contrast` and
    :func:`interlace_jax.pairs`. ``frame`` is the table emmeans prints by default (confidence
    intervals for means, tests for contrasts); :meth:`summary`, :meth:`confint` and :meth:`test`
    give the others; ``print()`` shows it as emmeans does, by group.

    Attributes:
        labels: (m, v) the grid columns of each row.
        linfct: (m, p) the linear functions over formulaic's full fixed-effects columns.
        offset: (m,) offsets added to the estimates.
        by: the by variables (families of the adjustments, groups of the print).
        est_name: "emmean" or "estimate".
        kind: "prediction", "contrast" or "pairs".
        family_size: the number of means compared (Tukey's family).
        adjust: the default p-value adjustment.
        infer: default (confidence intervals, tests).
        level: default confidence level.
        averaged_over: variables averaged over.
        context: the shared :class:`EmmContext`.
    """

    labels: pd.DataFrame
    linfct: np.ndarray
    offset: np.ndarray
    by: tuple[str, ...]
    est_name: str
    kind: str
    family_size: int
    adjust: str
    infer: tuple[bool, bool]
    level: float
    averaged_over: tuple[str, ...]
    context: EmmContext
    notes: tuple[str, ...] = ()

    # ----- numbers --------------------------------------------------------------------------
    @cached_property
    def _estimates(self):
        c = self.context
        return estimate_linear_functions(self.linfct, self.offset, c.kept, c.null_basis, c.tests)

    @property
    def df_method(self) -> str:
        return self.context.df_method

    @property
    def linfct_frame(self) -> pd.DataFrame:
        """The linear functions as a DataFrame (rows as ``frame``, columns formulaic's names)."""
        return pd.DataFrame(self.linfct + 0.0, columns=list(self.context.column_names))

    def _by_rows(self, by: tuple[str, ...]) -> tuple[np.ndarray, ...]:
        if not by:
            return (np.arange(len(self.labels)),)
        keys = list(zip(*(self.labels[b].tolist() for b in by)))
        groups: dict = {}
        for i, key in enumerate(keys):
            groups.setdefault(key, []).append(i)
        rows = tuple(np.asarray(g) for g in groups.values())
        if len({len(r) for r in rows}) > 1:
            raise ModelError(f"the 'by' groups of {', '.join(by)} have different sizes; "
                             "adjustments within them are not supported")
        return rows

    def _family(self, by: tuple[str, ...]) -> Family:
        rows = self._by_rows(by)
        ranks = tuple(int(np.linalg.matrix_rank(self.linfct[r][:, self.context.kept]))
                      if np.all(np.isfinite(self.linfct[r])) else 0 for r in rows)
        kind = self.kind if (self.kind != "pairs" or by == self.by) else "contrast"
        return Family(rows, self.family_size, kind, ranks)

    def summary(self, infer=None, level: float | None = None, adjust: str | None = None,
                by=KEEP, null: float = 0.0) -> pd.DataFrame:
        """The table, as emmeans' ``summary(object, infer, level, adjust, by, null)``.

        Args:
            infer: (intervals, tests), or one bool for both; default: intervals for means,
                tests for contrasts.
            level: confidence level (default that of the table, 0.95).
            adjust: multiplicity adjustment (default: "none" for means, the contrast
                method's); see :mod:`interlace_jax.inference._p_adjust`.
            by: variables whose groups form the families (default the table's ``by``).
            null: the value tested (a ``null`` column is added when not 0).

        Returns:
            A DataFrame with the label columns, the estimate, ``SE``, ``df`` and the requested
            columns; ``attrs`` holds ``messages`` (emmeans' notes), ``adjust`` (the
            adjustment applied to the p-values), ``level`` and ``df_method``.
        """
        infer = self.infer if infer is None else (
            (bool(infer), bool(infer)) if np.ndim(infer) == 0 else tuple(map(bool, infer)))
        level = self.level if level is None else _check_level(level)
        adjust = self.adjust if adjust is None else str(adjust)
        by = self.by if by is KEEP else tuple(() if by is None else _names(by))
        for b in by:
            if b not in self.labels:
                raise ModelError(f"'by' variable {b!r} is not a column of the table "
                                 f"({', '.join(self.labels.columns)})")
        e = self._estimates
        out = self.labels.copy()
        out[self.est_name] = e.estimate
        out["SE"] = e.se
        out["df"] = e.df
        asymptotic = bool(np.all(np.isnan(e.df) | np.isinf(e.df)))
        family = self._family(by)
        messages = [*self.notes, *self.context.notes]
        if self.averaged_over:
            messages.insert(0, "Results are averaged over the levels of: "
                            + ", ".join(self.averaged_over))
        messages.append(f"Degrees-of-freedom method: {self.df_method}")
        applied = "none"
        if infer[0]:
            adj, note = adjustment(adjust, family, intervals=True)
            cv = adj.critical_values(level, e.df, family)
            lower, upper = (("asymp.LCL", "asymp.UCL") if asymptotic
                            else ("lower.CL", "upper.CL"))
            out[lower] = e.estimate - cv * e.se
            out[upper] = e.estimate + cv * e.se
            messages += [m for m in (note, f"Confidence level used: {level:g}",
                                     adjustment_message(adj, family, True)) if m]
        if infer[1]:
            adj, note = adjustment(adjust, family)
            if null != 0:
                out["null"] = float(null)
            t = (e.estimate - float(null)) / e.se
            out["z.ratio" if asymptotic else "t.ratio"] = t
            out["p.value"] = adj.pvalues(t, e.df, family)
            messages += [m for m in (note, adjustment_message(adj, family, False)) if m]
            applied = adj.name
        out.attrs.update(messages=list(dict.fromkeys(messages)), adjust=applied, level=level,
                         df_method=self.df_method, by=list(by))
        return out

    @property
    def frame(self) -> pd.DataFrame:
        """The default table (emmeans' ``summary(object)``)."""
        return self.summary()

    def confint(self, level: float | None = None, adjust: str | None = None,
                by=KEEP) -> pd.DataFrame:
        """Confidence intervals (emmeans' ``confint``), adjusted within each by group."""
        return self.summary(infer=(True, False), level=level, adjust=adjust, by=by)

    def test(self, null: float = 0.0, adjust: str | None = None, by=KEEP) -> pd.DataFrame:
        """t (or z) tests of ``estimate = null`` (emmeans' ``test``)."""
        return self.summary(infer=(False, True), adjust=adjust, by=by, null=null)

    # ----- derived tables -------------------------------------------------------------------
    def contrast(self, method="eff", by=KEEP, adjust: str | None = None,
                 name: str = "contrast", **options) -> EmmGrid:
        """Contrasts of these estimates; see :func:`interlace_jax.contrast`."""
        from interlace_jax.results._emmeans import contrast

        return contrast(self, method, by=by, adjust=adjust, name=name, **options)

    def pairs(self, reverse: bool = False, by=KEEP, adjust: str | None = None) -> EmmGrid:
        """Pairwise differences; see :func:`interlace_jax.pairs`."""
        from interlace_jax.results._emmeans import pairs

        return pairs(self, reverse=reverse, by=by, adjust=adjust)

    # ----- printing -------------------------------------------------------------------------
    def __str__(self) -> str:
        table = self.summary()
        by = table.attrs["by"]
        blocks = []
        if by:
            for rows in self._by_rows(tuple(by)):
                head = ", ".join(f"{b} = {_label(table[b].iloc[rows[0]])}" for b in by)
                blocks.append(f"{head}:\n" + _format(table.iloc[rows].drop(columns=by)))
        else:
            blocks.append(_format(table))
        return "\n\n".join(blocks) + "\n\n" + "\n".join(table.attrs["messages"])

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        return self.frame.to_html(index=False)


def _names(value) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _check_level(level) -> float:
    level = float(level)
    if not 0.0 < level < 1.0:
        raise ModelError(f"the confidence level must be in (0, 1), got {level!r}")
    return level


def _label(value) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{value:.15g}"
    return str(value)


def _format(table: pd.DataFrame) -> str:
    """A table printed roughly as emmeans does: 4 significant digits, small p-values as
    ``<.0001``, NaN (non-estimable) as ``nonEst``."""
    shown = pd.DataFrame(index=table.index)
    for col in table.columns:
        values = table[col]
        if col == "p.value":
            shown[col] = [("nonEst" if np.isnan(v) else "<.0001" if v < 1e-4 else f"{v:.4f}")
                          for v in values]
        elif pd.api.types.is_float_dtype(values):
            shown[col] = ["nonEst" if np.isnan(v) else "Inf" if np.isinf(v)
                          else f"{v:.4g}" if col != "df" else f"{v:.3g}" for v in values]
        else:
            shown[col] = values.astype(str)
    return shown.to_string(index=False)
