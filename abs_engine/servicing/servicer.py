"""Servicing: distribute each real period from the servicer's collections, with the deal's compiled
waterfall, from the state the ledger recorded for the period before.

>>> import abs_engine as ae, tempfile, os
>>> deal = {"name": "d", "first_payment_date": "2026-01-15", "collateral": {"rep_lines": [
...     {"name": "L", "balance": 1000.0, "wac": 0.12, "wam": 10}]},
...     "tranches": [{"name": "A", "balance": 900.0, "coupon": 0.06, "priority": 1},
...                  {"name": "R", "residual": True}],
...     "waterfall": [{"pay": "interest", "tranches": ["A"]},
...                   {"pay": "principal", "tranches": ["A"], "amount": "collections"},
...                   {"pay": "residual", "tranche": "R"}]}
>>> servicer = ae.Servicer(deal, os.path.join(tempfile.mkdtemp(), "ledger.sqlite"))
>>> rep = servicer.distribute({"period": 1, "period_end": "2025-12-31", "payment_date": "2026-01-15",
...     "pool": {"scheduled_principal": 95.0, "prepayment": 5.0, "interest_collected": 10.0,
...              "ending_balance": 900.0}})
>>> rep.tranches.loc["A", ["interest_paid", "principal_paid", "ending_balance"]].round(6).tolist()
[4.5, 100.0, 800.0]
>>> servicer.verify().ok
True
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..compile.collateral import compile_collateral
from ..compile.program import compile_deal
from ..compile.waterfall import DealState, initial_state
from ..dates import add_months
from ..engine.collateral import project_collateral
from ..engine.waterfall import run_period
from ..errors import SpecError
from ..io.collection_reports import Collections, CollectionSource, load_collections
from ..io.loading import DealSource, ScenarioSource, load_deal, load_scenario
from ..io.loans import FORECLOSURE, LoanArrays, deal_loans
from ..kernels import collateral as KC
from ..spec import Deal, Scenario
from ..vocabulary import ACCOUNT_COLUMNS, CASH_COLUMNS, FEE_COLUMNS, KERNEL_COLUMNS, TRANCHE_COLUMNS, TRIGGER_COLUMNS
from .ledger import Ledger, LedgerError, LedgerRow, canonical_json, keccak_hex
from .reports import REALISED, SERVICING_POOL_COLUMNS, PeriodReport, _unplain
from .reports import deal_id as _deal_id

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Servicer", "PeriodReport", "VerifyReport", "deal_id", "projected_collections", "SERVICING_POOL_COLUMNS",
           "TOLERANCE"]

POOL, CASH = KERNEL_COLUMNS["pool"], KERNEL_COLUMNS["cash"]
TOLERANCE = 0.01
"""Reported amounts must reconcile (ending = beginning - principal - default) to within a cent."""
INTEREST_TOLERANCE_MONTHS = 12
"""Plausibility: a loan's interest collected in one period is at most this many months of interest
at its gross rate on its beginning balance (``beginning x rate x 12 / 12``: a borrower catching up
on a year of arrears), plus a cent; for loans added after cut-off and for pool totals, at the
highest gross rate of the cut-off pool. A larger figure needs the report's ``override_reason``,
which is recorded with it."""

def deal_id(deal: Deal) -> str:
    """keccak-256 of the deal's canonical JSON and its loans (so a tape's content counts)."""
    return _deal_id(deal, deal_loans(deal))


def projected_collections(result, period: int, *, loan_level: bool = True) -> tuple[dict, pd.DataFrame | None]:
    """A servicer report that says exactly what a one-scenario projection (run with
    ``loan_level=True`` for a tape) has the borrowers pay in ``period``: ``(report header,
    tape)``, the tape ``None`` with ``loan_level=False`` (pool totals in the header). The
    charge-off (``default``) of a period is the balance liquidated, recovery plus loss. Useful to
    test a servicing pipeline, and a feed a bot can be rehearsed on.
    """
    import pandas as pd  # deferred: a projection without tables never imports pandas


    first = result.deal.first_payment_date or dt.date(2000, 1, 1)
    pay = add_months(first, period - 1)
    end = add_months(dt.date(pay.year, pay.month, 1), 0) - dt.timedelta(days=1)
    head: dict[str, Any] = {"deal": result.deal.name, "period": period, "period_end": str(end),
                            "payment_date": str(pay), "exercise_call": False,
                            "advancing": bool(result.program.scenarios.advancing[0])}
    scen = result.scenarios[0]
    head["rates"] = {k: float(np.asarray(v).ravel()[min(period - 1, np.asarray(v).size - 1)])
                     for k, v in scen.rates.items()}
    if not loan_level:
        p = result.pool.loc[period]
        head["pool"] = {"scheduled_principal": float(p["scheduled_principal"]),
                        "prepayment": float(p["prepayment"]), "interest_collected": float(p["gross_interest"]),
                        "servicing_fee": float(p["servicing_fee"]), "default": float(p["recovery"] + p["loss"]),
                        "recovery": float(p["recovery"]), "ending_balance": float(p["ending_balance"]),
                        "delinquent_60": float(p["foreclosure_balance"])}
        return head, None
    loans = result.loans.xs(period, level="period")
    tape = pd.DataFrame({
        "loan_id": loans.index.astype(str),
        "scheduled_principal": loans["scheduled_principal"].to_numpy(),
        "prepayment": loans["prepayment"].to_numpy(),
        "interest_collected": loans["gross_interest"].to_numpy(),
        "servicing_fee": loans["servicing_fee"].to_numpy(),
        "default": (loans["recovery"] + loans["loss"]).to_numpy(),
        "recovery": loans["recovery"].to_numpy(),
        # a loan is in foreclosure when all of it is (a rep line partly in foreclosure stays current)
        "delinquency_status": np.where((loans["foreclosure_balance"].to_numpy() > 0)
                                       & (loans["performing_balance"].to_numpy() <= 0), "foreclosure", "current"),
        "ending_balance": loans["ending_balance"].to_numpy(),
        "foreclosure_balance": loans["foreclosure_balance"].to_numpy(),
    })
    active = (loans["beginning_balance"].to_numpy() > 0) | (tape["recovery"].to_numpy() > 0)
    amounts = tape.columns.drop(["loan_id", "delinquency_status"])
    tape[amounts] = tape[amounts].clip(lower=0.0)   # a projection's -1e-11 of rounding is no negative amount
    return head, tape[active].reset_index(drop=True)


# ---------------------------------------------------------------- servicer state


@dataclass(eq=False)
class _State:
    """What the servicer carries between periods (stored as canonical JSON in the ledger)."""

    period: int
    deal: DealState                      # one scenario
    loan_id: tuple[str, ...] | None      # None once a period was reported as pool totals only
    balance: np.ndarray | None           # each loan's balance
    fee_rate: np.ndarray | None          # each loan's annual servicing fee rate
    status: np.ndarray | None
    pool_balance: float
    fee_rate_pool: float                 # balance-weighted servicing fee rate at the last loan-level point
    period_end: str | None
    payment_date: str | None
    unrecovered: float = 0.0             # cumulative charge-offs (default) less cumulative recoveries
    pipeline: dict = field(default_factory=dict)
    """Loans in foreclosure by the period they entered it: loan id -> cohorts ``[period, balance at
    default, balance now, amortizes]`` (see :func:`_roll_pipeline`)."""

    def to_json(self) -> str:
        d = self.deal
        return canonical_json({
            "period": self.period,
            "deal_state": {f: getattr(d, f).tolist() for f in DealState.ARRAYS},
            "loans": None if self.loan_id is None else {
                "loan_id": list(self.loan_id), "balance": self.balance.tolist(), "fee_rate": self.fee_rate.tolist(),
                "status": self.status.tolist()},
            "pool_balance": self.pool_balance, "fee_rate_pool": self.fee_rate_pool,
            "period_end": self.period_end, "payment_date": self.payment_date, "unrecovered": self.unrecovered,
            "pipeline": {k: self.pipeline[k] for k in sorted(self.pipeline)},
        })

    @classmethod
    def from_json(cls, text: str) -> _State:
        x = _unplain(json.loads(text))
        ds = x["deal_state"]
        deal = DealState(x["period"], *(np.array(ds[f], dtype=np.float64) for f in DealState.ARRAYS))
        for f in ("balance", "shortfall", "fee_arrears", "accounts", "breached"):  # keep [1, n] shapes
            setattr(deal, f, getattr(deal, f).reshape(1, -1))
        loans = x["loans"]
        return cls(
            period=x["period"], deal=deal,
            loan_id=None if loans is None else tuple(loans["loan_id"]),
            balance=None if loans is None else np.array(loans["balance"], dtype=np.float64),
            fee_rate=None if loans is None else np.array(loans["fee_rate"], dtype=np.float64),
            status=None if loans is None else np.array(loans["status"], dtype=np.int8),
            pool_balance=x["pool_balance"], fee_rate_pool=x["fee_rate_pool"],
            period_end=x["period_end"], payment_date=x["payment_date"], unrecovered=x["unrecovered"],
            pipeline=x["pipeline"])


def _initial(deal: Deal) -> _State:
    loans = deal_loans(deal)
    fee = loans.rate - loans.net_rate
    total = float(loans.balance.sum())
    # loans in foreclosure at cut-off entered it before period 1 and, as in a projection, do not amortize
    pipeline = {str(x): [[0, float(b), float(b), 0]] for x, b, st in zip(loans.loan_id, loans.balance, loans.status,
                                                                          strict=True) if st == FORECLOSURE and b > 0}
    return _State(0, initial_state(deal, 1), tuple(str(x) for x in loans.loan_id), loans.balance.copy(), fee,
                  loans.status.copy(), total, float((fee * loans.balance).sum() / total) if total > 0 else 0.0,
                  None, None, pipeline=pipeline)


# ---------------------------------------------------------------- the servicer


@dataclass(frozen=True)
class VerifyReport:
    """``verify()``'s answer: ``ok``, rows and periods checked, and the first mismatch if any."""

    ok: bool
    rows: int
    periods: int
    seq: int | None = None
    period: int | None = None
    problem: str | None = None

    def __str__(self) -> str:
        if self.ok:
            return f"ok: {self.rows} rows, {self.periods} periods; every hash and every recomputed period matches"
        if self.seq is None:
            return f"MISMATCH: {self.problem}"
        return f"MISMATCH at row {self.seq} (period {self.period}): {self.problem}"


