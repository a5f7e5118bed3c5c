"""Re-projection: the rest of a deal's life from where its ledger says it stands.

After ``k`` recorded periods the pool is the recorded one: each loan's performing balance (its
balance less what is in foreclosure), at its age and remaining term ``k`` months on, and the
recorded foreclosure pipeline (each cohort liquidating ``lag`` months after it entered, at the
severity of that month applied to its balance at default). The deal is the recorded
:class:`~abs_engine.compile.waterfall.DealState`: balances, shortfalls, accounts, trigger states,
cumulative loss, held collections. Under every scenario of a deck at once, the pool's months
``k + 1 ..`` are projected by the collateral kernels and the waterfall runs them from that state
in the one loop (:func:`abs_engine.engine.waterfall.run_waterfall`), as a projection from period
1 does.

Scenarios are in the deal's months: a monthly vector's value ``j`` is for period ``j``, so a
re-projection reads each vector from its value ``k + 1`` (as the servicer's base scenario is
read), and an index path sets each period's coupons as it does in a projection from the start.
Re-projected under the scenario that generated the actuals, a deal gives the original
projection's periods ``k + 1 ..`` (to rounding).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..compile.collateral import compile_collateral
from ..compile.program import Program, compile_deal
from ..compile.waterfall import DealState
from ..engine.collateral import Projection, project_pool
from ..engine.waterfall import WaterfallFlows, projected_pool, realized_coupon, run_waterfall
from ..errors import SpecError
from ..io.loans import LoanArrays
from ..io.scenario_set import ScenarioSet
from ..kernels import collateral as KC
from ..results.tables import RunResult
from ..spec.collateral import AMORTIZATION
from ..vocabulary import KERNEL_COLUMNS
from .actuals import TOLERANCE
from .state import _State

if TYPE_CHECKING:
    from .servicer import Servicer

__all__ = ["reproject", "pool_now", "pipeline_flows"]

POOL = KERNEL_COLUMNS["pool"]


def reproject(servicer: Servicer, scenarios: ScenarioSet, *, scenario_level: bool = True) -> RunResult:
    """Every per-period table of the deal's remaining periods under ``scenarios``, from the
    ledger's latest recorded state (see the module doc); periods are numbered as the deal's."""
    deal = servicer.deal
    current = servicer.ledger.current()
    k = max(current) if current else 0
    prev = servicer._state_after(current, k)
    whole = compile_deal(deal, scenarios)  # the waterfall over the deal's periods, coupons by deal period
    n = whole.n_periods
    if k >= n:
        raise SpecError("period", k, f"a ledger before the deal's last period ({n}): nothing is left to project")
    loans, in_foreclosure = pool_now(servicer, prev)
    if loans is None:
        raise SpecError("period", k, "a pool with performing loans left to project")
    coll = compile_collateral(deal, scenarios, loans=loans, first_month=k + 1, horizon=n - k, vectors_from=k + 1)
    if coll.n_periods != n - k:
        raise SpecError("period", k, f"a pool whose remaining life ends by the deal's last period ({n})")
    if coll.delinquency:
        raise SpecError("roll_rates", "given", "scenarios without roll rates: re-projecting a delinquency pipeline "
                        "from a recorded state (its buckets per loan) is not built yet")
    proj = project_pool(coll)
    flows = proj.flows
    if prev.pipeline:
        sa = coll.scenarios
        flows = flows + pipeline_flows(servicer, prev, sa.lag, sa.advancing, sa.severity_rows[sa.severity_row], k)
    start = (prev.pool_balance - in_foreclosure, in_foreclosure)
    s = len(scenarios)
    padded = np.zeros((s, n, KC.NCOL))
    padded[:, k:] = flows
    pool = projected_pool(Projection(padded), 0.0, 0.0)
    pool["pool_beg"][:, k] = prev.pool_balance
    pool["net_coupon"][:, k] = realized_coupon(flows[:, 0, KC.NET], np.full(s, prev.pool_balance))
    state = DealState(k, *(np.repeat(getattr(prev.deal, f), s, axis=0) for f in DealState.ARRAYS))
    face = _face_now(whole, prev)
    run = run_waterfall(whole.waterfall, pool, state)
    tables = WaterfallFlows({}, s)
    for name in WaterfallFlows.NAMES:
        setattr(tables, name, np.ascontiguousarray(getattr(run, name)[:, k:]))
    program = Program(deal, whole.specs, coll, whole.waterfall)
    return RunResult(program, flows, None, tables, scenario_level=scenario_level, first_period=k + 1, start=start,
                     face=face, loss_before=float(prev.deal.cumulative_loss[0]))


def pool_now(servicer: Servicer, prev: _State) -> tuple[LoanArrays | None, float]:
    """The loans as they stand after ``prev`` (their performing balances, ``k`` months on; ``None``
    when none is left) and the balance in foreclosure. A ledger of pool totals only: the cut-off
    loans scaled to the pool's balance, none in foreclosure known."""
    loans = servicer._loans
    elapsed = prev.period
    in_fc = 0.0
    if prev.loan_id is not None:
        index = loans.position
        fc = np.array([sum(c[2] for c in prev.pipeline.get(x, [])) for x in prev.loan_id])
        in_fc = float(fc.sum())
        performing = prev.balance - fc
        keep = [(j, index[x]) for j, x in enumerate(prev.loan_id) if x in index and performing[j] > TOLERANCE]
        cur = np.array([a for a, _ in keep], dtype=np.int64)
        orig = np.array([b for _, b in keep], dtype=np.int64)
        balance = performing[cur]
    else:
        orig = np.flatnonzero(loans.balance > 0)
        balance = loans.balance[orig] * (prev.pool_balance / loans.original_balance)
    live = loans.maturity[orig] > elapsed
    orig, balance = orig[live], balance[live]
    if not orig.size:
        return None, in_fc
    return LoanArrays(
        loan_id=np.asarray(loans.loan_id, dtype=object)[orig], balance=balance, rate=loans.rate[orig],
        net_rate=loans.net_rate[orig], remaining_term=np.maximum(loans.remaining_term[orig] - elapsed, 1),
        age=loans.age[orig] + elapsed, original_term=loans.original_term[orig],
        amortization=loans.amortization[orig], balloon_month=loans.balloon_month[orig],
        status=np.zeros(orig.size, dtype=np.int8)), in_fc


