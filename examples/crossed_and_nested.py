"""Crossed (Penicillin: plate x sample) and nested (Pastes: cask within batch) random effects,
and a likelihood-ratio comparison of two ML fits."""

from scipy import stats

import interlace_jax as ij

pen = ij.fit("diameter ~ 1 + (1 | plate) + (1 | sample)", ij.datasets.load("Penicillin"))
print(pen.varcorr)

pastes = ij.datasets.load("Pastes")
full = ij.fit("strength ~ 1 + (1 | batch/cask)", pastes, method="ML")
reduced = ij.fit("strength ~ 1 + (1 | batch:cask)", pastes, method="ML")
lrt = 2 * (full.llf - reduced.llf)
print(f"LRT for the batch variance: chi2 = {lrt:.3f}, "
      f"p (boundary-halved) = {0.5 * stats.chi2.sf(lrt, 1):.3f}")