class Servicer:
    """A deal's servicing desk: distribute each period from actual collections and record it.

    Parameters
    ----------
    deal
        The deal (spec, file or dict).
    ledger
        The SQLite ledger file (created on first use), or a :class:`Ledger`.
    base_scenario
        The scenario that ``variance()`` projects each period with (default: no prepayments,
        defaults or losses).
    """

    def __init__(self, deal: DealSource, ledger: str | os.PathLike[str] | Ledger, *,
                 base_scenario: ScenarioSource | None = None):
        self.deal = load_deal(deal)
        if not self.deal.tranches:
            raise SpecError("tranches", [], "a deal with tranches to distribute to", file=self.deal._file)
        self.deal_id = deal_id(self.deal)
        self.ledger = ledger if isinstance(ledger, Ledger) else Ledger(ledger, self.deal_id, self.deal.name)
        if self.ledger.deal_id != self.deal_id:
            raise LedgerError(f"the ledger belongs to deal id {self.ledger.deal_id}, not {self.deal_id}")
        self.base_scenario = load_scenario(base_scenario) if base_scenario is not None else Scenario()
        self._loans = deal_loans(self.deal)
        self.horizon = int(self._loans.maturity.max())

    # -- the API
    def distribute(self, report: CollectionSource) -> PeriodReport:
        """Distribute the report's period from the last recorded state and record it.

        A period already recorded with identical inputs returns the recorded report; with
        different inputs it is refused (use :meth:`restate`). Bad reports raise
        :class:`SpecError` and nothing is recorded."""
        coll = load_collections(report)
        inputs = canonical_json(coll.canonical())
        current = self.ledger.current()
        if coll.period in current:
            row = current[coll.period]
            if keccak_hex(inputs) == row.inputs_hash:
                return PeriodReport.from_json(row.report)
            raise LedgerError(f"period {coll.period} is recorded (version {row.version}) with other inputs "
                              f"(inputs hash {row.inputs_hash}); correct it with restate(period, report, reason)")
        prev = self._state_after(current, coll.period - 1) if coll.period > 1 else _initial(self.deal)
        if coll.period != prev.period + 1 or (current and coll.period != max(current) + 1):
            nxt = (max(current) + 1) if current else 1
            raise SpecError("period", coll.period, f"the next period, {nxt}", file=coll.file)
        rep, state = self._compute(coll, prev)
        row = self.ledger.build_row(self.ledger.next_seq(), coll.period, 1, None, inputs, state.to_json(),
                                    rep.to_json(), self.ledger.last_hash())
        self.ledger.append([row])
        return rep

    def restate(self, period: int, report: CollectionSource, reason: str) -> PeriodReport:
        """Record corrected collections for a recorded ``period`` as a new version, and re-derive
        every later recorded period from its stored inputs; all in one transaction."""
        if not reason or not reason.strip():
            raise SpecError("reason", reason, "a stated reason for the restatement")
        coll = load_collections(report)
        if coll.period != period:
            raise SpecError("period", coll.period, f"period {period}, the one being restated", file=coll.file)
        current = self.ledger.current()
        if period not in current:
            raise LedgerError(f"period {period} is not recorded; distribute it instead")
        state = self._state_after(current, period - 1) if period > 1 else _initial(self.deal)
        seq, prev_hash, rows, first = self.ledger.next_seq(), self.ledger.last_hash(), [], None
        for p in [q for q in current if q >= period]:
            c = coll if p == period else Collections.from_canonical(json.loads(current[p].inputs),
                                                                    file=f"ledger period {p}")
            why = reason if p == period else f"re-derived after the restatement of period {period}: {reason}"
            rep, state = self._compute(c, state)
            row = self.ledger.build_row(seq, p, current[p].version + 1, why, canonical_json(c.canonical()),
                                        state.to_json(), rep.to_json(), prev_hash)
            rows.append(row)
            first = first or rep
            seq, prev_hash = seq + 1, row.hash
        self.ledger.append(rows)
        return first

    def report(self, period: int) -> PeriodReport:
        """The recorded (current) report of ``period``."""
        current = self.ledger.current()
        if period not in current:
            raise LedgerError(f"period {period} is not recorded")
        return PeriodReport.from_json(current[period].report)

    def reports(self) -> list[PeriodReport]:
        return [PeriodReport.from_json(r.report) for r in self.ledger.current().values()]

    def verify(self, head: str | None = None) -> VerifyReport:
        """Re-walk the chain (every row of the ledger's tables: its hashes, its link to the row
        before it, the order of each instruction's lifecycle), then recompute every period row
        from its stored inputs and the state it was built on; report the first mismatch. With
        ``head`` (a chain head kept outside the ledger, :meth:`Ledger.head`), rows removed from
        the end of the chain, or rewritten with their hashes, are found too."""
        rows = 0
        current: dict[int, Any] = {}
        for row, problem in self.ledger.walk(head=head):
            rows += 1
            if problem is not None:
                return VerifyReport(False, rows, len(current), row.seq if row else None,
                                    row.period if row else None, problem)
            if not isinstance(row, LedgerRow):
                continue
            try:
                prev = _State.from_json(current[row.period - 1].state) if row.period > 1 else _initial(self.deal)
                coll = Collections.from_canonical(json.loads(row.inputs), file=f"ledger row {row.seq}")
                rep, state = self._compute(coll, prev)
            except (SpecError, KeyError, ValueError) as exc:
                return VerifyReport(False, rows, len(current), row.seq, row.period, f"cannot recompute: {exc}")
            if rep.to_json() != row.report:
                return VerifyReport(False, rows, len(current), row.seq, row.period,
                                    "the stored report differs from the recomputed one "
                                    f"({_first_diff(row.report, rep)})")
            if state.to_json() != row.state:
                return VerifyReport(False, rows, len(current), row.seq, row.period,
                                    "the stored state differs from the recomputed one")
            current[row.period] = row
        return VerifyReport(True, rows, len(current))

    def variance(self, period: int) -> pd.DataFrame:
        """Actual against projected for a recorded period: the pool's collections and each
        tranche's interest and principal, with the deal's base scenario projected one period from
        the state recorded before it (the period's actual index fixings); and the realised rates
        beside the scenario's. Columns ``actual``, ``projected``, ``difference``."""
        import pandas as pd  # deferred: a projection without tables never imports pandas

        current = self.ledger.current()
        if period not in current:
            raise LedgerError(f"period {period} is not recorded")
        actual = PeriodReport.from_json(current[period].report)
        prev = self._state_after(current, period - 1) if period > 1 else _initial(self.deal)
        coll = Collections.from_canonical(json.loads(current[period].inputs))
        proj = self._project_one(prev, coll)
        rows, index = [], []
        for c in ("scheduled_principal", "prepayment", "default", "recovery", "loss", "gross_interest",
                  "net_interest", "ending_balance"):
            rows.append((actual.data["pool"][c], proj["pool"][c]))
            index.append(("pool", c))
        for t_act, t_proj in zip(actual.data["tranches"], proj["tranches"], strict=True):
            for c in ("interest_paid", "principal_paid", "writedown", "ending_balance"):
                if c in t_act:
                    rows.append((t_act[c], t_proj[c]))
                    index.append((t_act["name"], c))
        for c in REALISED:
            rows.append((actual.data["realised"][c], proj["realised"][c]))
            index.append(("realised", c))
        frame = pd.DataFrame(rows, columns=["actual", "projected"],
                             index=pd.MultiIndex.from_tuples(index, names=["item", "column"]))
        frame["difference"] = frame["actual"] - frame["projected"]
        return frame

    # -- internals
    def _state_after(self, current: dict, period: int) -> _State:
        if period == 0:
            return _initial(self.deal)
        if period not in current:
            nxt = (max(current) + 1) if current else 1
            raise SpecError("period", period + 1, f"the next period, {nxt}")
        return _State.from_json(current[period].state)

    def _compute(self, coll: Collections, prev: _State) -> tuple[PeriodReport, _State]:
        """The period's report and the state after it (pure: no ledger access)."""
        r = coll.report
        deal = self.deal
        if r.deal is not None and r.deal != deal.name:
            raise SpecError("deal", r.deal, f"this deal's name {deal.name!r}", file=coll.file)
        if coll.period != prev.period + 1:
            raise SpecError("period", coll.period, f"the next period, {prev.period + 1}", file=coll.file)
        if coll.period > self.horizon:
            raise SpecError("period", coll.period, f"a period within the deal's horizon ({self.horizon})",
                            file=coll.file)
        if prev.period_end is not None and r.period_end <= dt.date.fromisoformat(prev.period_end):
            raise SpecError("period_end", str(r.period_end),
                            f"a date after the previous period's end {prev.period_end}", file=coll.file)
        if prev.payment_date is not None and r.payment_date <= dt.date.fromisoformat(prev.payment_date):
            raise SpecError("payment_date", str(r.payment_date),
                            f"a date after the previous payment date {prev.payment_date}", file=coll.file)
        pool, state = (_loan_level if coll.loan_id is not None else _pool_level)(
            coll, prev, self._loans, self.deal.collateral.advancing_default)
        i = coll.period - 1
        flows, ds = self._waterfall_period(coll, prev, pool, pool["delinquency_60"])
        pool["cumulative_loss"] = float(ds.cumulative_loss[0])
        state.deal = ds
        state.period = coll.period
        state.period_end, state.payment_date = str(r.period_end), str(r.payment_date)
        data = _report_data(deal, self.deal_id, coll, pool, flows, i)
        return PeriodReport(data), state

    def _scenario(self, coll: Collections, delinquency: float) -> Scenario:
        r = coll.report
        rates = dict(r.rates)
        for k, t in enumerate(self.deal.tranches):
            index = getattr(t.coupon, "index", None)
            if index is not None and index not in rates:
                raise SpecError("rates", dict(r.rates),
                                f"a fixing of {index} for tranche {t.name} (tranches[{k}] floats on it)",
                                file=coll.file)
        return Scenario(rates=rates, delinquency_60=r.delinquency_60 if r.delinquency_60 is not None
                        else delinquency, exercise_call=r.exercise_call)

    def _accrual_start(self, prev_payment: str | None) -> dt.date | None:
        """Where this period's accrual starts: the previous actual payment date, else the closing
        date, else one month before the first payment date (ACT/360 notes accrue over the actual
        days from there to this period's payment date)."""
        if prev_payment is not None:
            return dt.date.fromisoformat(prev_payment)
        if self.deal.closing_date is not None:
            return self.deal.closing_date
        return add_months(self.deal.first_payment_date, -1) if self.deal.first_payment_date else None

    def _project_one(self, prev: _State, coll: Collections) -> dict:
        """One period of the base scenario from ``prev``, the state recorded before it: each loan's
        performing balance (its balance less what is in foreclosure) projected by the collateral
        kernel, and the recorded foreclosure pipeline liquidated on the scenario's schedule (a
        cohort that entered foreclosure in period ``j`` liquidates in period ``j + lag``, at the
        severity of that period applied to its balance at default); pool flows and tranche
        payments. The scenario's monthly vectors are read from this period on."""
        loans = self._loans
        elapsed = prev.period
        month = elapsed + 1
        scenario = _from_month(self.base_scenario, month)
        pool = {c: 0.0 for c in SERVICING_POOL_COLUMNS}
        pool["beginning_balance"] = prev.pool_balance
        flows = np.zeros(KC.NCOL)
        if prev.loan_id is not None:
            index = loans.position
            in_fc = np.array([sum(c[2] for c in prev.pipeline.get(x, [])) for x in prev.loan_id])
            performing = prev.balance - in_fc
            keep = [(k, index[x]) for k, x in enumerate(prev.loan_id) if x in index and performing[k] > TOLERANCE]
            cur, orig = (np.array([a for a, _ in keep], dtype=np.int64), np.array([b for _, b in keep], dtype=np.int64))
            balance = performing[cur]
            flows += self._pipeline_flows(prev, scenario, month)
        else:  # pool totals only: the cut-off loans scaled to the pool's balance, no pipeline known
            orig = np.flatnonzero(loans.balance > 0)
            balance = loans.balance[orig] * (prev.pool_balance / loans.original_balance)
        live = loans.maturity[orig] > elapsed
        orig, balance = orig[live], balance[live]
        if orig.size:
            current = LoanArrays(
                loan_id=loans.loan_id[orig], balance=balance, rate=loans.rate[orig], net_rate=loans.net_rate[orig],
                remaining_term=np.maximum(loans.remaining_term[orig] - elapsed, 1), age=loans.age[orig] + elapsed,
                original_term=loans.original_term[orig], amortization=loans.amortization[orig],
                balloon_month=loans.balloon_month[orig],
                status=np.zeros(orig.size, dtype=np.int8))

            program = compile_collateral(self.deal, [scenario], loans=current)
            flows += project_collateral(program)[0, 0]
        f = {name: flows[k] for name, k in POOL.items()}
        pool.update(scheduled_principal=f["scheduled_principal"], prepayment=f["prepayment"], recovery=f["recovery"],
                    default=f["recovery"] + f["loss"], loss=f["loss"], gross_interest=f["gross_interest"],
                    servicing_fee=f["gross_interest"] - f["net_interest"], net_interest=f["net_interest"],
                    ending_balance=prev.pool_balance - f["scheduled_principal"] - f["prepayment"] - f["recovery"]
                    - f["loss"])
        pool = {k: float(v) for k, v in pool.items()}
        flows_w, _ = self._waterfall_period(coll, prev, pool, float(np.asarray(scenario.delinquency_60).ravel()[0]))
        return {"pool": pool, "tranches": _tranche_rows(self.deal, flows_w, elapsed), "realised": _realised(pool)}

    def _pipeline_flows(self, prev: _State, scenario: Scenario, month: int) -> np.ndarray:
        """The month's flows (kernel columns) of the recorded foreclosure pipeline under ``scenario``,
        as the collateral kernel treats defaulted balances: with advancing they earn interest and
        amortize until liquidation; without, they are frozen and earn nothing. A cohort liquidates
        in ``max(entry + lag, 1)`` (by the loan's final month at the latest); loss =
        min(severity x balance at default, balance liquidated)."""
        loans = self._loans
        index = loans.position
        lag = int(scenario.recovery_lag)
        adv = self.deal.collateral.advancing_default if scenario.advancing is None else scenario.advancing
        sev = float(np.asarray(scenario.severity, dtype=np.float64).ravel()[0])
        out = np.zeros(KC.NCOL)
        for loan, cohorts in prev.pipeline.items():
            j = index.get(loan)
            final = j is not None and month >= int(loans.maturity[j])
            ratio = _schedule_ratio(loans, j, month) if j is not None else 1.0
            gross = float(loans.rate[j]) if j is not None else 0.0
            net = float(loans.net_rate[j]) if j is not None else 0.0
            for entry, at_default, now, amortizes in cohorts:
                if adv:
                    out[POOL["gross_interest"]] += now * gross / 12.0
                    out[POOL["net_interest"]] += now * net / 12.0
                if final or month >= max(int(entry) + lag, 1):
                    loss = min(sev * at_default, now)
                    out[POOL["loss"]] += loss
                    out[POOL["recovery"]] += now - loss
                elif adv and amortizes:
                    out[POOL["scheduled_principal"]] += now * (1.0 - ratio)
                    out[POOL["foreclosure_balance"]] += now * ratio
                else:
                    out[POOL["foreclosure_balance"]] += now
        return out

    def _waterfall_period(self, coll: Collections, prev: _State, pool: dict, delinquency: float):
        """The compiled waterfall for period ``prev.period + 1`` on ``pool``'s collections, from
        ``prev``'s deal state: ``(flows, state after)``."""
        i = prev.period
        program = compile_deal(self.deal, [self._scenario(coll, delinquency)],
                          accruals={i: (self._accrual_start(prev.payment_date), coll.report.payment_date)})
        flows = np.zeros((1, KC.NCOL))
        for name in ("net_interest", "gross_interest", "scheduled_principal", "prepayment", "recovery", "loss",
                     "default"):
            flows[0, POOL[name]] = pool[name]
        flows[0, POOL["performing_balance"]] = pool["ending_balance"]  # the waterfall reads the ending balance
        ds = DealState(i, *(getattr(prev.deal, f).copy() for f in DealState.ARRAYS))
        return run_period(program, flows, np.array([pool["beginning_balance"]]), ds), ds


