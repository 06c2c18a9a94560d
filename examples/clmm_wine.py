"""A cumulative link mixed model (ordinal's wine example): bitterness ratings 1-5 by nine judges,
with clmm's summary, a likelihood-ratio test for contact, equidistant thresholds, and category
probabilities for a judge in the data and for a new one."""

import pandas as pd

import interlace_jax as ij

wine = ij.datasets.load("wine")  # rating is an ordered Categorical: 1 < 2 < 3 < 4 < 5
m = ij.clmm("rating ~ temp + contact + (1 | judge)", wine, link="logit")
print(m.summary())

null = ij.clmm("rating ~ temp + (1 | judge)", wine)
print(ij.anova(null, m, names=["temp", "temp + contact"]))

equidistant = ij.clmm("rating ~ temp + contact + (1 | judge)", wine, threshold="equidistant")
print("\nequidistant thresholds:", equidistant.thresholds.round(4).to_dict())
print(ij.anova(equidistant, m, names=["equidistant", "flexible"]))

new = pd.DataFrame({"temp": ["warm", "warm"], "contact": ["yes", "yes"], "judge": ["1", "new"]})
print("\nP(rating = k), warm with contact, judge 1 and a new judge:")
print(m.predict(new, type="prob").round(3))
print("most probable:", list(m.predict(new, type="class")))
print("at the mean judge (b = 0):")
print(m.predict(new, type="prob", include_re=False).round(3))
