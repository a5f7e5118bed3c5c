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
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..compile.collateral import compile_collateral
from ..compile.program import compile_deal
from ..compile.waterfall import DealState
from ..dates import schedule
from ..engine.collateral import project_collateral
from ..engine.executors import scenario_chunks
from ..engine.waterfall import run_period
from ..errors import SpecError
from ..io.collection_reports import Collections, CollectionSource, load_collections
from ..io.loading import DealSource, ScenarioSource, is_deck, load_deal, load_deck, load_scenario
from ..io.loans import deal_loans
from ..io.scenario_set import ScenarioSet
from ..kernels import collateral as KC
from ..results.tables import RunResult, SummaryResult
from ..spec import Deal, Scenario
from ..vocabulary import KERNEL_COLUMNS
from .actuals import TOLERANCE, _loan_level, _pool_level
from .investor_report import investor_report
from .ledger import Ledger, LedgerError, LedgerRow, canonical_json, keccak_hex
from .projection import projected_collections
from .reports import REALISED, SERVICING_POOL_COLUMNS, PeriodReport, _realised, _report_data, _tranche_rows
from .reports import deal_id as _deal_id
from .reprojection import pipeline_flows, pool_now, reproject
from .speeds import anomaly_bands, measured_speeds
from .state import _initial, _State

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Servicer", "PeriodReport", "VerifyReport", "deal_id", "projected_collections", "SERVICING_POOL_COLUMNS",
           "TOLERANCE"]

# the servicer's parts, re-exported where the servicer's users find them

