"""Column names of every result table, declared once (see shared VOCABULARY.md), and where each
sits in the kernels' arrays (:data:`KERNEL_COLUMNS`)."""

from __future__ import annotations

__all__ = ["KERNEL_COLUMNS", "PLANNED_COLUMNS", "POOL_COLUMNS", "DELINQUENCY_COLUMNS", "TRUST_COLUMNS",
           "CARD_STAT_COLUMNS", "LOAN_COLUMNS", "CHECK_COLUMNS", "TRANCHE_COLUMNS",
           "FEE_COLUMNS",
           "ACCOUNT_COLUMNS", "TRIGGER_COLUMNS", "CASH_COLUMNS", "SUMMARY_COLUMNS", "ANALYTICS_COLUMNS",
           "HEDGE_COLUMNS", "FACILITY_COLUMNS", "cash_residual", "instrument_columns", "delinquency_ratio"]

POOL_COLUMNS = (
    "date", "beginning_balance", "scheduled_principal", "prepayment", "default", "recovery", "loss",
    "gross_interest", "servicing_fee", "net_interest", "ending_balance", "performing_balance",
    "foreclosure_balance", "smm", "mdr", "cumulative_loss",
)
"""The ``pool`` table, index ``period``."""
DELINQUENCY_COLUMNS = ("delinquent_30", "delinquent_60", "delinquent_90", "delinquency_60_ratio")
"""Columns the ``pool`` table adds for a pool rolled through a delinquency pipeline (CONVENTIONS
R2.11): the balances 30, 60 and 90+ days delinquent at month end (``performing_balance`` holds
them with the current balance), and the 60+ ratio ``(D60 + D90 + foreclosure) / ending``."""

LOAN_COLUMNS = (
    "beginning_balance", "scheduled_principal", "prepayment", "default", "recovery", "loss",
    "gross_interest", "servicing_fee", "net_interest", "ending_balance", "performing_balance",
    "foreclosure_balance",
)
"""The per-loan table (on request), index ``loan_id``, ``period``."""

CHECK_COLUMNS = ("pool_roll_forward", "pool_conservation", "cash", "principal")
"""``check()``: per-period residuals. ``pool_roll_forward`` = beginning - principal - loss -
ending; ``pool_conservation`` = original - cumulative principal - cumulative loss - ending;
``cash`` = available funds - (payments + deposits - draws - releases + residual + unallocated),
with hedge receipts and facility draws among the funds and net swap payments, facility interest
and repayments among the payments;
``principal`` = pool principal + call proceeds + losses + Z accretion - (note principal +
writedowns + fall in over-collateralisation). The last two exist when the deal has tranches."""

TRANCHE_COLUMNS = ("beginning_balance", "coupon", "interest_due", "interest_paid", "interest_shortfall",
                   "principal_paid", "writedown", "ending_balance", "accretion", "notional", "residual_paid")
"""The ``tranches`` table, index ``period``, ``tranche``; ``accretion`` is what a Z class's balance
grew by (CONVENTIONS R2.5: ``ending = beginning + accretion - principal - writedown``);
``notional`` is what an interest-only class's interest was paid on (0 for other classes);
``residual_paid`` is the residual class's cash."""

PLANNED_COLUMNS = ("planned_balance", "balance", "on_schedule")
"""The ``planned`` table, index ``period``, ``schedule`` (CONVENTIONS R2.4): per principal step
that pays down to a planned schedule (named by the schedule), the planned balance after the
period, its classes' ending balance, and whether they are within 1e-6 of it (R2.4.7)."""

FEE_COLUMNS = ("due", "paid", "shortfall")
ACCOUNT_COLUMNS = ("beginning_balance", "deposit", "draw", "release", "ending_balance", "target")
TRIGGER_COLUMNS = ("value", "threshold", "breached")
HEDGE_COLUMNS = ("notional", "index_rate", "net_amount", "payment_due", "payment_paid", "payment_shortfall",
                 "receipt")
