"""Estimated marginal means of a fitted model and their contrasts (the R package emmeans).

:func:`emmeans` builds the reference grid (:mod:`interlace_jax.formula._reference_grid`),
averages it over the variables not asked for (:func:`interlace_jax.inference.average_grid`)
and returns an :class:`~interlace_jax.results._emmeans_table.EmmGrid`; :func:`contrast` and
:func:`pairs` turn such a table into contrasts (:mod:`interlace_jax.inference._contrast_methods`).
Standard errors and df come from the fit's tests (:func:`inference_for`): Kenward-Roger,
Satterthwaite or asymptotic (z).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

from interlace_jax._errors import ModelError
from interlace_jax.formula import OFFSET, reference_grid
from interlace_jax.inference import FixedDfTests, average_grid, contrast_method
from interlace_jax.results._emmeans_table import (
    KEEP,
    EmmContext,
    EmmGrid,
    _check_level,
    _names,
)
from interlace_jax.results._inference_tables import inference_for

#: emmeans' ``pbkrtest.limit`` and ``lmerTest.limit``: above this many observations its default
#: df are asymptotic.
DF_LIMIT = 3000

DF_METHODS = ("kenward-roger", "satterthwaite", "asymptotic")

_OVERALL = "1"


def default_df_method(result) -> tuple[str, tuple[str, ...]]:
    """emmeans' default df method for an lmer fit (``lmer.df = "kenward-roger"``) and notes:
    Kenward-Roger for REML fits of at most 3000 observations; Satterthwaite for ML fits (emmeans
    would use Kenward-Roger on the REML refit); asymptotic above 3000 observations."""
    if result.nobs > DF_LIMIT:
        note = (f"Note: D.f. calculations have been disabled because the number of "
                f"observations exceeds {DF_LIMIT} (emmeans' default); pass "
                "df_method='satterthwaite' or 'kenward-roger' to enable them")
        return "asymptotic", (note,)
    return ("kenward-roger", ()) if result.reml else ("satterthwaite", ())


def _df_method(result, df_method) -> tuple[str, tuple[str, ...]]:
    if df_method is None:
        return default_df_method(result)
    value = str(df_method).lower().replace("_", "-")
    value = {"normal": "asymptotic", "kr": "kenward-roger"}.get(value, value)
    if value not in DF_METHODS:
        raise ModelError(f"unknown df_method {df_method!r}; choose one of "
                         f"{', '.join(DF_METHODS)} (or None for emmeans' default)")
    return value, ()


def _inference(result, df_method) -> tuple[object, str, tuple[str, ...]]:
    """(tests, df method, notes) of the means: a linear mixed model's df method (see
    :func:`default_df_method`); for a GLMM (glmer, glmmTMB's conditional part) asymptotic z
    tests on the link scale, as emmeans gives for glmer fits."""
    if hasattr(result, "family"):
        if df_method is not None and _df_method(result, df_method)[0] != "asymptotic":
            raise ModelError("a GLMM's marginal means are asymptotic (z tests): use "
                             "df_method=None or 'asymptotic'")
        tests = FixedDfTests(result.fe_params.to_numpy(), result.cov_params().to_numpy(),
                             1.0, float("inf"))
        note = f"Results are given on the {result.family.link.name} (not the response) scale."
        return tests, "asymptotic", (note,)
    if not hasattr(result, "df_method"):
        raise ModelError("emmeans() takes a fit of interlace_jax.fit, glmer or glmmTMB, not a "
                         f"{type(result).__name__}")
    method, notes = _df_method(result, df_method)
    return inference_for(result, "normal" if method == "asymptotic" else method), method, notes


def _split_names(text: str) -> list[str]:
    parts = [p.strip() for p in re.split(r"[*+:]", text) if p.strip()]
    return [p[1:-1] if p.startswith("`") and p.endswith("`") else p for p in parts]


def parse_specs(specs, by) -> tuple[list[str], list[str]]:
    """(specs, by) as lists of names from a name, a list of names, or a one-sided formula
    ``"~ a * b | c"`` (``"1"`` asks for the overall mean)."""
    by_names = [] if by is None else _names(by)
    if isinstance(specs, str):
        text = specs.strip()
        if "~" in text:
            lhs, text = text.split("~", 1)
            if lhs.strip():
                raise ModelError(
                    f"specs {specs!r} has a left-hand side; call contrast() or pairs() on the "
                    "result of emmeans() instead")
        rhs, _, extra_by = text.partition("|")
        names = _split_names(rhs)
        by_names = list(dict.fromkeys(by_names + _split_names(extra_by)))
    else:
        names = _names(specs)
    if not names:
        raise ModelError("specs names no variable; give a factor name, a list of them, or '1'")
    overlap = [b for b in by_names if b in names]
    if overlap:
        raise ModelError(f"{', '.join(map(repr, overlap))} cannot be both in specs and in by")
    return names, by_names


def emmeans(result, specs, by=None, at: Mapping | None = None, df_method: str | None = None,
            level: float = 0.95, weights: str = "equal") -> EmmGrid:
    """Estimated marginal means, as ``emmeans::emmeans(model, specs, by, at)``.

    The reference grid holds every factor of the fixed effects at all its levels and every
    numeric covariate at its mean (a covariate with at most two distinct values at both, as
    emmeans' ``cov.keep``), or at the values given in ``at``. The means of the ``specs`` (and
    ``by``) combinations average the grid over the other variables with equal weights
    (``weights``: "equal", "proportional", "outer", "cells" or "flat", as emmeans).

    Args:
        result: a fitted :class:`~interlace_jax.LMMResult`, or a
            :class:`~interlace_jax.GLMMResult` (means of the linear predictor, asymptotic).
        specs: a variable name, a list of names, or ``"~ a * b | c"``; ``"1"`` gives the overall
            mean.
        by: variables whose levels group the table (families of adjustments in contrasts).
        at: ``{variable: values}``, e.g. ``{"x": [1, 2, 3]}`` or ``{"recipe": ["A", "B"]}``.
        df_method: "kenward-roger", "satterthwaite" or "asymptotic" (z); None is emmeans'
            default: Kenward-Roger for REML fits, Satterthwaite for ML fits (for which emmeans
            would use Kenward-Roger on the REML refit), asymptotic above 3000 observations.
        level: confidence level of the intervals.
        weights: how the grid is averaged (see above).

    Returns:
        An :class:`~interlace_jax.results.EmmGrid`; ``.frame`` has the columns of the specs and
        by variables, ``emmean``, ``SE``, ``df``, ``lower.CL``, ``upper.CL``.

    Raises:
        ModelError: for a variable that is not in the fixed effects, a numeric covariate in
            specs or by without ``at`` values, a nested design, or a bad option.
    """
    level = _check_level(level)
    names, by_names = parse_specs(specs, by)
    grid = reference_grid(result.frame, at)
    variables = {v.name: v for v in grid.variables if v.name != OFFSET}
    given = set(at or {})
    for name in names + by_names:
        if name == _OVERALL:
            continue
        if name not in variables:
            raise ModelError(
                f"{name!r} is not a variable of the fixed effects; the reference grid has "
                f"{', '.join(map(repr, variables)) or 'no variables'}")
        v = variables[name]
        if v.numeric and not v.factor_like and name not in given:
            raise ModelError(
                f"{name!r} is a numeric covariate, which the reference grid holds at its mean "
                f"({v.values[0]:.6g}); give the values wanted, e.g. at={{{name!r}: [...]}}")
    tests, method, notes = _inference(result, df_method)
    order = [v.name for v in grid.variables]
    facs = names + by_names
    dims = grid.dims + ((1,) if _OVERALL in facs else ())
    position = {n: i for i, n in enumerate(order + [_OVERALL])}
    averaged = average_grid(grid.X, grid.offset, grid.counts, dims,
                            [position[f] for f in facs], weights)
    values = [variables[f].values if f != _OVERALL else ("overall",) for f in facs]
    labels = _expand_grid(facs, values)
    context = EmmContext(
        tests=tests, df_method=method, kept=np.asarray(result.frame.kept_columns),
        null_basis=grid.null_basis, column_names=grid.column_names, notes=notes)
    averaged_over = tuple(v.name for v in grid.variables
                          if len(v.values) > 1 and v.name not in facs and v.name != OFFSET)
    return EmmGrid(labels=labels, linfct=averaged.linfct, offset=averaged.offset,
                   by=tuple(by_names), est_name="emmean", kind="prediction",
                   family_size=len(labels), adjust="none", infer=(True, False), level=level,
                   averaged_over=averaged_over, context=context)


def _expand_grid(names: list[str], values: list[tuple]) -> pd.DataFrame:
    """All combinations, the first name varying fastest (R's expand.grid)."""
    sizes = [len(v) for v in values]
    total = int(np.prod(sizes))
    columns, stride = {}, 1
    for name, vals, size in zip(names, values, sizes):
        idx = (np.arange(total) // stride) % size
        columns[name] = np.asarray(vals, dtype=object)[idx]
        if all(isinstance(v, float) for v in vals):
            columns[name] = columns[name].astype(np.float64)
        stride *= size
    return pd.DataFrame(columns)


def _level_text(column: pd.Series) -> list[str]:
    """A label column as emmeans pastes it into contrast names: numbers as R prints them, and
    a column whose values all read as numbers prefixed by its name (``temperature175``)."""
    texts = [_plain_text(v) for v in column.tolist()]

    def number(text: str) -> bool:
        try:
            float(text)
        except ValueError:
            return False
        return True

    if texts and all(number(t) for t in texts):
        texts = [f"{column.name}{t}" for t in texts]
    return texts


_PARENS = re.compile(r"-|\+|/|\*")


def contrast(emm: EmmGrid, method="eff", by=KEEP, adjust: str | None = None,
             name: str = "contrast", **options) -> EmmGrid:
    """Contrasts of estimated marginal means, as ``emmeans::contrast(object, method, by,
    adjust)``.

    Args:
        emm: a table from :func:`emmeans` (or from :func:`contrast`: contrasts of contrasts).
        method: "pairwise", "revpairwise", "trt.vs.ctrl" (``ref=`` a level label, e.g.
            ``"185"`` or ``"A 185"`` for two columns, or a 0-based position; default the first;
            "trt.vs.ctrlk" the last), "eff", "del.eff", "poly",
            or ``{name: coefficients}`` with one coefficient per mean of a by group. emmeans'
            default is "eff".
        by: variables within whose groups the contrasts are taken (default the by of ``emm``;
            None: across all rows).
        adjust: p-value adjustment (default the method's: tukey for pairwise, dunnettx for
            trt.vs.ctrl, fdr for eff, none for poly and custom contrasts).
        name: the name of the label column.
        **options: options of the method (``ref``, ``reverse``, ``max_degree``).

    Returns:
        An :class:`~interlace_jax.results.EmmGrid` whose ``.frame`` has the columns
        ``contrast``, the by variables, ``estimate``, ``SE``, ``df``, ``t.ratio``, ``p.value``.
    """
    if not isinstance(emm, EmmGrid):
        raise ModelError(f"contrast() needs the result of emmeans(), got {type(emm).__name__}")
    by_names = list(emm.by) if by is KEEP else ([] if by is None else _names(by))
    for b in by_names:
        if b not in emm.labels:
            raise ModelError(f"'by' variable {b!r} is not a column of the table "
                             f"({', '.join(emm.labels.columns)})")
    primary = [c for c in emm.labels.columns if c not in by_names]
    if not primary:
        raise ModelError("nothing to contrast: every column of the table is a 'by' variable")
    rows = emm._by_rows(tuple(by_names))
    texts = [_level_text(emm.labels[c]) for c in primary]
    levels = [" ".join(parts) for parts in zip(*texts)]
    if "ref" in options:
        options["ref"] = _reference_positions(options["ref"], emm.labels[primary], rows[0])
    family = contrast_method(method, **options)
    if any(_PARENS.search(lev) for lev in levels):
        levels = [f"({lev})" if _PARENS.search(lev) else lev for lev in levels]
    coef = family.coefficients([levels[i] for i in rows[0]])
    linfct, offset, labels = _apply(emm, coef, rows, by_names, name)
    return EmmGrid(labels=labels, linfct=linfct, offset=offset, by=tuple(by_names),
                   est_name="estimate", kind=coef.kind, family_size=coef.family_size,
                   adjust=coef.adjust if adjust is None else str(adjust),
                   infer=(False, True), level=emm.level, averaged_over=emm.averaged_over,
                   context=emm.context)


def _reference_positions(ref, labels: pd.DataFrame, rows: np.ndarray):
    """A reference given by its level labels (``"185"``, or ``"A 185"`` for several columns)
    as 0-based positions within a by group; positions and unknown labels pass unchanged."""
    raw = [" ".join(_plain_text(v) for v in labels.iloc[i]) for i in rows]
    single = isinstance(ref, (str, int, np.integer))
    out = [raw.index(r) if isinstance(r, str) and r in raw else r
           for r in ([ref] if single else list(ref))]
    return out[0] if single else out


def _plain_text(value) -> str:
    return f"{value:.15g}" if isinstance(value, (float, np.floating)) else str(value)


def _apply(emm: EmmGrid, coef, rows, by_names: list[str], name: str):
    """The contrasts' linear functions, offsets and labels, group by group; contrasts that
    involve a mean with undefined weights (NaN) are NaN, as emmeans' NA flags."""
    missing = ~np.all(np.isfinite(emm.linfct), axis=1)
    clean = np.where(np.isfinite(emm.linfct), emm.linfct, 0.0)
    k = len(coef.names)
    linfct, offset = [], []
    for r in rows:
        block = coef.matrix @ clean[r]
        uses_missing = (np.abs(coef.matrix) > 0).astype(int) @ missing[r].astype(int) > 0
        block[uses_missing] = np.nan
        linfct.append(block)
        offset.append(coef.matrix @ emm.offset[r])
    column = name
    taken = [c for c in emm.labels.columns if re.match(rf"^{re.escape(name)}\d?$", c)]
    if taken:
        column = f"{name}{len(taken)}"
    labels = pd.DataFrame({column: list(coef.names) * len(rows)})
    for b in by_names:
        first = [emm.labels[b].iloc[r[0]] for r in rows]
        labels[b] = np.repeat(np.asarray(first, dtype=object), k)
        if pd.api.types.is_float_dtype(emm.labels[b]):
            labels[b] = labels[b].astype(np.float64)
    return np.concatenate(linfct), np.concatenate(offset), labels


def pairs(emm: EmmGrid, reverse: bool = False, by=KEEP, adjust: str | None = None) -> EmmGrid:
    """Pairwise differences of estimated marginal means (``emmeans::pairs``): ``contrast(emm,
    "pairwise")``, or "revpairwise" with ``reverse=True``; Tukey-adjusted by default."""
    return contrast(emm, "revpairwise" if reverse else "pairwise", by=by, adjust=adjust)
