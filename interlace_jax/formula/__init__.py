"""lme4 formulas to model arrays: bar syntax, formulaic designs, grouping factors.

The only package that imports formulaic. :func:`parse_formula` reads the text;
:func:`build_model_frame` turns it and a dataframe into a :class:`ModelFrame`;
:func:`ordinal_model_frame` does the same for an ordered response (cumulative link models);
:func:`model_matrices_for` replays the codings on new data for prediction;
:func:`build_survival_frame` reads a Cox model's ``Surv(...)`` response and ``strata()``;
:func:`fixed_terms` and :func:`treatment_design` describe the fixed-effects terms for F-tests
per term (anova tables); :func:`reference_grid` builds emmeans' reference grid.
"""

from ._bars import BarSpec, ParsedFormula, parse_formula
from ._checks import check_response_varies
from ._model_frame import (
    ModelFrame,
    RandomTermData,
    SeriesColumns,
    build_model_frame,
    model_columns,
)
from ._new_design import NewDesign, NewTermDesign, model_matrices_for
from ._ordinal_frame import OrdinalFrame, ordinal_model_frame
from ._parts import FixedPart, PartSpec, parse_part
from ._reference_grid import OFFSET, GridVariable, ReferenceGrid, reference_grid
from ._survival import SurvivalResponse, build_survival_frame
from ._terms import FixedTerms, TreatmentDesign, fixed_terms, treatment_design

__all__ = [
    "BarSpec",
    "FixedPart",
    "FixedTerms",
    "GridVariable",
    "ModelFrame",
    "NewDesign",
    "NewTermDesign",
    "OrdinalFrame",
    "OFFSET",
    "ParsedFormula",
    "PartSpec",
    "RandomTermData",
    "ReferenceGrid",
    "SeriesColumns",
    "SurvivalResponse",
    "TreatmentDesign",
    "build_model_frame",
    "build_survival_frame",
    "check_response_varies",
    "fixed_terms",
    "model_columns",
    "model_matrices_for",
    "ordinal_model_frame",
    "parse_part",
    "parse_formula",
    "reference_grid",
    "treatment_design",
]