def pipeline_flows(servicer: Servicer, prev: _State, lag: np.ndarray, advancing: np.ndarray,
                   severity: np.ndarray, k: int) -> np.ndarray:
    """``[scenario, month, column]``: the recorded foreclosure cohorts over the months after ``k``
    (as many as ``severity[scenario, month]`` has), every scenario and cohort at once (``lag`` and
    ``advancing`` per scenario), as the collateral kernel treats defaulted balances: with
    advancing they earn interest and amortize on their loan's schedule until liquidated; without,
    they are frozen and earn nothing. A cohort liquidates in period ``max(entry + lag, 1)`` (by
    its loan's final month at the latest); loss = min(severity x balance at default, balance
    liquidated). The servicer's one-period comparison (``variance``) reads its first month."""
    loans = servicer._loans
    s, n = severity.shape
    out = np.zeros((s, n, KC.NCOL))
    index = loans.position
    cohorts = [(index.get(loan), c) for loan, cs in prev.pipeline.items() for c in cs]
    if not cohorts:
        return out
    j = np.array([-1 if x is None else x for x, _ in cohorts], dtype=np.int64)
    known = j >= 0
    jj = np.where(known, j, 0)
    entry = np.array([c[0] for _, c in cohorts], dtype=np.int64)
    at_default = np.array([c[1] for _, c in cohorts], dtype=np.float64)
    bal = np.tile(np.array([c[2] for _, c in cohorts], dtype=np.float64), (s, 1))  # [scenario, cohort]
    amortizes = np.array([bool(c[3]) for _, c in cohorts])
    final_month = np.where(known, loans.maturity[jj], np.iinfo(np.int64).max)
    gross = np.where(known, loans.rate[jj] / 12.0, 0.0)
    net = np.where(known, loans.net_rate[jj] / 12.0, 0.0)
    due = np.maximum(entry[None, :] + np.asarray(lag, dtype=np.int64)[:, None], 1)  # [scenario, cohort]
    adv = np.asarray(advancing, dtype=bool)[:, None]
    open_ = np.ones_like(bal, dtype=bool)
    for t in range(n):
        m = k + 1 + t
        ratio = np.where(known, _ratios(loans, jj, m), 1.0)  # [cohort]
        earning = open_ & adv
        out[:, t, POOL["gross_interest"]] += (np.where(earning, bal, 0.0) * gross).sum(axis=1)
        out[:, t, POOL["net_interest"]] += (np.where(earning, bal, 0.0) * net).sum(axis=1)
        liquidate = open_ & ((m >= due) | (m >= final_month)[None, :])
        loss = np.minimum(severity[:, t, None] * at_default[None, :], bal)
        out[:, t, POOL["loss"]] += np.where(liquidate, loss, 0.0).sum(axis=1)
        out[:, t, POOL["recovery"]] += np.where(liquidate, bal - loss, 0.0).sum(axis=1)
        open_ &= ~liquidate
        moving = open_ & adv & amortizes[None, :]
        out[:, t, POOL["scheduled_principal"]] += np.where(moving, bal * (1.0 - ratio), 0.0).sum(axis=1)
        bal = np.where(moving, bal * ratio, bal)
        out[:, t, POOL["foreclosure_balance"]] += np.where(open_, bal, 0.0).sum(axis=1)
        if not open_.any():
            break
    return out


def _ratios(loans: LoanArrays, j: np.ndarray, month: int) -> np.ndarray:
    """``S(month) / S(month - 1)`` of cut-off loans ``j`` (:func:`~.actuals._schedule_ratio` for
    many loans at once)."""
    io = loans.amortization[j] == AMORTIZATION.index("interest_only")
    straight = loans.amortization[j] == AMORTIZATION.index("straight_line")
    n = (loans.remaining_term[j] - month).astype(np.float64)
    r = loans.rate[j] / 12.0
    with np.errstate(divide="ignore", invalid="ignore"):
        lv = np.log(1.0 / (1.0 + r))
        level = -np.expm1(n * lv) / -np.expm1((n + 1) * lv)
        even = n / (n + 1.0)
    out = np.where((r == 0.0) | straight, even, level)
    out = np.where(io, 1.0, out)
    return np.where(month >= loans.maturity[j], 0.0, out)


def _face_now(program: Program, prev: _State) -> np.ndarray:
    """Each note's face as the re-projection starts: its balance; an interest-only class, its
    notional class's balance (or the pool's)."""
    notes = program.deal.notes
    balance = prev.deal.balance[0]
    names = {t.name: k for k, t in enumerate(notes)}
    return np.array([balance[k] if t.notional is None else prev.pool_balance if t.notional.pool
                     else balance[names[t.notional.tranche]] for k, t in enumerate(notes)], dtype=np.float64)
