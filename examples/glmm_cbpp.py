"""A binomial GLMM (lme4's cbpp example): Laplace, adaptive quadrature and lme4's faster
nAGQ = 0, a likelihood-ratio test, conditional modes with their SDs, and predictions on the
response scale."""

import pandas as pd

import interlace_jax as ij

cbpp = ij.datasets.load("cbpp")
formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
m = ij.glmer(formula, cbpp, "binomial")
print(m.summary())

m25 = ij.glmer(formula, cbpp, "binomial", nAGQ=25)
m0 = ij.glmer(formula, cbpp, "binomial", nAGQ=0)  # theta only; beta at the joint mode
print(f"\nlogLik: Laplace {m.llf:.4f}, adaptive quadrature (25 nodes) {m25.llf:.4f}, "
      f"nAGQ = 0 {m0.llf:.4f}")

null = ij.glmer("cbind(incidence, size - incidence) ~ 1 + (1 | herd)", cbpp, "binomial")
print(ij.anova(null, m))

modes = pd.concat({"mode": m.random_effects["herd"], "SD": m.random_effects_se["herd"]},
                  axis=1)
print(modes.head())
new = pd.DataFrame({"period": ["1", "4"], "herd": ["1", "1"]})
print("P(incidence):", m.predict(new, type="response").round(4))
