"""Planned amortization: a PAC's schedule from its collar (:func:`pac_schedule`), and the range of
constant speeds at which a deal's planned classes stay on schedule (:func:`effective_collar`).
CONVENTIONS R2.4."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..compile.schedules import pool_at_psa, schedule_groups
from ..errors import SpecError
from ..io.loading import DealSource, load_deal
from ..spec import Deal
from ..spec.structure import PsaCollar
from .run import run

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["pac_schedule", "effective_collar"]

def _pool_deal(pool: DealSource | dict) -> Deal:
    """A deal, or a bare collateral mapping (``{"rep_lines": ...}`` or ``{"loan_tape": ...}``)."""
    if isinstance(pool, dict) and "collateral" not in pool and ("rep_lines" in pool or "loan_tape" in pool):
        pool = {"name": "pool", "collateral": pool}
    return load_deal(pool)


def pac_schedule(pool: DealSource | dict, low: float, high: float) -> pd.DataFrame:
    """The PAC schedule of a pool for the PSA collar ``low``-``high`` (CONVENTIONS R2.4.1-2).

    The pool is projected at each speed with no defaults; each month's scheduled principal is
    the smaller of the two speeds' principal (scheduled + prepaid), and the planned balance is
    the PAC's original balance (the schedule's total, ``attrs["original_balance"]``) less the
    scheduled principal so far. The support class holds the rest of the pool.

    Parameters
    ----------
    pool
        A deal (path, dict or :class:`~abs_engine.Deal`) or its ``collateral`` mapping.
    low, high
        The collar's PSA speeds (percent), ``low < high``.

    Returns
    -------
    DataFrame indexed by ``period``: ``principal_low``, ``principal_high``,
    ``scheduled_principal``, ``planned_balance``.

    Examples
    --------
    >>> import abs_engine as ae
    >>> s = ae.pac_schedule("tranches/agency_30y.yaml", 100, 300)
    >>> round(s.attrs["original_balance"]) == round(s["scheduled_principal"].sum())
    True
    >>> float(s["planned_balance"].iloc[-1])
    0.0
    """
    import pandas as pd  # deferred: a projection without tables never imports pandas

    collar = PsaCollar(low=low, high=high)
    deal = _pool_deal(pool)
    at = pool_at_psa(deal, (collar.low, collar.high))
    scheduled = np.minimum(at.principal[0], at.principal[1])
    so_far = np.cumsum(scheduled)
    total = float(so_far[-1])  # (the same sum as the planned balances', so the last one is exactly 0)
    frame = pd.DataFrame({"principal_low": at.principal[0], "principal_high": at.principal[1],
                          "scheduled_principal": scheduled,
                          "planned_balance": np.maximum(total - so_far, 0.0)},
                         index=pd.RangeIndex(1, scheduled.size + 1, name="period"))
    frame.attrs["original_balance"] = total
    return frame


def effective_collar(deal: DealSource, schedule: str | None = None, *, upper: float = 2000.0,
                     tol: float = 0.05) -> tuple[float, float]:
    """The range of constant PSA speeds (no defaults) at which the classes a deal pays down to a
    planned schedule stay on it every period (within 1e-6, CONVENTIONS R2.4.5 and R2.4.7).

    A grid of speeds from 0 to ``upper`` finds the run of speeds on schedule that holds the most
    of them; each end is then bisected to ``tol`` (PSA points). A PAC's effective collar holds
    its collar; an end at 0 or ``upper`` means the search found no limit there.

    Parameters
    ----------
    deal
        The deal (path, dict or :class:`~abs_engine.Deal`).
    schedule
        The schedule's name (default: the deal's only one).

    Examples
    --------
    >>> import abs_engine as ae
    >>> lo, hi = ae.effective_collar("tranches/agency_cmo.yaml", "pac")
    >>> lo <= 100 and hi >= 300
    True
    """
    d = load_deal(deal)
    groups = schedule_groups(d)
    names = sorted({name for _k, name, _c in groups})
    if schedule is None:
        if len(names) != 1:
            raise SpecError("schedule", None, f"the name of one of the deal's planned schedules ({names})")
        schedule = names[0]
    if schedule not in names:
        raise SpecError("schedule", schedule, f"a schedule a principal step pays down to (known: {names})")
    at = next(j for j, (_k, name, _c) in enumerate(groups) if name == schedule)

    def on(speeds: np.ndarray) -> np.ndarray:
        res = run(d, [{"name": f"psa={float(s)!r}", "prepay": {"psa": float(s)}} for s in speeds], progress=False)
        return res.planned_arrays()["on_schedule"][:, :, at].all(axis=1)

    grid = np.linspace(0.0, upper, 81)
    ok = on(grid)
    if not ok.any():
        return (float("nan"), float("nan"))
    best, start, run_len = (0, 0), None, 0  # the longest run of speeds on schedule
    for j, x in enumerate(np.append(ok, False)):
        if x and start is None:
            start = j
        elif not x and start is not None:
            if j - start > run_len:
                best, run_len = (start, j - 1), j - start
            start = None

    def edge(inside: float, outside: float) -> float:
        while abs(outside - inside) > tol:
            mid = 0.5 * (inside + outside)
            if on(np.array([mid]))[0]:
                inside = mid
            else:
                outside = mid
        return inside

    lo = grid[best[0]] if best[0] == 0 else edge(grid[best[0]], grid[best[0] - 1])
    hi = grid[best[1]] if best[1] == grid.size - 1 else edge(grid[best[1]], grid[best[1] + 1])
    return float(lo), float(hi)
