"""Column names of every result table, declared once (see shared VOCABULARY.md), and where each
sits in the kernels' arrays (:data:`KERNEL_COLUMNS`)."""

from __future__ import annotations

__all__ = ["KERNEL_COLUMNS", "PLANNED_COLUMNS", "POOL_COLUMNS", "LOAN_COLUMNS", "CHECK_COLUMNS", "TRANCHE_COLUMNS",
           "FEE_COLUMNS",
           "ACCOUNT_COLUMNS", "TRIGGER_COLUMNS", "CASH_COLUMNS", "SUMMARY_COLUMNS", "ANALYTICS_COLUMNS"]

POOL_COLUMNS = (
    "date", "beginning_balance", "scheduled_principal", "prepayment", "default", "recovery", "loss",
    "gross_interest", "servicing_fee", "net_interest", "ending_balance", "performing_balance",
    "foreclosure_balance", "smm", "mdr", "cumulative_loss",
)
"""The ``pool`` table, index ``period``."""

LOAN_COLUMNS = (
    "beginning_balance", "scheduled_principal", "prepayment", "default", "recovery", "loss",
    "gross_interest", "servicing_fee", "net_interest", "ending_balance", "performing_balance",
    "foreclosure_balance",
)
"""The per-loan table (on request), index ``loan_id``, ``period``."""

CHECK_COLUMNS = ("pool_roll_forward", "pool_conservation", "cash", "principal")
"""``check()``: per-period residuals. ``pool_roll_forward`` = beginning - principal - loss -
ending; ``pool_conservation`` = original - cumulative principal - cumulative loss - ending;
``cash`` = available funds - (payments + deposits - draws - releases + residual + unallocated);
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

CASH_COLUMNS = ("interest_collections", "principal_collections", "call_proceeds", "loss", "reserve_draws",
                "reserve_releases", "fees_paid", "interest_paid", "principal_paid", "reserve_deposits",
                "residual_paid", "unallocated", "writedown", "note_balance_beginning", "note_balance_ending",
                "pool_balance_beginning", "pool_balance_ending", "accretion", "accelerated")
"""The ``cash`` table (the waterfall's period totals), index ``period``; in kernel column order.
``accretion``: what Z classes' balances grew by; ``accelerated``: 1.0 in the periods paid by the
post-acceleration priority (from the period after an event of default, CONVENTIONS R2.7)."""

SUMMARY_COLUMNS = ("wal", "first_principal_period", "last_principal_period", "total_interest",
                   "total_principal", "total_writedown", "total_residual", "yield", "price", "modified_duration")

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
    # the fused summary kernel's stats[column, scenario, note] and extra[scenario, column]
    "summary": _at("wal", "first_principal_period", "last_principal_period", "total_interest", "total_principal",
                   "total_writedown", "yield", "price", "modified_duration"),
    "summary_extra": _at("total_residual", "pool_loss"),
}
"""``KERNEL_COLUMNS[table][column]``: the position of a named column in the kernel array behind a
table (see the comments for which array)."""
