"""Column names of every result table, declared once (see shared VOCABULARY.md)."""

from __future__ import annotations

__all__ = ["POOL_COLUMNS", "LOAN_COLUMNS", "CHECK_COLUMNS"]

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

CHECK_COLUMNS = ("pool_roll_forward", "pool_conservation")
"""``check()``: per-period residuals. ``pool_roll_forward`` = beginning - principal - loss -
ending; ``pool_conservation`` = original - cumulative principal - cumulative loss - ending."""
