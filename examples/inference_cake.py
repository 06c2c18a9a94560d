"""Inference for the fixed effects of lmerTest's cake model, ``lmer(angle ~ recipe * temp +
(1 | recipe:replicate))``: Satterthwaite and Kenward-Roger t-tests, a type III anova table, a
custom contrast, estimated marginal means with pairwise comparisons, profile-likelihood
intervals and a likelihood-ratio test. See docs/inference.md. Runs in about half a minute,
most of it compiling (the profile's functions alone take about 15 s)."""

import pandas as pd

import interlace_jax as ij

cake = ij.datasets.load("cake")
formula = "angle ~ recipe * temp + (1 | recipe:replicate)"

# REML fit; t-tests with Satterthwaite's df (lmerTest's summary)
m = ij.fit(formula, cake)
print(m.summary())

# Kenward-Roger's adjusted SEs and df (pbkrtest; REML fits only)
kr = ij.fit(formula, cake, df_method="kenward-roger")
print("\nKenward-Roger:")
print(pd.DataFrame({"Estimate": kr.fe_params, "Std. Error": kr.bse, "df": kr.fe_df,
                    "t value": kr.tvalues, "Pr(>|t|)": kr.pvalues}).to_string(
                        float_format="%.4g"))

# lmerTest's anova(m, type = 3): one F-test per term
table = m.anova(type=3)
print("\n" + table.attrs["heading"])
print(table.to_string(float_format="%.4g"))

# lmerTest's contest: do recipes B and C have the same temperature slope?
print("\nslope of B - slope of C:")
print(m.contrast({"recipeB:temp": 1, "recipeC:temp": -1}, joint=False).round(4))

# emmeans: recipe means at the mean temperature, and their pairwise differences (Tukey);
# Kenward-Roger df, emmeans' default for REML fits
emm = ij.emmeans(m, "recipe")
print()
print(emm)
print(ij.pairs(emm))

# lme4's confint(m, method = "profile"): the REML fit is refitted by ML first
print("\nprofile intervals:")
print(m.conf_int(method="profile").round(3))

# lme4's anova(m0, m): likelihood-ratio test of the interaction (both refitted by ML)
m0 = ij.fit("angle ~ recipe + temp + (1 | recipe:replicate)", cake)
print()
print(ij.anova(m0, m, names=["m0", "m"]))
