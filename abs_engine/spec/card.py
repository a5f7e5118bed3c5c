"""A credit-card master trust series (CONVENTIONS R2.9): the deal's ``series`` on a trust whose
``collateral`` gives its ``receivables``."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from ..errors import SpecError
from .base import Spec
from .fields import Amount, Fraction, PositiveMonths

__all__ = ["CardSeries"]


class CardSeries(Spec):
    """One series of a master trust: its ``invested_amount`` I in the trust's receivables, the
    certificates' ``coupon`` and the investor ``servicing_fee`` (annual, on I), a
    ``revolving_months`` period in which principal collections buy new receivables for the
    seller, then ``accumulation_months`` of controlled accumulation into a principal funding
    account paid to holders at its end (a bullet), and rapid amortization after it, or from the
    month after the 3-month average excess spread falls below 0. ``legal_final_months``: the
    months projected at most (what is unpaid then is a writedown)."""

    name: str = Field("Certificates", description="the certificates' name in the results")
    invested_amount: Amount
    coupon: Fraction = Field(description="the certificate rate, annual, decimal")
    servicing_fee: Fraction = Field(0.02, description="the investor servicing fee, annual, on the invested amount")
    revolving_months: PositiveMonths
    accumulation_months: PositiveMonths
    legal_final_months: PositiveMonths = Field(120, description="the months projected at most")

    @model_validator(mode="after")
    def _fits(self) -> Self:
        if self.invested_amount <= 0:
            raise SpecError("invested_amount", self.invested_amount, "an invested amount above 0")
        if self.revolving_months + self.accumulation_months > self.legal_final_months:
            raise SpecError("revolving_months", self.revolving_months,
                            f"a revolving period that, with {self.accumulation_months} months of accumulation, ends "
                            f"within the deal's {self.legal_final_months} months (legal_final_months)")
        return self