def _from_month(scenario: Scenario, month: int) -> Scenario:
    """``scenario`` with every monthly vector read from ``month`` on (its month 1 is ``month``)."""
    k = month - 1
    if k <= 0:
        return scenario

    def cut(v):
        return v[min(k, len(v) - 1):] if isinstance(v, tuple) else v

    update: dict[str, Any] = {}
    for group in ("prepay", "default"):
        spec = getattr(scenario, group)
        update[group] = spec.model_copy(update={spec.kind: cut(spec.value)})
    update.update(severity=cut(scenario.severity), delinquency_60=cut(scenario.delinquency_60),
                  rates={name: cut(v) for name, v in scenario.rates.items()})
    return scenario.model_copy(update=update)


def _first_diff(stored: str, rep: PeriodReport) -> str:
    a, b = json.loads(stored), json.loads(rep.to_json())

    def walk(x, y, path):
        if type(x) is not type(y):
            return path
        if isinstance(x, dict):
            for k in sorted(set(x) | set(y)):
                if k not in x or k not in y:
                    return f"{path}.{k}"
                d = walk(x[k], y[k], f"{path}.{k}")
                if d:
                    return d
            return None
        if isinstance(x, list):
            if len(x) != len(y):
                return path
            for k, (u, v) in enumerate(zip(x, y, strict=True)):
                d = walk(u, v, f"{path}[{k}]")
                if d:
                    return d
            return None
        return None if x == y else f"{path}: stored {x!r}, recomputed {y!r}"

    return walk(a, b, "report") or "formatting"


