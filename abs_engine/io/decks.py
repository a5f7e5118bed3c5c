"""Expand a scenario deck into its scenarios: grids as cartesian products, Monte Carlo from a
seed (the same seed always gives the same scenarios, in the same order)."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from ..errors import SpecError
from ..spec import Scenario
from ..spec.base import validate_spec
from ..spec.deck import Deck, Distribution, ShortRateModel
from .scenario_set import FIELDS, Draws, RatePaths, ScenarioSet

__all__ = ["expand_deck", "draw", "short_rate_paths"]


def _scenario(data: dict[str, Any], field: str, file: str | None, axis: str | None = None) -> Scenario:
    """Validate one generated scenario; an error names the deck field that produced it (for a
    grid axis value, the path inside that value)."""
    try:
        return validate_spec(Scenario, data)
    except SpecError as exc:
        inner = exc.field
        if axis is not None and (inner == axis or inner.startswith(axis + ".")):
            inner = inner[len(axis) + 1:]
        path = ".".join(x for x in (field, inner) if x)
        raise SpecError(path, exc.value, exc.expected, file=file) from None


def _label(axis: str, value: Any, k: int) -> str:
    if isinstance(value, dict) and len(value) == 1:
        (key, v), = value.items()
        return f"{key}={v}" if isinstance(v, int | float) else f"{key}[{k}]"
    if isinstance(value, dict):
        return ",".join(f"{key}={v}" for key, v in value.items()) if all(
            isinstance(v, int | float) for v in value.values()) else f"{axis}[{k}]"
    return f"{axis}={value}" if isinstance(value, int | float) else f"{axis}[{k}]"


def expand_deck(deck: Deck, file: str | None = None) -> ScenarioSet:
    """The deck's scenarios, each named, as columns (:class:`ScenarioSet`): every value a grid
    axis or a Monte Carlo draw gives a field is validated once, and no scenario object is built
    until one is asked for."""
    base = dict(deck.base)
    first = _scenario(base, "base", file)   # on its own first, so an error in base names base
    if deck.scenarios is not None:
        out = []
        for k, s in enumerate(deck.scenarios):
            data = {**base, **s.model_dump(exclude_unset=True)}
            data.setdefault("name", f"scenario-{k}")
            out.append(_scenario(data, f"scenarios[{k}]", file))
        return ScenarioSet.of(out)
    if deck.grid is not None:
        return _grid(deck.grid.axes(), base, first, file)
    return _monte_carlo(deck, base, first, file)


def _grid(axes: dict[str, tuple], base: dict[str, Any], first: Scenario, file: str | None) -> ScenarioSet:
    """The cartesian product of the axes (the first axis varies slowest), each axis value
    validated once on top of ``base``."""
    sizes = [len(v) for v in axes.values()]
    n = int(np.prod(sizes))
    values = {f: (getattr(first, f),) for f in FIELDS}
    rows = {f: np.zeros(n, dtype=np.int64) for f in FIELDS}
    labels = []
    stride = n
    for (axis, axis_values), size in zip(axes.items(), sizes, strict=True):
        stride //= size
        values[axis] = _numbers(axis, axis_values, base, file) or tuple(
            getattr(_scenario({**base, axis: value}, f"grid.{axis}[{k}]", file, axis), axis)
            for k, value in enumerate(axis_values))
        rows[axis] = np.arange(n, dtype=np.int64) // stride % size
        labels.append([_label(axis, value, k) for k, value in enumerate(axis_values)])

    def names() -> list[str]:  # the product's order: the first axis varies slowest
        return list(map(" ".join, itertools.product(*labels)))

    # distinct labels without spaces on every axis: their products, joined by spaces, are distinct
    unique = all(len(set(x)) == len(x) and not any(" " in label for label in x) for x in labels)
    return ScenarioSet(n, values, rows, names, unique)


def _numbers(axis: str, axis_values: tuple, base: dict[str, Any], file: str | None) -> Draws | None:
    """An axis of plain numbers (``severity: [0.3, 0.5]``) or of one curve kind given as a
    number (``prepay: [{abs: 0.5}, {abs: 1.0}]``) as a column of numbers, checked by the
    scenario's own rules on its least and greatest value (every rule on such a number is a
    bound); ``None`` for any other axis, or when a check fails (the caller then validates each
    value, so the error names the one at fault)."""
    if axis in ("severity", "delinquency_60", "payment_rate", "portfolio_yield", "charge_off_rate", "purchase_rate"):
        kinds, numbers = {None}, axis_values
    elif axis in ("prepay", "default") and all(isinstance(v, dict) and len(v) == 1 for v in axis_values):
        kinds, numbers = {k for v in axis_values for k in v}, [x for v in axis_values for x in v.values()]
    else:
        return None
    if len(kinds) != 1 or not all(type(x) in (int, float) for x in numbers):  # a bool is not a number here
        return None
    kind = kinds.pop()
    try:
        column = np.array(numbers, dtype=np.float64)
        _extremes(column, axis, base, file, (lambda x: x) if kind is None else (lambda x: {kind: x}))
    except (SpecError, OverflowError):
        return None
    return Draws(kind, column)


def draw(dist: Distribution, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` draws from a :class:`Distribution` (clipped to ``[low, high]`` when given)."""
    if dist.distribution == "uniform":
        x = rng.uniform(dist.low, dist.high, n)
    elif dist.distribution == "normal":
        x = rng.normal(dist.mean, dist.sd, n)
    elif dist.distribution == "lognormal":  # parameters of the variable: mean m, sd s
        sigma2 = np.log1p((dist.sd / dist.mean) ** 2)
        x = rng.lognormal(np.log(dist.mean) - sigma2 / 2, np.sqrt(sigma2), n)
    else:
        x = rng.triangular(dist.low, dist.mode, dist.high, n)
    lo = -np.inf if dist.low is None else dist.low
    hi = np.inf if dist.high is None else dist.high
    return np.clip(x, lo, hi)


