"""Collateral: rep lines or a loan tape file (the tape's rows are validated by :mod:`abs_engine.tape`)."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from ..errors import SpecError
from .base import Spec
from .fields import Amount, Fraction, IsoDate, Months, PositiveMonths, Seq

__all__ = ["AdjustableRate", "RepLine", "Reinvestment", "CollateralGroup", "Collateral", "AMORTIZATION", "ASSET_TYPES"]

AMORTIZATION = ("level", "interest_only", "balloon", "straight_line")
ASSET_TYPES = ("mortgage", "auto", "student_loan", "credit_card", "equipment", "consumer", "private_credit")


class AdjustableRate(Spec):
    """An adjustable-rate (or floating-rate) loan's terms: after ``initial_fixed_months`` loan
    months at the line's ``wac``, the gross rate resets every ``reset_months`` to ``index`` (a
    rate path of the scenario's ``rates``, read at the reset month) + ``margin``, moving at most
    ``initial_cap`` at the first reset and ``periodic_cap`` at later ones, kept within
    ``[lifetime_floor, lifetime_cap]``; a level-pay loan's payment is recast at each reset over
    its remaining term. A floating-rate loan: ``initial_fixed_months: 0``, ``reset_months: 1``,
    no caps. The servicing spread ``wac - net_coupon`` stays with the loan: the net rate is the
    gross rate less it (at least 0)."""

    index: str = Field(description="the name of a rate in the scenario's rates (e.g. SOFR)")
    margin: Fraction = Field(description="added to the index at each reset, decimal")
    initial_fixed_months: Months = Field(0, description="loan months at the initial rate (wac) from origination: "
                                         "the first reset is at loan month initial_fixed_months + 1")
    reset_months: PositiveMonths = Field(12, description="months between resets")
    initial_cap: Fraction | None = Field(None, description="the most the rate moves at the first reset "
                                         "(default: periodic_cap)")
    periodic_cap: Fraction | None = Field(None, description="the most the rate moves at each later reset "
                                          "(none: no cap)")
    lifetime_cap: Fraction | None = Field(None, description="the highest gross rate (none: no cap)")
    lifetime_floor: Fraction = Field(0.0, description="the lowest gross rate")

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if self.lifetime_cap is not None and self.lifetime_cap < self.lifetime_floor:
            raise SpecError("lifetime_cap", self.lifetime_cap, f"a cap >= lifetime_floor ({self.lifetime_floor})")
        return self


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
    origination_date: IsoDate | None = Field(None, description="instead of age: the line is aged from it to the "
                                             "deal's cut_off_date, in whole months")
    original_term: PositiveMonths | None = None
    amortization: Literal["level", "interest_only", "balloon", "straight_line"] = "level"
    balloon_month: PositiveMonths | None = Field(None, description="loan month of the balloon payment")
    arm: AdjustableRate | None = Field(None, description="an adjustable- or floating-rate line: its rate resets")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.arm is not None and self.arm.lifetime_cap is not None and not (
                self.arm.lifetime_floor <= self.wac <= self.arm.lifetime_cap):
            raise SpecError("arm.lifetime_cap", self.arm.lifetime_cap, f"lifetime bounds around the line's wac "
                            f"({self.wac})")
        if self.origination_date is not None and "age" in self.model_fields_set:
            raise SpecError("origination_date", self.origination_date.isoformat(), "age or origination_date, not both")
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


class Reinvestment(Spec):
    """A reinvesting pool (CONVENTIONS R2.10): in each of the first ``months`` months, the month's
    principal collections (scheduled, prepaid, recovered) buy new loans at par at the month's end;
    each purchase is a cohort of level-pay loans at ``wac`` (``net_coupon`` to the deal) over
    ``term`` months, age 0, first paying the next month, under the scenario's assumptions (a
    PSA, SDA or ABS curve read at the cohort's own loan month). The notes receive interest only
    meanwhile; losses are not replaced. ``ends_when`` names a trigger on the pool's cumulative
    loss that ends the period early (an early-amortization event)."""

    months: PositiveMonths = Field(description="the reinvestment period R, in months from the cut-off")
    wac: Fraction = Field(description="the new loans' gross coupon, decimal")
    net_coupon: Fraction | None = Field(None, description="their coupon to the deal; default wac")
    term: PositiveMonths = Field(description="the new loans' term in months")
    ends_when: str | None = Field(None, description="a cumulative_loss trigger of the deal: reinvestment ends for "
                                  "good in the first month it is breached (early amortization); that month's "
                                  "principal collections go to the notes")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.net_coupon is not None and self.net_coupon > self.wac:
            raise SpecError("net_coupon", self.net_coupon, f"<= wac ({self.wac})")
        return self

    @property
    def net(self) -> float:
        return self.wac if self.net_coupon is None else self.net_coupon


class CollateralGroup(Spec):
    """One collateral group of a deal with several (CONVENTIONS R2.12): its ``rep_lines`` or its
    ``loan_tape``, projected on its own under the run's scenario; the classes whose ``group`` names
    it are paid first from its collections."""

    name: str
    rep_lines: Seq[RepLine] | None = None
    loan_tape: str | None = Field(None, description="path to a CSV or Parquet tape, relative to the deal file")
    servicing_fee_rate: Fraction = Field(0.0, description="tape loans without a servicing_fee_rate column")

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        _one_of(self, ("rep_lines", "loan_tape"))
        return self


def _one_of(spec: Spec, fields: tuple[str, ...]) -> None:
    """Exactly one of ``fields`` given; rep lines not empty; a tape's path a CSV or Parquet one."""
    given = [k for k in fields if getattr(spec, k) is not None]
    if len(given) != 1:
        raise SpecError("", ", ".join(given) if given else "neither", "exactly one of " + ", ".join(fields[:-1])
                        + f" or {fields[-1]}")
    if spec.rep_lines is not None and not spec.rep_lines:
        raise SpecError("rep_lines", [], "at least one rep line")
    if spec.loan_tape is not None and not spec.loan_tape.lower().endswith((".csv", ".parquet", ".pq")):
        raise SpecError("loan_tape", spec.loan_tape, "a path ending in .csv or .parquet")


