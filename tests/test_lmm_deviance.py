"""The blocked objective against a dense oracle, autodiff against finite differences, and the
objective under jit / grad / hessian / vmap."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import dense_deviance, random_term

import interlace_jax as ij
from interlace_jax.models import lmm_data, lmm_derivatives, lmm_deviance
from interlace_jax.optim import Status, fit_lmm_arrays, fit_theta

DESIGNS = {
    "scalar": [(9, 1)],
    "vector": [(12, 2)],
    "crossed": [(10, 1), (6, 1)],
    "crossed_vector": [(7, 1), (15, 2), (5, 2)],
    "three_scalar": [(11, 1), (8, 1), (4, 1)],
}


def _problem(rng, design, n=160, weighted=False):
    terms = [random_term(rng, n, nl, s, f"g{j}") for j, (nl, s) in enumerate(design)]
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.normal(size=n)])
    y = rng.normal(size=n) * 2 + X @ [1.0, 0.5, -0.3]
    w = rng.uniform(0.5, 2.0, n) if weighted else np.ones(n)
    return terms, X, y, w


def _computation_theta(rng, terms, data):
    """A random theta in the user's term order and the same theta in computation order."""
    user = np.concatenate([rng.uniform(0.2, 1.5, t.n_theta) for t in terms])
    starts = np.cumsum([0] + [t.n_theta for t in terms])
    comp = np.concatenate([user[starts[i] : starts[i + 1]] for i in data.plan.order])
    return user, comp


@pytest.mark.parametrize("design", DESIGNS)
@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_blocked_deviance_equals_dense_oracle(rng, design, reml, weighted):
    terms, X, y, w = _problem(rng, DESIGNS[design], weighted=weighted)
    data = lmm_data(terms, X, y, w)
    for _ in range(3):
        user, comp = _computation_theta(rng, terms, data)
        ours = float(lmm_deviance(jnp.asarray(comp), data, reml))
        assert ours == pytest.approx(dense_deviance(terms, X, y, user, reml, w), rel=1e-11)


