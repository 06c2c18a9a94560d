"""A Cox model with a litter frailty (R's coxme rats example): coxme's summary, hazard ratios,
the frailty variance fixed at zero (survival::coxph), a likelihood-ratio test of the frailty
and relative risks with and without the litter effects."""

from scipy import stats

import interlace_jax as ij

rats = ij.datasets.load("rats")
formula = "Surv(time, status) ~ rx + (1 | litter)"
m = ij.coxme(formula, rats, data_name="rats")
print(m.summary())
print("\nhazard ratio of rx:", round(float(m.hazard_ratios["rx"]), 4),
      "95% CI:", m.conf_int().loc["rx"].map(lambda v: round(float(v), 4)).tolist())

cox = ij.coxme(formula, rats, vfixed={"litter": 0.0})  # the Cox model without frailty
lr = 2 * (m.llf - cox.llf)
print(f"\nfrailty variance {m.variances['litter']:.4f}: LR statistic {lr:.3f}, "
      f"p = {0.5 * stats.chi2.sf(lr, 1):.4f} (50:50 mixture of chi2(0) and chi2(1))")

new = rats.iloc[:4][["rx", "litter"]]
print("\nrelative risk with litter effects:", m.predict(new, type="risk").round(3))
print("without:", m.predict(new, type="risk", include_re=False).round(3))
