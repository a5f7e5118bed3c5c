"""Compile a deal's capital structure and waterfall into the step table and arrays of
:mod:`abs_engine.kernels.waterfall`: the structure (the same in every scenario) and each
scenario's coupons, delinquency and call election, plus the deal's initial :class:`DealState`.

Every name, reference and order check happens in the spec or here; the kernel sees integers
and floats only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..dates import schedule, year_fraction
from ..io.scenario_set import ScenarioSet
from ..kernels import ops as KO
from ..kernels import state as KST
from ..kernels import waterfall as KW
from ..spec import Deal, Scenario
from ..spec.structure import (
    AccretionStep,
    FacilityStep,
    FeeStep,
    FloatingCoupon,
    HedgeNotional,
    HedgeStep,
    InterestStep,
    PrincipalStep,
    ReserveStep,
    ReserveTarget,
    TransferStep,
)
from .collateral import index_rows, per_scenario, vector_rows
from .layout import constant_from
from .schedules import lockouts, planned_floors
from .triggers import thresholds

__all__ = ["WaterfallProgram", "DealState", "compile_waterfall", "initial_state", "day_count_fractions", "face_values",
           "instruments"]

_OPS = {"fees": KW.OP_FEES, "interest": KW.OP_INTEREST, "principal": KW.OP_PRINCIPAL,
        "reserve": KW.OP_RESERVE, "residual": KW.OP_RESIDUAL, "accretion": KW.OP_ACCRETION,
        "hedge": KW.OP_HEDGE, "facility_interest": KW.OP_FAC_INTEREST, "facility_repayment": KW.OP_FAC_REPAY,
        "transfer": KW.OP_TRANSFER}
_AMOUNTS = {"collections": KW.AMOUNT_COLLECTIONS, "oc_target": KW.AMOUNT_OC_TARGET,
            "available": KW.AMOUNT_AVAILABLE, "accretion": KW.AMOUNT_ACCRETION}
_METRICS = {"cumulative_loss": 0, "overcollateralization": 1, "delinquency_60": 2, "interest_coverage": 3}
_WRITEDOWN = {"pool_balance": 0, "pool_balance_plus_accounts": 1, "none": 2}  # kernels.state.WD_*
_BASIS = {"pool_balance": KO.BASIS_POOL, "original_pool_balance": KO.BASIS_ORIGINAL, "note_balance": KO.BASIS_NOTES}


def _accrual_starts(deal: Deal, n: int) -> list:
    """The first day of each period's accrual: the closing date (or one month before the first
    payment) for period 1, then the previous payment date; ``n + 1`` dates, the last one the end
    of period ``n``."""
    if deal.closing_date is None:
        return schedule(deal, range(-1, n))
    return [deal.closing_date, *schedule(deal, range(n))]


def day_count_fractions(deal: Deal, n: int, accruals: Mapping[int, tuple] | None = None,
                        items: Sequence | None = None) -> np.ndarray:
    """``[period, note]`` (or ``[period, item]`` of ``items``, anything with a ``day_count``): on a
    dated deal (one with a ``first_payment_date``), each accrual period's year fraction by the
    item's day count (:func:`abs_engine.dates.year_fraction`, CONVENTIONS R2.1.3-4) from the
    closing date (or one payment before the first) to each payment date; on an undated one
    ``step/12`` (30/360, the only day count it may have). With payments every ``step`` months
    (R2.2) the fraction of month ``i`` is that of the payment accrual ending on its date: only a
    payment month's is used. ``accruals`` ``{period index: (start, end)}`` replaces the
    schedule's dates of those periods (actual payment dates)."""
    notes = deal.notes if items is None else items
    step = deal.payment_step
    out = np.full((n, len(notes)), step / 12.0)
    if deal.first_payment_date is None or not len(notes):
        return out
    dates = _accrual_starts(deal, n)
    # a payment's accrual runs from the previous payment date (R2.2.4): ``step`` months back
    periods = [(dates[max(i + 1 - step, 0)], dates[i + 1]) for i in range(n)]
    for i, (start, end) in (accruals or {}).items():
        if i < n and start is not None:
            periods[i] = (start, end)
    for basis in sorted({t.day_count for t in notes}):
        cols = [k for k, t in enumerate(notes) if t.day_count == basis]
        out[:, cols] = np.array([year_fraction(a, b, basis) for a, b in periods])[:, None]
    return out