@pytest.mark.parametrize("design", ["vector", "crossed_vector"])
def test_exact_derivatives_match_finite_differences(rng, design):
    terms, X, y, w = _problem(rng, DESIGNS[design])
    data = lmm_data(terms, X, y, w)
    _, theta = _computation_theta(rng, terms, data)
    d = lmm_derivatives(jnp.asarray(theta), data, True)
    f = lambda th: float(lmm_deviance(jnp.asarray(th), data, True))  # noqa: E731
    g = lambda th: np.asarray(jax.grad(lmm_deviance)(jnp.asarray(th), data, True))  # noqa: E731
    h = 1e-6
    eye = np.eye(theta.size)
    fd_grad = np.array([(f(theta + h * e) - f(theta - h * e)) / (2 * h) for e in eye])
    fd_hess = np.array([(g(theta + h * e) - g(theta - h * e)) / (2 * h) for e in eye])
    np.testing.assert_allclose(d.gradient, fd_grad, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(g(theta), d.gradient, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(d.hessian, fd_hess, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(d.hessian, jax.hessian(lmm_deviance)(jnp.asarray(theta), data,
                                                                     True), rtol=1e-9)


def test_objective_under_jit_grad_hessian_and_vmap(rng):
    terms, X, y, w = _problem(rng, DESIGNS["crossed_vector"])
    data = lmm_data(terms, X, y, w)
    thetas = jnp.asarray(np.stack([_computation_theta(rng, terms, data)[1] for _ in range(4)]))
    eager = np.array([float(lmm_deviance(t, data, False)) for t in thetas])
    jitted = jax.jit(lmm_deviance, static_argnames="reml")
    np.testing.assert_allclose([jitted(t, data, False) for t in thetas], eager, rtol=1e-12)
    batched = jax.vmap(lmm_deviance, in_axes=(0, None, None))(thetas, data, False)
    np.testing.assert_allclose(batched, eager, rtol=1e-12)
    grads = jax.vmap(jax.grad(lmm_deviance), in_axes=(0, None, None))(thetas, data, False)
    np.testing.assert_allclose(grads[1], jax.grad(lmm_deviance)(thetas[1], data, False),
                               rtol=1e-10)
    assert jax.hessian(lmm_deviance)(thetas[0], data, False).shape == (thetas.shape[1],) * 2


def test_same_structure_new_data_does_not_recompile(rng):
    terms, X, y, w = _problem(rng, DESIGNS["crossed"])
    data = lmm_data(terms, X, y, w)
    data2 = lmm_data(terms, X, y * 3.0 + 1.0, w)
    traces = []

    @jax.jit
    def f(theta, d):
        traces.append(1)
        return lmm_deviance(theta, d, True)

    f(jnp.ones(2), data)
    f(jnp.ones(2), data2)
    assert len(traces) == 1


@pytest.mark.parametrize("optimizer", ["newton", "newton_central"])
def test_vmapped_fits_over_responses_match_single_fits(rng, optimizer):
    terms, X, _, w = _problem(rng, DESIGNS["crossed"])
    b = [rng.normal(size=t.n_levels) for t in terms]
    ys = [X @ [1.0, 0.5, -0.3] + sum(bk[t.refs] for bk, t in zip(b, terms))
          + rng.normal(size=X.shape[0]) for _ in range(3)]
    datas = [lmm_data(terms, X, y, w) for y in ys]
    stacked = jax.tree_util.tree_map(lambda *a: jnp.stack(a), *[d.response for d in datas])
    batched_data = type(datas[0])(datas[0].design, stacked, datas[0].plan)
    in_axes = (None, type(datas[0])(None, 0, datas[0].plan), None, None)
    theta0 = jnp.ones(2)
    batch = jax.vmap(fit_lmm_arrays, in_axes=in_axes)(theta0, batched_data, True, optimizer)
    assert np.all(np.asarray(batch.opt.status) == Status.CONVERGED)
    for j, d in enumerate(datas):
        single = fit_theta(d, reml=True, theta0=np.ones(2))
        assert float(batch.solution.deviance[j]) <= float(single.solution.deviance) + 1e-9
        np.testing.assert_allclose(batch.theta[j], single.theta, atol=1e-6)
        np.testing.assert_allclose(batch.solution.beta[j], single.solution.beta, rtol=1e-6)


@pytest.mark.parametrize("design", ["crossed", "crossed_vector"])
def test_device_differences_match_exact_derivatives_under_vmap(rng, design):
    """Batched fits' derivatives by central differences (with Richardson's extrapolation)
    agree with the exact ones, vmapped over two points."""
    from interlace_jax.models import lmm_derivatives_central

    terms, X, y, w = _problem(rng, DESIGNS[design])
    data = lmm_data(terms, X, y, w)
    thetas = jnp.stack([jnp.asarray(_computation_theta(rng, terms, data)[1]) for _ in range(2)])
    central = jax.jit(jax.vmap(lambda th: lmm_derivatives_central(th, data, True)))(thetas)
    for j in range(2):
        exact = lmm_derivatives(thetas[j], data, True)
        np.testing.assert_allclose(central.gradient[j], exact.gradient, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(central.hessian[j], exact.hessian, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(central.log_pwrss_hessian[j], exact.log_pwrss_hessian,
                                   rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(central.cov_unscaled_jacobian[j],
                                   exact.cov_unscaled_jacobian, rtol=1e-6, atol=1e-9)


def test_finite_difference_derivatives_match_exact_ones(rng):
    """The large-model path's differences agree with the exact derivatives."""
    from interlace_jax.models import lmm_derivatives_fd, lmm_solution, solution_outputs

    terms, X, y, w = _problem(rng, DESIGNS["crossed_vector"])
    data = lmm_data(terms, X, y, w)
    _, theta = _computation_theta(rng, terms, data)
    exact = lmm_derivatives(jnp.asarray(theta), data, True)
    fd = lmm_derivatives_fd(
        theta, lambda th: solution_outputs(lmm_solution(jnp.asarray(th), data, True)), data, True)
    np.testing.assert_allclose(fd.gradient, exact.gradient, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(fd.hessian, exact.hessian, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(fd.cov_unscaled_jacobian, exact.cov_unscaled_jacobian,
                               rtol=1e-6, atol=1e-9)


def test_auto_optimizer_takes_the_large_model_path_when_the_dense_block_is_big(rng, monkeypatch):
    from interlace_jax.optim import _fit_lmm

    terms, X, y, w = _problem(rng, DESIGNS["crossed"])
    data = lmm_data(terms, X, y, w)
    exact = fit_theta(data, reml=True, theta0=np.ones(2))
    monkeypatch.setattr(_fit_lmm, "LARGE_DENSE_BLOCK", 0)
    large = fit_theta(data, reml=True, theta0=np.ones(2))
    assert exact.optimizer == "newton" and large.optimizer == "cobyqa"
    assert not large.exact_derivatives and large.converged
    assert large.objective <= exact.objective + 1e-6
    np.testing.assert_allclose(large.theta, exact.theta, atol=1e-4)


def test_satterthwaite_df_on_the_large_model_path_use_exact_derivatives(monkeypatch):
    """The large path checks convergence by finite differences, but Satterthwaite's df are
    computed from exact autodiff derivatives at its optimum (as on the Newton path)."""
    from interlace_jax.optim import _fit_lmm

    data = ij.datasets.load("sleepstudy")
    formula = "Reaction ~ Days + (Days | Subject)"
    newton = ij.fit(formula, data)
    monkeypatch.setattr(_fit_lmm, "LARGE_DENSE_BLOCK", 0)
    large = ij.fit(formula, data)
    assert large.theta_fit.optimizer == "cobyqa" and not large.theta_fit.exact_derivatives
    with ij.x64():
        exact = lmm_derivatives(jnp.asarray(large.theta_fit.theta), large._data, True)
    used = large._exact_derivatives
    np.testing.assert_allclose(used.hessian, exact.hessian, rtol=1e-10)
    np.testing.assert_allclose(used.cov_unscaled_jacobian, exact.cov_unscaled_jacobian,
                               rtol=1e-10, atol=1e-12)
    assert np.max(np.abs(large.theta_fit.hessian - exact.hessian)) > 1e-8  # differences
    np.testing.assert_allclose(large.fe_df, newton.fe_df, rtol=1e-4)


def test_dense_coupling_update_equals_sparse_pair_products(rng):
    """Crossed factors take the dense C'C Schur update; the sparse pair products (the nested
    designs' path) give the same objective and gradient, jitted and vmapped."""
    import dataclasses

    terms, X, y, w = _problem(rng, DESIGNS["crossed_vector"], weighted=True)
    dense = lmm_data(terms, X, y, w)
    assert dense.plan.dense_coupling
    thetas = jnp.asarray(np.stack([_computation_theta(rng, terms, dense)[1] for _ in range(3)]))
    values, grads = [], []
    for flag in (True, False):
        data = dataclasses.replace(dense, plan=dataclasses.replace(
            dense.plan, dense_coupling=flag, lapack=False))
        value_grad = jax.jit(jax.vmap(jax.value_and_grad(lambda th: lmm_deviance(th, data, True))))
        value, grad = value_grad(thetas)
        values.append(value)
        grads.append(grad)
    np.testing.assert_allclose(values[0], values[1], rtol=1e-12)
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("item_size", [1, 2])
@pytest.mark.parametrize("drop", [0, 5])
def test_grouped_schur_update_equals_the_dense_oracle(rng, item_size, drop):
    """Crossed subjects x items, balanced (one group of subjects by their number of
    observations) or with a few cells dropped (two groups): the update from the groups' fixed
    sums gives the brute-force deviance, and its derivatives those of the dense C'C update;
    weights (every subject its own diagonal) turn the grouping off."""
    import dataclasses

    from interlace_jax.models._crossprod import no_gram_groups
    from interlace_jax.terms import ReTerm

    subj, item = (a.ravel() for a in np.meshgrid(np.arange(12), np.arange(9), indexing="ij"))
    keep = np.ones(subj.size, bool)
    keep[np.arange(drop) * 9 + np.arange(drop)] = False  # subject k loses item k, k < drop
    subj, item = subj[keep], item[keep]
    n = subj.size
    x = rng.normal(size=n)
    z_item = np.column_stack([np.ones(n), x])[:, :item_size]
    terms = [ReTerm("subj", subj.astype(np.int32), np.ones((n, 1)), tuple(range(12)),
                    ("(Intercept)",)),
             ReTerm("item", item.astype(np.int32), z_item, tuple(range(9)),
                    ("(Intercept)", "x")[:item_size])]
    X = np.column_stack([np.ones(n), x])
    y = X @ [1.0, 0.4] + rng.normal(size=12)[subj] + rng.normal(size=9)[item] + rng.normal(size=n)
    data = lmm_data(terms, X, y, np.ones(n))
    assert data.plan.dense_coupling
    assert data.design.gram_by_group.shape[0] == (1 if drop == 0 else 2)
    user, theta = _computation_theta(rng, terms, data)
    for reml in (True, False):
        assert float(lmm_deviance(jnp.asarray(theta), data, reml)) == pytest.approx(
            dense_deviance(terms, X, y, user, reml), rel=1e-10)
    q = data.plan.n_rest + data.plan.n_fixed
    ungrouped = dataclasses.replace(data, design=dataclasses.replace(data.design,
                                                                     **no_gram_groups(q)))
    grouped_d = lmm_derivatives(jnp.asarray(theta), data, True)
    dense_d = lmm_derivatives(jnp.asarray(theta), ungrouped, True)
    np.testing.assert_allclose(grouped_d.hessian, dense_d.hessian, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(grouped_d.cov_unscaled_jacobian, dense_d.cov_unscaled_jacobian,
                               rtol=1e-9, atol=1e-12)
    weighted = lmm_data(terms, X, y, rng.uniform(0.5, 2.0, n))
    assert weighted.plan.dense_coupling and weighted.design.gram_by_group.shape[0] == 0


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("last_size", [1, 2])
def test_grouped_pair_products_equal_the_dense_oracle(rng, weighted, last_size):
    """Many small first-term levels (the sparse Schur update) with a scalar and a scalar or
    vector-valued rest term: the pair products summed on the host by target and first-term
    diagonal give the brute-force deviance, the gradient and Hessian of central differences,
    and those of the pair products formed on the device; with weights every level has its
    own diagonal and the groups are the pairs. (The factorised block holds the fill-in in
    its lower triangle only: the derivatives check that Cholesky's are those of the
    symmetric matrix.)"""
    import dataclasses

    from interlace_jax.linalg import make_plan
    from interlace_jax.models._crossprod import design_products

    n = 300
    terms = [random_term(rng, n, 150, 1, "g0"), random_term(rng, n, 30, 1, "g1"),
             random_term(rng, n, 8, last_size, "g2")]
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = X @ [1.0, 0.4] + rng.normal(size=n)
    w = rng.uniform(0.5, 2.0, n) if weighted else np.ones(n)
    data = lmm_data(terms, X, y, w)
    assert not data.plan.dense_coupling and data.design.pair_a.size == 0
    n_groups = data.design.pair_value.size
    assert (n_groups == data.plan.n_pairs) if weighted else (n_groups < data.plan.n_pairs)
    plan, index = make_plan(terms, X.shape[1])
    on_device = dataclasses.replace(data, design=design_products(
        plan, index, terms, X, w, grouped_update=False))
    assert on_device.design.pair_value.size == 0
    for _ in range(2):
        user, theta = _computation_theta(rng, terms, data)
        for reml in (True, False):
            assert float(lmm_deviance(jnp.asarray(theta), data, reml)) == pytest.approx(
                dense_deviance(terms, X, y, user, reml, w), rel=1e-11)
        grouped = lmm_derivatives(jnp.asarray(theta), data, True)
        formed = lmm_derivatives(jnp.asarray(theta), on_device, True)
        np.testing.assert_allclose(grouped.gradient, formed.gradient, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(grouped.hessian, formed.hessian, rtol=1e-9, atol=1e-9)
        value = jax.jit(lambda th: lmm_deviance(th, data, True))
        grad = jax.jit(jax.grad(lambda th: lmm_deviance(th, data, True)))
        h, eye = 1e-5, np.eye(theta.size)
        fd_grad = [(value(theta + h * e) - value(theta - h * e)) / (2 * h) for e in eye]
        fd_hess = [(grad(theta + h * e) - grad(theta - h * e)) / (2 * h) for e in eye]
        np.testing.assert_allclose(grouped.gradient, fd_grad, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(grad(theta), grouped.gradient, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(grouped.hessian, fd_hess, rtol=1e-5, atol=1e-5)


def test_nested_factors_keep_the_sparse_schur_update(rng):
    """Classes nested in schools: each class meets one school, so the pairs are few and the
    plan keeps the sparse update."""
    from interlace_jax.linalg import dense_coupling_wins
    from interlace_jax.terms import ReTerm

    n = 240
    school = np.repeat(np.arange(6), n // 6)
    klass = np.repeat(np.arange(40), n // 40)
    terms = [ReTerm(name, refs.astype(np.int32), np.ones((n, 1)), tuple(range(refs.max() + 1)),
                    ("(Intercept)",)) for name, refs in [("school", school), ("class", klass)]]
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    data = lmm_data(terms, X, rng.normal(size=n), np.ones(n))
    assert not data.plan.dense_coupling and data.design.dense_index.size == 0
    assert not dense_coupling_wins(40, 6, 40) and dense_coupling_wins(50, 40, 41000)


def test_newton_last_step_spares_the_confirming_derivatives():
    """With last_step_dtol, Newton ends with one full step once the decrement is small, at the
    same optimum, one derivative evaluation fewer; vmapped it gives the same points."""
    from interlace_jax.models import central_derivatives_jax
    from interlace_jax.optim._newton import minimize_newton

    def fun(x):
        return jnp.sum(jnp.exp(x) - 2.0 * x) + 0.3 * x[0] * x[1] ** 2

    calls = []

    def derivatives(x, f):
        calls.append(1)
        return central_derivatives_jax(fun, x, centre=f)

    x0 = jnp.asarray([0.4, 1.1])
    with jax.disable_jit():  # run the loops eagerly to count the derivative evaluations
        calls.clear()
        plain = minimize_newton(fun, x0, derivatives=derivatives)
        n_plain = len(calls)
        calls.clear()
        last = minimize_newton(fun, x0, derivatives=derivatives, last_step_dtol=1e-10)
        n_last = len(calls)
    assert int(plain.status) == int(last.status) == Status.CONVERGED
    assert n_last == n_plain - 1
    np.testing.assert_allclose(last.x, plain.x, atol=1e-9)
    assert float(last.fun) <= float(plain.fun) + 1e-12
    batched = jax.vmap(lambda z: minimize_newton(
        fun, z, derivatives=lambda x, f: central_derivatives_jax(fun, x, centre=f),
        last_step_dtol=1e-10))(jnp.stack([x0, x0 + 0.2]))
    np.testing.assert_allclose(batched.x[0], last.x, atol=1e-9)
    assert np.all(np.asarray(batched.status) == Status.CONVERGED)


def test_content_memo_reuses_results_by_the_arrays_contents_only():
    """Equal contents (another array object) reuse the result; other contents, dtypes or
    extras compute anew; the oldest of more than ``size`` keys is dropped; results read-only."""
    from interlace_jax.linalg._content_memo import ContentMemo

    memo, calls = ContentMemo(2), []

    def compute(tag):
        calls.append(tag)
        return (np.arange(3.0) + len(calls),)

    a = np.arange(5, dtype=np.int32)
    first = memo.get((a,), 1, lambda: compute("a"))
    assert memo.get((a.copy(),), 1, lambda: compute("again")) is first
    memo.get((a.astype(np.int64),), 1, lambda: compute("int64"))
    memo.get((a,), 2, lambda: compute("extra"))  # drops the oldest key: (a, 1)
    memo.get((a,), 1, lambda: compute("evicted"))
    assert calls == ["a", "int64", "extra", "evicted"]
    with pytest.raises(ValueError):
        first[0][0] = 1.0


def test_a_refit_of_the_same_grouping_reuses_its_pairs(rng):
    """A second lmm_data of the same terms (another response) reuses the plan's pair lists
    and the grouped products; other weights give other groups."""
    n = 300
    terms = [random_term(rng, n, 150, 1, "g0"), random_term(rng, n, 30, 1, "g1")]
    X = np.ones((n, 1))
    one = lmm_data(terms, X, rng.normal(size=n), np.ones(n))
    two = lmm_data(terms, X, rng.normal(size=n), np.ones(n))
    assert two.design.pair_value is one.design.pair_value
    weighted = lmm_data(terms, X, rng.normal(size=n), rng.uniform(0.5, 2.0, n))
    assert weighted.design.pair_value.size > one.design.pair_value.size
