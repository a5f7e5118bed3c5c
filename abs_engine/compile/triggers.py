"""Trigger thresholds per period, for the waterfall's tests and the pool's own (a reinvestment
period ended by a trigger, CONVENTIONS R2.10)."""

from __future__ import annotations

import numpy as np

from ..errors import SpecError
from ..spec import Deal

__all__ = ["thresholds"]


def thresholds(deal: Deal, n: int) -> np.ndarray:
    """``[period, trigger]``: each trigger's threshold in each of ``n`` periods (a number, a step
    schedule ``{period: value}`` from that period on, its first value before it, or one value
    per period)."""
    out = np.zeros((n, len(deal.triggers)))
    for g, trig in enumerate(deal.triggers):
        th = trig.threshold
        if isinstance(th, dict):
            col = np.full(n, np.nan)
            for period, value in sorted(th.items()):
                if period <= n:
                    col[period - 1:] = value
            first = min(th)
            if first > 1:
                col[: first - 1] = th[first]  # before the first scheduled period: its value
        elif isinstance(th, tuple):
            if len(th) != n:
                raise SpecError(f"triggers[{g}].threshold", f"{len(th)} values",
                                f"one value per period of the deal ({n})", file=deal._file)
            col = np.asarray(th, dtype=np.float64)
        else:
            col = np.full(n, float(th))
        out[:, g] = col
    return out