# ---------------------------------------------------------------- collections -> pool


def _check_roll(coll: Collections, where: str, beg: float, sched: float, prep: float, default: float,
                end: float) -> None:
    beg, sched, prep, default, end = (float(x) for x in (beg, sched, prep, default, end))
    expected = beg - sched - prep - default
    if abs(expected - end) > TOLERANCE:
        raise SpecError(where, end, f"beginning balance {beg!r} - scheduled_principal - prepayment - default = "
                        f"{expected!r} (to within {TOLERANCE})", file=coll.file)


def _loan_level(coll: Collections, prev: _State, loans: LoanArrays, advancing: bool) -> tuple[dict, _State]:
    if prev.loan_id is None:
        raise SpecError("loans", coll.report.loans, "pool totals: after a period reported as pool totals, loan "
                        "balances are no longer known", file=coll.file)
    a = coll.amounts
    known = {x: k for k, x in enumerate(prev.loan_id)}
    new = set(coll.report.new_loans)
    seen = np.zeros(len(prev.loan_id), dtype=bool)
    beg = np.empty(len(coll.loan_id))
    fee_rate = np.zeros(len(coll.loan_id))
    for k, loan in enumerate(coll.loan_id):
        j = known.get(loan)
        given = a["beginning_balance"][k]
        if j is None:
            if loan not in new:
                raise SpecError(coll.where(k, "loan_id"), loan, "a loan of the deal (or one listed in new_loans)",
                                file=coll.file)
            if np.isnan(given):
                raise SpecError(coll.where(k, "beginning_balance"), None, "the beginning balance of a new loan",
                                file=coll.file)
            beg[k] = given
        else:
            if loan in new:
                raise SpecError("new_loans", loan, "loans not already in the pool", file=coll.file)
            seen[j] = True
            beg[k] = prev.balance[j]
            fee_rate[k] = prev.fee_rate[j]
            if not np.isnan(given) and abs(given - beg[k]) > TOLERANCE:
                raise SpecError(coll.where(k, "beginning_balance"), float(given),
                                f"the recorded balance {beg[k]!r}", file=coll.file)
        _check_roll(coll, coll.where(k, "ending_balance"), float(beg[k]), a["scheduled_principal"][k],
                    a["prepayment"][k], a["default"][k], a["ending_balance"][k])
    _plausible_loans(coll, beg, loans)
    dangling = sorted(new - set(coll.loan_id))
    if dangling:
        raise SpecError("new_loans", dangling[:5], "loan ids that have a row in the tape", file=coll.file)
    missing = [prev.loan_id[j] for j in np.flatnonzero(~seen & (prev.balance > TOLERANCE))]
    if missing:
        raise SpecError("loans", missing[:5], f"a row for every loan with a balance ({len(missing)} missing)",
                        file=coll.file)
    fee = np.where(np.isnan(a["servicing_fee"]), beg * fee_rate / 12.0, a["servicing_fee"])
    gross = float(a["interest_collected"].sum())
    fee_total = float(fee.sum())
    if fee_total > gross + TOLERANCE:
        raise SpecError("servicing_fee", fee_total, f"at most the interest collected ({gross!r})", file=coll.file)
    end = a["ending_balance"]
    ending = float(end.sum())
    delinquent = float(end[coll.status >= 2].sum())
    pool = _pool_dict(float(beg.sum()), a["scheduled_principal"].sum(), a["prepayment"].sum(), a["default"].sum(),
                      a["recovery"].sum(), gross, fee_total, ending, delinquent)
    # next state: every loan of the tape (new loans included), plus recorded loans at zero
    ids = list(coll.loan_id) + [prev.loan_id[j] for j in np.flatnonzero(~seen)]
    bal = np.concatenate([end, np.zeros(int((~seen).sum()))])
    rates = np.concatenate([fee_rate, prev.fee_rate[~seen]])
    status = np.concatenate([coll.status, prev.status[~seen]])
    order = np.argsort(np.array(ids, dtype=str), kind="stable")
    state = _State(prev.period, prev.deal, tuple(ids[k] for k in order), bal[order], rates[order], status[order],
                   ending, float((rates * bal).sum() / bal.sum()) if bal.sum() > 0 else prev.fee_rate_pool, None, None,
                   _recoverable(coll, "recovery", prev, pool),
                   _roll_pipeline(coll, prev, loans, advancing if coll.report.advancing is None
                                  else coll.report.advancing))
    return pool, state


