"""Satterthwaite df and p-values from exact derivatives against lmerTest
(tests/fixtures/make_inference_fixtures.R). lmerTest differentiates numerically (about 1e-7
relative noise) and stops its optimizer at lme4's tolerance, so 1e-3 relative is the bar."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import FIXTURES

CASES = [
    "sleepstudy_slopes_reml",
    "sleepstudy_slopes_ml",
    "penicillin_crossed",
    "pastes_nested",
    "cake",
    "crossed_unbalanced",
    "categorical_slope",
    "dyestuff2_singular",
    "sleepstudy_weighted",
]


@pytest.mark.parametrize("case", CASES)
def test_satterthwaite_matches_lmertest(lme4_fit, case):
    result, _ = lme4_fit(case)
    ref = json.loads((FIXTURES / "inference" / f"{case}.json").read_text())["satterthwaite"]
    assert result.df_method == "satterthwaite"
    np.testing.assert_allclose(result.fe_df.to_numpy(), [r["df"] for r in ref.values()],
                               rtol=1e-3)
    # p-values amplify the small differences in theta between lme4's optimum and ours (1e-4 in
    # theta moves df by 1e-4 and p by a few 1e-3 in the tails); very small p-values move with
    # the last digits of t, so those are compared on the log scale.
    ours, theirs = result.pvalues.to_numpy(), np.array([r["p"] for r in ref.values()])
    tiny = theirs < 1e-8
    np.testing.assert_allclose(ours[~tiny], theirs[~tiny], rtol=5e-3)
    np.testing.assert_allclose(np.log(ours[tiny]), np.log(theirs[tiny]), rtol=1e-3)
    np.testing.assert_allclose(result.tvalues.to_numpy(), [r["t"] for r in ref.values()],
                               rtol=5e-4)
