"""``compare``: several runs (or one deal under several scenarios) in one side-by-side table."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from ..errors import SpecError
from ..io.display import as_table
from ..io.loading import DealSource, load_deck
from ..results.card import CardResult
from ..results.tables import RunResult, SummaryResult
from ..spec import Scenario
from .run import run

__all__ = ["compare", "COMPARE_METRICS"]

COMPARE_METRICS = ("wal", "first_principal_period", "last_principal_period", "yield", "modified_duration",
                   "total_interest", "total_principal", "total_writedown", "loss")
"""The rows of a comparison, per tranche: the summary's columns, and ``loss`` (writedowns as a
share of the class's original balance)."""


def _label(res, scenario: str, several_deals: bool) -> str:
    return f"{res.deal.name} / {scenario}" if several_deals else scenario


def compare(items: Sequence, deal: DealSource | None = None, *, metrics: Sequence[str] = COMPARE_METRICS):
    """One summary table, side by side: rows ``(tranche, metric)``, a column per scenario.

    Parameters
    ----------
    items
        Results (:class:`RunResult`, :class:`SummaryResult`, card results; a result of several
        scenarios gives a column each), or, with ``deal``, scenarios (specs, files, dicts; a
        deck adds each of its scenarios) to run it under, all in one compiled call.
    deal
        The deal to run ``items`` under.
    metrics
        Rows per tranche, from :data:`COMPARE_METRICS`.

    Yields are at par; ``loss`` is writedowns / original balance. Columns are named by the
    scenario (prefixed by the deal when the results come from different deals).

    Examples
    --------
    >>> import abs_engine as ae
    >>> table = ae.compare(["scenarios/auto_base.yaml", "scenarios/auto_stress.yaml"],
    ...                    deal="tranches/auto_prime_abs.yaml")
    >>> list(table.columns)
    ['auto_base', 'auto_stress']
    >>> loss = table.loc[("D", "loss")]  # writedowns / original face, per scenario
    >>> bool(loss["auto_stress"] > loss["auto_base"] == 0.0)
    True
    """
    import pandas as pd  # deferred: a projection without tables never imports pandas

    unknown = [m for m in metrics if m not in COMPARE_METRICS]
    if unknown:
        raise SpecError("metrics", unknown, f"metrics of a comparison ({list(COMPARE_METRICS)})")
    if isinstance(items, RunResult | SummaryResult | CardResult | str | os.PathLike | Mapping | Scenario):
        items = [items]  # one result, or one scenario or deck
    if deal is not None:
        if any(isinstance(x, RunResult | SummaryResult | CardResult) for x in items):
            raise SpecError("items", "results", "scenarios to run the deal under (results are compared as they are, "
                            "without a deal)")
        if not items:
            raise SpecError("items", [], "at least one scenario")
        scenarios = [s for item in items for s in load_deck(item)]  # a deck adds each of its scenarios
        results = [run(deal, scenarios, summary_only=True)]
    else:
        results = list(items)
        bad = [type(x).__name__ for x in results if not isinstance(x, RunResult | SummaryResult | CardResult)]
        if bad or not results:
            raise SpecError("items", bad or [], "results of runs (or scenarios, with deal=...)")
    several_deals = len({r.deal.name for r in results}) > 1
    columns: dict[str, pd.Series] = {}
    order: list[str] = []
    for res in results:
        s = res.summary()
        if "scenario" not in s.index.names:
            s = pd.concat([s], keys=[res.scenarios[0].name or "scenario"], names=["scenario"])
        face = {t.name: t.balance for t in res.deal.notes} if res.deal.series is None else {
            res.deal.series.name: res.deal.series.invested_amount}
        for scen, part in s.groupby(level="scenario", sort=False):
            part = part.droplevel("scenario")
            part = part.loc[[t for t in part.index if t in face]]  # the notes (the residual has no summary rows)
            for t in part.index:
                if t not in order:
                    order.append(t)
            values = {}
            for t, row in part.iterrows():
                for m in metrics:
                    if m == "loss":
                        values[(t, m)] = float(row["total_writedown"]) / face[t] if face[t] else float("nan")
                    else:
                        v = row[m]
                        values[(t, m)] = float("nan") if pd.isna(v) else float(v)
            label = _label(res, str(scen), several_deals)
            k, base = 2, label
            while label in columns:
                label, k = f"{base} ({k})", k + 1
            columns[label] = pd.Series(values, dtype=float)
    index = pd.MultiIndex.from_tuples([(t, m) for t in order for m in metrics], names=["tranche", "metric"])
    return as_table(pd.DataFrame({label: col.reindex(index) for label, col in columns.items()}, index=index))