def _roll_pipeline(coll: Collections, prev: _State, loans: LoanArrays, advancing: bool) -> dict:
    """Each loan's foreclosure pipeline after the period, from its cohorts before it, its charge-off
    (``default``: the liquidated balance) and its ``foreclosure_balance``:

    * liquidations take the oldest cohorts first (a projection liquidates the defaults of ``lag``
      months ago);
    * with advancing, the cohorts left amortize on the loan's schedule (by the ratio of its
      scheduled balances this month and last), as a projection's defaulted balances do;
    * what the foreclosure balance holds beyond them entered foreclosure this period: a new cohort,
      whose balance at default is its balance now undone by this month's amortization; less than
      them is a cure, taken from the newest cohorts.
    """
    index = loans.position
    a = coll.amounts
    fc = np.where(np.isnan(a["foreclosure_balance"]),
                  np.where(coll.status >= FORECLOSURE, a["ending_balance"], 0.0), a["foreclosure_balance"])
    out: dict[str, list] = {}
    period = coll.period
    for k, loan in enumerate(coll.loan_id):
        cohorts = [list(c) for c in prev.pipeline.get(loan, [])]
        if not cohorts and fc[k] <= TOLERANCE:
            continue
        left = float(a["default"][k])
        kept = []
        for c in sorted(cohorts, key=lambda c: c[0]):
            take = min(left, c[2])
            left -= take
            if _shrink(c, take):
                kept.append(c)
        j = index.get(loan)
        ratio = _schedule_ratio(loans, j, period) if advancing and j is not None else 1.0
        for c in kept:
            if c[3]:
                c[2] *= ratio
        extra = float(fc[k]) - sum(c[2] for c in kept)
        if extra > TOLERANCE:
            kept.append([period, extra / ratio if ratio > 0 else extra, extra, 1])
        while extra < -TOLERANCE and kept:   # cured: the newest cohorts leave foreclosure first
            take = min(-extra, kept[-1][2])
            extra += take
            if not _shrink(kept[-1], take):
                kept.pop()
        if kept:
            out[loan] = kept
    return out


