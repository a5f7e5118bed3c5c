"""Capital structure and waterfall: tranches, fees, accounts, triggers and the steps that pay them.

A waterfall is an ordered list of small steps, each naming what it pays::

    waterfall:
      - {pay: fees, fees: [servicing]}
      - {id: class-a-interest, pay: interest, tranches: [A-1, A-2]}   # one pro-rata group
      - {pay: principal, tranches: [A-1, A-2, B], amount: oc_target, allocation: sequential}
      - {pay: reserve, account: reserve}
      - {pay: residual, tranche: Certificates}

or two priorities, ``{interest: [...], principal: [...]}``: interest collections run through
the first, then what is left joins principal collections in the second.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from ..errors import SpecError
from .base import Spec
from .fields import Amount, Coupon, Fraction, IntKey, IsoDate, NonNegOrVector, Number, PositiveMonths, Seq, StrictInt

__all__ = [
    "FloatingCoupon", "StepUp", "Tranche", "Fee", "ReserveTarget", "Account", "Trigger", "FeeStep", "InterestStep",
    "PrincipalStep", "ReserveStep", "ResidualStep", "Step", "SplitWaterfall", "StepDown",
    "OvercollateralizationTarget", "CleanUpCall", "METRICS", "PsaCollar", "PlannedSchedule", "Accrual", "Notional",
    "EventsOfDefault", "Acceleration", "DayCount", "BusinessDays",
    "AccretionStep", "Hedge", "Facility", "HedgeStep", "FacilityStep", "TransferStep",
]


DayCount = Literal["30/360", "ACT/360", "ACT/365F", "ACT/ACT ISDA"]
"""A class's, hedge's or facility's day count (CONVENTIONS R2.1.3; ``abs_engine.dates.DAY_COUNTS``)."""


def _finite(x: float, field: str) -> float:
    if x != x or x in (float("inf"), float("-inf")):
        raise SpecError(field, x, "a finite number")
    return x


class FloatingCoupon(Spec):
    """``index`` (a name in the scenario's ``rates``) + ``spread``, optionally capped and floored.
    Without a ``floor`` the coupon is floored at 0."""

    index: str
    spread: Number
    cap: Fraction | None = None
    floor: Fraction | None = None

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        _finite(self.spread, "spread")
        floor = self.floor if self.floor is not None else 0.0
        if self.spread < -floor:
            raise SpecError("spread", self.spread, f"a spread >= -floor ({-floor})")
        if self.cap is not None and self.cap < floor:
            raise SpecError("cap", self.cap, f"a cap >= the floor ({floor})")
        return self


class StepUp(Spec):
    """A coupon step-up (CONVENTIONS R2.7.1): the class's coupon rises by ``by`` from period
    ``from_period`` on, or from the first period whose accrual period starts on or after
    ``from_date`` (typically the first call date). For a floating class ``by`` is added to the
    coupon after its cap and floor (the step-up is a term of the note, on top of its coupon
    formula), so for a floater without cap or floor it is a step-up of the spread."""

    by: Fraction
    from_period: PositiveMonths | None = None
    from_date: IsoDate | None = None

    @model_validator(mode="after")
    def _one_start(self) -> Self:
        if (self.from_period is None) == (self.from_date is None):
            given = {k: getattr(self, k) for k in ("from_period", "from_date") if getattr(self, k) is not None}
            raise SpecError("", given or "neither", "exactly one of from_period or from_date")
        return self


class BusinessDays(Spec):
    """Payment dates moved to business days (CONVENTIONS R2.1.1): ``convention`` ``following``,
    ``modified_following`` (the following business day unless it is in the next month, then the
    preceding one) or ``preceding``, on ``calendar``: a financial market of the ``holidays``
    library (``NYSE``, ``ECB`` for TARGET2, ``LSE``...) or a country code (``US``, ``GB``...);
    weekends are never business days. Accrual periods run between the adjusted dates."""

    convention: Literal["following", "modified_following", "preceding"]
    calendar: str


class Accrual(Spec):
    """What makes a class an accrual (Z) class (CONVENTIONS R2.5): while any of the
    ``directed_to`` classes is outstanding at the start of a period, its coupon accretes to its
    balance instead of being paid, and an ``accretion`` step moves the same cash from interest
    funds to principal funds, which pay the directed classes first."""

    directed_to: Seq[str]

    @model_validator(mode="after")
    def _some(self) -> Self:
        if not self.directed_to:
            raise SpecError("directed_to", [], "at least one accretion-directed class")
        return self


