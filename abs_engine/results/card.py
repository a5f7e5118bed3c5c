"""What a card trust run produced (CONVENTIONS R2.9): the series' table per month, the
certificates' summary (WAL, yield, losses, the early-amortization month) and conservation
checks."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from ..compile.card import CardProgram
from ..dates import payment_dates, schedule
from ..errors import SpecError
from ..io.display import Shown, as_table
from ..io.tables import Exported
from ..vocabulary import CARD_STAT_COLUMNS, SUMMARY_COLUMNS, TRUST_COLUMNS
from .overview import card_display
from .tables import names_index, principal_periods

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CardResult", "CARD_SUMMARY_COLUMNS", "CARD_CHECK_COLUMNS"]

T = {name: k for k, name in enumerate(TRUST_COLUMNS)}  # the kernel's columns, by name
C = {name: k for k, name in enumerate(CARD_STAT_COLUMNS)}

CARD_SUMMARY_COLUMNS = (*[c for c in SUMMARY_COLUMNS if c != "total_residual"], "early_amortization_period")
"""The certificates' summary: the tranche summary's columns (``total_writedown``: investor
charge-offs not covered, and what is unpaid at the legal final), and the month early
amortization was triggered (0: never)."""
CARD_CHECK_COLUMNS = ("receivables", "invested_amount", "finance_charges", "principal")
"""Residuals per month (zero up to rounding): the receivables' roll-forward, the invested
amount's (less investor charge-offs and principal paid), the investor finance charges'
allocation, and the investor principal's (collections, charge-offs covered and the principal
funding account against what holders, the seller and the account receive)."""


class CardResult(Shown, Exported):
    """A card trust run: ``trust`` (the series' table, :data:`abs_engine.vocabulary.TRUST_COLUMNS`),
    ``summary()``, ``check()``; from :func:`abs_engine.engine.card.run_card`. ``table`` is the
    kernel's ``[scenario, month, column]`` array (``None`` for a summary-only run)."""

    def __init__(self, program: CardProgram, table: np.ndarray | None, stats: np.ndarray, yields: np.ndarray,
                 durations: np.ndarray, scenario_level: bool):
        self.program = program
        self.deal = program.deal
        self.scenarios = program.scenarios
        self.table = table
        self._stats, self._yields, self._durations = stats, yields, durations
        self.scenario_level = scenario_level

    @property
    def n_periods(self) -> int:
        return self.program.n_periods

    @cached_property
    def dates(self) -> pd.DatetimeIndex:
        """Each month's payment date (NaT for an undated deal)."""
        import pandas as pd  # deferred: a run without tables never imports pandas

        if self.deal.first_payment_date is None:
            return payment_dates(None, self.n_periods)
        return pd.DatetimeIndex(schedule(self.deal, range(self.n_periods)))

    def _index(self, per_period: bool):
        import pandas as pd  # deferred: a run without tables never imports pandas

        levels, names = [], []
        if self.scenario_level:
            levels.append(list(self.program.names))
            names.append("scenario")
        if per_period:
            levels.append(range(1, self.n_periods + 1))
            names.append("period")
        if len(levels) == 1:
            return pd.Index(levels[0], name=names[0])
        return pd.MultiIndex.from_product(levels, names=names)

    def _need_table(self) -> np.ndarray:
        if self.table is None:
            raise SpecError("summary_only", True, "a full run for the per-month trust table")
        return self.table

    @cached_property
    def trust(self) -> pd.DataFrame:
        """The series' table (:data:`~abs_engine.vocabulary.TRUST_COLUMNS`), index ``period``
        (``scenario``, ``period`` for several scenarios), with the month's ``date``."""
        import pandas as pd  # deferred: a run without tables never imports pandas

        t = self._need_table()
        k = t.shape[0] if self.scenario_level else 1
        flat = t[:k].reshape(-1, t.shape[2])
        frame = as_table(pd.DataFrame(flat, columns=list(TRUST_COLUMNS), index=self._index(True)))
        frame.insert(0, "date", np.tile(np.asarray(self.dates), k))
        for c in ("phase", "early_amortization"):
            frame[c] = frame[c].astype(np.int64)
        return frame

    def summary(self) -> pd.DataFrame:
        """The certificates' summary per scenario (:data:`CARD_SUMMARY_COLUMNS`), priced at par:
        WAL (years, ``T_k = k/12``), first and last principal month, totals, bond-equivalent
        yield and modified duration (BMA section G), the early-amortization month (0: none)."""
        import pandas as pd  # deferred: a run without tables never imports pandas

        s = self._stats
        k = s.shape[0] if self.scenario_level else 1
        cols = {c: s[:k, C[c]] for c in CARD_STAT_COLUMNS}
        cols["early_amortization_period"] = cols["early_amortization_period"].astype(np.int64)
        for c in ("first_principal_period", "last_principal_period"):  # missing: no principal paid
            cols[c] = principal_periods(cols[c])
        cols.update({"yield": self._yields[:k], "price": np.full(k, 100.0), "modified_duration": self._durations[:k]})
        name = self.deal.series.name
        if self.scenario_level:  # built from its levels and codes (the names are unique): no factorizing
            index = pd.MultiIndex(levels=[names_index(self.program.names), pd.Index([name])],
                                  codes=[np.arange(k), np.zeros(k, dtype=np.int64)], names=["scenario", "tranche"],
                                  verify_integrity=False)
        else:
            index = pd.Index([name], name="tranche")
        return as_table(pd.DataFrame({c: cols[c] for c in CARD_SUMMARY_COLUMNS}, index=index))

    def distribution(self, percentiles=(5, 25, 50, 75, 95)) -> pd.DataFrame:
        """Mean and percentiles across scenarios of the certificates' ``loss`` (writedowns /
        invested amount), ``wal`` and ``yield`` (index tranche, metric), as a grid's
        :meth:`~abs_engine.results.tables.SummaryResult.distribution`."""
        import pandas as pd  # deferred: a run without tables never imports pandas

        s = self.summary()
        metrics = {"loss": s["total_writedown"].to_numpy(float) / self.deal.series.invested_amount,
                   "wal": s["wal"].to_numpy(float), "yield": s["yield"].to_numpy(float)}
        rows = []
        for v in metrics.values():
            finite = v[np.isfinite(v)]
            rows.append({"mean": finite.mean() if finite.size else np.nan,
                         **{f"p{p:g}": np.percentile(finite, p) if finite.size else np.nan for p in percentiles}})
        index = pd.MultiIndex.from_product([[self.deal.series.name], list(metrics)], names=["tranche", "metric"])
        return as_table(pd.DataFrame(rows, index=index))

    def all_tables(self) -> dict[str, pd.DataFrame]:
        """``summary``, then (a full run) ``trust`` and ``check``."""
        tables = {"summary": self.summary()}
        if self.table is not None:
            tables.update(trust=self.trust, check=self.check())
        return tables

    def _display(self):
        return card_display(self)

    def check(self) -> pd.DataFrame:
        """Conservation residuals per month (:data:`CARD_CHECK_COLUMNS`)."""
        import pandas as pd  # deferred: a run without tables never imports pandas

        t = self._need_table()
        series, coll = self.deal.series, self.deal.collateral

        def prev(c, start):
            return np.concatenate([np.full((t.shape[0], 1), start), t[:, :-1, c]], axis=1)

        live = (prev(T["invested_amount"], series.invested_amount) > 0) | (prev(T["pfa_balance"], 0.0) > 0)
        cols = {
            "receivables": np.where(live, prev(T["receivables"], coll.receivables) - t[..., T["principal_collections"]]
                                    - t[..., T["charge_offs"]] + t[..., T["new_receivables"]]
                                    - t[..., T["receivables"]],
                                    0.0),
            "invested_amount": prev(T["invested_amount"], series.invested_amount) - t[..., T["investor_charge_off"]]
            - t[..., T["principal_paid"]] - t[..., T["invested_amount"]],
            "finance_charges": t[..., T["investor_finance_charges"]] - t[..., T["interest_paid"]]
            - t[..., T["servicing_fee"]] - t[..., T["charge_offs_covered"]] - t[..., T["excess_spread"]],
            "principal": t[..., T["investor_principal_collections"]] + t[..., T["charge_offs_covered"]]
            + prev(T["pfa_balance"], 0.0)
            - t[..., T["principal_paid"]] - t[..., T["principal_to_seller"]] - t[..., T["pfa_balance"]],
        }
        k = t.shape[0] if self.scenario_level else 1
        return as_table(pd.DataFrame({c: v[:k].reshape(-1) for c, v in cols.items()}, index=self._index(True)))
