"""A one-line notice, once per process, before the engine compiles its kernels on a machine for
the first time: a first run compiles for tens of seconds (the compiled code is then cached on
disk, next to the kernels), and silence that long looks like a hang.

The notice goes to standard error; ``ABS_ENGINE_QUIET=1`` turns it off.
"""

from __future__ import annotations

import os
import sys

__all__ = ["announce_if_cold"]

NOTICE = ("abs_engine: compiling the engine's kernels for this machine (first run only, ~70 s on 2 cores; "
          "then cached on disk)...")
"""Measured on a fresh copy of the package (empty cache), 2-core Xeon: 68.5 s to a first run's
tables of the auto deal, then 26.8 s more for its first summary grid (the period generated for
its structure), 9.2 s more for a pool-only deal. A period generated for a new structure alone
is the ~30 s of the grid."""
_said = False


def announce_if_cold(*kernels, new: bool = False) -> bool:
    """Print :data:`NOTICE` if one of ``kernels`` (numba dispatchers) is neither compiled in this
    process nor cached on disk, or ``new`` (code written for the first time, as a period
    generated for a new structure); at most once per process. Returns whether it printed. A
    kernel whose cache cannot be located (another numba version) counts as cached: no notice."""
    global _said
    if _said or os.environ.get("ABS_ENGINE_QUIET") == "1":
        return False
    if new:
        _said = True
        print(NOTICE, file=sys.stderr, flush=True)
        return True
    for k in kernels:
        if getattr(k, "signatures", None):
            continue  # compiled or loaded in this process
        index = getattr(getattr(getattr(k, "_cache", None), "_cache_file", None), "_index_path", None)
        if isinstance(index, str) and not os.path.exists(index):
            _said = True
            print(NOTICE, file=sys.stderr, flush=True)
            return True
    return False