def short_rate_paths(model: ShortRateModel, rng: np.random.Generator, n: int) -> np.ndarray:
    """``[path, month]`` short rates, month 1 first, by exact monthly steps of the
    Ornstein-Uhlenbeck process. Vasicek reverts to ``theta``; Hull-White adds to a zero-mean
    factor the drift ``r0 + sigma^2/(2 kappa^2) (1 - e^(-kappa t))^2`` that fits a flat curve at r0."""
    dt = 1.0 / 12.0
    decay = np.exp(-model.kappa * dt)
    step_sd = model.sigma * np.sqrt((1.0 - decay ** 2) / (2.0 * model.kappa))
    z = rng.standard_normal((n, model.months))
    out = np.empty((n, model.months))
    if model.model == "vasicek":
        r = np.full(n, model.r0)
        for m in range(model.months):
            r = model.theta + (r - model.theta) * decay + step_sd * z[:, m]
            out[:, m] = r
        return out
    x = np.zeros(n)
    t = dt * np.arange(1, model.months + 1)
    alpha = model.r0 + model.sigma ** 2 / (2 * model.kappa ** 2) * (1 - np.exp(-model.kappa * t)) ** 2
    for m in range(model.months):
        x = x * decay + step_sd * z[:, m]
        out[:, m] = x + alpha[m]
    return out


def _extremes(values: np.ndarray, field: str, base: dict[str, Any], file: str | None, make) -> np.ndarray:
    """Drawn values, checked by the scenario's own rules on their least and greatest (every rule
    on a drawn number is a bound, so those two stand for all; a NaN is refused as itself)."""
    for x in (values.min(), values.max()):
        _scenario({**base, field: make(float(x))}, "monte_carlo", file)
    return values


def _monte_carlo(deck: Deck, base: dict[str, Any], first: Scenario, file: str | None) -> ScenarioSet:
    """``paths`` scenarios: each drawn field a column of numbers (validated as an array), the
    others from ``base``."""
    mc = deck.monte_carlo
    rng = np.random.default_rng(mc.seed)
    n = mc.paths
    values: dict[str, Any] = {f: (getattr(first, f),) for f in FIELDS}
    rows = {f: np.zeros(n, dtype=np.int64) for f in FIELDS}
    bounded = {"cpr", "smm", "cdr", "mdr"}
    for group in ("prepay", "default"):
        spec = getattr(mc, group)
        if spec is not None:
            (kind, dist), = spec.items()
            drawn = _extremes(np.clip(draw(dist, rng, n), 0.0, 1.0 if kind in bounded else np.inf), group, base,
                              file, lambda x, kind=kind: {kind: x})
            values[group], rows[group] = Draws(kind, drawn), np.arange(n, dtype=np.int64)
    if mc.severity is not None:
        values["severity"] = Draws(None, _extremes(np.clip(draw(mc.severity, rng, n), 0.0, 1.0), "severity", base,
                                                   file, lambda x: x))
        rows["severity"] = np.arange(n, dtype=np.int64)
    rates = {name: short_rate_paths(model, rng, n) for name, model in sorted(mc.rates.items())}
    for name, paths in rates.items():
        _extremes(paths, "rates", base, file, lambda x, name=name: {**base.get("rates", {}), name: x})
    if rates:
        values["rates"], rows["rates"] = RatePaths(dict(first.rates), rates), np.arange(n, dtype=np.int64)
    return ScenarioSet(n, values, rows, lambda: [f"path-{k:05d}" for k in range(n)], unique=True)
