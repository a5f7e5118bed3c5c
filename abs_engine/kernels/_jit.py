"""The one jit configuration every kernel compiles with. Change options only here.

* ``cache=True``: compiled code is cached on disk next to the module, so a fresh process
  loads it instead of compiling (inlined functions are cached inside their callers).
* ``fastmath``: only re-association (so sums over loans vectorize), contraction to FMA and
  no-signed-zeros. NaN and infinity keep their IEEE meaning; divisions are guarded in code.
* ``error_model="numpy"``: no exception checks on division, which would block vectorization.
"""

from __future__ import annotations

import numba

__all__ = ["kernel", "period_cfunc", "PERIOD_SIGNATURE", "FASTMATH"]

FASTMATH = frozenset({"reassoc", "contract", "nsz"})


def kernel(fn=None, *, parallel: bool = False, inline: bool = False, reassociate: bool = True):
    """Decorate a kernel: ``@kernel``, ``@kernel(parallel=True)`` or ``@kernel(inline=True)``.
    ``reassociate=False`` keeps every sum in the order written, for code that must add up
    exactly as other code computing the same numbers (the fused summaries)."""
    flags = set(FASTMATH) if reassociate else set(FASTMATH) - {"reassoc"}
    # an inlined function has no machine code of its own: it is compiled into each caller, whose
    # cache holds it, so it is not cached itself (a cached dispatcher costs ~0.7 ms at import)
    options = dict(cache=not inline, nogil=True, fastmath=flags, error_model="numpy", parallel=parallel)
    if inline:
        options["inline"] = "always"

    def wrap(f):
        return numba.njit(**options)(f)

    return wrap(fn) if fn is not None else wrap


# A generated period (abs_engine.engine.codegen): ``period(S, P)`` on the flat state and parameter
# arrays of abs_engine.kernels.summaries. A C-callable function is passed to the summary
# kernel as a first-class function, so that kernel is compiled (and cached) once for all
# structures and only the period is compiled per structure.
PERIOD_SIGNATURE = numba.types.void(numba.types.CPointer(numba.types.float64),
                                    numba.types.CPointer(numba.types.float64))


def period_cfunc(fn):
    """Compile a generated period: sums in the order written (no re-association), so it adds
    up exactly as the interpreter it mirrors."""
    return numba.cfunc(PERIOD_SIGNATURE, cache=True, nogil=True, fastmath=set(FASTMATH) - {"reassoc"},
                       error_model="numpy")(fn)
