"""What the servicer carries from one period to the next: the deal's state, each loan's balance,
fee rate and status, the foreclosure pipeline; stored as canonical JSON in the ledger."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from ..compile.waterfall import DealState, initial_state
from ..io.loans import FORECLOSURE, deal_loans
from ..spec import Deal
from .ledger import canonical_json
from .reports import _unplain

__all__ = ["_State", "_initial"]


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
    last_payment: str | None = None      # notes paid every few months: the last payment month's date (R2.2)

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
            # (only where notes are paid every few months: a monthly deal's states read as they always have)
            **({} if self.last_payment is None else {"last_payment": self.last_payment}),
        })

    @classmethod
    def from_json(cls, text: str) -> _State:
        x = json.loads(text)
        loans = x.pop("loans")  # per-loan columns (ids, finite numbers): read as they are, not walked
        x = _unplain(x)
        ds = x["deal_state"]
        deal = DealState.of(x["period"], ds)  # (arrays recorded before they existed: their "never" value)
        for f in ("balance", "shortfall", "fee_arrears", "accounts", "breached"):  # keep [1, n] shapes
            setattr(deal, f, getattr(deal, f).reshape(1, -1))
        return cls(
            period=x["period"], deal=deal,
            loan_id=None if loans is None else tuple(loans["loan_id"]),
            balance=None if loans is None else np.array(loans["balance"], dtype=np.float64),
            fee_rate=None if loans is None else np.array(loans["fee_rate"], dtype=np.float64),
            status=None if loans is None else np.array(loans["status"], dtype=np.int8),
            pool_balance=x["pool_balance"], fee_rate_pool=x["fee_rate_pool"],
            period_end=x["period_end"], payment_date=x["payment_date"], unrecovered=x["unrecovered"],
            pipeline=x["pipeline"], last_payment=x.get("last_payment"))


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