"""The ``hedges`` table, index ``period``, ``hedge`` (CONVENTIONS R2.8.2-3): the period's notional and
index, the ``net_amount`` (positive: the deal pays; a cap's is minus its receipt), the net
payment due with any unpaid before, what was paid, what is carried forward, and what the hedge
paid the deal (added to interest funds at the top)."""
FACILITY_COLUMNS = ("commitment", "rate", "beginning_balance", "interest_due", "interest_paid", "interest_shortfall",
                    "repayment", "draw", "ending_balance")
"""The ``facilities`` table, index ``period``, ``facility`` (CONVENTIONS R2.8.4): the commitment, the
period's rate, the drawn balance at the start, interest due (with any unpaid before), paid and
carried forward, the repayment, the draws and the drawn balance at the end."""

CASH_COLUMNS = ("interest_collections", "principal_collections", "call_proceeds", "loss", "reserve_draws",
                "reserve_releases", "fees_paid", "interest_paid", "principal_paid", "reserve_deposits",
                "residual_paid", "unallocated", "writedown", "note_balance_beginning", "note_balance_ending",
                "pool_balance_beginning", "pool_balance_ending", "accretion", "accelerated", "hedge_receipts",
                "hedge_payments", "facility_draws", "facility_interest", "facility_repayments")
"""The ``cash`` table (the waterfall's period totals), index ``period``; in kernel column order.
``accretion``: what Z classes' balances grew by; ``accelerated``: 1.0 in the periods paid by the
post-acceleration priority (from the period after an event of default, CONVENTIONS R2.7);
``hedge_receipts``, ``hedge_payments``: what hedges paid the deal and the net swap payments it
paid them; ``facility_draws``, ``facility_interest``, ``facility_repayments``: liquidity
facilities' flows (CONVENTIONS R2.8)."""

SUMMARY_COLUMNS = ("wal", "first_principal_period", "last_principal_period", "total_interest",
                   "total_principal", "total_writedown", "total_residual", "yield", "price", "modified_duration")

TRUST_COLUMNS = (
    "receivables", "principal_collections", "finance_charges", "charge_offs", "new_receivables",
    "floating_pct", "fixed_pct", "investor_finance_charges", "investor_charge_offs", "investor_principal_collections",
    "interest_due", "interest_paid", "interest_shortfall", "servicing_fee", "charge_offs_covered",
    "investor_charge_off", "excess_spread", "excess_spread_rate", "excess_spread_3m", "pfa_deposit", "pfa_balance",
    "accumulation_deficit", "principal_paid", "principal_to_seller", "invested_amount", "phase",
    "early_amortization",
)
"""A credit-card master trust series' table (CONVENTIONS R2.9), index ``period``: the trust's
receivables at month end and its collections; the allocation percentages; the investor shares;
the finance-charge waterfall (interest, servicing, charge-offs covered, the uncovered
``investor_charge_off`` that reduces the invested amount, ``excess_spread`` released to the
seller); the annualized excess spread and its 3-month average; the principal funding account;
principal paid to holders or to the seller; the invested amount at month end; ``phase`` (0
revolving, 1 accumulation, 2 amortization) and whether early amortization has been triggered.
The column order is the kernel's (:mod:`abs_engine.kernels.card`)."""

CARD_STAT_COLUMNS = ("wal", "first_principal_period", "last_principal_period", "total_interest", "total_principal",
                     "total_writedown", "early_amortization_period")
"""A card trust series' per-scenario statistics, in the kernel's order (:mod:`abs_engine.kernels.card`)."""

ANALYTICS_COLUMNS = ("wal", "price", "yield", "mortgage_yield", "macaulay_duration", "modified_duration",
                     "convexity", "discount_margin")
"""``analytics()`` per tranche (BMA section G): yield bond-equivalent, price per 100 of original
face, durations in years; ``discount_margin`` for floating tranches."""

# ---------------------------------------------------------------- where each column sits in the kernels' arrays
# The one map from the names above to kernel positions: results, summaries and servicing read a
# kernel's output through it, never by a bare column number. It is plain data (settlement reads
# this module and never reaches the kernels); tests/test_layout.py holds it equal to the
# kernels' own constants.

