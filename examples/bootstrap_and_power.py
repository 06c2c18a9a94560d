"""Batched statistics: a parametric bootstrap of the sleepstudy model, one design fitted to
several responses, and the power of a two-group design across sample sizes.

    python examples/bootstrap_and_power.py
"""

import numpy as np
import pandas as pd

import interlace_jax as ij

sleep = ij.datasets.load("sleepstudy")
m = ij.fit("Reaction ~ Days + (Days | Subject)", sleep)

# 200 refits, all in one vmapped computation; percentile intervals as lme4's confint(boot)
boot = ij.bootstrap(m, 200, seed=1)
print(boot)
print(boot.conf_int(level=0.95))

# the same design fitted to three responses at once
rng = np.random.default_rng(1)
sleep["noisy"] = sleep["Reaction"] + rng.normal(scale=30, size=len(sleep))
many = ij.fit_many("~ Days + (Days | Subject)", sleep, ["Reaction", "noisy"])
print(many.tidy()[["response", "term", "estimate", "std.error", "df", "p.value"]])

# power of the group effect with 8 or 16 subjects (5 observations each)
design = pd.DataFrame({"subj": np.repeat([f"s{i}" for i in range(8)], 5),
                       "group": np.repeat(["a", "b"] * 4, 5)})
params = {"beta": {"Intercept": 0.0, "group[T.b]": 1.0}, "sd": {"subj": 1.0}, "sigma": 1.0}
print(ij.power("y ~ group + (1 | subj)", design, params, nsim=200, n_subjects=[8, 16]))
