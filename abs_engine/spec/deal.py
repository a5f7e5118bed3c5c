"""The deal: name, dates, collateral and, once it has notes, the capital structure and waterfall.

Every cross-field rule is checked here: unique names, every name a step uses is defined, step
ids unique and known to the accounts that cover them, the residual only where it belongs.
"""

from __future__ import annotations

import html
from collections import Counter
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import Field, PrivateAttr, model_validator

from ..errors import SpecError
from .base import Spec
from .card import CardSeries
from .collateral import Collateral
from .describe import Diagram, describe
from .fields import IsoDate, Seq, StrictInt
from .structure import (
    Acceleration,
    Account,
    AccretionStep,
    BusinessDays,
    CleanUpCall,
    Facility,
    FacilityStep,
    Fee,
    FeeStep,
    Hedge,
    HedgeNotional,
    HedgeStep,
    InterestStep,
    OvercollateralizationTarget,
    PlannedSchedule,
    PrincipalStep,
    ReserveStep,
    ResidualStep,
    SplitWaterfall,
    Step,
    Tranche,
    TransferStep,
    Trigger,
)

__all__ = ["Deal", "PAYMENT_STEPS"]

PAYMENT_STEPS = {"monthly": 1, "quarterly": 3, "semiannual": 6}


class Deal(Spec):
    """A deal file. ``tranches``, ``fees``, ``accounts``, ``triggers`` and ``waterfall`` may be
    absent while a deal is only a pool."""

    name: str
    closing_date: IsoDate | None = None
    first_payment_date: IsoDate | None = None
    payment_day: StrictInt | None = Field(None, ge=1, le=31, description="the day of the month of payment dates "
                                          "after the first (clipped to the month's end; default: the first's day)")
    payment_frequency: Literal["monthly", "quarterly", "semiannual"] = Field(
        "monthly", description="how often the notes are paid; the pool is projected monthly and each payment "
                               "distributes the collections of its collection period (CONVENTIONS R2.2)")
    business_days: BusinessDays | None = Field(None, description="payment dates adjusted to business days")
    cut_off_date: IsoDate | None = Field(None, description="the pool's cut-off date: pool month 1 starts on it")
    period_rates: Literal["monthly", "actual_days"] = Field(
        "monthly", description="annual prepayment and default rates per month (1/12 of a year) or over each "
                               "month's actual days from the cut-off date (CONVENTIONS R2.3)")
    collateral: Collateral
    tranches: Seq[Tranche] = ()
    fees: Seq[Fee] = ()
    accounts: Seq[Account] = ()
    hedges: Seq[Hedge] = ()
    facilities: Seq[Facility] = ()
    triggers: Seq[Trigger] = ()
    overcollateralization: OvercollateralizationTarget | None = None
    clean_up_call: CleanUpCall | None = None
    writedown_to: str = "pool_balance"
    schedules: dict[str, PlannedSchedule] = {}
    acceleration: Acceleration | None = None
    waterfall: Seq[Step] | SplitWaterfall = ()
    series: CardSeries | None = Field(None, description="a credit-card master trust series (CONVENTIONS R2.9) on "
                                      "the trust's receivables")

    _file: str | None = PrivateAttr(default=None)
    _base_dir: Path | None = PrivateAttr(default=None)
    _tape: Any = PrivateAttr(default=None)
    _planned: dict = PrivateAttr(default_factory=dict)  # planned balances computed for this deal, by schedule

    @model_validator(mode="after")
    def _a_card_trust(self) -> Self:
        if (self.series is None) != (self.collateral.receivables is None):
            raise SpecError("series" if self.series is None else "collateral.receivables", None,
                            "a series with the trust's receivables, or neither (a card trust needs both)")
        if self.series is not None:
            for field in ("tranches", "fees", "accounts", "hedges", "facilities", "triggers", "waterfall"):
                if getattr(self, field):
                    raise SpecError(field, "given", "none in a card trust deal (its series pays by CONVENTIONS R2.9)")
            if self.series.invested_amount > self.collateral.receivables:
                raise SpecError("series.invested_amount", self.series.invested_amount,
                                f"at most the trust's receivables ({self.collateral.receivables})")
        return self

    @model_validator(mode="after")
    def _collateral_groups(self) -> Self:
        """A deal with several collateral groups pays by CONVENTIONS R2.12's priority: senior classes
        of a group (``group``), subordinate classes (no group), the residual; nothing else."""
        groups = self.collateral.groups
        if groups is None:
            for k, t in enumerate(self.tranches):
                if t.group is not None:
                    raise SpecError(f"tranches[{k}].group", t.group, "no group unless the collateral has groups")
            return self
        for field in ("fees", "accounts", "hedges", "facilities", "triggers", "waterfall", "schedules"):
            if getattr(self, field):
                raise SpecError(field, "given", "none in a deal with collateral groups (its classes are paid by "
                                                "CONVENTIONS R2.12's priority)")
        for field in ("overcollateralization", "clean_up_call", "acceleration"):
            if getattr(self, field) is not None:
                raise SpecError(field, "given", "none in a deal with collateral groups (its classes are paid by "
                                                "CONVENTIONS R2.12's priority)")
        if self.payment_frequency != "monthly":
            raise SpecError("payment_frequency", self.payment_frequency, "monthly in a deal with collateral groups")
        names = [g.name for g in groups]
        for k, t in enumerate(self.tranches):
            path = f"tranches[{k}]"
            if t.residual:
                if t.group is not None:
                    raise SpecError(f"{path}.group", t.group, "no group for the residual class")
                continue
            if t.group is not None and t.group not in names:
                raise SpecError(f"{path}.group", t.group, f"a group defined in collateral.groups (known: {names})",
                                choices=names)
            for field in ("notional", "strike", "accrual", "lockout", "step_up"):
                if getattr(t, field) is not None:
                    raise SpecError(f"{path}.{field}", "given", "a plain class in a deal with collateral groups "
                                                               "(CONVENTIONS R2.12)")
            if t.interest_on_shortfall:
                raise SpecError(f"{path}.interest_on_shortfall", True, "false in a deal with collateral groups "
                                "(unpaid interest carries forward without interest, CONVENTIONS R2)")
        owned = {t.group for t in self.tranches if t.group is not None}
        for k, name in enumerate(names):
            if name not in owned:
                raise SpecError(f"collateral.groups[{k}].name", name, "a group named by a tranche (each group pays "
                                "its own senior class first, CONVENTIONS R2.12)")
        return self

    @model_validator(mode="after")
    def _dates_in_order(self) -> Self:
        if self.closing_date and self.first_payment_date and self.first_payment_date <= self.closing_date:
            raise SpecError("first_payment_date", self.first_payment_date.isoformat(),
                            f"a date after closing_date ({self.closing_date.isoformat()})")
        if self.payment_day is not None and self.first_payment_date is None:
            raise SpecError("payment_day", self.payment_day, "a first_payment_date for the payment day to follow")
        if self.period_rates == "actual_days" and self.cut_off_date is None:
            raise SpecError("period_rates", "actual_days", "a cut_off_date to count each month's days from")
        coll = self.collateral
        pools = [("collateral", coll)] if coll.groups is None else [(f"collateral.groups[{j}]", g)
                                                                   for j, g in enumerate(coll.groups)]
        for where, pool in pools:
            lines = pool.rep_lines or ()
            dated = [k for k, ln in enumerate(lines) if ln.origination_date is not None]
            if dated and self.cut_off_date is None:
                raise SpecError(f"{where}.rep_lines[{dated[0]}].origination_date",
                                lines[dated[0]].origination_date.isoformat(), "a deal cut_off_date to age the line to")
            for k in dated:
                if lines[k].origination_date > self.cut_off_date:
                    raise SpecError(f"{where}.rep_lines[{k}].origination_date", lines[k].origination_date.isoformat(),
                                    f"a date on or before the cut_off_date {self.cut_off_date.isoformat()}")
        if self.business_days is not None and self.first_payment_date is None:
            raise SpecError("business_days", self.business_days.model_dump(), "a first_payment_date to adjust")
        return self

    @model_validator(mode="after")
    def _references(self) -> Self:
        for field in ("tranches", "fees", "accounts", "hedges", "facilities", "triggers"):
            names = [x.name for x in getattr(self, field)]
            for k, name in enumerate(names):
                if names.index(name) != k:
                    raise SpecError(f"{field}[{k}].name", name, f"a name not used by {field}[{names.index(name)}]")
        if self.writedown_to not in ("pool_balance", "pool_balance_plus_accounts", "none"):
            raise SpecError("writedown_to", self.writedown_to, "pool_balance, pool_balance_plus_accounts or none "
                                                               "(no writedowns, CONVENTIONS R2.7.5)")
        tranches = {t.name: t for t in self.tranches}
        residuals = [t.name for t in self.tranches if t.residual]
        if len(residuals) > 1:
            raise SpecError("tranches", residuals, "at most one residual class")
        triggers = {t.name for t in self.triggers}
        call = self.clean_up_call
        if call is not None and call.when is not None and call.when not in triggers:
            raise SpecError("clean_up_call.when", call.when,
                            f"a trigger defined in triggers (known: {sorted(triggers)})", choices=sorted(triggers))
        if call is not None and call.date is not None and self.first_payment_date is None:
            raise SpecError("clean_up_call.date", call.date.isoformat(), "pct or when, or a first_payment_date to "
                                                                           "place the date")
        if self.overcollateralization and self.overcollateralization.step_down:
            unless = self.overcollateralization.step_down.unless
            if unless is not None and unless not in triggers:
                raise SpecError("overcollateralization.step_down.unless", unless,
                                f"a trigger defined in triggers (known: {sorted(triggers)})", choices=sorted(triggers))

        ids: dict[str, str] = {}
        for path, step in self.steps_with_paths():
            if step.id is not None:
                if step.id in ids:
                    raise SpecError(f"{path}.id", step.id, f"an id not used by {ids[step.id]}")
                ids[step.id] = path
            self._check_step(path, step, tranches, triggers)
        for k, acct in enumerate(self.accounts):
            for j, ref in enumerate(acct.covers):
                if ref not in ids:
                    raise SpecError(f"accounts[{k}].covers[{j}]", ref,
                                    f"the id of a waterfall step (known: {sorted(ids)})", choices=sorted(ids))
        self._check_hedges(tranches, ids)
        for k, t in enumerate(self.tranches):
            ref = t.notional.tranche if t.notional is not None else None
            if ref is not None and (ref not in tranches or tranches[ref].residual or tranches[ref].notional
                                    or ref == t.name):
                raise SpecError(f"tranches[{k}].notional.tranche", ref, "another class with a balance, defined in "
                                f"tranches (known: {sorted(n for n, x in tranches.items() if x.balance)})",
                                choices=tranches)
        steps = self.steps_with_paths()
        normal = self.n_normal_steps
        for part, required in ((steps[:normal], True), (steps[normal:], False)):  # per priority: one per Z class
            self._check_accruals(tranches, [(p, s) for p, s in part if isinstance(s, AccretionStep)], required)
        reinvestment = self.collateral.reinvestment
        if reinvestment is not None and reinvestment.ends_when is not None:
            named = {t.name: t for t in self.triggers}
            trig = named.get(reinvestment.ends_when)
            if trig is None or trig.metric != "cumulative_loss":
                raise SpecError("collateral.reinvestment.ends_when", reinvestment.ends_when,
                                "a cumulative_loss trigger defined in triggers (known: "
                                f"{sorted(n for n, t in named.items() if t.metric == 'cumulative_loss')})")
        if self.tranches and not self.waterfall and self.collateral.groups is None:
            raise SpecError("waterfall", [], "a waterfall for a deal with tranches")
        if self.acceleration is not None:
            if not self.notes:
                raise SpecError("acceleration", "events", "a deal with classes of notes to accelerate")
            for j, name in enumerate(self.acceleration.events.triggers):
                if name not in triggers:
                    raise SpecError(f"acceleration.events.triggers[{j}]", name,
                                    f"a trigger defined in triggers (known: {sorted(triggers)})",
                                    choices=triggers)
            if self.acceleration.priority is not None and not self.acceleration.priority:
                raise SpecError("acceleration.priority", [], "at least one step (or no priority: the default one)")
        for k, t in enumerate(self.tranches):
            if t.day_count != "30/360" and self.first_payment_date is None:
                raise SpecError(f"tranches[{k}].day_count", t.day_count,
                                f"30/360, or a first_payment_date for {t.day_count}")
            if t.step_up and t.step_up.from_date and self.first_payment_date is None:
                raise SpecError(f"tranches[{k}].step_up.from_date", t.step_up.from_date.isoformat(),
                                "from_period, or a first_payment_date to place the date")
        return self

    def _check_hedges(self, tranches: dict[str, Tranche], ids: dict[str, str]) -> None:
        """Hedges and facilities (CONVENTIONS R2.8): a notional class with a balance; each swap paid
        at one hedge step and each facility's interest and repayment at one step each, in the
        priority of payments and in a post-acceleration priority; a facility drawn for the steps
        it covers, never its own."""
        for field in ("hedges", "facilities"):
            for k, x in enumerate(getattr(self, field)):
                if x.day_count != "30/360" and self.first_payment_date is None:
                    raise SpecError(f"{field}[{k}].day_count", x.day_count,
                                    f"30/360, or a first_payment_date for {x.day_count}")
        for k, h in enumerate(self.hedges):
            if isinstance(h.notional, HedgeNotional):
                ref = h.notional.tranche
                if ref not in tranches or tranches[ref].residual or tranches[ref].notional is not None:
                    raise SpecError(f"hedges[{k}].notional.tranche", ref, "a class with a balance, defined in "
                                    f"tranches (known: {sorted(n for n, x in tranches.items() if x.balance)})",
                                choices=tranches)
        steps = self.steps_with_paths()
        normal = self.n_normal_steps
        for part, where in ((steps[:normal], "the waterfall"), (steps[normal:], "the post-acceleration priority")):
            counts = Counter((s.pay, s.hedge if s.pay == "hedge" else s.facility) for _p, s in part
                             if isinstance(s, HedgeStep | FacilityStep))
            for path, s in part:
                if isinstance(s, HedgeStep | FacilityStep) and counts[(s.pay, getattr(s, "hedge", None)
                                                                     or getattr(s, "facility", None))] > 1:
                    raise SpecError(f"{path}.pay", s.pay, "one such step per hedge or facility in a priority")
            if not part:  # (no acceleration)
                continue
            for k, h in enumerate(self.hedges):
                if h.type == "swap" and counts[("hedge", h.name)] == 0:
                    raise SpecError(f"hedges[{k}]", h.name, f"a swap whose net payment has a step in {where} "
                                    f"({{pay: hedge, hedge: {h.name}}}, CONVENTIONS R2.8.5)")
            for k, f in enumerate(self.facilities):
                for pay in ("facility_interest", "facility_repayment"):
                    if counts[(pay, f.name)] == 0:
                        raise SpecError(f"facilities[{k}]", f.name, f"a facility with a {pay} step in {where} "
                                        f"({{pay: {pay}, facility: {f.name}}}, CONVENTIONS R2.8.5)")
        for k, f in enumerate(self.facilities):
            if not f.covers:
                raise SpecError(f"facilities[{k}].covers", [], "the ids of the steps the facility is drawn for "
                                "(a facility needs a draw condition, CONVENTIONS R2.8.4)")
            own = {s.id for _p, s in steps if isinstance(s, FacilityStep) and s.facility == f.name and s.id}
            for j, ref in enumerate(f.covers):
                if ref not in ids:
                    raise SpecError(f"facilities[{k}].covers[{j}]", ref,
                                    f"the id of a waterfall step (known: {sorted(ids)})", choices=sorted(ids))
                if ref in own:
                    raise SpecError(f"facilities[{k}].covers[{j}]", ref, "a step other than the facility's own")

    def _check_accruals(self, tranches: dict[str, Tranche], steps: list[tuple[str, AccretionStep]],
                        required: bool = True) -> None:
        """Z classes (CONVENTIONS R2.5): each directs its accretion to other known classes of notes,
        no class is directed by two, no chain of them returns to where it began, and each has one
        accretion step in ``steps`` (at most one, unless ``required``)."""
        directed: dict[str, str] = {}
        for k, t in enumerate(self.tranches):
            if t.accrual is None:
                continue
            for j, name in enumerate(t.accrual.directed_to):
                path = f"tranches[{k}].accrual.directed_to[{j}]"
                if name == t.name:
                    raise SpecError(path, name, "another class (a Z class cannot direct its accretion to itself)")
                if name not in tranches or tranches[name].residual:
                    notes = sorted(n for n, x in tranches.items() if not x.residual)
                    raise SpecError(path, name, f"a class of notes defined in tranches (known: {notes})",
                                    choices=notes)
                if name in directed:
                    raise SpecError(path, name, f"a class no other Z class directs its accretion to ({directed[name]} "
                                                "does)")
                directed[name] = t.name
        for start in directed:  # follow each chain of directions: a cycle comes back to its start
            seen, x = [start], directed[start]
            while x in directed:
                if x == start:
                    raise SpecError("tranches", " -> ".join(seen + [x]), "accretion directions without a cycle")
                seen.append(x)
                x = directed[x]
        counts = Counter(s.tranche for _p, s in steps)
        for path, step in steps:
            if step.tranche not in tranches or tranches[step.tranche].accrual is None:
                raise SpecError(f"{path}.tranche", step.tranche, "an accrual (Z) class (a tranche with accrual)")
            if counts[step.tranche] > 1:
                raise SpecError(f"{path}.tranche", step.tranche, "one accretion step per Z class")
        for k, t in enumerate(self.tranches):
            if required and t.accrual is not None and t.name not in counts:
                raise SpecError(f"tranches[{k}].accrual", t.name, "a Z class with an accretion step in the waterfall "
                                f"({{pay: accretion, tranche: {t.name}}})")

    def _check_step(self, path: str, step: Step, tranches: dict[str, Tranche], triggers: set[str]) -> None:
        def known(field: str, name: str, pool: set[str] | dict, what: str, where: str = "") -> None:
            if name not in pool:
                article = "an" if what[0] in "aeiou" else "a"
                raise SpecError(f"{path}.{field}", name,
                                f"{article} {what} defined in {where or what + 's'} (known: {sorted(pool)})",
                                choices=pool)

        for field in ("when", "unless"):
            if getattr(step, field) is not None:
                known(field, getattr(step, field), triggers, "trigger")
        if isinstance(step, FeeStep):
            if not step.fees:
                raise SpecError(f"{path}.fees", [], "at least one fee")
            fees = {f.name for f in self.fees}
            for j, name in enumerate(step.fees):
                known(f"fees[{j}]", name, fees, "fee")
        elif isinstance(step, InterestStep | PrincipalStep):
            if not step.tranches:
                raise SpecError(f"{path}.tranches", [], "at least one tranche in the group")
            for j, name in enumerate(step.tranches):
                known(f"tranches[{j}]", name, tranches, "tranche")
                if tranches[name].residual:
                    raise SpecError(f"{path}.tranches[{j}]", name,
                                    "a class of notes (the residual is paid by pay: residual)")
            if Counter(step.tranches).most_common(1)[0][1] > 1:
                raise SpecError(f"{path}.tranches", list(step.tranches), "each tranche once")
            if isinstance(step, PrincipalStep):
                for j, name in enumerate(step.tranches):
                    if tranches[name].notional is not None:
                        raise SpecError(f"{path}.tranches[{j}]", name, "a class with principal (an interest-only "
                                                                       "class has none)")
                if step.sequential_if is not None:
                    known("sequential_if", step.sequential_if, triggers, "trigger")
                if step.amount == "oc_target" and self.overcollateralization is None:
                    raise SpecError(f"{path}.amount", "oc_target", "a deal-level overcollateralization target")
                if step.amount == "accretion" and not any(t.accrual for t in self.tranches):
                    raise SpecError(f"{path}.amount", "accretion", "an accrual (Z) class in the deal")
                if step.down_to is not None:
                    known("down_to", step.down_to, self.schedules, "schedule")
        elif isinstance(step, ReserveStep):
            known("account", step.account, {a.name for a in self.accounts}, "account")
        elif isinstance(step, TransferStep):
            known("from_account", step.from_account, {a.name for a in self.accounts}, "account")
            known("to_account", step.to_account, {a.name for a in self.accounts}, "account")
            if step.to_account == step.from_account:
                raise SpecError(f"{path}.to_account", step.to_account, "another account than from_account")
        elif isinstance(step, HedgeStep):
            hedges = {h.name: h for h in self.hedges}
            known("hedge", step.hedge, hedges, "hedge")
            if hedges[step.hedge].type != "swap":
                raise SpecError(f"{path}.hedge", step.hedge, "a swap (a cap only receives: it has no payment step)")
        elif isinstance(step, FacilityStep):
            known("facility", step.facility, {f.name for f in self.facilities}, "facility", "facilities")
        elif isinstance(step, ResidualStep):
            known("tranche", step.tranche, tranches, "tranche")
            if not tranches[step.tranche].residual:
                raise SpecError(f"{path}.tranche", step.tranche, "the residual class (residual: true)")

    def steps_with_paths(self) -> list[tuple[str, Step]]:
        """Every waterfall step with its field path: the priority of payments in the order its
        steps run, then the post-acceleration priority's (:meth:`acceleration_steps`)."""
        if isinstance(self.waterfall, SplitWaterfall):
            steps = ([(f"waterfall.interest[{k}]", s) for k, s in enumerate(self.waterfall.interest)]
                     + [(f"waterfall.principal[{k}]", s) for k, s in enumerate(self.waterfall.principal)])
        else:
            steps = [(f"waterfall[{k}]", s) for k, s in enumerate(self.waterfall)]
        return steps + self.acceleration_steps()

    def acceleration_steps(self) -> list[tuple[str, Step]]:
        """The post-acceleration priority's steps with their paths (none without acceleration): the
        deal's own, or the default of CONVENTIONS R2.7.4: every fee (due + unpaid) pro rata, each
        swap's net payment, each facility's interest and repayment (R2.8.5's order), then each
        class of notes in seniority order (priority, then listed order) its interest and then its
        principal until retired (an interest-only class: its interest), then the
        residual."""
        acc = self.acceleration
        if acc is None:
            return []
        if acc.priority is not None:
            return [(f"acceleration.priority[{k}]", s) for k, s in enumerate(acc.priority)]
        steps: list = [FeeStep(pay="fees", fees=tuple(f.name for f in self.fees))] if self.fees else []
        steps += [HedgeStep(pay="hedge", hedge=h.name) for h in self.hedges if h.type == "swap"]
        for f in self.facilities:
            steps += [FacilityStep(pay="facility_interest", facility=f.name),
                      FacilityStep(pay="facility_repayment", facility=f.name)]
        for t in sorted(self.notes, key=lambda t: t.priority):  # stable: ties keep the listed order
            steps.append(InterestStep(pay="interest", tranches=(t.name,)))
            if t.notional is None:
                steps.append(PrincipalStep(pay="principal", tranches=(t.name,), amount="available"))
        residual = next((t.name for t in self.tranches if t.residual), None)
        if residual is not None:
            steps.append(ResidualStep(pay="residual", tranche=residual))
        return [(f"acceleration.priority (default)[{k}]", s) for k, s in enumerate(steps)]

    @property
    def payment_step(self) -> int:
        """Months between payments: 1, 3 (quarterly) or 6 (semiannual), CONVENTIONS R2.1.1."""
        return PAYMENT_STEPS[self.payment_frequency]

    @property
    def n_normal_steps(self) -> int:
        """How many of :meth:`steps_with_paths` are the priority of payments before acceleration."""
        return len(self.steps_with_paths()) - len(self.acceleration_steps())

    def describe(self) -> str:
        """The capital structure and the priority of payments as an indented tree
        (:func:`abs_engine.spec.describe.describe`); ``print(deal.describe())``."""
        return describe(self)

    def _repr_html_(self) -> str:
        """In a notebook a deal shows as its tree (:meth:`describe`); ``repr`` stays the spec's."""
        return f"<pre>{html.escape(self.describe())}</pre>"

    def diagram(self):
        """The structure as a :class:`~abs_engine.spec.describe.Diagram` (DOT and Mermaid
        sources; SVG/PNG through Graphviz's ``dot`` where installed)."""
        return Diagram(self)

    @property
    def notes(self) -> tuple[Tranche, ...]:
        """The classes of notes (not the residual)."""
        return tuple(t for t in self.tranches if not t.residual)

    def tape_path(self, tape: str | None = None) -> Path | None:
        """The loan tape's path (or ``tape``'s, a group's), resolved against the deal file's folder."""
        tape = self.collateral.loan_tape if tape is None else tape
        if tape is None:
            return None
        p = Path(tape)
        return p if p.is_absolute() or self._base_dir is None else self._base_dir / p