def _shrink(cohort: list, take: float) -> bool:
    """Take ``take`` of a cohort's balance now (its balance at default in proportion); whether any
    of it is left."""
    if cohort[2] - take <= TOLERANCE:
        return False
    cohort[1] *= (cohort[2] - take) / cohort[2]
    cohort[2] -= take
    return True


def _schedule_ratio(loans: LoanArrays, j: int, month: int) -> float:
    """``S(month) / S(month - 1)`` of cut-off loan ``j``: how much of a balance on its schedule is
    left after the month's scheduled payment (level at the gross rate over the remaining term;
    interest-only 1; 0 from the final or balloon payment on), as in the collateral kernel."""
    if month >= int(loans.maturity[j]):
        return 0.0
    if loans.amortization[j] == 1:   # interest_only
        return 1.0
    n = int(loans.remaining_term[j]) - month   # payments left after this month's
    r = float(loans.rate[j]) / 12.0
    if r == 0.0:
        return n / (n + 1.0)
    v = 1.0 / (1.0 + r)
    return -math.expm1(n * math.log(v)) / -math.expm1((n + 1) * math.log(v))


def _pool_level(coll: Collections, prev: _State, loans: LoanArrays, advancing: bool) -> tuple[dict, _State]:
    p = coll.report.pool
    beg = prev.pool_balance
    _check_roll(coll, "pool.ending_balance", beg, p.scheduled_principal, p.prepayment, p.default, p.ending_balance)
    fee = p.servicing_fee if p.servicing_fee is not None else beg * prev.fee_rate_pool / 12.0
    if fee > p.interest_collected + TOLERANCE:
        raise SpecError("pool.servicing_fee", fee, f"at most interest_collected ({p.interest_collected!r})",
                        file=coll.file)
    if p.delinquent_60 > p.ending_balance + TOLERANCE:
        raise SpecError("pool.delinquent_60", p.delinquent_60, f"at most ending_balance ({p.ending_balance!r})",
                        file=coll.file)
    cap = beg * float(loans.rate.max(initial=0.0)) * INTEREST_TOLERANCE_MONTHS / 12.0 + TOLERANCE
    if p.interest_collected > cap and not coll.report.override_reason:
        raise SpecError("pool.interest_collected", p.interest_collected, _interest_expected(cap), file=coll.file)
    pool = _pool_dict(beg, p.scheduled_principal, p.prepayment, p.default, p.recovery, p.interest_collected, fee,
                      p.ending_balance, p.delinquent_60)
    state = _State(prev.period, prev.deal, None, None, None, None, p.ending_balance, prev.fee_rate_pool, None, None,
                   _recoverable(coll, "pool.recovery", prev, pool))
    return pool, state