class Notional(Spec):
    """What an interest-only class's interest is paid on (CONVENTIONS R2.6.1): the beginning
    balance of a named ``tranche``, or (``pool: true``) the beginning pool balance (performing +
    foreclosure)."""

    tranche: str | None = None
    pool: bool = False

    @model_validator(mode="after")
    def _one(self) -> Self:
        if (self.tranche is None) == (not self.pool):
            raise SpecError("", {"tranche": self.tranche, "pool": self.pool}, "exactly one of tranche or pool: true")
        return self


class Tranche(Spec):
    """A class of notes, or the residual (``residual: true``: no balance, no coupon, receives what
    is left). ``priority`` 1 is the most senior; it orders sequential principal and writedowns.
    ``step_up``: the coupon's step-up, if any (:class:`StepUp`)."""

    name: str
    balance: Amount = 0.0
    coupon: Coupon | FloatingCoupon = 0.0
    day_count: DayCount = "30/360"
    priority: StrictInt | None = Field(None, ge=1, le=10_000)
    residual: bool = False
    interest_on_shortfall: bool = Field(False, description="unpaid interest accrues interest at the coupon")
    step_up: StepUp | None = None
    accrual: Accrual | None = Field(None, description="an accrual (Z) class: its accretion pays these classes")
    notional: Notional | None = Field(None, description="an interest-only class: no balance, its coupon paid on "
                                                        "this notional")
    strike: Fraction | None = Field(None, description="a WAC interest-only strip on the pool notional: its rate is "
                                                      "max(0, pool net coupon - strike)")
    lockout: PositiveMonths | None = Field(
        None, description="no principal before this period (CONVENTIONS R2.4.6); what the class would have been "
                          "paid goes to the other classes of each principal step")
    group: str | None = Field(None, description="in a deal with collateral groups (CONVENTIONS R2.12): the group "
                                                "whose collections pay this senior class first; none: a "
                                                "subordinate class, cross-collateralized by every group")

    @model_validator(mode="after")
    def _kind(self) -> Self:
        if self.residual:
            if self.balance or self.coupon or self.step_up or self.lockout or self.accrual:
                raise SpecError("residual", True, "a residual class without balance, coupon, step-up, lockout or "
                                                  "accrual")
        elif self.priority is None:
            raise SpecError("priority", None, "a priority (1 = most senior) for a class of notes")
        if self.residual and (self.notional or self.strike is not None):
            raise SpecError("residual", True, "a residual class without notional or strike")
        if self.notional is not None:
            if self.balance:
                raise SpecError("balance", self.balance,
                                "0 for an interest-only class (it has a notional, no principal)")
            if self.accrual is not None or self.lockout is not None:
                raise SpecError("notional", self.notional.model_dump(), "no notional on an accrual class or a class "
                                                                        "with a lockout")
        if self.strike is not None:
            if self.notional is None or not self.notional.pool:
                raise SpecError("strike", self.strike,
                                "a strike on a WAC strip only: a class with notional {pool: true}")
            if self.coupon or self.step_up:
                raise SpecError("coupon", self.coupon,
                                "no coupon or step-up on a WAC strip (its rate: the pool's net coupon - the strike)")
        return self


class Fee(Spec):
    """One of: ``rate`` (annual, ``rate/12 x basis``, the beginning pool balance unless ``basis``
    says otherwise), a fixed ``amount`` per period, ``interest_share`` (a fraction of the
    period's interest collections, as an onchain pool's reserve fee), or ``schedule``: amounts in
    given periods only, ``{period: amount}`` (a one-off fee is a schedule of one period; periods
    after the deal's last are never reached). Like every fee, it is due only while there is a
    pool. Unpaid fees carry forward without interest."""

    name: str
    rate: Fraction | None = None
    amount: Amount | None = None
    interest_share: Fraction | None = None
    schedule: dict[IntKey, Amount] | None = None
    basis: Literal["pool_balance", "original_pool_balance", "note_balance"] = "pool_balance"

    @model_validator(mode="after")
    def _one(self) -> Self:
        kinds = ("rate", "amount", "interest_share", "schedule")
        given = {k: getattr(self, k) for k in kinds if getattr(self, k) is not None}
        if len(given) != 1:
            raise SpecError("", given or "nothing", "exactly one of rate, amount, interest_share or schedule")
        if self.schedule is not None and (not self.schedule or min(self.schedule) < 1):
            raise SpecError("schedule", self.schedule, "a schedule {period: amount} with periods >= 1")
        return self