class Collateral(Spec):
    """The pool: ``rep_lines`` or a ``loan_tape`` file (CSV or Parquet), not both; optionally
    ``reinvestment`` of principal collections for a period (CONVENTIONS R2.10). Or several
    ``groups``, each its own rep lines or tape (CONVENTIONS R2.12), or a card trust's
    ``receivables`` (R2.9)."""

    asset_type: Literal[ASSET_TYPES] = "mortgage"  # type: ignore[valid-type]
    rep_lines: Seq[RepLine] | None = None
    loan_tape: str | None = Field(None, description="path to a CSV or Parquet tape, relative to the deal file")
    servicing_fee_rate: Fraction = Field(0.0, description="tape loans without a servicing_fee_rate column")
    reinvestment: Reinvestment | None = None
    receivables: Amount | None = Field(None, description="a credit-card master trust's receivables at cut-off "
                                       "(CONVENTIONS R2.9; the deal gives its series)")
    groups: Seq[CollateralGroup] | None = Field(None, description="several collateral groups, each projected on "
                                                "its own and paying its own classes first (CONVENTIONS R2.12)")

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        _one_of(self, ("rep_lines", "loan_tape", "groups", "receivables"))
        if self.receivables is not None and self.reinvestment is not None:
            raise SpecError("reinvestment", self.reinvestment.model_dump(),
                            "no reinvestment for a card trust (its series revolves by its own rules)")
        if self.groups is not None:
            if len(self.groups) < 2:
                raise SpecError("groups", [g.name for g in self.groups], "at least two groups (one pool: rep_lines "
                                "or loan_tape)")
            names = [g.name for g in self.groups]
            for k, name in enumerate(names):
                if names.index(name) != k:
                    raise SpecError(f"groups[{k}].name", name, f"a name not used by groups[{names.index(name)}]")
            if self.reinvestment is not None:
                raise SpecError("reinvestment", self.reinvestment.model_dump(), "no reinvestment for a deal with "
                                "collateral groups (each group amortizes, CONVENTIONS R2.12)")
        return self

    def group(self, k: int) -> Collateral:
        """Group ``k`` as a pool of its own (the deal's asset type, no reinvestment)."""
        g = self.groups[k]
        return Collateral(asset_type=self.asset_type, rep_lines=g.rep_lines, loan_tape=g.loan_tape,
                          servicing_fee_rate=g.servicing_fee_rate)

    @property
    def adjustable(self) -> bool:
        """Whether some rep line's rate resets (``arm``), in any group."""
        pools = self.groups if self.groups is not None else (self,)
        return any(ln.arm is not None for p in pools for ln in (p.rep_lines or ()))

    @property
    def advancing_default(self) -> bool:
        """Servicer advancing is on by default for mortgages only (CONVENTIONS.md)."""
        return self.asset_type == "mortgage"