def _interest_expected(cap: float) -> str:
    return (f"at most {cap:,.2f} ({INTEREST_TOLERANCE_MONTHS} months of interest on the beginning balance at the "
            "gross rate; state override_reason in the report to record a larger figure)")


def _plausible_loans(coll: Collections, beg: np.ndarray, loans: LoanArrays) -> None:
    """Interest within the tolerance of :data:`INTEREST_TOLERANCE_MONTHS`; a recovery only on a loan
    charged off this period or before (its recorded balance is zero)."""
    a = coll.amounts
    index = loans.position
    top = float(loans.rate.max(initial=0.0))
    rate = np.array([loans.rate[index[x]] if x in index else top for x in coll.loan_id])
    cap = beg * rate * INTEREST_TOLERANCE_MONTHS / 12.0 + TOLERANCE
    bad = a["interest_collected"] > cap
    if bad.any() and not coll.report.override_reason:
        k = int(np.argmax(bad))
        raise SpecError(coll.where(k, "interest_collected"), float(a["interest_collected"][k]),
                        _interest_expected(float(cap[k])), file=coll.file)
    bad = (a["recovery"] > a["default"] + TOLERANCE) & (beg > TOLERANCE)
    if bad.any():
        k = int(np.argmax(bad))
        raise SpecError(coll.where(k, "recovery"), float(a["recovery"][k]),
                        f"a recovery on a charged-off balance: at most this period's default ({a['default'][k]!r}) "
                        f"while the loan still has a balance ({beg[k]!r})", file=coll.file)


