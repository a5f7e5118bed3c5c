"""Planned balances and lockouts (CONVENTIONS R2.4), compiled into per-period kernel parameters.

A principal step that names a planned schedule (``down_to``) pays its classes only down to the
schedule's planned balance for the period; :func:`planned_floors` gives that balance per period
and step (0 for a step without one, so such a step pays its whole group). A class with a lockout
is locked out of principal before its lockout period; :func:`lockouts` gives the 0/1 table.

The schedules of PAC and TAC classes are computed from the deal's pool at cut-off, projected at
constant PSA speeds with no defaults by the collateral kernels (the same month as every
projection): :func:`pool_at_psa`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import SpecError
from ..io.loans import LoanArrays, deal_loans
from ..kernels import collateral as K
from ..kernels import curves
from ..spec import Deal, Scenario
from ..spec.structure import PlannedSchedule, PrincipalStep
from .collateral import compile_collateral

__all__ = ["PoolAtSpeeds", "pool_at_psa", "planned_balance", "planned_floors", "lockouts", "schedule_groups"]


@dataclass(frozen=True, eq=False)
class PoolAtSpeeds:
    """The pool projected at constant PSA ``speeds`` with no defaults: ``principal[speed,
    month]`` (scheduled principal + prepayments, CONVENTIONS R2.4.1) and ``balance[speed, month]``
    (the performing balance after each month); ``start``: the performing balance at cut-off."""

    speeds: tuple[float, ...]
    principal: np.ndarray
    balance: np.ndarray
    start: float


def pool_at_psa(deal: Deal, speeds: Sequence[float], loans: LoanArrays | None = None) -> PoolAtSpeeds:
    """The deal's pool (or ``loans``) at each constant PSA speed (percent), no defaults, over the
    pool's life: the round-1 collateral month of every projection, for the loans performing at
    cut-off."""
    scenarios = [Scenario(prepay={"psa": float(s)}) for s in speeds]
    c = compile_collateral(deal, scenarios, deal_loans(deal) if loans is None else loans)
    s = c.scenarios
    smm, mdr = curves.rate_tables(s.prepay_kind, s.prepay_rows, s.default_kind, s.default_rows, c.ages, c.per_year)
    flows = K.project_blocks(c.balance, c.gross_m, c.net_m, c.amort_n, c.amort_kind, c.mat, c.cls,
                             c.chunk_bounds, smm[s.prepay_row], mdr[s.default_row], s.severity, s.lag,
                             s.advancing, c.n_periods).sum(axis=1)
    return PoolAtSpeeds(tuple(float(x) for x in speeds), flows[:, :, K.SCHED] + flows[:, :, K.PREPAY],
                        flows[:, :, K.PERF], float(c.balance.sum()))


def planned_balance(deal: Deal, schedule: PlannedSchedule, original: float, n: int, *, where: str = "schedule",
                    pool: PoolAtSpeeds | None = None) -> np.ndarray:
    """The planned balance after each of ``n`` periods of classes whose original balance is
    ``original`` (CONVENTIONS R2.4.2-3):

    * PAC: ``original - sum of min(P_t(low), P_t(high))`` so far, floored at 0; ``original`` may
      not exceed the schedule's total (R2.4.2 sets it equal: :func:`abs_engine.pac_schedule` gives
      the total);
    * TAC: ``original x B_t(s) / B_0``;
    * given balances: as listed, the last carried forward.

    ``pool``: the pool at the schedule's speeds (default: projected here)."""
    out = np.zeros(n)
    if schedule.balances is not None:
        values = np.asarray(schedule.balances, dtype=np.float64)
        if values.size > n:
            raise SpecError(f"{where}.balances", f"{values.size} balances",
                            f"at most one planned balance per period of the pool ({n})", file=deal._file)
        m = values.size
        out[:m] = values
        out[m:] = values[-1]
        return out
    if schedule.pac is not None:
        pool = pool or pool_at_psa(deal, (schedule.pac.low, schedule.pac.high))
        so_far = np.cumsum(np.minimum(pool.principal[0], pool.principal[1]))
        total = float(so_far[-1])
        if original > total * (1.0 + 1e-12) + 1e-6:
            raise SpecError(f"{where}.pac", {"low": schedule.pac.low, "high": schedule.pac.high},
                            f"a collar whose scheduled principal ({total:,.2f}) covers the planned classes' "
                            f"original balance ({original:,.2f})", file=deal._file)
        planned = np.maximum(original - so_far, 0.0)
    else:
        pool = pool or pool_at_psa(deal, (schedule.tac,))
        planned = original * pool.balance[0] / pool.start if pool.start > 0.0 else np.zeros(pool.balance.shape[1])
    k = min(n, planned.size)
    out[:k] = planned[:k]
    return out


def schedule_groups(deal: Deal) -> list[tuple[int, str, tuple[str, ...]]]:
    """``(step index, schedule name, classes)`` of every principal step that pays down to a
    planned schedule, in waterfall order."""
    return [(k, step.down_to, tuple(step.tranches)) for k, (_path, step) in enumerate(deal.steps_with_paths())
            if isinstance(step, PrincipalStep) and step.down_to is not None]


def planned_floors(deal: Deal, n: int) -> np.ndarray:
    """``[period, step]``: the planned balance a step pays its classes down to (0: no schedule).
    Each schedule's projection is made once per deal."""
    steps = deal.steps_with_paths()
    out = np.zeros((n, len(steps)))
    groups = schedule_groups(deal)
    if not groups:
        return out
    balance = {t.name: t.balance for t in deal.tranches}
    cache = deal._planned
    for k, name, classes in groups:
        original = sum(balance[c] for c in classes)
        key = (name, original, n)
        if key not in cache:
            cache[key] = planned_balance(deal, deal.schedules[name], original, n, where=f"schedules.{name}")
        out[:, k] = cache[key]
    return out


def lockouts(deal: Deal, n: int) -> np.ndarray:
    """``[period, note]``: 1.0 in the periods a class is locked out of principal (before its
    ``lockout`` period), else 0.0."""
    notes = deal.notes
    out = np.zeros((n, len(notes)))
    for j, t in enumerate(notes):
        if t.lockout is not None:
            out[: min(t.lockout - 1, n), j] = 1.0
    return out
