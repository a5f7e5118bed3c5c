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


def expand_deck(deck: Deck, file: str | None = None) -> tuple[Scenario, ...]:
    """The deck's scenarios, each named."""
    base = dict(deck.base)
    _scenario(base, "base", file)   # on its own first, so an error in base names base
    if deck.scenarios is not None:
        out = []
        for k, s in enumerate(deck.scenarios):
            data = {**base, **s.model_dump(exclude_unset=True)}
            data.setdefault("name", f"scenario-{k}")
            out.append(_scenario(data, f"scenarios[{k}]", file))
        return tuple(out)
    if deck.grid is not None:
        axes = deck.grid.axes()
        for axis, values in axes.items():  # each value on its own first, so an error names its place
            for k, value in enumerate(values):
                _scenario({**base, axis: value}, f"grid.{axis}[{k}]", file, axis)
        out = []
        for combo in itertools.product(*(list(enumerate(v)) for v in axes.values())):
            data = dict(base)
            labels = []
            for axis, (k, value) in zip(axes, combo, strict=True):
                data[axis] = value
                labels.append(_label(axis, value, k))
            data["name"] = " ".join(labels)
            out.append(_scenario(data, "grid", file))
        return tuple(out)
    return _monte_carlo(deck, base, file)


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


def _monte_carlo(deck: Deck, base: dict[str, Any], file: str | None) -> tuple[Scenario, ...]:
    mc = deck.monte_carlo
    rng = np.random.default_rng(mc.seed)
    n = mc.paths
    fields: dict[str, Any] = {}
    bounded = {"cpr", "smm", "cdr", "mdr"}
    for group in ("prepay", "default"):
        spec = getattr(mc, group)
        if spec is not None:
            (kind, dist), = spec.items()
            values = np.clip(draw(dist, rng, n), 0.0, 1.0 if kind in bounded else np.inf)
            fields[group] = [{kind: float(v)} for v in values]
    if mc.severity is not None:
        fields["severity"] = np.clip(draw(mc.severity, rng, n), 0.0, 1.0).tolist()
    rates = {name: short_rate_paths(model, rng, n) for name, model in sorted(mc.rates.items())}
    out = []
    for k in range(n):
        data = {**base, "name": f"path-{k:05d}"}
        for key, values in fields.items():
            data[key] = values[k]
        if rates:
            data["rates"] = {**base.get("rates", {}), **{name: paths[k].tolist() for name, paths in rates.items()}}
        out.append(_scenario(data, "monte_carlo", file))
    return tuple(out)
