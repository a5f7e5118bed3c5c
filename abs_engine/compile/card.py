"""Compile a credit-card master trust series (CONVENTIONS R2.9) and its scenarios into the
arrays of :func:`abs_engine.kernels.card.run_trust`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import SpecError
from ..io.scenario_set import ScenarioSet
from ..spec import Deal, Scenario
from .collateral import vector_rows

__all__ = ["CardProgram", "compile_card"]

CARD_FIELDS = ("payment_rate", "portfolio_yield", "charge_off_rate", "purchase_rate")


@dataclass(frozen=True, eq=False)
class CardProgram:
    """A card trust series and its scenarios as arrays: ``[row, month]`` tables of distinct
    values per field and each scenario's row (``rows[field]``)."""

    deal: Deal
    scenarios: ScenarioSet
    n_periods: int
    tables: dict[str, np.ndarray]   # field -> [row, month]
    rows: dict[str, np.ndarray]     # field -> [scenario]

    @property
    def names(self) -> tuple[str, ...]:
        return self.scenarios.names


def compile_card(deal: Deal, scenarios: Sequence[Scenario]) -> CardProgram:
    """The series over its ``legal_final_months`` for ``scenarios``; each needs ``payment_rate``,
    ``portfolio_yield`` and ``charge_off_rate`` (``purchase_rate`` defaults to 1)."""
    s = ScenarioSet.of(scenarios)
    if not len(s):
        raise SpecError("scenarios", [], "at least one scenario")
    n = deal.series.legal_final_months
    tables, rows = {}, {}
    for f in CARD_FIELDS:
        values = s.values[f]
        if isinstance(values, tuple) and any(v is None for v in values):
            if f == "purchase_rate":
                values = tuple(1.0 if v is None else v for v in values)
            else:
                k = int(np.flatnonzero(np.array([v is None for v in values])[s.rows[f]])[0])
                raise SpecError(f, None, f"a {f.replace('_', ' ')} in every scenario of a card trust (scenario "
                                f"{s.names[k]!r} has none)", file=deal._file)
        tables[f] = vector_rows(values, n)
        rows[f] = s.rows[f]
    return CardProgram(deal, s, n, tables, rows)
