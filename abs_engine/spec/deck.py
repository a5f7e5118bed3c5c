"""Scenario decks: an explicit list, a grid (cartesian product) or a seeded Monte Carlo.

Every scenario a deck produces has a name, which becomes the ``scenario`` level of results.
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import Field, model_validator

from ..errors import SpecError
from .base import Spec
from .fields import Number, PositiveMonths, Seq, StrictInt
from .scenario import Scenario

__all__ = ["Grid", "Distribution", "ShortRateModel", "MonteCarlo", "Deck", "DECK_KEYS", "MAX_DECK_SCENARIOS",
           "MAX_RATE_DRAWS"]

DECK_KEYS = ("scenarios", "grid", "monte_carlo")
MAX_DECK_SCENARIOS = 1_000_000
"""The most scenarios one deck file may expand to (a grid's product of axis lengths, or Monte
Carlo ``paths``). Each scenario is validated on its own today, about 20 µs and a few kB apiece;
beyond this, split the deck into several files (e.g. several seeds) and run each with
``summary_only=True``, or on an executor."""
MAX_RATE_DRAWS = 100_000_000
"""Monte Carlo index paths: ``paths x months`` summed over the rate models (800 MB of floats)."""


class Grid(Spec):
    """Axes of a cartesian product; each a non-empty list of values for that scenario field."""

    prepay: Seq[dict[str, Any]] | None = None
    default: Seq[dict[str, Any]] | None = None
    severity: Seq[Any] | None = None
    recovery_lag: Seq[Any] | None = None
    rates: Seq[dict[str, Any]] | None = None
    delinquency_60: Seq[Any] | None = None
    payment_rate: Seq[Any] | None = None      # a card trust's (CONVENTIONS R2.9)
    portfolio_yield: Seq[Any] | None = None
    charge_off_rate: Seq[Any] | None = None
    purchase_rate: Seq[Any] | None = None

    @model_validator(mode="after")
    def _axes(self) -> Self:
        axes = self.axes()
        if not axes:
            raise SpecError("", {}, "at least one axis (prepay, default, severity, recovery_lag, rates, "
                                    "delinquency_60, payment_rate, portfolio_yield, charge_off_rate, purchase_rate)")
        size = 1
        for name, values in axes.items():
            if not values:
                raise SpecError(name, [], "a non-empty list of values for this axis")
            size *= len(values)
        if size > MAX_DECK_SCENARIOS:
            shape = " x ".join(str(len(v)) for v in axes.values())
            raise SpecError("", f"{shape} = {size:,} scenarios",
                            f"a grid of at most {MAX_DECK_SCENARIOS:,} scenarios (split it into several decks and "
                            "run each with summary_only=True, or on an executor)")
        return self

    def axes(self) -> dict[str, tuple]:
        return {k: getattr(self, k) for k in type(self).model_fields if getattr(self, k) is not None}


class Distribution(Spec):
    """A random draw per path: ``uniform`` (low, high), ``normal`` (mean, sd), ``lognormal`` (mean
    and sd of the variable itself), ``triangular`` (low, mode, high); ``low``/``high`` also clip
    normal and lognormal draws."""

    distribution: Literal["uniform", "normal", "lognormal", "triangular"]
    low: Number | None = None
    high: Number | None = None
    mean: Number | None = None
    sd: Number | None = None
    mode: Number | None = None

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
    r0: Number
    kappa: Number = Field(gt=0)
    sigma: Number
    theta: Number | None = None
    months: PositiveMonths = 360

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

    paths: StrictInt = Field(ge=1, le=MAX_DECK_SCENARIOS)
    seed: StrictInt = Field(ge=0, lt=2**128)
    prepay: dict[Literal["cpr", "smm", "psa", "abs"], Distribution] | None = None
    default: dict[Literal["cdr", "mdr", "sda"], Distribution] | None = None
    severity: Distribution | None = None
    rates: dict[str, ShortRateModel] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        draws = self.paths * sum(m.months for m in self.rates.values())
        if draws > MAX_RATE_DRAWS:
            raise SpecError("rates", f"{self.paths:,} paths x {draws // self.paths:,} months",
                            f"at most {MAX_RATE_DRAWS:,} simulated index values per deck (split it into several "
                            "decks, e.g. one per seed)")
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
    scenarios: Seq[Scenario] | None = None
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
