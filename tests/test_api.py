"""The facade end to end: bad input, data backends, invariances, printing, command line."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import interlace_jax as ij

FORMULA = "Reaction ~ Days + (Days | Subject)"


@pytest.fixture(scope="module")
def sleep():
    return ij.datasets.load("sleepstudy")


@pytest.fixture(scope="module")
def sleep_fit(sleep):
    return ij.fit(FORMULA, sleep)


def test_backends_give_identical_fits(sleep, sleep_fit):
    pl = pytest.importorskip("polars")
    pa = pytest.importorskip("pyarrow")
    for frame in (pl.from_pandas(sleep), pa.Table.from_pandas(sleep)):
        other = ij.fit(FORMULA, frame)
        np.testing.assert_allclose(other.theta, sleep_fit.theta, rtol=1e-10)
        np.testing.assert_allclose(other.fe_params, sleep_fit.fe_params, rtol=1e-10)
        assert other.llf == pytest.approx(sleep_fit.llf, rel=1e-12)


def test_row_order_does_not_change_the_fit(sleep, sleep_fit):
    shuffled = sleep.sample(frac=1.0, random_state=3)
    other = ij.fit(FORMULA, shuffled)
    np.testing.assert_allclose(other.theta, sleep_fit.theta, rtol=1e-7, atol=1e-9)
    assert other.llf == pytest.approx(sleep_fit.llf, rel=1e-11)
    np.testing.assert_allclose(other.random_effects["Subject"], 
                               sleep_fit.random_effects["Subject"], rtol=1e-6)


def test_scaling_the_response_scales_the_estimates(sleep, sleep_fit):
    scaled = sleep.assign(Reaction=sleep["Reaction"] * 1000.0)
    other = ij.fit(FORMULA, scaled)
    np.testing.assert_allclose(other.theta, sleep_fit.theta, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(other.fe_params, sleep_fit.fe_params * 1000.0, rtol=1e-7)
    assert other.sigma == pytest.approx(sleep_fit.sigma * 1000.0, rel=1e-7)


def test_result_attributes(sleep_fit):
    m = sleep_fit
    assert list(m.fe_params.index) == ["Intercept", "Days"]
    assert m.scale == pytest.approx(m.sigma**2)
    assert m.cov_params().shape == (2, 2)
    ci = m.conf_int()
    assert np.all(ci[0] < m.fe_params) and np.all(m.fe_params < ci[1])
    assert m.random_effects["Subject"].shape == (18, 2)
    assert m.ngroups == {"Subject": 18}
    assert m.variance_components.loc[("Subject", "Days")] > 0
    assert m.varcov.shape == (2, 2)
    np.testing.assert_allclose(m.fittedvalues + m.resid, ij.datasets.load("sleepstudy").Reaction)
    np.testing.assert_allclose(m.predict(), m.fittedvalues)
    assert m.converged and not m.is_singular
    assert m.deviance == pytest.approx(-2 * m.llf)


def test_summary_has_lme4_sections(sleep_fit):
    text = str(sleep_fit.summary())
    for part in ("REML criterion at convergence: 1743.6", "Scaled residuals:", "Random effects:",
                 "Subject", "Residual", "Number of obs: 180, groups:  Subject, 18",
                 "Fixed effects:", "Pr(>|t|)", "Correlation of Fixed Effects:"):
        assert part in text
    ml = ij.fit(FORMULA, ij.datasets.load("sleepstudy"), method="ML", df_method="normal")
    text = str(ml.summary())
    assert "AIC" in text and "logLik" in text and "Pr(>|z|)" in text


def test_kenward_roger_fit(sleep, sleep_fit):
    """df_method="kenward-roger" gives the same fit with the adjusted covariance and df (the
    numbers are checked against pbkrtest in test_kenward_roger.py)."""
    kr = ij.fit(FORMULA, sleep, df_method="Kenward-Roger")
    assert kr.df_method == "kenward-roger"
    np.testing.assert_allclose(kr.fe_params, sleep_fit.fe_params, rtol=1e-10)
    np.testing.assert_allclose(kr.cov_params(), kr.kenward_roger.vcov_adj)
    np.testing.assert_allclose(kr.fe_df, 17.0, rtol=1e-8)  # balanced: KR gives 18 - 1
    assert "t-tests use Kenward-Roger's method" in str(kr.summary())


def test_missing_rows_are_dropped_and_reported(sleep):
    holes = sleep.copy()
    holes.loc[[3, 50], "Reaction"] = np.nan
    m = ij.fit(FORMULA, holes)
    assert m.nobs == 178 and m.frame.n_dropped == 2
    assert "2 observations deleted due to missingness" in str(m.summary())


def test_rank_deficient_fixed_effects_are_dropped_with_a_message(sleep):
    dup = sleep.assign(Days2=sleep["Days"] * 2.0)
    with pytest.warns(UserWarning, match="rank deficient.*Days2"):
        m = ij.fit("Reaction ~ Days + Days2 + (1 | Subject)", dup)
    assert list(m.fe_params.index) == ["Intercept", "Days"]
    assert "dropping 1 columns" in str(m.summary())


def test_seed_style_groups_and_random_arguments():
    pen = ij.datasets.load("Penicillin")
    a = ij.fit("diameter ~ 1", pen, groups=["plate", "sample"])
    b = ij.fit("diameter ~ 1 + (1 | plate) + (1 | sample)", pen)
    c = ij.fit("diameter ~ 1", pen, random=["(1 | plate)", "(1 | sample)"])
    assert a.llf == pytest.approx(b.llf, rel=1e-12) == c.llf


def test_offset_argument_equals_offset_in_formula():
    sleep = ij.datasets.load("sleepstudy").assign(off=lambda d: 2.5 * d["Days"])
    a = ij.fit("Reaction ~ Days + offset(off) + (1 | Subject)", sleep)
    b = ij.fit("Reaction ~ Days + (1 | Subject)", sleep, offset="off")
    c = ij.fit("Reaction ~ Days + (1 | Subject)", sleep, offset=sleep["off"].to_numpy())
    assert a.llf == pytest.approx(b.llf, rel=1e-12)
    assert a.llf == pytest.approx(c.llf, rel=1e-12)


@pytest.mark.parametrize("optimizer", ["lbfgs", "lbfgsb"])
def test_other_optimizers_reach_the_same_optimum(sleep, sleep_fit, optimizer):
    other = ij.fit(FORMULA, sleep, optimizer=optimizer)
    assert other.objective <= sleep_fit.objective + 1e-6
    np.testing.assert_allclose(other.theta, sleep_fit.theta, atol=1e-4)


def test_theta0_warm_start(sleep, sleep_fit):
    again = ij.fit(FORMULA, sleep, theta0=sleep_fit.theta)
    assert again.theta_fit.n_steps <= 1
    np.testing.assert_allclose(again.theta, sleep_fit.theta, atol=1e-8)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(formula="Reaction ~ Dayz + (1 | Subject)"), ij.DataError, "Dayz"),
        (dict(formula="Reaction ~ Days + (1 | Subjet)"), ij.DataError, "Subjet"),
        (dict(formula="Subject ~ Days + (1 | Subject)"), ij.DataError, "Subject"),
        (dict(formula="Reaction ~ Days + (1 | )"), ij.FormulaError, r"\(1 \| \)"),
        (dict(formula="Reaction ~ Days + (1 | Subject"), ij.FormulaError, "parenthes"),
        (dict(formula="Reaction Days + (1 | Subject)"), ij.FormulaError, "~"),
        (dict(formula="Reaction ~ Days"), ij.ModelError, "random-effects"),
        (dict(formula="Reaction ~ Days + (1 | one)"), ij.ModelError, "one"),
        (dict(formula="Reaction ~ Days + (1 | row)"), ij.ModelError, "row"),
        (dict(method="XYZ"), ij.ModelError, "REML"),
        (dict(optimizer="nelder"), ij.ModelError, "nelder"),
        (dict(df_method="magic"), ij.ModelError, "magic"),
        (dict(method="ML", df_method="kenward-roger"), ij.ModelError, "REML"),
        (dict(theta0=[1.0]), ij.ModelError, "theta0"),
        (dict(weights="bad_w"), ij.DataError, "bad_w"),
        (dict(weights="neg_w"), ij.DataError, "weights"),
        (dict(correlation="AR1"), ij.ModelError, "correlation"),
        (dict(formula="flat ~ Days + (1 | Subject)"), ij.DataError, "'flat' is constant"),
        (dict(formula="line ~ Days + (1 | Subject)"), ij.DataError, "'line' is fitted exactly"),
        (dict(formula="Reaction ~ one + (1 | Subject)"), ij.DataError, "'one' is a factor with"),
        (dict(formula="Reaction ~ Days + (one | Subject)"), ij.DataError, "single level"),
        (dict(weights="zero_w"), ij.DataError, "weights are all zero"),
    ],
)
def test_bad_input_gives_a_clear_error(sleep, kwargs, error, match):
    data = sleep.assign(one="a", row=np.arange(len(sleep)).astype(str),
                        bad_w=np.where(sleep.Days == 3, np.inf, 1.0),
                        neg_w=np.where(sleep.Days == 3, -1.0, 1.0),
                        flat=3.0, line=2.0 * sleep.Days - 1.0, zero_w=0.0)
    args = dict(formula=FORMULA) | kwargs
    with pytest.raises(error, match=match):
        ij.fit(args.pop("formula"), data, **args)


def test_non_finite_value_in_a_predictor_is_an_error(sleep):
    bad = sleep.assign(Days=np.where(sleep.Days == 3, np.inf, sleep.Days))
    with pytest.raises(ij.DataError, match="Days"):
        ij.fit(FORMULA, bad)


def test_import_leaves_global_float32_default_alone():
    code = ("import jax.numpy as jnp, interlace_jax as ij; "
            "m = ij.fit('Reaction ~ Days + (1 | Subject)', ij.datasets.load('sleepstudy')); "
            "assert jnp.ones(1).dtype == jnp.float32, jnp.ones(1).dtype; "
            "assert abs(m.llf + 893.2) < 0.1, m.llf")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_command_line_demo_and_fit(tmp_path):
    out = subprocess.run([sys.executable, "-m", "interlace_jax", "demo"], check=True,
                         capture_output=True, text=True).stdout
    assert "REML criterion at convergence: 1743.6" in out
    path = tmp_path / "pen.csv"
    ij.datasets.load("Penicillin").to_csv(path, index=False)
    out = subprocess.run(
        [sys.executable, "-m", "interlace_jax", "fit", "diameter ~ 1 + (1|plate) + (1|sample)",
         str(path), "--ml"], check=True, capture_output=True, text=True).stdout
    assert "maximum likelihood" in out and "plate" in out
    bad = subprocess.run([sys.executable, "-m", "interlace_jax", "fit", "y ~ (1|g)", str(path)],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "error:" in bad.stderr


def test_nan_in_a_weights_array_is_an_error(sleep):
    w = np.ones(len(sleep))
    w[7] = np.nan
    with pytest.raises(ij.DataError, match="weights"):
        ij.fit(FORMULA, sleep, weights=w)


def test_failed_convergence_warns_with_the_figures(sleep, monkeypatch):
    from interlace_jax.optim import _fit_lmm

    monkeypatch.setattr(_fit_lmm, "NEWTON_MAX_STEPS", 2)
    with pytest.warns(ij.ConvergenceWarning, match="optimizer"):
        m = ij.fit(FORMULA, sleep)
    assert not m.converged and m.convergence_messages


def test_opt_in_compilation_cache_is_reused_by_a_new_process(tmp_path):
    code = ("import sys, interlace_jax as ij; ij.enable_compilation_cache(sys.argv[1]); "
            "ij.fit('diameter ~ 1 + (1|plate) + (1|sample)', ij.datasets.load('Penicillin'))")
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True)
    stored = sorted(p.name for p in tmp_path.iterdir())
    assert any("newton_fit" in name for name in stored)
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True)
    # the same keys in a new process: the stored code is found (no new entries are written)
    assert sorted(p.name for p in tmp_path.iterdir()) == stored