def face_values(deal: Deal, orig_pool: float) -> np.ndarray:
    """Each note's face for analytics (prices per 100 of it, CONVENTIONS R2.6.4): its original
    balance, or an interest-only class's initial notional (its notional class's original balance,
    or the original pool balance)."""
    balance = {t.name: t.balance for t in deal.notes}
    return np.array([t.balance if t.notional is None else orig_pool if t.notional.pool
                     else balance[t.notional.tranche] for t in deal.notes], dtype=np.float64)


def _step_up_period(deal: Deal, note: int, n: int) -> int:
    """The 1-based period from which a note's step-up applies (``n + 1``: not within the deal):
    ``from_period``, or the first period whose accrual starts on or after ``from_date``."""
    up = deal.notes[note].step_up
    if up.from_period is not None:
        return up.from_period
    starts = _accrual_starts(deal, n)[:-1]
    return next((t + 1 for t, start in enumerate(starts) if start >= up.from_date), n + 1)


@dataclass(frozen=True, eq=False)
class WaterfallProgram:
    """The compiled structure: step table, parameters, and per-scenario coupons."""

    note_names: tuple[str, ...]
    residual: str | None
    fee_names: tuple[str, ...]
    account_names: tuple[str, ...]
    trigger_names: tuple[str, ...]
    n_periods: int
    n_scenarios: int
    orig_pool: float
    arrays: dict = field(repr=False)        # kernel arguments by name
    instrument_names: tuple[str, ...] = ()  # the hedges', then the facilities' (CONVENTIONS R2.8)
    n_hedges: int = 0
    payment_step: int = 1                   # months between payments (CONVENTIONS R2.2)

    STRUCTURE = ("dcf", "ios", "fee_rate", "fee_amount", "fee_basis", "acct_fixed", "acct_amount", "acct_pct",
                 "acct_basis", "acct_floor", "acct_keep", "trig_metric", "trig_below", "trig_curable",
                 "trig_threshold", "op", "arg", "mem_ptr", "members", "cov_ptr", "cov_acct", "wd_order",
                 "oc_params", "call_pct", "call_open", "call_trigger", "orig_pool", "wd_accounts", "principal_phase",
                 "floor", "locked", "ad_of", "is_z", "io_ref", "strike",
                 "step_acc", "senior", "eod_trig", "eod_oc", "hx_kind", "hx_ref", "hx_notional", "hx_rate", "hx_dcf",
                 "step_when", "step_unless", "mem_group")

    def structure(self) -> tuple:
        """The kernel arguments that describe the structure (the same for every scenario), in the
        order :func:`abs_engine.kernels.deal.run_blocks` takes them."""
        return tuple(self.arrays[k] for k in self.STRUCTURE)


