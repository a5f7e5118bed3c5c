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


# A period (abs_engine.kernels.state): ``period(S, P)`` on a block's flat state and parameter
# arrays, the interpreter (abs_engine.kernels.waterfall) or one generated for a structure
# (abs_engine.engine.codegen). A C-callable function is passed to the loop
# (abs_engine.kernels.deal) as a first-class function, so the loop is compiled (and cached) once
# for all structures and only a generated period is compiled per structure.
PERIOD_SIGNATURE = numba.types.void(numba.types.CPointer(numba.types.float64),
                                    numba.types.CPointer(numba.types.float64))


def period_cfunc(fn=None, *, reassociate: bool = False):
    """Compile a period. A generated one adds up in the order written (no re-association), so
    its sums are the interpreter's; ``reassociate=True`` for the interpreter, whose sums run over
    memory in order anyway, and which LLVM then contracts as the engine always has."""
    flags = set(FASTMATH) if reassociate else set(FASTMATH) - {"reassoc"}

    def wrap(f):
        return numba.cfunc(PERIOD_SIGNATURE, cache=True, nogil=True, fastmath=flags, error_model="numpy")(f)

    return wrap(fn) if fn is not None else wrap