POOL, CASH = KERNEL_COLUMNS["pool"], KERNEL_COLUMNS["cash"]
def deal_id(deal: Deal) -> str:
    """keccak-256 of the deal's canonical JSON and its loans (so a tape's content counts)."""
    return _deal_id(deal, deal_loans(deal))


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
        if self.deal.collateral.reinvestment is not None:
            raise SpecError("collateral.reinvestment", self.deal.collateral.reinvestment.model_dump(),
                            "a deal without reinvestment: servicing a reinvesting pool (recording each month's "
                            "purchases) is not built yet; project it with ae.run", file=self.deal._file)
        if self.deal.collateral.adjustable:
            raise SpecError("collateral.rep_lines", "arm", "fixed-rate rep lines: servicing adjustable-rate loans "
                            "(each loan's reset rate carried in the ledger) is not built yet; project them with "
                            "ae.run", file=self.deal._file)
        if self.deal.collateral.groups is not None:
            raise SpecError("collateral.groups", [g.name for g in self.deal.collateral.groups],
                            "a deal with one pool: servicing collateral groups (each group's collections reported "
                            "apart) is not built yet; project it with ae.run", file=self.deal._file)
        self.base_scenario = load_scenario(base_scenario) if base_scenario is not None else Scenario()
        if self.base_scenario.roll_rates is not None:
            raise SpecError("base_scenario.roll_rates", self.base_scenario.roll_rates.model_dump(),
                            "a base scenario without roll rates: the servicer's one-period projection of a "
                            "delinquency pipeline is not built yet")
        self.deal_id = deal_id(self.deal)
        self.ledger = ledger if isinstance(ledger, Ledger) else Ledger(ledger, self.deal_id, self.deal.name)
        if self.ledger.deal_id != self.deal_id:
            raise LedgerError(f"the ledger belongs to deal id {self.ledger.deal_id}, not {self.deal_id}")
        self._loans = deal_loans(self.deal)
        step = self.deal.payment_step  # (to the end of the last collection period, CONVENTIONS R2.2)
        self.horizon = -(-int(self._loans.maturity.max()) // step) * step

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

    def project(self, scenario: ScenarioSource | Sequence[ScenarioSource], *, summary_only: bool = False,
                chunk_size: int = 2048) -> RunResult | SummaryResult:
        """The rest of the deal's life from the ledger's latest recorded period ``k`` (its pool and
        deal state as recorded: :mod:`abs_engine.servicing.reprojection`) under a scenario, a list
        of them or a deck, every scenario at once: the result tables of a projection, periods
        ``k + 1`` to the deal's last, numbered as the deal's, with analytics from now (WAL in years
        from period ``k``; prices per 100 of each note's balance at ``k``). Scenarios are in the
        deal's months (a vector's value ``j`` is for period ``j``). With ``summary_only``, the
        per-scenario summaries, ``chunk_size`` scenarios at a time. An empty ledger re-projects
        from the cut-off (as ``ae.run``)."""
        several = isinstance(scenario, list | tuple | ScenarioSet) or (
            not isinstance(scenario, Scenario) and is_deck(scenario))
        scenarios = _scenario_set(scenario)
        if not summary_only:
            return reproject(self, scenarios, scenario_level=several)
        import pandas as pd  # deferred: a projection without tables never imports pandas

        parts, losses = [], []
        for chunk in scenario_chunks(scenarios, chunk_size):
            res = reproject(self, chunk, scenario_level=True)
            parts.append(res.summary())
            losses.append(res.flows[..., KC.LOSS].sum(axis=1))
        return SummaryResult(self.deal, scenarios, pd.concat(parts), np.concatenate(losses))

    def is_recorded(self, report: CollectionSource) -> bool:
        """Whether ``report`` (a collections file or dict) is exactly what the ledger recorded for
        its period (``False`` when the period is not recorded, or was recorded from other content)."""
        coll = load_collections(report)
        current = self.ledger.current()
        return coll.period in current and canonical_json(coll.canonical()) == current[coll.period].inputs

    def speeds(self, windows: Sequence = (1, 3, 6, 12, "life")) -> pd.DataFrame:
        """Measured speeds from the ledger: per recorded period and trailing window (periods, or
        ``"life"``), realised SMM, CPR, MDR, CDR, severity and 60+ delinquency, and the PSA and
        ABS they imply (:func:`abs_engine.servicing.speeds.measured_speeds`)."""
        return measured_speeds(self, windows)

    def bands(self, scenario: ScenarioSource | Sequence[ScenarioSource], band: tuple[float, float] = (5.0, 95.0),
              chunk_size: int = 2048) -> pd.DataFrame:
        """Each recorded period's actual SMM, MDR, severity and 60+ delinquency placed in the
        distribution of a deck (e.g. Monte Carlo) projected from the cut-off, for that period:
        its percentile, the band's bounds and whether it falls outside
        (:func:`abs_engine.servicing.speeds.anomaly_bands`)."""
        return anomaly_bands(self, _scenario_set(scenario), band, chunk_size)

    def investor_report(self, period: int | None = None) -> dict:
        """The monthly investor report's content for a recorded ``period`` (default the latest):
        collections, roll-forward, history, payments, triggers, accounts, speeds, variance and
        hashes (:mod:`abs_engine.servicing.investor_report`; ``render_html`` makes the page)."""
        return investor_report(self, period)

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
        step = deal.payment_step
        state.last_payment = prev.last_payment
        if step > 1 and coll.period % step == 0:  # a payment month (R2.2)
            state.last_payment = str(r.payment_date)
        data = _report_data(deal, self.deal_id, coll, pool, flows, i)
        return PeriodReport(data), state

    def _scenario(self, coll: Collections, delinquency: float) -> Scenario:
        r = coll.report
        rates = dict(r.rates)
        floating = [(f"tranche {t.name} (tranches[{k}] floats on it)", getattr(t.coupon, "index", None))
                    for k, t in enumerate(self.deal.tranches)]
        floating += [(f"hedge {h.name} (hedges[{k}])", h.index) for k, h in enumerate(self.deal.hedges)]
        floating += [(f"facility {f.name} (facilities[{k}])", f.index) for k, f in enumerate(self.deal.facilities)]
        for what, index in floating:
            if index is not None and index not in rates:
                raise SpecError("rates", dict(r.rates), f"a fixing of {index} for {what}", file=coll.file)
        return Scenario(rates=rates, delinquency_60=r.delinquency_60 if r.delinquency_60 is not None
                        else delinquency, exercise_call=r.exercise_call)

    def _accrual_start(self, prev_payment: str | None) -> dt.date | None:
        """Where this period's accrual starts: the previous actual payment date (notes paid every
        few months: the last payment month's), else the closing date, else one payment before the
        first payment date (ACT/360 notes accrue over the actual days from there to this period's
        payment date)."""
        if prev_payment is not None:
            return dt.date.fromisoformat(prev_payment)
        if self.deal.closing_date is not None:
            return self.deal.closing_date
        return schedule(self.deal, [-1])[0] if self.deal.first_payment_date else None

    def _project_one(self, prev: _State, coll: Collections) -> dict:
        """One period of the base scenario from ``prev``, the state recorded before it: each loan's
        performing balance (its balance less what is in foreclosure) projected by the collateral
        kernel, and the recorded foreclosure pipeline liquidated on the scenario's schedule (a
        cohort that entered foreclosure in period ``j`` liquidates in period ``j + lag``, at the
        severity of that period applied to its balance at default); pool flows and tranche
        payments. The scenario's monthly vectors are read from this period on."""
        elapsed = prev.period
        month = elapsed + 1
        scenario = _from_month(self.base_scenario, month)
        pool = {c: 0.0 for c in SERVICING_POOL_COLUMNS}
        pool["beginning_balance"] = prev.pool_balance
        flows = np.zeros(KC.NCOL)
        if prev.loan_id is not None:  # the recorded foreclosure pipeline, its month under the scenario
            adv = self.deal.collateral.advancing_default if scenario.advancing is None else scenario.advancing
            sev = float(np.asarray(scenario.severity, dtype=np.float64).ravel()[0])
            flows += pipeline_flows(self, prev, np.array([scenario.recovery_lag]), np.array([adv]),
                                    np.array([[sev]]), elapsed)[0, 0]
        current, _ = pool_now(self, prev)
        if current is not None:
            program = compile_collateral(self.deal, [scenario], loans=current, first_month=month)
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

    def _waterfall_period(self, coll: Collections, prev: _State, pool: dict, delinquency: float):
        """The compiled waterfall for period ``prev.period + 1`` on ``pool``'s collections, from
        ``prev``'s deal state: ``(flows, state after)``."""
        i = prev.period
        program = compile_deal(self.deal, [self._scenario(coll, delinquency)],
                          accruals={i: (self._accrual_start(prev.payment_date if self.deal.payment_step == 1
                                                            else prev.last_payment), coll.report.payment_date)})
        flows = np.zeros((1, KC.NCOL))
        for name in ("net_interest", "gross_interest", "scheduled_principal", "prepayment", "recovery", "loss",
                     "default"):
            flows[0, POOL[name]] = pool[name]
        flows[0, POOL["performing_balance"]] = pool["ending_balance"]  # the waterfall reads the ending balance
        ds = DealState(i, *(getattr(prev.deal, f).copy() for f in DealState.ARRAYS))
        return run_period(program, flows, np.array([pool["beginning_balance"]]), ds), ds


def _scenario_set(scenario) -> ScenarioSet:
    """A scenario, a list of them or a deck, as a :class:`ScenarioSet`."""
    if isinstance(scenario, ScenarioSet):
        return scenario
    if isinstance(scenario, list | tuple):
        return ScenarioSet.of([load_scenario(x) for x in scenario])
    return ScenarioSet.of(load_deck(scenario))


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


