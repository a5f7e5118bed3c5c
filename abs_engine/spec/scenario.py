"""A scenario: prepayment, default, severity, recovery lag, advancing and rate paths.

Units follow CONVENTIONS.md: ``cpr``, ``smm``, ``cdr``, ``mdr`` and ``severity`` are
decimals; ``psa``, ``sda`` and ``abs`` are speeds in percent. Each may be a number or a
monthly vector indexed by projection month (month 1 first; the last value carries forward).
"""

from __future__ import annotations

import math
from typing import Self

from pydantic import Field, model_validator

from ..errors import SpecError
from .base import Spec
from .fields import FractionOrVector, Months, NonNegOrVector, Number, Seq

__all__ = ["Prepay", "Default", "Scenario"]


def _exactly_one(model: Spec, keys: tuple[str, ...]) -> str:
    given = [k for k in keys if getattr(model, k) is not None]
    if len(given) != 1:
        raise SpecError("", given or "nothing", f"exactly one of {', '.join(keys)}")
    return given[0]


def _values(v: float | tuple[float, ...]) -> tuple[float, ...]:
    return v if isinstance(v, tuple) else (v,)


class Prepay(Spec):
    """Voluntary prepayment: exactly one of ``cpr``, ``smm``, ``psa`` (percent), ``abs`` (percent)."""

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

    @model_validator(mode="after")
    def _finite_rates(self) -> Self:
        for name, path in self.rates.items():
            for x in _values(path):
                if not math.isfinite(x):
                    raise SpecError(f"rates.{name}", path, "finite index levels")
            if isinstance(path, tuple) and not path:
                raise SpecError(f"rates.{name}", path, "a level or a non-empty monthly path")
        return self