class ReserveTarget(Spec):
    """``max(pct x basis, floor)``; basis ``pool_balance`` (ending, this period) or
    ``original_pool_balance``."""

    pct: Fraction = 0.0
    basis: Literal["pool_balance", "original_pool_balance"] = "pool_balance"
    floor: Amount = 0.0


class Account(Spec):
    """A reserve account: ``initial`` balance, ``target`` (an amount or a :class:`ReserveTarget`;
    zero once the notes are paid unless ``keep_after_notes_paid``), and ``covers``: the ids of
    the steps whose shortfalls it pays, in waterfall order."""

    name: str
    initial: Amount = 0.0
    target: Amount | ReserveTarget = 0.0
    covers: Seq[str] = ()
    keep_after_notes_paid: bool = False


METRICS = ("cumulative_loss", "overcollateralization", "delinquency_60", "interest_coverage")


class Trigger(Spec):
    """A test every period on a value that includes the period.

    ``metric``: ``cumulative_loss`` (cumulative realised loss / original pool balance, breached
    above), ``overcollateralization`` (ending pool balance / beginning note balance, breached
    below), ``delinquency_60`` (60+ delinquent / pool balance, from the scenario or
    collections, breached above), ``interest_coverage`` (net interest collected / fees and
    note interest due, breached below). ``threshold``: a number, a step schedule ``{period:
    value}`` (from that period on), or one value per period of the deal.
    """

    name: str
    metric: Literal[METRICS]  # type: ignore[valid-type]
    threshold: Number | Seq[Number] | dict[IntKey, Number]
    breached_when: Literal["above", "below"] | None = None
    curable: bool = True

    @model_validator(mode="after")
    def _threshold(self) -> Self:
        if isinstance(self.threshold, dict):
            if not self.threshold or min(self.threshold) < 1:
                raise SpecError("threshold", self.threshold, "a schedule {period: value} with periods >= 1")
            values = tuple(self.threshold.values())
        elif isinstance(self.threshold, tuple):
            if not self.threshold:
                raise SpecError("threshold", [], "one value per period")
            values = self.threshold
        else:
            values = (self.threshold,)
        for v in values:
            _finite(v, "threshold")
        return self

    @property
    def direction(self) -> str:
        if self.breached_when:
            return self.breached_when
        return "below" if self.metric in ("overcollateralization", "interest_coverage") else "above"


class StepDown(Spec):
    """From ``period`` on (while ``unless`` is not breached) the OC target uses ``pct``."""

    period: PositiveMonths
    pct: Fraction
    unless: str | None = None


class OvercollateralizationTarget(Spec):
    """OC target ``max(pct x basis, floor)``; the principal distribution amount of ``amount:
    oc_target`` steps is ``max(0, notes - max(0, ending pool - target))``."""

    pct: Fraction
    basis: Literal["pool_balance", "original_pool_balance"] = "original_pool_balance"
    floor: Amount = 0.0
    step_down: StepDown | None = None


class CleanUpCall(Spec):
    """A call: the pool is bought at its balance (its proceeds repay the notes) in the first
    period the scenario elects it (``exercise_call``, by default yes) and any of these holds:
    the pool has fallen to ``pct`` of its original balance (a clean-up call); the period's
    payment date is on or after ``date`` (an optional redemption date); trigger ``when`` was
    breached at the last test (the previous period's: the call is decided before this
    period's tests)."""

    pct: Fraction | None = None
    date: IsoDate | None = None
    when: str | None = None

    @model_validator(mode="after")
    def _some(self) -> Self:
        if self.pct is None and self.date is None and self.when is None:
            raise SpecError("", "no condition", "at least one of pct, date or when")
        return self


class PsaCollar(Spec):
    """A PAC collar: PSA speeds (percent) ``low`` < ``high``."""

    low: Number = Field(ge=0)
    high: Number = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.low < self.high:
            raise SpecError("low", self.low, f"a low speed below the high speed ({self.high})")
        return self


