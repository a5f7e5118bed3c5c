"""The deal: name, dates, collateral and, once it has notes, the capital structure and waterfall.

Every cross-field rule is checked here: unique names, every name a step uses is defined, step
ids unique and known to the accounts that cover them, the residual only where it belongs.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Self

from pydantic import PrivateAttr, model_validator

from ..errors import SpecError
from .base import Spec
from .collateral import Collateral
from .fields import IsoDate, Seq
from .structure import (
    Account,
    CleanUpCall,
    Fee,
    FeeStep,
    InterestStep,
    OvercollateralizationTarget,
    PrincipalStep,
    ReserveStep,
    ResidualStep,
    SplitWaterfall,
    Step,
    Tranche,
    Trigger,
)

__all__ = ["Deal"]


class Deal(Spec):
    """A deal file. ``tranches``, ``fees``, ``accounts``, ``triggers`` and ``waterfall`` may be
    absent while a deal is only a pool."""

    name: str
    closing_date: IsoDate | None = None
    first_payment_date: IsoDate | None = None
    collateral: Collateral
    tranches: Seq[Tranche] = ()
    fees: Seq[Fee] = ()
    accounts: Seq[Account] = ()
    triggers: Seq[Trigger] = ()
    overcollateralization: OvercollateralizationTarget | None = None
    clean_up_call: CleanUpCall | None = None
    writedown_to: str = "pool_balance"
    waterfall: Seq[Step] | SplitWaterfall = ()

    _file: str | None = PrivateAttr(default=None)
    _base_dir: Path | None = PrivateAttr(default=None)
    _tape: Any = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _dates_in_order(self) -> Self:
        if self.closing_date and self.first_payment_date and self.first_payment_date <= self.closing_date:
            raise SpecError("first_payment_date", self.first_payment_date.isoformat(),
                            f"a date after closing_date ({self.closing_date.isoformat()})")
        return self

    @model_validator(mode="after")
    def _references(self) -> Self:
        for field in ("tranches", "fees", "accounts", "triggers"):
            names = [x.name for x in getattr(self, field)]
            for k, name in enumerate(names):
                if names.index(name) != k:
                    raise SpecError(f"{field}[{k}].name", name, f"a name not used by {field}[{names.index(name)}]")
        if self.writedown_to not in ("pool_balance", "pool_balance_plus_accounts"):
            raise SpecError("writedown_to", self.writedown_to, "pool_balance or pool_balance_plus_accounts")
        tranches = {t.name: t for t in self.tranches}
        residuals = [t.name for t in self.tranches if t.residual]
        if len(residuals) > 1:
            raise SpecError("tranches", residuals, "at most one residual class")
        triggers = {t.name for t in self.triggers}
        if self.overcollateralization and self.overcollateralization.step_down:
            unless = self.overcollateralization.step_down.unless
            if unless is not None and unless not in triggers:
                raise SpecError("overcollateralization.step_down.unless", unless,
                                f"a trigger defined in triggers (known: {sorted(triggers)})")

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
                                    f"the id of a waterfall step (known: {sorted(ids)})")
        if self.tranches and not self.waterfall:
            raise SpecError("waterfall", [], "a waterfall for a deal with tranches")
        for k, t in enumerate(self.tranches):
            if t.day_count == "ACT/360" and self.first_payment_date is None:
                raise SpecError(f"tranches[{k}].day_count", "ACT/360", "30/360, or a first_payment_date for ACT/360")
            if t.step_up and t.step_up.from_date and self.first_payment_date is None:
                raise SpecError(f"tranches[{k}].step_up.from_date", t.step_up.from_date.isoformat(),
                                "from_period, or a first_payment_date to place the date")
        return self

    def _check_step(self, path: str, step: Step, tranches: dict[str, Tranche], triggers: set[str]) -> None:
        def known(field: str, name: str, pool: set[str] | dict, what: str) -> None:
            if name not in pool:
                article = "an" if what[0] in "aeiou" else "a"
                raise SpecError(f"{path}.{field}", name, f"{article} {what} defined in {what}s (known: {sorted(pool)})")

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
                if step.sequential_if is not None:
                    known("sequential_if", step.sequential_if, triggers, "trigger")
                if step.amount == "oc_target" and self.overcollateralization is None:
                    raise SpecError(f"{path}.amount", "oc_target", "a deal-level overcollateralization target")
        elif isinstance(step, ReserveStep):
            known("account", step.account, {a.name for a in self.accounts}, "account")
        elif isinstance(step, ResidualStep):
            known("tranche", step.tranche, tranches, "tranche")
            if not tranches[step.tranche].residual:
                raise SpecError(f"{path}.tranche", step.tranche, "the residual class (residual: true)")

    def steps_with_paths(self) -> list[tuple[str, Step]]:
        """Every waterfall step with its field path, in the order they run."""
        if isinstance(self.waterfall, SplitWaterfall):
            return ([(f"waterfall.interest[{k}]", s) for k, s in enumerate(self.waterfall.interest)]
                    + [(f"waterfall.principal[{k}]", s) for k, s in enumerate(self.waterfall.principal)])
        return [(f"waterfall[{k}]", s) for k, s in enumerate(self.waterfall)]

    @property
    def notes(self) -> tuple[Tranche, ...]:
        """The classes of notes (not the residual)."""
        return tuple(t for t in self.tranches if not t.residual)

    def tape_path(self) -> Path | None:
        """The loan tape's path, resolved against the deal file's folder."""
        if self.collateral.loan_tape is None:
            return None
        p = Path(self.collateral.loan_tape)
        return p if p.is_absolute() or self._base_dir is None else self._base_dir / p
