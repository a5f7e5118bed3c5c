"""A period's actual pool from the servicer's collections: each loan's (or the pool's) roll from
beginning to ending balance, checked to reconcile and to be plausible, the foreclosure pipeline
rolled forward, and the pool's flows as the waterfall reads them."""

from __future__ import annotations

import math

import numpy as np

from ..errors import SpecError
from ..io.collection_reports import Collections
from ..io.loans import FORECLOSURE, LoanArrays
from ..spec.collateral import AMORTIZATION
from .state import _State

__all__ = ["TOLERANCE", "INTEREST_TOLERANCE_MONTHS"]

TOLERANCE = 0.01
"""Reported amounts must reconcile (ending = beginning - principal - default) to within a cent."""
INTEREST_TOLERANCE_MONTHS = 12
"""Plausibility: a loan's interest collected in one period is at most this many months of interest
at its gross rate on its beginning balance (``beginning x rate x 12 / 12``: a borrower catching up
on a year of arrears), plus a cent; for loans added after cut-off and for pool totals, at the
highest gross rate of the cut-off pool. A larger figure needs the report's ``override_reason``,
which is recorded with it."""

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
    left after the month's scheduled payment (level at the gross rate over the remaining term,
    even principal for straight-line loans; interest-only 1; 0 from the final or balloon payment
    on), as in the collateral kernel."""
    if month >= int(loans.maturity[j]):
        return 0.0
    if loans.amortization[j] == AMORTIZATION.index("interest_only"):
        return 1.0
    n = int(loans.remaining_term[j]) - month   # payments left after this month's
    r = float(loans.rate[j]) / 12.0
    if r == 0.0 or loans.amortization[j] == AMORTIZATION.index("straight_line"):
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