class PlannedSchedule(Spec):
    """The planned balance of the classes a principal step pays (CONVENTIONS R2.4), one of:

    * ``pac: {low, high}``: a planned amortization class's schedule, from the deal's pool at the two
      PSA speeds with no defaults; each month's scheduled principal is the smaller of the two
      speeds' principal, and the planned balance is the classes' original balance less the
      scheduled principal so far (the classes' original balance is at most the schedule's total);
    * ``tac: speed``: a targeted amortization class's, the classes' original balance times the pool's
      balance factor at that PSA speed with no defaults;
    * ``balances: [...]``: the planned balance after each period, given (after the list, its last
      value carries forward; at most one value per month of the pool).

    A principal step with ``down_to: <name>`` pays its classes only down to the planned balance."""

    pac: PsaCollar | None = None
    tac: Number | None = Field(None, ge=0)
    balances: Seq[Amount] | None = None

    @model_validator(mode="after")
    def _one(self) -> Self:
        given = {k: getattr(self, k) for k in ("pac", "tac", "balances") if getattr(self, k) is not None}
        if len(given) != 1:
            raise SpecError("", {k: str(v) for k, v in given.items()} or "nothing",
                            "exactly one of pac, tac or balances")
        if self.balances is not None and not self.balances:
            raise SpecError("balances", [], "at least one planned balance")
        return self

    @property
    def kind(self) -> str:
        return "pac" if self.pac is not None else "tac" if self.tac is not None else "balances"


class HedgeNotional(Spec):
    """A hedge's notional that follows a class: its beginning balance each period."""

    tranche: str


class Hedge(Spec):
    """An interest-rate hedge the deal holds (CONVENTIONS R2.8), on ``index`` (a name in the
    scenario's ``rates``, its value for the period, not floored):

    * ``type: swap``: the deal pays ``fixed`` and receives the index; the period's net amount is
      ``notional x (fixed - index) x accrual``. Paid (when positive) at the deal's ``{pay: hedge}``
      step, unpaid amounts carried forward without interest; received (when negative) with the
      interest collections, at the top of the priority.
    * ``type: cap``: bought by the deal, it receives ``notional x max(0, index - strike) x
      accrual`` with the interest collections (no premium in the projection).

    ``notional``: an amount every period, a list (period by period; 0 after it: the hedge has
    ended), or ``{tranche: name}``, that class's beginning balance. A hedge pays and receives
    while there is a pool (as fees are due)."""

    name: str
    type: Literal["swap", "cap"]
    index: str
    notional: NonNegOrVector | HedgeNotional
    fixed: Number | None = Field(None, description="a swap's fixed rate the deal pays (decimal)")
    strike: Number | None = Field(None, description="a cap's strike (decimal)")
    day_count: DayCount = "30/360"

    @model_validator(mode="after")
    def _terms(self) -> Self:
        if self.type == "swap" and (self.fixed is None or self.strike is not None):
            raise SpecError("fixed", self.fixed, "a fixed rate for a swap (and no strike)")
        if self.type == "cap" and (self.strike is None or self.fixed is not None):
            raise SpecError("strike", self.strike, "a strike for a cap (and no fixed rate)")
        return self


class Facility(Spec):
    """A liquidity facility (CONVENTIONS R2.8.4): a ``commitment`` the deal may draw, only for
    the shortfalls of the steps it ``covers`` (their ids, e.g. the senior class's interest) and
    only at those steps, for what the funds left there cannot pay (after any reserve account
    that covers the step), up to the commitment less the drawn balance. Its rate is ``index`` +
    ``margin`` (``margin`` alone without an index), floored at 0; interest is due on the drawn
    balance at the start of the period, unpaid interest carried forward without interest, and
    the deal pays its interest and repays it at its own steps (``{pay: facility_interest}``,
    ``{pay: facility_repayment}``)."""

    name: str
    commitment: Amount
    covers: Seq[str] = ()
    index: str | None = None
    margin: Number = 0.0
    day_count: DayCount = "30/360"


class _StepBase(Spec):
    id: str | None = Field(None, description="a name accounts and facilities can refer to in covers")
    when: str | None = Field(None, description="the step applies only in periods this trigger is breached")
    unless: str | None = Field(None, description="the step applies only in periods this trigger is not breached")


class FeeStep(_StepBase):
    pay: Literal["fees"]
    fees: Seq[str]


class InterestStep(_StepBase):
    pay: Literal["interest"]
    tranches: Seq[str]


def _flatten_groups(data: object) -> object:
    """A principal step given as ``groups`` lists its classes in ``tranches`` too (group by group)."""
    if isinstance(data, dict) and "groups" in data and "tranches" not in data and isinstance(data["groups"], list):
        data = {**data, "tranches": [n for g in data["groups"] if isinstance(g, list) for n in g]}
    return data


