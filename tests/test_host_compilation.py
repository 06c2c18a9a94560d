"""Host-side work around a fit (start values, results) compiles whole programs: called eagerly
on NumPy arrays, the jax.numpy families, links and thresholds would compile every operation
on its own (about 25 ms each), which made a first clmm summary take a second."""

from __future__ import annotations

from contextlib import contextmanager

import jax
import numpy as np

import interlace_jax as ij
from interlace_jax.families import Poisson
from interlace_jax.optim._glm_start import glm_start

COMPILATION = "/jax/core/compile/backend_compile_duration"


@contextmanager
def counted_compilations():
    """Yields a list that holds one entry per XLA compilation inside the block."""
    seen: list[float] = []

    def listener(event, duration, **kwargs):
        if event == COMPILATION:
            seen.append(duration)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield seen
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)


def test_glm_start_compiles_two_programs():
    rng = np.random.default_rng(7)
    n = 137  # a length no other test uses: nothing of it is compiled yet
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = rng.poisson(np.exp(0.5 + 0.3 * X[:, 1])).astype(float)
    with ij.x64(), counted_compilations() as seen:
        start = glm_start(Poisson(), X, y, np.ones(n), np.zeros(n))
    assert len(seen) <= 2
    np.testing.assert_allclose(start.beta, [0.5, 0.3], atol=0.2)


def test_glmm_results_compile_one_program_per_method():
    cbpp = ij.datasets.load("cbpp")
    m = ij.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp,
                 family="binomial")
    with counted_compilations() as seen:
        m.fittedvalues, m.resid, m.resid_pearson, m.residuals("working")
        m.predict(cbpp.head(7), type="response")
    # one program per method and row count: inverse and mean (fitted rows and new rows),
    # unit_deviance, pearson_variance, mu_eta; eagerly, each of these compiled 3-8 operations
    assert len(seen) <= 7


def test_clmm_results_compile_one_program_each():
    wine = ij.datasets.load("wine")
    m = ij.clmm("rating ~ temp + contact + (1 | judge)", wine)
    with counted_compilations() as seen:
        str(m.summary())
        m.predict(wine.head(9), type="prob")
        m.random_effects_cov
    assert len(seen) <= 5  # thresholds, probabilities, curvature, factor (and a transfer)
