"""Names of the variance parameters as lme4, lme4's profile and broom.mixed write them.

For a term with effects ``(Intercept), Days`` on ``Subject`` (theta's order: the lower triangle
column by column, so SD 1, correlation (2, 1), SD 2) and the residual SD:

* ``getME(m, "theta")``: ``Subject.(Intercept)``, ``Subject.Days.(Intercept)``, ``Subject.Days``
* ``confint()`` rows: ``.sig01``, ``.sig02``, ``.sig03``, ``.sigma``
* ``confint(oldNames = FALSE)``: ``sd_(Intercept)|Subject``, ``cor_Days.(Intercept)|Subject``,
  ``sd_Days|Subject``, ``sigma``
* broom.mixed ``term``: ``sd__(Intercept)``, ``cor__(Intercept).Days``, ``sd__Days``,
  ``sd__Observation`` (group ``Residual``)
"""

from __future__ import annotations

from dataclasses import dataclass

from interlace_jax.terms import tril_positions


def group_labels(groups: list[str]) -> list[str]:
    """Group labels as lme4 prints them: repeated names get ``.1``, ``.2`` (as ``||`` makes)."""
    seen: dict[str, int] = {}
    out = []
    for g in groups:
        k = seen.get(g, 0)
        out.append(g if k == 0 else f"{g}.{k}")
        seen[g] = k + 1
    return out


@dataclass(frozen=True)
class VarianceParameterNames:
    """Names of the n_theta variance parameters (sd/cor scale) plus sigma, in theta's order.

    Attributes:
        theta: lme4's names of theta, e.g. ``Subject.Days.(Intercept)`` (no sigma entry).
        profile: confint()'s default row names ``.sig01``, ..., ``.sigma``.
        descriptive: confint(oldNames = FALSE) names ``sd_Days|Subject``, ..., ``sigma``.
        broom_term, broom_group: broom.mixed's ``term`` (``sd__Days``, ``cor__(Intercept).Days``,
            ``sd__Observation``) and ``group`` (``Subject``, ``Subject.1``, ``Residual``).
    """

    theta: tuple[str, ...]
    profile: tuple[str, ...]
    descriptive: tuple[str, ...]
    broom_term: tuple[str, ...]
    broom_group: tuple[str, ...]


def variance_parameter_names(groups: list[str],
                             effect_names: list[tuple]) -> VarianceParameterNames:
    """Names for terms (computation order) with grouping factors ``groups`` and effects."""
    theta, descriptive, broom_term, broom_group = [], [], [], []
    for group, label, names in zip(groups, group_labels(groups), effect_names):
        for r, c in zip(*tril_positions(len(names))):
            row, col = names[r], names[c]
            if r == c:
                theta.append(f"{group}.{row}")
                descriptive.append(f"sd_{row}|{group}")
                broom_term.append(f"sd__{row}")
            else:
                theta.append(f"{group}.{row}.{col}")
                descriptive.append(f"cor_{row}.{col}|{group}")
                broom_term.append(f"cor__{col}.{row}")
            broom_group.append(label)
    profile = [f".sig{i + 1:02d}" for i in range(len(theta))] + [".sigma"]
    return VarianceParameterNames(
        theta=tuple(theta),
        profile=tuple(profile),
        descriptive=tuple(descriptive) + ("sigma",),
        broom_term=tuple(broom_term) + ("sd__Observation",),
        broom_group=tuple(broom_group) + ("Residual",),
    )