@dataclass(eq=False)
class DealState:
    """Everything the waterfall carries between periods, ``[scenario, item]``; saveable."""

    period: int                      # periods already run
    balance: np.ndarray              # note balances
    shortfall: np.ndarray            # unpaid interest carried forward
    fee_arrears: np.ndarray
    accounts: np.ndarray
    breached: np.ndarray             # trigger states (0/1)
    cumulative_loss: np.ndarray      # [scenario]
    called: np.ndarray               # [scenario] 0/1
    accelerated: np.ndarray          # [scenario] 0/1: the post-acceleration priority applies (CONVENTIONS R2.7)
    instrument_unpaid: np.ndarray    # [scenario, instrument]: a swap's unpaid net payment, a facility's unpaid interest
    facility_balance: np.ndarray     # [scenario, instrument]: a facility's drawn balance (0 for a hedge)
    collections_held: np.ndarray     # [scenario, HELD_*]: a collection period's sums before its payment (R2.2)

    ARRAYS = ("balance", "shortfall", "fee_arrears", "accounts", "breached", "cumulative_loss", "called",
              "accelerated", "instrument_unpaid", "facility_balance", "collections_held")
    """The state's arrays; the instruments are the deal's hedges, then its facilities."""

    def save(self, path) -> None:
        """Write the state to an ``.npz`` file (every array, exactly)."""
        np.savez(path, period=self.period, **{f: getattr(self, f) for f in self.ARRAYS})

    @classmethod
    def load(cls, path) -> DealState:
        with np.load(path) as z:
            return cls.of(int(z["period"]), {f: z[f] for f in cls.ARRAYS if f in z})

    @classmethod
    def of(cls, period: int, arrays: dict) -> DealState:
        """A state from its arrays by name; one saved before an array existed gets that array's
        "never" value: not accelerated, no instrument (a deal could have none then)."""
        n = len(np.asarray(arrays["called"]))
        missing = {"accelerated": (n,), "instrument_unpaid": (n, 0), "facility_balance": (n, 0),
                   "collections_held": (n, KST.HELD_COLS)}
        return cls(period, *(np.array(arrays[f], dtype=np.float64) if f in arrays else np.zeros(missing[f])
                             for f in cls.ARRAYS))


def initial_state(deal: Deal, n_scen: int) -> DealState:
    notes = deal.notes
    return DealState(
        period=0,
        balance=np.tile([t.balance for t in notes], (n_scen, 1)).astype(np.float64).reshape(n_scen, len(notes)),
        shortfall=np.zeros((n_scen, len(notes))),
        fee_arrears=np.zeros((n_scen, len(deal.fees))),
        accounts=np.tile([a.initial for a in deal.accounts], (n_scen, 1)).astype(np.float64).reshape(
            n_scen, len(deal.accounts)),
        breached=np.zeros((n_scen, len(deal.triggers))),
        cumulative_loss=np.zeros(n_scen),
        called=np.zeros(n_scen),
        accelerated=np.zeros(n_scen),
        instrument_unpaid=np.zeros((n_scen, len(instruments(deal)))),
        facility_balance=np.zeros((n_scen, len(instruments(deal)))),
        collections_held=np.zeros((n_scen, KST.HELD_COLS)),
    )


def instruments(deal: Deal) -> tuple:
    """The deal's hedges, then its facilities: the kernels' instruments, in this order."""
    return (*deal.hedges, *deal.facilities)


