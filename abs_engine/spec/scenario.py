"""A scenario: prepayment, default, severity, recovery lag, advancing and rate paths.

Units follow CONVENTIONS.md: ``cpr``, ``smm``, ``cdr``, ``mdr`` and ``severity`` are
decimals; ``psa``, ``sda`` and ``abs`` are speeds in percent. Each may be a number or a
monthly vector indexed by projection month (month 1 first; the last value carries forward).
"""

from __future__ import annotations

import math
from typing import Self

from pydantic import ConfigDict, Field, model_validator

from ..errors import SpecError
from .base import Spec
from .fields import FractionOrVector, Months, NonNegOrVector, Number, Seq

__all__ = ["Prepay", "Default", "RollRates", "Scenario", "ROLL_FIELDS"]

ROLL_FIELDS = ("to_30", "cure_30", "cure_60", "cure_90", "stay_90", "default_90")
"""The roll rates in the kernels' order (:mod:`abs_engine.kernels.delinquency`)."""


def _exactly_one(model: Spec, keys: tuple[str, ...]) -> str:
    given = [k for k in keys if getattr(model, k) is not None]
    if len(given) != 1:
        raise SpecError("", given or "nothing", f"exactly one of {', '.join(keys)}")
    return given[0]


def _values(v: float | tuple[float, ...]) -> tuple[float, ...]:
    return v if isinstance(v, tuple) else (v,)


class Prepay(Spec):
    """Voluntary prepayment: exactly one of ``cpr``, ``smm``, ``psa`` (percent), ``abs`` (percent)."""

    model_config = ConfigDict(**Spec.model_config, json_schema_extra={"minProperties": 1, "maxProperties": 1})

    cpr: FractionOrVector | None = None
    smm: FractionOrVector | None = None
    psa: NonNegOrVector | None = None
    abs: NonNegOrVector | None = None

    @model_validator(mode="after")
    def _one(self) -> Self:
        key = _exactly_one(self, ("cpr", "smm", "psa", "abs"))
        if key == "abs" and any(x >= 100 for x in _values(self.abs)):
            raise SpecError("abs", self.abs, "an ABS speed in percent below 100")
        return self

    @property
    def kind(self) -> str:
        return "cpr" if self.cpr is not None else "smm" if self.smm is not None else "psa" if self.psa is not None \
            else "abs"

    @property
    def value(self) -> float | tuple[float, ...]:
        return getattr(self, self.kind)


class Default(Spec):
    """Defaults: exactly one of ``cdr``, ``mdr``, ``sda`` (percent of the SDA curve)."""

    model_config = ConfigDict(**Spec.model_config, json_schema_extra={"minProperties": 1, "maxProperties": 1})

    cdr: FractionOrVector | None = None
    mdr: FractionOrVector | None = None
    sda: NonNegOrVector | None = None

    @model_validator(mode="after")
    def _one(self) -> Self:
        _exactly_one(self, ("cdr", "mdr", "sda"))
        return self

    @property
    def kind(self) -> str:
        return "cdr" if self.cdr is not None else "mdr" if self.mdr is not None else "sda"

    @property
    def value(self) -> float | tuple[float, ...]:
        return getattr(self, self.kind)


class RollRates(Spec):
    """Monthly delinquency roll rates (CONVENTIONS R2.11), each a decimal or a monthly vector:
    ``to_30`` (current -> 30 days, a), ``cure_30`` (30 -> current, c30; the rest rolls to 60),
    ``cure_60`` (60 -> current; the rest rolls to 90+), and from 90+ days ``cure_90``,
    ``stay_90`` and ``default_90`` (into foreclosure), which sum to 1 every month. Defaults come
    from the pipeline, so a scenario with roll rates gives no ``default`` curve."""

    to_30: FractionOrVector
    cure_30: FractionOrVector
    cure_60: FractionOrVector
    cure_90: FractionOrVector
    stay_90: FractionOrVector
    default_90: FractionOrVector

    @model_validator(mode="after")
    def _row_sums_to_one(self) -> Self:
        rows = [_values(getattr(self, k)) for k in ("cure_90", "stay_90", "default_90")]
        for m in range(max(len(r) for r in rows)):
            total = sum(r[min(m, len(r) - 1)] for r in rows)
            if abs(total - 1.0) > 1e-9:
                raise SpecError("cure_90", {k: getattr(self, k) for k in ("cure_90", "stay_90", "default_90")},
                                f"cure_90 + stay_90 + default_90 = 1 in every month (month {m + 1}: {total!r})")
        return self


class Scenario(Spec):
    """One set of assumptions. ``advancing`` unset means the collateral's default
    (on for mortgages, off otherwise)."""

    name: str | None = None
    prepay: Prepay = Field(default_factory=lambda: Prepay(cpr=0.0))
    default: Default = Field(default_factory=lambda: Default(cdr=0.0))
    severity: FractionOrVector = Field(0.0, description="loss as a fraction of the balance at default")
    recovery_lag: Months = Field(0, description="months from default to liquidation")
    advancing: bool | None = None
    rates: dict[str, Number | Seq[Number]] = Field(
        default_factory=dict, description="index name -> level or monthly path (decimals)")
    delinquency_60: FractionOrVector = Field(
        0.0, description="share of the pool balance 60+ days delinquent, for delinquency triggers")
    exercise_call: bool = Field(True, description="exercise the deal's clean-up call when it becomes possible")
    roll_rates: RollRates | None = Field(None, description="a delinquency pipeline (CONVENTIONS R2.11): the pool's "
                                         "balances roll between current, 30, 60, 90+ days and foreclosure")
    # a credit-card master trust (CONVENTIONS R2.9)
    payment_rate: FractionOrVector | None = Field(None, description="a card trust's monthly payment rate (MPR): "
                                                  "principal collections / receivables, a month")
    portfolio_yield: FractionOrVector | None = Field(None, description="a card trust's finance charges, annual, "
                                                     "on its receivables")
    charge_off_rate: FractionOrVector | None = Field(None, description="a card trust's charge-offs, annual, on its "
                                                     "receivables")
    purchase_rate: NonNegOrVector | None = Field(None, description="new receivables as a multiple of principal "
                                                 "collections (default 1: the trust replenished)")

    @model_validator(mode="after")
    def _one_default_model(self) -> Self:
        if self.roll_rates is not None and "default" in self.model_fields_set:
            raise SpecError("default", self.default.model_dump(exclude_none=True),
                            "no default curve with roll_rates (the pipeline's defaults are default_90 of the 90+ "
                            "days delinquent balance)")
        return self

    @model_validator(mode="after")
    def _finite_rates(self) -> Self:
        for name, path in self.rates.items():
            for x in _values(path):
                if not math.isfinite(x):
                    raise SpecError(f"rates.{name}", path, "finite index levels")
            if isinstance(path, tuple) and not path:
                raise SpecError(f"rates.{name}", path, "a level or a non-empty monthly path")
        return self
