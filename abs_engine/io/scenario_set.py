"""Scenarios as columns: what a deck compiles to.

A grid of 100 prepayment speeds by 100 default rates is 10,000 scenarios but only 200 distinct
field values. A :class:`ScenarioSet` keeps, per scenario field, its distinct validated values
(each validated once) and each scenario's row among them (an integer array), so building,
compiling, chunking and shipping 10,000 or 1,000,000 scenarios costs array operations, not
Python objects. A Monte Carlo draw is a column of numbers (:class:`Draws`, :class:`RatePaths`),
validated once as an array.

It is a sequence of :class:`~abs_engine.spec.Scenario`: ``len``, iteration and indexing work
as on a tuple, and a scenario object is built only when one is asked for (``s[k]``); a slice,
or an array of positions, is another set that shares the distinct values.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..spec import Scenario
from ..spec.scenario import Default, Prepay

__all__ = ["ScenarioSet", "Draws", "RatePaths", "FIELDS", "unique_names"]

FIELDS = ("prepay", "default", "severity", "recovery_lag", "advancing", "rates", "delinquency_60", "exercise_call",
          "roll_rates", "payment_rate", "portfolio_yield", "charge_off_rate", "purchase_rate")


@dataclass(frozen=True, eq=False)
class Draws:
    """A field drawn per scenario: ``values[row]`` (one row per scenario); ``kind`` names the curve
    (``cpr``, ``cdr``...) for ``prepay`` and ``default``, ``None`` for a plain number."""

    kind: str | None
    values: np.ndarray

    def __len__(self) -> int:
        return self.values.size

    def value(self, row: int) -> Any:
        x = float(self.values[row])
        if self.kind is None:
            return x
        model = Prepay if self.kind in ("cpr", "smm", "psa", "abs") else Default
        return model.model_construct(**{self.kind: x})


@dataclass(frozen=True, eq=False)
class RatePaths:
    """Index paths drawn per scenario: ``paths[name][row]`` is a monthly path (month 1 first),
    on top of the fixed ``base`` rates."""

    base: dict[str, Any]
    paths: dict[str, np.ndarray]

    def __len__(self) -> int:
        return next(iter(self.paths.values())).shape[0]

    def value(self, row: int) -> dict[str, Any]:
        return {**self.base, **{name: tuple(p[row].tolist()) for name, p in self.paths.items()}}


def unique_names(names: list[str]) -> tuple[str, ...]:
    """Scenario names as given; a repeated name gets its position appended."""
    if len(set(names)) == len(names):
        return tuple(names)
    counts = Counter(names)
    return tuple(n if counts[n] == 1 else f"{n}-{k}" for k, n in enumerate(names))


def _hashable(x: Any) -> Any:
    if isinstance(x, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in x.items()))
    return x


class ScenarioSet(Sequence[Scenario]):
    """Scenarios as columns: for each field of :data:`FIELDS`, ``values[field]`` (a tuple of
    distinct validated values, or a :class:`Draws` / :class:`RatePaths` column) and
    ``rows[field]`` (each scenario's row among them); ``names`` (unique) are built when first
    read; ``unique=True`` says they are unique as built (a grid's product of distinct labels), so
    they are not counted."""

    def __init__(self, n: int, values: dict[str, Any], rows: dict[str, np.ndarray],
                 names: tuple[str, ...] | Callable[[], list[str]], unique: bool = False):
        self._n = n
        self.values = values
        self.rows = rows
        self._names = names
        self._names_unique = unique
        self._unique_names: tuple[str, ...] | None = None

    @classmethod
    def of(cls, scenarios: Sequence[Scenario]) -> ScenarioSet:
        """The set of validated scenarios (each field's equal values kept once)."""
        if isinstance(scenarios, ScenarioSet):
            return scenarios
        values: dict[str, list] = {f: [] for f in FIELDS}
        rows: dict[str, list[int]] = {f: [] for f in FIELDS}
        seen: dict[str, dict] = {f: {} for f in FIELDS}
        for s in scenarios:
            for f in FIELDS:
                v = getattr(s, f)
                key = _hashable(v)
                r = seen[f].get(key)
                if r is None:
                    r = seen[f][key] = len(values[f])
                    values[f].append(v)
                rows[f].append(r)
        names = tuple(s.name or f"scenario-{k}" for k, s in enumerate(scenarios))
        return cls(len(scenarios), {f: tuple(v) for f, v in values.items()},
                   {f: np.array(r, dtype=np.int64) for f, r in rows.items()}, names)

    @property
    def names(self) -> tuple[str, ...]:
        """Each scenario's name, made unique (a repeated name gets its position appended)."""
        if self._unique_names is None:
            names = list(self._names() if callable(self._names) else self._names)
            self._unique_names = tuple(names) if self._names_unique else unique_names(names)
        return self._unique_names

    def __len__(self) -> int:
        return self._n

    def value(self, field: str, k: int) -> Any:
        """Scenario ``k``'s value of ``field``."""
        v, r = self.values[field], int(self.rows[field][k])
        return v[r] if isinstance(v, tuple) else v.value(r)

    def __getitem__(self, key):
        if isinstance(key, slice | np.ndarray | list):
            index = np.arange(self._n)[key]
            names = self.names
            return ScenarioSet(index.size, self.values, {f: r[index] for f, r in self.rows.items()},
                               tuple(names[k] for k in index), unique=isinstance(key, slice))
        k = int(key)
        if k < 0:
            k += self._n
        if not 0 <= k < self._n:
            raise IndexError(key)
        fields = {f: self.value(f, k) for f in FIELDS}
        return Scenario.model_construct(name=self.names[k], **fields)

    def __iter__(self) -> Iterator[Scenario]:
        return (self[k] for k in range(self._n))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or len(other) != len(self):
            return NotImplemented if not isinstance(other, Sequence) else False
        return all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ScenarioSet({self._n} scenarios)"