def _coupons(deal: Deal, scenarios: ScenarioSet, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``([row, period, column], [scenario])``: one row per distinct value of the scenarios'
    ``rates`` (or per drawn path), and each scenario's row. Columns: each note's annual coupon
    rate, then each instrument's rate (:func:`instruments`): a hedge's index (as it is), a
    facility's index + margin, floored at 0."""
    notes = deal.notes
    stepped = {k: _step_up_period(deal, k, n) for k, t in enumerate(notes) if t.step_up is not None}
    rates, which = scenarios.values["rates"], scenarios.rows["rates"]
    table = np.zeros((len(rates), n, len(notes) + len(instruments(deal))))
    for k, t in enumerate(notes):
        c = t.coupon
        if not isinstance(c, FloatingCoupon):
            table[:, :, k] = c
            continue
        index = index_rows(deal, scenarios, n, c.index, f"tranches[{deal.tranches.index(t)}].coupon.index")
        table[:, :, k] = np.clip(index + c.spread, c.floor if c.floor is not None else 0.0,
                                 c.cap if c.cap is not None else np.inf)
    for k in stepped:  # the step-up, on top of the coupon formula (CONVENTIONS R2.7.1)
        table[:, stepped[k] - 1:, k] += notes[k].step_up.by
    for h, x in enumerate(deal.hedges):
        table[:, :, len(notes) + h] = index_rows(deal, scenarios, n, x.index, f"hedges[{h}].index")
    for f, x in enumerate(deal.facilities):
        index = 0.0 if x.index is None else index_rows(deal, scenarios, n, x.index, f"facilities[{f}].index")
        table[:, :, len(notes) + len(deal.hedges) + f] = np.maximum(index + x.margin, 0.0)
    step = deal.payment_step
    if step > 1:  # a payment's rates are set at the start of its period: its first month's (R2.2)
        first = np.arange(n) // step * step
        table = np.ascontiguousarray(table[:, first, :])
    return table, which


def _call_terms(deal: Deal, n: int, trig_ix: dict[str, int]) -> dict:
    """The call's terms for the kernels: ``call_pct`` (the clean-up percentage; -1: none),
    ``call_open[period]`` (1.0 from the first period whose payment date is on or after the call's
    date) and ``call_trigger`` (the trigger whose breach opens it; -1: none)."""
    call = deal.clean_up_call
    opened = np.zeros(n)
    if call is not None and call.date is not None:
        first = next((t for t, d in enumerate(schedule(deal, range(n))) if d >= call.date), n)
        opened[first:] = 1.0
    return {"call_pct": -1.0 if call is None or call.pct is None else call.pct, "call_open": opened,
            "call_trigger": -1 if call is None or call.when is None else trig_ix[call.when]}


def _instrument_terms(deal: Deal, n: int, accruals: Mapping[int, tuple] | None = None) -> dict[str, np.ndarray]:
    """The kernels' instrument arrays: ``hx_kind`` (HX_SWAP, HX_CAP, HX_FACILITY), ``hx_ref`` (the
    note whose beginning balance is a hedge's notional; -1: given amounts), and per period
    ``hx_notional`` (a hedge's given notional, a facility's commitment) and ``hx_rate`` (a swap's
    fixed rate, a cap's strike)."""
    note_ix = {t.name: k for k, t in enumerate(deal.notes)}
    items = instruments(deal)
    kind = np.array([KST.HX_FACILITY if i >= len(deal.hedges) else KST.HX_SWAP if x.type == "swap"
                     else KST.HX_CAP for i, x in enumerate(items)], dtype=np.int64)
    ref = np.full(len(items), -1, dtype=np.int64)
    notional = np.zeros((n, len(items)))
    rate = np.zeros((n, len(items)))
    for i, x in enumerate(items):
        if i >= len(deal.hedges):
            notional[:, i] = x.commitment
            continue
        rate[:, i] = x.fixed if x.type == "swap" else x.strike
        if isinstance(x.notional, HedgeNotional):
            ref[i] = note_ix[x.notional.tranche]
        elif isinstance(x.notional, tuple):  # period by period, then 0: the hedge has ended
            given = np.asarray(x.notional[:n], dtype=np.float64)
            notional[:given.size, i] = given
        else:
            notional[:, i] = x.notional
    return {"hx_kind": kind, "hx_ref": ref, "hx_notional": notional, "hx_rate": rate,
            "hx_dcf": day_count_fractions(deal, n, accruals, items)}


def _fee_amounts(deal: Deal, n: int) -> np.ndarray:
    """``[period, fee]``: each fee's fixed or scheduled amount for the period (scheduled periods
    after the deal's last are never reached)."""
    out = np.zeros((n, len(deal.fees)))
    for f, fee in enumerate(deal.fees):
        out[:, f] = fee.amount or 0.0
        for period, amount in (fee.schedule or {}).items():
            if period <= n:
                out[period - 1, f] = amount
    return out


def compile_waterfall(deal: Deal, scenarios: Sequence[Scenario], n_periods: int, orig_pool: float, *,
                      accruals: Mapping[int, tuple] | None = None) -> WaterfallProgram:
    """Compile the deal's structure for ``scenarios`` over ``n_periods`` (``accruals``: see
    :func:`day_count_fractions`)."""
    notes = deal.notes
    note_ix = {t.name: k for k, t in enumerate(notes)}
    fee_ix = {f.name: k for k, f in enumerate(deal.fees)}
    acct_ix = {a.name: k for k, a in enumerate(deal.accounts)}
    trig_ix = {t.name: k for k, t in enumerate(deal.triggers)}
    hx_ix = {x.name: k for k, x in enumerate(instruments(deal))}
    prio = {t.name: t.priority for t in notes}

    steps = deal.steps_with_paths()
    principal_phase = -1
    if not isinstance(deal.waterfall, tuple):
        principal_phase = len(deal.waterfall.interest)
    op = np.zeros(len(steps), dtype=np.int64)
    arg = np.full((len(steps), 4), -1, dtype=np.int64)
    mem_ptr = [0]
    members: list[int] = []
    mem_group: list[int] = []  # per member: its bond group in its step (0 without groups)
    cov_ptr = [0]
    cov_acct: list[int] = []
    for k, (_path, step) in enumerate(steps):
        op[k] = _OPS[step.pay]
        if isinstance(step, FeeStep):
            members += [fee_ix[n] for n in step.fees]
        elif isinstance(step, InterestStep):
            members += [note_ix[n] for n in step.tranches]
        elif isinstance(step, PrincipalStep):
            groups = step.groups or (step.tranches,)
            for g, names in enumerate(groups):  # each group by priority; stable: ties keep listed order
                ordered = sorted(names, key=lambda n: prio[n])
                members += [note_ix[n] for n in ordered]
                mem_group += [g] * len(ordered)
            arg[k] = (_AMOUNTS[step.amount], 0 if step.allocation == "sequential" else 1,
                      trig_ix[step.sequential_if] if step.sequential_if else -1,
                      -1 if step.groups is None else 0 if step.within == "sequential" else 1)
        elif isinstance(step, HedgeStep | FacilityStep):  # the instrument is the step's one member
            members.append(hx_ix[step.hedge if isinstance(step, HedgeStep) else step.facility])
        elif isinstance(step, ReserveStep):
            arg[k, 0] = acct_ix[step.account]
        elif isinstance(step, TransferStep):
            arg[k, :3] = (acct_ix[step.from_account], acct_ix[step.to_account], int(step.amount == "all"))
        elif isinstance(step, AccretionStep):  # (Z class, 1: the cash is available at once)
            arg[k, :2] = (note_ix[step.tranche], int(isinstance(deal.waterfall, tuple) or k >= principal_phase))
        mem_group += [0] * (len(members) - len(mem_group))
        mem_ptr.append(len(members))
        if step.id is not None:  # the accounts that cover the step, then the facilities drawn for it
            cov_acct += [a for a, acct in enumerate(deal.accounts) if step.id in acct.covers]
            cov_acct += [len(deal.accounts) + hx_ix[f.name] for f in deal.facilities if step.id in f.covers]
        cov_ptr.append(len(cov_acct))

    wd_order = sorted(range(len(notes)), key=lambda k: (-notes[k].priority, -k))

    oc = deal.overcollateralization
    oc_params = np.array([0.0, 1.0, 0.0, -1.0, 0.0, -1.0])
    if oc is not None:
        sd = oc.step_down
        oc_params = np.array([oc.pct, _BASIS[oc.basis], oc.floor,
                              sd.period - 1 if sd else -1, sd.pct if sd else 0.0,
                              trig_ix[sd.unless] if sd and sd.unless else -1], dtype=np.float64)

    def target(a):
        t = a.target
        if isinstance(t, ReserveTarget):
            return False, 0.0, t.pct, _BASIS[t.basis], t.floor
        return True, float(t), 0.0, 0, 0.0

    targets = [target(a) for a in deal.accounts]
    col = list(zip(*targets, strict=True)) if targets else [()] * 5
    scenarios = ScenarioSet.of(scenarios)
    coupon_rows, coupon_row = _coupons(deal, scenarios, n_periods)
    delinq_rows = vector_rows(scenarios.values["delinquency_60"], n_periods)
    arrays = dict(
        exercise=per_scenario(scenarios, "exercise_call", np.float64),
        delinq_rows=delinq_rows, delinq_from=constant_from(delinq_rows),
        delinq_row=scenarios.rows["delinquency_60"],
        coupon_rows=coupon_rows, coupon_row=coupon_row,
        coupon_from=constant_from(coupon_rows),
        dcf=day_count_fractions(deal, n_periods, accruals),
        ios=np.array([float(t.interest_on_shortfall) for t in notes]),
        # a rate accrues over the payment's months; a share of interest applies to the collections as summed
        fee_rate=np.array([f.rate * deal.payment_step if f.rate is not None else (f.interest_share or 0.0)
                           for f in deal.fees]),
        fee_amount=_fee_amounts(deal, n_periods),
        fee_basis=np.array([KO.BASIS_INTEREST if f.interest_share is not None else _BASIS[f.basis]
                            for f in deal.fees], dtype=np.int64),
        acct_fixed=np.array(col[0], dtype=np.bool_),
        acct_amount=np.array(col[1], dtype=np.float64),
        acct_pct=np.array(col[2], dtype=np.float64),
        acct_basis=np.array(col[3], dtype=np.int64),
        acct_floor=np.array(col[4], dtype=np.float64),
        acct_keep=np.array([int(a.keep_after_notes_paid) for a in deal.accounts], dtype=np.int64),
        trig_metric=np.array([_METRICS[t.metric] for t in deal.triggers], dtype=np.int64),
        trig_below=np.array([t.direction == "below" for t in deal.triggers], dtype=np.bool_),
        trig_curable=np.array([int(t.curable) for t in deal.triggers], dtype=np.int64),
        trig_threshold=thresholds(deal, n_periods),
        op=op, arg=arg, mem_ptr=np.array(mem_ptr, dtype=np.int64), members=np.array(members, dtype=np.int64),
        cov_ptr=np.array(cov_ptr, dtype=np.int64), cov_acct=np.array(cov_acct, dtype=np.int64),
        wd_order=np.array(wd_order, dtype=np.int64),
        oc_params=oc_params,
        **_call_terms(deal, n_periods, trig_ix),
        step_when=np.array([trig_ix[s.when] if s.when else -1 for _p, s in steps], dtype=np.int64),
        step_unless=np.array([trig_ix[s.unless] if s.unless else -1 for _p, s in steps], dtype=np.int64),
        mem_group=np.array(mem_group, dtype=np.int64),
        orig_pool=float(orig_pool),
        wd_accounts=_WRITEDOWN[deal.writedown_to],
        principal_phase=principal_phase,
        floor=planned_floors(deal, n_periods),
        locked=lockouts(deal, n_periods),
        ad_of=np.array([next((z for z, x in enumerate(notes) if x.accrual and t.name in x.accrual.directed_to), -1)
                        for t in notes], dtype=np.int64),
        is_z=np.array([int(t.accrual is not None) for t in notes], dtype=np.int64),
        step_acc=(np.arange(len(steps)) >= deal.n_normal_steps).astype(np.int64),  # (n_normal_steps: once)
        senior=np.array([int(deal.acceleration is not None and deal.acceleration.events.senior_interest_shortfall
                             and t.priority == min(x.priority for x in notes)) for t in notes], dtype=np.int64),
        eod_trig=np.array([int(deal.acceleration is not None and g.name in deal.acceleration.events.triggers)
                           for g in deal.triggers], dtype=np.int64),
        eod_oc=float(deal.acceleration.events.oc_below or 0.0) if deal.acceleration is not None else 0.0,
        io_ref=np.array([-2 if t.notional is None else -1 if t.notional.pool else note_ix[t.notional.tranche]
                         for t in notes], dtype=np.int64),
        strike=np.array([-1.0 if t.strike is None else t.strike for t in notes]),
        face=face_values(deal, orig_pool),
        **_instrument_terms(deal, n_periods, accruals),
        # collateral groups (CONVENTIONS R2.12): each note's group (-1: subordinate), the notes by seniority
        note_group=np.array([[g.name for g in deal.collateral.groups].index(t.group) if t.group is not None else -1
                             for t in notes] if deal.collateral.groups else [-1] * len(notes), dtype=np.int64),
        seniority=np.array(sorted(range(len(notes)), key=lambda k: (notes[k].priority, k)), dtype=np.int64),
    )
    residual = next((t.name for t in deal.tranches if t.residual), None)
    return WaterfallProgram(tuple(note_ix), residual, tuple(fee_ix), tuple(acct_ix), tuple(trig_ix),
                            n_periods, len(scenarios), float(orig_pool), arrays, tuple(hx_ix), len(deal.hedges),
                            deal.payment_step)