def _at(*names: str) -> dict[str, int]:
    return {name: k for k, name in enumerate(names)}


KERNEL_COLUMNS: dict[str, dict[str, int]] = {
    # pool accumulators [..., period, column] of abs_engine.kernels.collateral; ``amortized_balance``
    # (the balance scheduled principal is taken from, the base of SMM) is internal, not a table column
    "pool": _at("scheduled_principal", "prepayment", "default", "recovery", "loss", "gross_interest", "net_interest",
                "performing_balance", "foreclosure_balance", "amortized_balance"),
    # the waterfall's [..., item, column] (abs_engine.kernels.waterfall); the tranche table adds
    # ``residual_paid`` after the kernel's columns
    "tranches": _at(*TRANCHE_COLUMNS),
    "fees": _at(*FEE_COLUMNS),
    "accounts": _at(*ACCOUNT_COLUMNS),
    "triggers": _at(*TRIGGER_COLUMNS),
    "cash": _at(*CASH_COLUMNS),
    # hedges and facilities share the kernel's instrument columns; each table reads its own
    "instruments": _at("notional", "rate", "net_amount", "due", "paid", "shortfall", "receipt", "beginning_balance",
                       "repayment", "draw", "ending_balance"),
    # the fused summary kernel's stats[column, scenario, note] and extra[scenario, column]
    "summary": _at("wal", "first_principal_period", "last_principal_period", "total_interest", "total_principal",
                   "total_writedown", "yield", "price", "modified_duration"),
    "summary_extra": _at("total_residual", "pool_loss"),
}
"""``KERNEL_COLUMNS[table][column]``: the position of a named column in the kernel array behind a
table (see the comments for which array)."""

# the hedges' and facilities' columns that the kernel's instrument columns name otherwise
_INSTRUMENT = {"hedges": {"index_rate": "rate", "payment_due": "due", "payment_paid": "paid",
                          "payment_shortfall": "shortfall"},
               "facilities": {"commitment": "notional", "interest_due": "due", "interest_paid": "paid",
                              "interest_shortfall": "shortfall"}}


def instrument_columns(table: str) -> dict[str, int]:
    """``{column: position}`` of the ``hedges`` or ``facilities`` table's columns in the kernel's
    instrument columns (``KERNEL_COLUMNS["instruments"]``)."""
    cols = HEDGE_COLUMNS if table == "hedges" else FACILITY_COLUMNS
    return {c: KERNEL_COLUMNS["instruments"][_INSTRUMENT[table].get(c, c)] for c in cols}


def cash_residual(c):
    """The cash check of one period or many (CHECK_COLUMNS ``cash``), from ``c(name)``, a cash
    column by name: every inflow (collections, call proceeds, reserve draws and releases, hedge
    receipts, facility draws) less every use (fees, note interest and principal, reserve
    deposits, net swap payments, facility interest and repayments, the residual, what is left
    unallocated)."""
    inflow = (c("interest_collections") + c("principal_collections") + c("call_proceeds") + c("reserve_draws")
              + c("reserve_releases") + c("hedge_receipts") + c("facility_draws"))
    return inflow - (c("fees_paid") + c("interest_paid") + c("principal_paid") + c("reserve_deposits")
                     + c("hedge_payments") + c("facility_interest") + c("facility_repayments")
                     + c("residual_paid") + c("unallocated"))


def delinquency_ratio(performing, foreclosure, delinquent_60, delinquent_90):
    """The 60+ delinquency ratio at month end (CONVENTIONS R2.11.7): ``(D60 + D90 + FCL) /
    (performing + FCL)``, the performing balance holding the current and delinquent balances; 0
    for a pool paid off. Arrays of any one shape."""
    import numpy as np  # deferred: the vocabulary's names load without numpy

    total = performing + foreclosure
    late = delinquent_60 + delinquent_90 + foreclosure
    return np.where(total > 0.0, late / np.where(total > 0.0, total, 1.0), 0.0)
