"""A period's distribution as data: :class:`PeriodReport`, its canonical JSON and hash, and the
deal id a ledger and an attestation are bound to. Imports no kernel, so settlement can read it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..io.display import Shown, as_table, checks_text
from ..vocabulary import (
    ACCOUNT_COLUMNS,
    CASH_COLUMNS,
    FEE_COLUMNS,
    KERNEL_COLUMNS,
    TRANCHE_COLUMNS,
    TRIGGER_COLUMNS,
    cash_residual,
    instrument_columns,
)
from .ledger import canonical_json, keccak_hex

CASH = KERNEL_COLUMNS["cash"]

if TYPE_CHECKING:
    import pandas as pd

    from ..io.collection_reports import Collections
    from ..io.loans import LoanArrays
    from ..spec import Deal

__all__ = ["PeriodReport", "deal_id", "SERVICING_POOL_COLUMNS", "REALISED"]

SERVICING_POOL_COLUMNS = ("beginning_balance", "scheduled_principal", "prepayment", "default", "recovery", "loss",
                          "gross_interest", "servicing_fee", "net_interest", "ending_balance", "delinquency_60",
                          "cumulative_loss")
"""The pool roll-forward of a period report: ``default`` is the balance charged off,
``loss`` = default - recovery (net; negative when recoveries on earlier charge-offs exceed
this period's charge-offs), ``delinquency_60`` the 60+ delinquent share of the ending balance."""

REALISED = ("smm", "cpr", "mdr", "cdr", "severity")


def deal_id(deal: Deal, loans: LoanArrays) -> str:
    """keccak-256 of the deal's canonical JSON and its loans (so a tape's content counts)."""
    return keccak_hex(canonical_json({
        "deal": deal.model_dump(mode="json"),
        "loans": {"loan_id": [str(x) for x in loans.loan_id], "balance": loans.balance.tolist(),
                  "rate": loans.rate.tolist(), "net_rate": loans.net_rate.tolist(),
                  "remaining_term": loans.remaining_term.tolist(), "status": loans.status.tolist()},
    }))


@dataclass(frozen=True, eq=False, repr=False)
class PeriodReport(Shown):
    """What one period distributed, in the projection's vocabulary. ``data`` is its canonical
    content (what the ledger stores and hashes); the properties are pandas views."""

    data: dict

    @property
    def period(self) -> int:
        return self.data["period"]

    @property
    def tranches(self) -> pd.DataFrame:
        """Index ``tranche``; ``TRANCHE_COLUMNS`` (the residual class: ``residual_paid`` only)."""
        return self._table("tranches", "tranche")

    @property
    def fees(self) -> pd.DataFrame:
        return self._table("fees", "fee")

    @property
    def accounts(self) -> pd.DataFrame:
        return self._table("accounts", "account")

    @property
    def triggers(self) -> pd.DataFrame:
        return self._table("triggers", "trigger")

    @property
    def pool(self) -> pd.Series:
        """The pool roll-forward (``SERVICING_POOL_COLUMNS``)."""
        return self._series("pool", SERVICING_POOL_COLUMNS)

    @property
    def cash(self) -> pd.Series:
        """The waterfall's totals (``CASH_COLUMNS``)."""
        return self._series("cash", CASH_COLUMNS)

    @property
    def check(self) -> pd.Series:
        """Reconciliation residuals (zero up to rounding): ``pool_roll_forward``, ``cash``, ``principal``."""
        return self._series("check", ("pool_roll_forward", "cash", "principal"))

    @property
    def realised(self) -> pd.Series:
        """Rates implied by the actuals: ``smm``, ``cpr``, ``mdr``, ``cdr``, ``severity``."""
        return self._series("realised", REALISED)

    def to_json(self) -> str:
        return canonical_json(self.data)

    @property
    def hash(self) -> str:
        """keccak-256 of the canonical JSON (the ledger's ``report_hash``)."""
        return keccak_hex(self.to_json())

    @classmethod
    def from_json(cls, text: str) -> PeriodReport:
        return cls(_unplain(json.loads(text)))

    def _table(self, key: str, level: str) -> pd.DataFrame:
        import pandas as pd  # deferred: a projection without tables never imports pandas

        rows = self.data[key]
        return as_table(pd.DataFrame([{k: v for k, v in r.items() if k != "name"} for r in rows],
                                     index=pd.Index([r["name"] for r in rows], name=level)))

    def _series(self, key: str, names: tuple[str, ...]) -> pd.Series:
        import pandas as pd  # deferred: a projection without tables never imports pandas

        return pd.Series({k: self.data[key][k] for k in names}, name=self.period, dtype=float)

    def _display(self):
        pool = self.data["pool"]
        principal = pool["scheduled_principal"] + pool["prepayment"] + pool["recovery"]
        residual = max((abs(float(v)) for v in self.data["check"].values()), default=0.0)
        items = [("deal", str(self.data["deal"])), ("period", f"{self.period}, paid {self.data['payment_date']}"),
                 ("pool", f"{pool['beginning_balance']:,.2f} -> {pool['ending_balance']:,.2f}"),
                 ("collected", f"interest {pool['gross_interest']:,.2f}, principal {principal:,.2f}, net loss "
                               f"{pool['loss']:,.2f}"),
                 ("checks", checks_text(residual, float(pool["beginning_balance"]))[0]),
                 ("report hash", self.hash)]
        return "PeriodReport", items, [("tranches", self.tranches)]


def _unplain(x: Any) -> Any:
    if isinstance(x, str) and x in ("inf", "-inf", "nan"):
        return float(x)
    if isinstance(x, dict):
        return {k: _unplain(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_unplain(v) for v in x]
    return x


# ---------------------------------------------------------------- a period's report from the engine's outputs


_ONE = [0]  # a servicing period's flows hold one scenario: its position


def _tranche_rows(deal: Deal, flows, i: int) -> list[dict]:
    tr = flows.rows("tranches", _ONE)[0, i]         # [note, column] of the period's one scenario
    at = KERNEL_COLUMNS["tranches"]
    rows = [{"name": t.name, **{c: float(tr[k, at[c]]) for c in TRANCHE_COLUMNS[:-1]},
             "original_balance": float(t.balance)} for k, t in enumerate(deal.notes)]
    residual = next((t.name for t in deal.tranches if t.residual), None)
    if residual is not None:
        rows.append({"name": residual, "residual_paid": float(flows.rows("cash", _ONE)[0, i, CASH["residual_paid"]])})
    return rows


def _report_data(deal: Deal, did: str, coll: Collections, pool: dict, flows, i: int) -> dict:
    r = coll.report

    def items(name, names, columns):
        x, at = flows.rows(name, _ONE)[0, i], KERNEL_COLUMNS[name]
        return [{"name": n, **{c: float(x[k, at[c]]) for c in columns}} for k, n in enumerate(names)]

    period_cash = flows.rows("cash", _ONE)[0, i]
    cash = {c: float(period_cash[CASH[c]]) for c in CASH_COLUMNS}
    oc_beg = cash["pool_balance_beginning"] - cash["note_balance_beginning"]
    oc_fall = oc_beg - (cash["pool_balance_ending"] - cash["note_balance_ending"])
    check = {
        "pool_roll_forward": pool["beginning_balance"] - pool["scheduled_principal"] - pool["prepayment"]
        - pool["default"] - pool["ending_balance"],
        "cash": cash_residual(cash.__getitem__),
        "principal": cash["principal_collections"] + cash["call_proceeds"] + cash["loss"] + cash["accretion"] - (
            cash["principal_paid"] + cash["writedown"] + oc_fall),
    }
    extra = {}  # hedges and facilities (CONVENTIONS R2.8), for a deal that has them
    for table, specs in (("hedges", deal.hedges), ("facilities", deal.facilities)):
        if specs:
            x, at = flows.rows("instruments", _ONE)[0, i], instrument_columns(table)
            first = 0 if table == "hedges" else len(deal.hedges)
            extra[table] = [{"name": h.name, **{c: float(x[first + k, j]) for c, j in at.items()}}
                            for k, h in enumerate(specs)]
    return {
        "deal": deal.name, "deal_id": did, "period": coll.period,
        "period_start": None if r.period_start is None else str(r.period_start),
        "period_end": str(r.period_end), "payment_date": str(r.payment_date),
        "pool": pool,
        "tranches": _tranche_rows(deal, flows, i),
        "fees": items("fees", [f.name for f in deal.fees], FEE_COLUMNS),
        "accounts": items("accounts", [a.name for a in deal.accounts], ACCOUNT_COLUMNS),
        "triggers": items("triggers", [t.name for t in deal.triggers], TRIGGER_COLUMNS),
        **extra, "cash": cash, "check": check, "realised": _realised(pool),
    }


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
