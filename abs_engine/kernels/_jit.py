"""The one jit configuration every kernel compiles with. Change options only here.

* ``cache=True``: compiled code is cached on disk next to the module, so a fresh process
  loads it instead of compiling.
* ``fastmath``: only re-association (so sums over loans vectorize), contraction to FMA and
  no-signed-zeros. NaN and infinity keep their IEEE meaning; divisions are guarded in code.
* ``error_model="numpy"``: no exception checks on division, which would block vectorization.
"""

from __future__ import annotations

import numba

__all__ = ["kernel", "FASTMATH"]

FASTMATH = frozenset({"reassoc", "contract", "nsz"})


def kernel(fn=None, *, parallel: bool = False, inline: bool = False):
    """Decorate a kernel: ``@kernel``, ``@kernel(parallel=True)`` or ``@kernel(inline=True)``."""
    options = dict(cache=True, nogil=True, fastmath=set(FASTMATH), error_model="numpy", parallel=parallel)
    if inline:
        options["inline"] = "always"

    def wrap(f):
        return numba.njit(**options)(f)

    return wrap(fn) if fn is not None else wrap
