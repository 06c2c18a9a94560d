"""Random intercepts and slopes on sleepstudy, as lme4's ``lmer(Reaction ~ Days + (Days |
Subject))``: the summary, the BLUPs and a prediction for a new subject."""

import pandas as pd

import interlace_jax as ij

sleep = ij.datasets.load("sleepstudy")
m = ij.fit("Reaction ~ Days + (Days | Subject)", sleep)
print(m.summary())
print()
print(m.random_effects["Subject"].head())
new = pd.DataFrame({"Days": [0, 5, 9], "Subject": ["308", "308", "new subject"]})
print("predictions:", m.predict(new).round(2))
