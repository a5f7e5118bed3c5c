"""Collateral: rep lines or a loan tape file (the tape's rows are validated by :mod:`abs_engine.tape`)."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from ..errors import SpecError
from .base import Spec
from .fields import Amount, Fraction, Months, PositiveMonths, Seq

__all__ = ["RepLine", "Collateral", "AMORTIZATION", "ASSET_TYPES"]

AMORTIZATION = ("level", "interest_only", "balloon", "straight_line")
ASSET_TYPES = ("mortgage", "auto", "student_loan", "credit_card", "equipment", "consumer", "private_credit")


class RepLine(Spec):
    """One representative line of loans, projected as one loan.

    ``wam`` is the remaining term in months of the amortization schedule; a ``balloon``
    line amortizes over ``wam`` and pays its remaining balance at loan month
    ``balloon_month``; a ``straight_line`` line repays an even share of its balance each month
    (1/k of it with k months left: even principal, interest on top). ``original_term``
    defaults to ``age + wam``.
    """

    name: str | None = None
    balance: Amount
    wac: Fraction = Field(description="gross weighted-average coupon, decimal")
    net_coupon: Fraction | None = Field(None, description="coupon passed to the deal; default wac")
    servicing_fee_rate: Fraction | None = Field(None, description="wac - net_coupon, if given instead")
    wam: PositiveMonths
    age: Months = 0
    original_term: PositiveMonths | None = None
    amortization: Literal["level", "interest_only", "balloon", "straight_line"] = "level"
    balloon_month: PositiveMonths | None = Field(None, description="loan month of the balloon payment")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.net_coupon is not None and self.servicing_fee_rate is not None:
            raise SpecError("servicing_fee_rate", self.servicing_fee_rate,
                            "net_coupon or servicing_fee_rate, not both")
        if self.net_coupon is not None and self.net_coupon > self.wac:
            raise SpecError("net_coupon", self.net_coupon, f"<= wac ({self.wac})")
        if self.servicing_fee_rate is not None and self.servicing_fee_rate > self.wac:
            raise SpecError("servicing_fee_rate", self.servicing_fee_rate, f"<= wac ({self.wac})")
        if self.original_term is not None and self.age > self.original_term:
            raise SpecError("age", self.age, f"<= original_term ({self.original_term})")
        if self.amortization == "balloon":
            if self.balloon_month is None:
                raise SpecError("balloon_month", None, "the loan month of the balloon payment")
            if not self.age < self.balloon_month <= self.age + self.wam:
                raise SpecError("balloon_month", self.balloon_month,
                                f"a loan month in ({self.age}, {self.age + self.wam}] (age, age + wam]")
        elif self.balloon_month is not None:
            raise SpecError("balloon_month", self.balloon_month, "no balloon_month unless amortization is 'balloon'")
        final = self.balloon_month if self.amortization == "balloon" else self.age + self.wam
        if self.original_term is not None and self.original_term < final:
            raise SpecError("original_term", self.original_term,
                            f"a term >= the loan month of the last payment ({final}: "
                            + ("balloon_month)" if self.amortization == "balloon" else "age + wam)"))
        return self

    @property
    def net_rate(self) -> float:
        if self.net_coupon is not None:
            return self.net_coupon
        return self.wac - (self.servicing_fee_rate or 0.0)


class Collateral(Spec):
    """The pool: ``rep_lines`` or a ``loan_tape`` file (CSV or Parquet), not both."""

    asset_type: Literal[ASSET_TYPES] = "mortgage"  # type: ignore[valid-type]
    rep_lines: Seq[RepLine] | None = None
    loan_tape: str | None = Field(None, description="path to a CSV or Parquet tape, relative to the deal file")
    servicing_fee_rate: Fraction = Field(0.0, description="tape loans without a servicing_fee_rate column")

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.rep_lines is None) == (self.loan_tape is None):
            raise SpecError("", "both" if self.rep_lines is not None else "neither",
                            "exactly one of rep_lines or loan_tape")
        if self.rep_lines is not None and not self.rep_lines:
            raise SpecError("rep_lines", [], "at least one rep line")
        if self.loan_tape is not None and not self.loan_tape.lower().endswith((".csv", ".parquet", ".pq")):
            raise SpecError("loan_tape", self.loan_tape, "a path ending in .csv or .parquet")
        return self

    @property
    def advancing_default(self) -> bool:
        """Servicer advancing is on by default for mortgages only (CONVENTIONS.md)."""
        return self.asset_type == "mortgage"
