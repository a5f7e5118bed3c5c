"""A servicer's report for one period: dates, and the collections loan by loan (a tape, CSV or
Parquet) or as pool totals.

Amounts are in the deal's currency. ``default`` is the balance charged off (liquidated) in the
period and ``recovery`` the proceeds received; a loan's ending balance is its beginning balance
less scheduled principal, prepayment and default.
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from ..errors import SpecError
from .base import Spec
from .fields import Amount, Fraction, IsoDate, Number, PositiveMonths, Seq

__all__ = ["PoolCollections", "CollectionReport", "COLLECTION_COLUMNS", "COLLECTION_OPTIONAL"]

COLLECTION_COLUMNS = ("loan_id", "scheduled_principal", "prepayment", "interest_collected", "default", "recovery",
                      "delinquency_status", "ending_balance")
"""Columns every loan-level collections tape has (one row per loan)."""
COLLECTION_OPTIONAL = ("servicing_fee", "beginning_balance", "foreclosure_balance")
"""``servicing_fee``: retained by the servicer (default: beginning balance x the loan's servicing
fee rate / 12); ``beginning_balance``: checked against the ledger, required for new loans;
``foreclosure_balance``: the part of the ending balance in foreclosure or REO (a line that
aggregates loans, such as a rep line, can be partly in foreclosure; default: all of it when
``delinquency_status`` is ``foreclosure`` or ``reo``, else none)."""


class PoolCollections(Spec):
    """Pool totals for a period (when the servicer reports no loan-level tape)."""

    scheduled_principal: Amount
    prepayment: Amount
    interest_collected: Amount = Field(description="gross interest collected")
    servicing_fee: Amount | None = Field(None, description="default: beginning balance x the pool's fee rate / 12")
    default: Amount = Field(0.0, description="balance charged off (liquidated) in the period")
    recovery: Amount = Field(0.0, description="liquidation proceeds received in the period")
    ending_balance: Amount
    delinquent_60: Amount = Field(0.0, description="ending balance 60+ days delinquent, in foreclosure or REO")


class CollectionReport(Spec):
    """One period's servicer report. Give ``loans`` (a tape, path relative to this file) or ``pool``."""

    deal: str | None = Field(None, description="the deal's name (checked when given)")
    period: PositiveMonths
    period_start: IsoDate | None = Field(None, description="first day of the collection period")
    period_end: IsoDate = Field(description="last day of the collection period")
    payment_date: IsoDate
    loans: str | None = None
    pool: PoolCollections | None = None
    new_loans: Seq[str] = Field((), description="loan ids added to the pool this period")
    rates: dict[str, Number] = Field(default_factory=dict, description="index fixings for floating coupons")
    exercise_call: bool = Field(False, description="the clean-up call is exercised if allowed")
    delinquency_60: Fraction | None = Field(
        None, description="60+ delinquent share of the pool; default: from the tape's statuses")
    advancing: bool | None = Field(
        None, description="the servicer advances on loans in foreclosure (their balances keep amortizing); "
                          "default: the collateral's (on for mortgages)")
    override_reason: str | None = Field(
        None, description="accept amounts beyond the plausibility tolerances (interest far above balance x "
                          "rate), for this stated reason; recorded with the period")

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if (self.loans is None) == (self.pool is None):
            raise SpecError("loans", self.loans, "exactly one of loans (a tape) or pool (totals)")
        if self.period_start is not None and self.period_start > self.period_end:
            raise SpecError("period_start", str(self.period_start), f"a date on or before period_end {self.period_end}")
        if self.payment_date < self.period_end:
            raise SpecError("payment_date", str(self.payment_date), f"a date on or after period_end {self.period_end}")
        if self.override_reason is not None and not self.override_reason.strip():
            raise SpecError("override_reason", self.override_reason, "a stated reason, or no override_reason")
        if self.pool is not None and self.new_loans:
            raise SpecError("new_loans", list(self.new_loans), "new loans only with a loan-level tape")
        return self
