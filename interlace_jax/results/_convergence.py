"""The convergence diagnostics of a fit, gathered in one object with a readable repr."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from interlace_jax.optim import Status


@dataclass(frozen=True)
class ConvergenceCheck:
    """What :meth:`LMMResult.check_convergence` reports (lme4's ``checkConv`` and more).

    Attributes:
        converged: the optimizer stopped normally and the derivative checks passed.
        optimizer: the optimizer used; status: its stopping message; n_steps: its iterations.
        objective: the criterion at the optimum (REML criterion or ML deviance).
        parameters: lme4's names of theta (``Subject.(Intercept)``, ...).
        theta: (n_theta,) the optimum.
        gradient: (n_theta,) gradient of the objective at theta.
        scaled_gradient: max |H^{-1} g| over interior parameters (lme4's relative gradient,
            tolerance 2e-3).
        hessian_eigenvalues: eigenvalues of the Hessian over the interior parameters.
        boundary: names of the parameters at their bound (a diagonal theta exactly 0).
        singular: a random-effects covariance matrix is singular (lme4's ``isSingular``).
        exact_derivatives: False when gradient and Hessian come from finite differences.
        messages: the problems found; empty when none.
    """

    converged: bool
    optimizer: str
    status: str
    n_steps: int
    objective: float
    parameters: tuple[str, ...]
    theta: np.ndarray
    gradient: np.ndarray
    scaled_gradient: float
    hessian_eigenvalues: np.ndarray
    boundary: tuple[str, ...]
    singular: bool
    exact_derivatives: bool
    messages: tuple[str, ...]

    def __repr__(self) -> str:
        width = max(len(p) for p in self.parameters)
        lines = [
            f"ConvergenceCheck: {'converged' if self.converged else 'NOT converged'}",
            f"  optimizer {self.optimizer!r} after {self.n_steps} steps: {self.status}",
            f"  objective {self.objective:.10g}",
            f"  {'parameter'.ljust(width)}  {'theta':>12}  {'gradient':>10}",
        ]
        for name, th, g in zip(self.parameters, self.theta, self.gradient):
            lines.append(f"  {name.ljust(width)}  {th:12.6g}  {g:10.3g}")
        evals = ", ".join(f"{v:.4g}" for v in self.hessian_eigenvalues)
        kind = "exact" if self.exact_derivatives else "finite-difference"
        lines.append(f"  scaled gradient {self.scaled_gradient:.3g} (tolerance 2e-3), {kind}"
                     " derivatives")
        lines.append(f"  Hessian eigenvalues (interior): {evals or 'none'}")
        lines.append(f"  at boundary: {', '.join(self.boundary) or 'none'}; "
                     f"singular: {self.singular}")
        lines += [f"  - {m}" for m in self.messages]
        return "\n".join(lines)


def convergence_check(result, theta_names: tuple[str, ...]) -> ConvergenceCheck:
    """Assemble the ConvergenceCheck of an LMMResult."""
    fit = result.theta_fit
    report = fit.report
    return ConvergenceCheck(
        converged=result.converged,
        optimizer=fit.optimizer,
        status=Status(fit.status).message,
        n_steps=int(fit.n_steps),
        objective=float(fit.objective),
        parameters=tuple(theta_names),
        theta=np.asarray(fit.theta),
        gradient=np.asarray(report.gradient),
        scaled_gradient=float(report.scaled_gradient),
        hessian_eigenvalues=np.asarray(report.hessian_eigenvalues),
        boundary=tuple(n for n, b in zip(theta_names, report.boundary) if b),
        singular=result.is_singular,
        exact_derivatives=bool(fit.exact_derivatives),
        messages=tuple(result.convergence_messages),
    )
