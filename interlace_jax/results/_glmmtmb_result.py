"""A GLMM fitted with glmmTMB's conventions: the extra parts (zero inflation, dispersion model)
as their own attributes, glmmTMB's ``sigma``, ``family_params``, predictions, residuals and
printed summary."""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd
from scipy import stats

from interlace_jax._errors import ModelError
from interlace_jax.families import on_host
from interlace_jax.results._glmm_result import GLMMResult

#: the parts of a glmmTMB model, as glmmTMB names them (``fixef(m)$cond``, ...)
PARTS = ("cond", "zi", "disp")


class GLMMTMBResult(GLMMResult):
    """A fitted GLMM from :func:`interlace_jax.glmmTMB`.

    ``fe_params`` / ``bse`` / ``cov_params()`` are the conditional model's; the zero-inflation
    (hurdle) part's are ``fe_params_zi`` / ``bse_zi`` / ``cov_params("zi")`` (logit scale) and
    the dispersion model's ``fe_params_disp`` / ``bse_disp`` / ``cov_params("disp")`` on
    glmmTMB's scale (log size for nbinom2, log phi for nbinom1, log precision for beta, log
    variance for gaussian, log shape for Gamma, log scale for t). ``sigma`` is glmmTMB's
    ``sigma(m)``, ``family_params`` its ``family_params(m)``, ``llf`` its ``logLik(m)``.
    Covariances are the inverse of the Hessian of -log L in all parameters (glmmTMB's ``vcov``
    from ``sdreport``), the Hessian being central differences of exact gradients.
    """

    PREDICT_TYPES = ("link", "response", "conditional", "zprob", "zlink", "disp")
    RESIDUAL_TYPES = ("response", "pearson", "working")

    # ----- the parts' coefficients --------------------------------------------------------
    def _block(self, part: str) -> slice:
        lay = self._data.layout
        blocks = {"cond": lay.beta, "zi": lay.zi, "disp": lay.disp}
        if part not in blocks:
            raise ModelError(f"part must be one of {PARTS}, not {part!r}")
        return blocks[part]

    def _names(self, part: str) -> list[str]:
        """Formulaic names of a part's coefficients (``Intercept`` for a constant one)."""
        if part == "cond":
            return list(self.frame.x_names_formulaic)
        block = self._block(part)
        if block.stop == block.start:
            return []
        frame_part = self.frame.parts.get(part)
        return ["Intercept"] if frame_part is None else list(frame_part.x_names_formulaic)

    def _r_names(self, part: str) -> list[str]:
        """R's names (``(Intercept)``, ``hb``) of a part's coefficients."""
        if part == "cond":
            return list(self.frame.x_names)
        frame_part = self.frame.parts.get(part)
        if frame_part is None:
            return ["(Intercept)"] if self._names(part) else []
        return list(frame_part.x_names)

    def _sign(self, part: str) -> float:
        """Ours to glmmTMB's scale: the Gamma's dispersion model is for log shape."""
        return self.family.dispersion_sign if part == "disp" else 1.0

    def params(self, part: str = "cond") -> pd.Series:
        """The coefficients of ``part`` (``"cond"``, ``"zi"``, ``"disp"``), glmmTMB's
        ``fixef(m)[[part]]``."""
        values = self._sign(part) * self.fit.x[self._block(part)]
        return pd.Series(values, index=self._names(part), name=f"fe_params_{part}", dtype=float)

    @property
    def fe_params_zi(self) -> pd.Series:
        """Zero-inflation (hurdle) coefficients, logit scale; empty without ``ziformula``."""
        return self.params("zi")

    @property
    def fe_params_disp(self) -> pd.Series:
        """Dispersion-model coefficients on glmmTMB's scale (one ``Intercept`` for a constant
        dispersion); empty for a family without dispersion."""
        return self.params("disp")

    def cov_params(self, part: str = "cond") -> pd.DataFrame:
        """Covariance of a part's coefficients (glmmTMB's ``vcov(m)[[part]]``)."""
        block, names = self._block(part), self._names(part)
        return pd.DataFrame(self._parameter_cov[block, block], index=names, columns=names)

    def _se(self, part: str) -> pd.Series:
        return pd.Series(np.sqrt(np.diag(self.cov_params(part))), index=self._names(part),
                         name=f"bse_{part}", dtype=float)

    @cached_property
    def bse(self) -> pd.Series:
        return self._se("cond").rename("bse")

    @property
    def bse_zi(self) -> pd.Series:
        return self._se("zi")

    @property
    def bse_disp(self) -> pd.Series:
        return self._se("disp")

    def coef_table(self, part: str = "cond") -> pd.DataFrame:
        """glmmTMB's ``summary(m)$coefficients[[part]]``: estimate, SE, z and its p-value,
        indexed by R's names."""
        est, se = self.params(part).to_numpy(), self._se(part).to_numpy()
        z = est / se
        return pd.DataFrame({"Estimate": est, "Std. Error": se, "z value": z,
                             "Pr(>|z|)": 2 * stats.norm.sf(np.abs(z))},
                            index=self._r_names(part))

    # ----- family quantities --------------------------------------------------------------
    @property
    def sigma(self) -> float:
        """glmmTMB's ``sigma(m)`` (NaN when the dispersion varies with a dispersion formula;
        1 for families without dispersion)."""
        if not self._data.layout.has_dispersion:
            return 1.0
        if not self._data.disp.constant:
            return float("nan")
        return float(self.family.sigma(self.dispersion))

    @property
    def family_params(self) -> dict[str, float]:
        """glmmTMB's ``family_params(m)``: Student-t df, ordered-beta cutoffs (plogis of the
        cutpoints); empty for other families."""
        return self.family.family_params(self.psi)

    @property
    def scale(self) -> float:
        return self.dispersion

    # ----- predictions and residuals ------------------------------------------------------
    def _predicted(self, type: str, eta: np.ndarray, design) -> np.ndarray:
        """glmmTMB's ``predict(m, type)``: ``"link"`` (conditional eta), ``"response"`` (the
        mean of the response), ``"conditional"`` (the conditional part's mean), ``"zprob"`` /
        ``"zlink"`` (the zero part's probability / logit; 0 / -inf without one), ``"disp"``
        (sigma per observation)."""
        if type in ("zprob", "zlink"):
            zeta = self._zero_predictor_at(*self._part_arrays(design, "zi"))
            zeta = -np.inf if zeta is None else zeta
            zeta = np.broadcast_to(np.asarray(zeta, dtype=float), eta.shape)
            return zeta if type == "zlink" else 1.0 / (1.0 + np.exp(-zeta))
        if type == "disp":
            phi = self._dispersion_at(*self._part_arrays(design, "disp"))
            return np.broadcast_to(np.asarray(self.family.sigma(phi), dtype=float), eta.shape)
        if type == "conditional":
            return self._mean(eta, design, part="conditional")
        return super()._predicted(type, eta, design)

    def residuals(self, type: str = "response") -> pd.Series:
        """glmmTMB's ``residuals(m, type)``: ``"response"`` (y minus the fitted mean),
        ``"pearson"`` (over the square root of ``Family.pearson_variance``, combined with the
        zero part) or ``"working"``."""
        if type not in self.RESIDUAL_TYPES:
            raise ModelError(f"unknown residual type {type!r}; choose one of "
                             f"{self.RESIDUAL_TYPES} (glmmTMB has no deviance residuals)")
        y, w = self.frame.y, self.frame.weights
        raw = y - self.fittedvalues.to_numpy()
        eta = self._fitted_eta
        if type == "pearson":
            phi = self._dispersion_at(*self._part_arrays(None, "disp"))
            zeta = self._zero_predictor_at(*self._part_arrays(None, "zi"))
            variance = on_host(self._data.zeros, "pearson_variance", self._mu(eta), w, phi,
                               self.psi, zeta, static=(self.family,))
            raw = raw / np.sqrt(variance)
        elif type == "working":
            raw = raw / on_host(self.family.link, "mu_eta", eta)
        return pd.Series(raw, index=self.frame.row_index, name=f"resid_{type}")

    @property
    def resid(self) -> pd.Series:
        """Response residuals (glmmTMB's default)."""
        return self.residuals("response")

    # ----- printing -----------------------------------------------------------------------
    def summary(self):
        from interlace_jax.results._glmmtmb_summary import GLMMTMBSummary

        return GLMMTMBSummary(self)

    def __repr__(self) -> str:
        return (f"<GLMMTMBResult {self.formula!r} family={self.family!r} "
                f"logLik={self.llf:.4f}>")