def _recoverable(coll: Collections, field: str, prev: _State, pool: dict) -> float:
    """Charge-offs not yet recovered after this period; a recovery beyond them is refused."""
    left = prev.unrecovered + pool["default"]
    if pool["recovery"] > left + TOLERANCE:
        raise SpecError(field, pool["recovery"], f"recoveries of at most the balance charged off and not yet "
                        f"recovered ({left!r})", file=coll.file)
    return max(left - pool["recovery"], 0.0)


def _pool_dict(beg, sched, prep, default, recovery, gross, fee, end, delinquent) -> dict:
    pool = {
        "beginning_balance": beg, "scheduled_principal": sched, "prepayment": prep, "default": default,
        "recovery": recovery, "loss": default - recovery, "gross_interest": gross, "servicing_fee": fee,
        "net_interest": gross - fee, "ending_balance": end,
        "delinquency_60": delinquent / end if end > 0 else 0.0, "cumulative_loss": 0.0,
    }
    return {k: float(v) for k, v in pool.items()}


def _realised(pool: dict) -> dict:
    """SMM = prepayment / (beginning - scheduled - default); MDR = default / beginning; CPR and CDR
    annualise them (``1 - (1 - x)^12``); severity = (default - recovery) / default."""
    beg = pool["beginning_balance"]
    base = beg - pool["scheduled_principal"] - pool["default"]
    smm = pool["prepayment"] / base if base > 0 else 0.0
    mdr = pool["default"] / beg if beg > 0 else 0.0
    sev = pool["loss"] / pool["default"] if pool["default"] > 0 else float("nan")
    return {"smm": smm, "cpr": 1.0 - (1.0 - smm) ** 12, "mdr": mdr, "cdr": 1.0 - (1.0 - mdr) ** 12, "severity": sev}


# ---------------------------------------------------------------- flows -> report


def _tranche_rows(deal: Deal, flows, i: int) -> list[dict]:
    tr = flows.blocked["tranches"][0, i]            # [note, column, lane]
    at = KERNEL_COLUMNS["tranches"]
    rows = [{"name": t.name, **{c: float(tr[k, at[c], 0]) for c in TRANCHE_COLUMNS[:-1]},
             "original_balance": float(t.balance)} for k, t in enumerate(deal.notes)]
    residual = next((t.name for t in deal.tranches if t.residual), None)
    if residual is not None:
        rows.append({"name": residual, "residual_paid": float(flows.blocked["cash"][0, i, CASH["residual_paid"], 0])})
    return rows


def _report_data(deal: Deal, did: str, coll: Collections, pool: dict, flows, i: int) -> dict:
    b = flows.blocked
    r = coll.report

    def items(name, names, columns):
        x, at = b[name][0, i], KERNEL_COLUMNS[name]
        return [{"name": n, **{c: float(x[k, at[c], 0]) for c in columns}} for k, n in enumerate(names)]

    cash = {c: float(b["cash"][0, i, CASH[c], 0]) for c in CASH_COLUMNS}
    inflow = cash["interest_collections"] + cash["principal_collections"] + cash["call_proceeds"]
    oc_beg = cash["pool_balance_beginning"] - cash["note_balance_beginning"]
    oc_fall = oc_beg - (cash["pool_balance_ending"] - cash["note_balance_ending"])
    check = {
        "pool_roll_forward": pool["beginning_balance"] - pool["scheduled_principal"] - pool["prepayment"]
        - pool["default"] - pool["ending_balance"],
        "cash": inflow + cash["reserve_draws"] + cash["reserve_releases"] - (
            cash["fees_paid"] + cash["interest_paid"] + cash["principal_paid"] + cash["reserve_deposits"]
            + cash["residual_paid"] + cash["unallocated"]),
        "principal": cash["principal_collections"] + cash["call_proceeds"] + cash["loss"] - (
            cash["principal_paid"] + cash["writedown"] + oc_fall),
    }
    return {
        "deal": deal.name, "deal_id": did, "period": coll.period,
        "period_start": None if r.period_start is None else str(r.period_start),
        "period_end": str(r.period_end), "payment_date": str(r.payment_date),
        "pool": pool,
        "tranches": _tranche_rows(deal, flows, i),
        "fees": items("fees", [f.name for f in deal.fees], FEE_COLUMNS),
        "accounts": items("accounts", [a.name for a in deal.accounts], ACCOUNT_COLUMNS),
        "triggers": items("triggers", [t.name for t in deal.triggers], TRIGGER_COLUMNS),
        "cash": cash, "check": check, "realised": _realised(pool),
    }
