"""XLA:CPU compile options, chosen per kind of compiled function.

A first fit of a model structure is dominated by compilation, so functions that run only a few
times per fit are compiled for compile time rather than run time. Most of the option names are
XLA debug options, which a jaxlib may rename or drop: :func:`accepted` tries them once (on the
first fit, never at import, which would start JAX's backend) and falls back to XLA's
defaults.
"""

from __future__ import annotations

from functools import lru_cache

import jax

#: Functions evaluated a few times per fit (derivatives and solution at the optimum,
#: Kenward-Roger's derivatives, profile evaluations): LLVM's cheapest backend optimisation,
#: about 40% less compile time for a few percent more run time. (A long-standing XLA option,
#: used without a trial.)
FEW_CALLS = {"xla_backend_optimization_level": 0}

#: The Laplace objectives, evaluated at every outer step of a GLMM or clmm fit: XLA:CPU's
#: older loop emitters and LLVM's cheaper pipeline. Measured on the project machine (first fit
#: in a process, JIT included / warm fit): soup clmm 11.6 s -> 5.1-7.2 s / 0.44 s -> 0.46 s,
#: VerbAgg glmer 10.0 s -> 5.8-6.7 s / 0.76 s -> 0.77-1.06 s. Optimisation level 0 would
#: compile faster still (soup 3.7 s, VerbAgg 5.1 s) but double the warm fits (0.94 s, 2.6 s).
LAPLACE_OBJECTIVE = (("xla_cpu_use_fusion_emitters", False),
                     ("xla_backend_optimization_level", 1),
                     ("xla_llvm_disable_expensive_passes", True))


@lru_cache(maxsize=None)
def accepted(options: tuple[tuple[str, object], ...]) -> dict:
    """``options`` as the ``compiler_options`` dict of ``jax.jit`` when this jaxlib accepts
    them, else ``{}`` (XLA's defaults)."""
    chosen = dict(options)
    try:
        jax.jit(lambda v: v + 1.0, compiler_options=chosen)(1.0)
    except Exception:  # an option this XLA does not know
        return {}
    return chosen
