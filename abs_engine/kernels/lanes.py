"""Moving arrays between scenario order ``[scenario, m]`` and the kernels' block layout
``[block, m, lane]`` (:mod:`abs_engine.compile.layout`), in parallel over blocks.

A scenario's values may be a row of a table of distinct values (``x[rows[scenario]]``), as
scenario sets keep them, so a grid's per-scenario arrays are never built only to be copied again.
"""

from __future__ import annotations

from ._jit import kernel

__all__ = ["gather_rows", "scatter_lanes"]


@kernel
def gather_rows(x, rows, take, out):
    """``out[b, m, l] = x[rows[take[b, l]], m]``: ``take[b, l]`` is the scenario in lane ``l`` of
    block ``b`` and ``rows[scenario]`` its row of ``x``."""
    for b in range(take.shape[0]):
        for m in range(x.shape[1]):
            for l in range(take.shape[1]):
                out[b, m, l] = x[rows[take[b, l]], m]


@kernel
def scatter_lanes(y, lanes, out):
    """``out[lanes[b, l], m] = y[b, m, l]`` for every lane holding a scenario (``lanes[b, l] >= 0``;
    a padding lane is skipped)."""
    for b in range(lanes.shape[0]):
        for l in range(lanes.shape[1]):
            s = lanes[b, l]
            if s >= 0:
                for m in range(y.shape[1]):
                    out[s, m] = y[b, m, l]