class PrincipalStep(_StepBase):
    """Pay principal to ``tranches``: ``amount`` is the period's principal collections (with any
    Z accretion moved to principal funds), the OC target's principal distribution amount,
    everything available, or the accretion moved this period only (classes paid from accretion
    alone, as VADMs: place that step first); earlier principal steps of the period count against it.
    ``allocation`` sequential (by priority) or pro rata (by
    beginning balances); ``sequential_if`` names a trigger that switches pro rata to sequential.
    ``down_to`` names a planned schedule (:class:`PlannedSchedule`): the step pays its classes,
    together, only down to the schedule's planned balance for the period (a PAC or TAC's first
    step; a later step without ``down_to`` pays them on).

    Bond groups: ``groups: [[A-1, A-2], [B]]`` instead of ``tranches`` pays the groups by
    ``allocation`` (pro rata by their beginning balances, or sequentially in the order given) and
    the classes inside each group by ``within`` (``sequential`` by priority, or ``pro_rata``)."""

    pay: Literal["principal"]
    tranches: Seq[str]
    amount: Literal["collections", "oc_target", "available", "accretion"] = "collections"
    allocation: Literal["sequential", "pro_rata"] = "sequential"
    sequential_if: str | None = None
    down_to: str | None = None
    groups: Seq[Seq[str]] | None = None
    within: Literal["sequential", "pro_rata"] = "sequential"

    _groups_listed = model_validator(mode="before")(_flatten_groups)

    @model_validator(mode="after")
    def _groups(self) -> Self:
        if self.groups is not None:
            if not self.groups or any(not g for g in self.groups):
                raise SpecError("groups", [list(g) for g in self.groups], "non-empty groups of classes")
            if tuple(n for g in self.groups for n in g) != self.tranches:
                raise SpecError("tranches", list(self.tranches), "either tranches or groups, not both")
        elif self.within != "sequential":
            raise SpecError("within", self.within, "groups for an allocation within them")
        return self


class ReserveStep(_StepBase):
    """Refill ``account`` up to its target from available funds; release any excess over it."""

    pay: Literal["reserve"]
    account: str


class TransferStep(_StepBase):
    """Move cash from account ``from_account`` to account ``to_account``: what the second lacks
    of its target (``amount: to_target``, its target as a reserve step computes it) or all the
    first holds (``amount: all``), at most what the first holds. In the accounts table it is a
    draw on the first and a deposit to the second."""

    pay: Literal["transfer"]
    from_account: str
    to_account: str
    amount: Literal["to_target", "all"] = "to_target"


class AccretionStep(_StepBase):
    """Move cash equal to a Z class's accretion (when it accrues) from the funds available to
    principal funds (CONVENTIONS R2.5.2): at most what is available; the accretion is added to
    the Z class's balance in full either way. Placed after the other classes' interest."""

    pay: Literal["accretion"]
    tranche: str


class HedgeStep(_StepBase):
    """Pay a swap's net payment due this period, with any unpaid before (CONVENTIONS R2.8.5: after
    the senior fee)."""

    pay: Literal["hedge"]
    hedge: str


class FacilityStep(_StepBase):
    """Pay a liquidity facility's interest due (with any unpaid before), or repay its drawn
    balance (CONVENTIONS R2.8.5: after the net swap payment, before the senior class's interest)."""

    pay: Literal["facility_interest", "facility_repayment"]
    facility: str


class ResidualStep(_StepBase):
    pay: Literal["residual"]
    tranche: str


Step = Annotated[FeeStep | InterestStep | PrincipalStep | ReserveStep | ResidualStep | AccretionStep | HedgeStep
                 | FacilityStep | TransferStep, Field(discriminator="pay")]


class SplitWaterfall(Spec):
    """Separate interest and principal priorities of payments."""

    interest: Seq[Step]
    principal: Seq[Step]


class EventsOfDefault(Spec):
    """The events of default a deal tests at the end of each period, after its
    pre-acceleration waterfall (CONVENTIONS R2.7.2): ``senior_interest_shortfall`` (a most senior
    class, priority lowest, carries an unpaid interest shortfall), ``oc_below`` (ending pool
    balance / note balances after the period's principal, before writedowns, below this
    ratio), ``triggers`` (any of these triggers breached in the period)."""

    senior_interest_shortfall: bool = False
    oc_below: Number | None = Field(None, gt=0)
    triggers: Seq[str] = ()

    @model_validator(mode="after")
    def _some(self) -> Self:
        if not self.senior_interest_shortfall and self.oc_below is None and not self.triggers:
            raise SpecError("", "no event", "at least one of senior_interest_shortfall, oc_below or triggers")
        return self


class Acceleration(Spec):
    """Acceleration after an event of default (CONVENTIONS R2.7.2-4): from the period after the
    first event, for good, every collection forms one pot paid by ``priority`` (default: the
    fees, then each class of notes in seniority order its interest and then its principal until
    retired, then the residual)."""

    events: EventsOfDefault
    priority: Seq[Step] | None = None
