"""Scenario decks: an explicit list, a grid (cartesian product) or a seeded Monte Carlo.

Every scenario a deck produces has a name, which becomes the ``scenario`` level of results.
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import Field, model_validator

from ..errors import SpecError
from .base import Spec
from .scenario import Scenario

__all__ = ["Grid", "Distribution", "ShortRateModel", "MonteCarlo", "Deck", "DECK_KEYS"]

DECK_KEYS = ("scenarios", "grid", "monte_carlo")


class Grid(Spec):
    """Axes of a cartesian product; each a non-empty list of values for that scenario field."""

    prepay: tuple[dict[str, Any], ...] | None = None
    default: tuple[dict[str, Any], ...] | None = None
    severity: tuple[Any, ...] | None = None
    recovery_lag: tuple[int, ...] | None = None
    rates: tuple[dict[str, Any], ...] | None = None
    delinquency_60: tuple[Any, ...] | None = None

    @model_validator(mode="after")
    def _axes(self) -> Self:
        axes = self.axes()
        if not axes:
            raise SpecError("", {}, "at least one axis (prepay, default, severity, recovery_lag, rates)")
        for name, values in axes.items():
            if not values:
                raise SpecError(name, [], "a non-empty list of values for this axis")
        return self

    def axes(self) -> dict[str, tuple]:
        return {k: getattr(self, k) for k in type(self).model_fields if getattr(self, k) is not None}


class Distribution(Spec):
    """A random draw per path: ``uniform`` (low, high), ``normal`` (mean, sd), ``lognormal`` (mean
    and sd of the variable itself), ``triangular`` (low, mode, high); ``low``/``high`` also clip
    normal and lognormal draws."""

    distribution: Literal["uniform", "normal", "lognormal", "triangular"]
    low: float | None = None
    high: float | None = None
    mean: float | None = None
    sd: float | None = None
    mode: float | None = None

    @model_validator(mode="after")
    def _parameters(self) -> Self:
        need = {"uniform": ("low", "high"), "normal": ("mean", "sd"), "lognormal": ("mean", "sd"),
                "triangular": ("low", "mode", "high")}[self.distribution]
        for name in need:
            if getattr(self, name) is None:
                raise SpecError(name, None, f"{name} for a {self.distribution} distribution")
        if self.sd is not None and not self.sd >= 0:
            raise SpecError("sd", self.sd, "a standard deviation >= 0")
        if self.distribution == "lognormal" and not self.mean > 0:
            raise SpecError("mean", self.mean, "a mean > 0 for a lognormal distribution")
        if self.low is not None and self.high is not None and not self.low <= self.high:
            raise SpecError("high", self.high, f">= low ({self.low})")
        if self.distribution == "triangular" and not self.low <= self.mode <= self.high:
            raise SpecError("mode", self.mode, f"a mode in [low, high] ([{self.low}, {self.high}])")
        return self


class ShortRateModel(Spec):
    """A one-factor short-rate path per Monte Carlo path, monthly: ``vasicek`` (dr = kappa (theta -
    r) dt + sigma dW) or ``hull_white`` (the same with theta(t) fitting a flat curve at r0)."""

    model: Literal["vasicek", "hull_white"]
    r0: float
    kappa: float = Field(gt=0)
    sigma: float
    theta: float | None = None
    months: int = Field(360, ge=1)

    @model_validator(mode="after")
    def _parameters(self) -> Self:
        if not self.sigma >= 0:
            raise SpecError("sigma", self.sigma, "a volatility >= 0")
        if self.model == "vasicek" and self.theta is None:
            raise SpecError("theta", None, "the long-run level theta for a vasicek model")
        return self


class MonteCarlo(Spec):
    """``paths`` scenarios from ``seed``: any of prepay/default speeds, severity and recovery lag
    drawn from distributions, index paths from short-rate models; everything else from ``base``."""

    paths: int = Field(ge=1)
    seed: int
    prepay: dict[Literal["cpr", "smm", "psa", "abs"], Distribution] | None = None
    default: dict[Literal["cdr", "mdr", "sda"], Distribution] | None = None
    severity: Distribution | None = None
    rates: dict[str, ShortRateModel] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        for field in ("prepay", "default"):
            value = getattr(self, field)
            if value is not None and len(value) != 1:
                raise SpecError(field, sorted(value), "exactly one speed to draw")
        return self


class Deck(Spec):
    """A scenario file that holds several: exactly one of ``scenarios`` (a list), ``grid`` or
    ``monte_carlo``; ``base`` holds the fields every scenario shares."""

    name: str | None = None
    base: dict[str, Any] = Field(default_factory=dict)
    scenarios: tuple[Scenario, ...] | None = None
    grid: Grid | None = None
    monte_carlo: MonteCarlo | None = None

    @model_validator(mode="after")
    def _one(self) -> Self:
        given = [k for k in DECK_KEYS if getattr(self, k) is not None]
        if len(given) != 1:
            raise SpecError("", given or "nothing", "exactly one of scenarios, grid or monte_carlo")
        if self.scenarios is not None and not self.scenarios:
            raise SpecError("scenarios", [], "at least one scenario")
        return self
