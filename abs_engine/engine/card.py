"""Run a credit-card master trust series (CONVENTIONS R2.9): every scenario's months through
:func:`abs_engine.kernels.card.run_trust`, the table kept (a full run) or only the certificates'
summaries (``summary_only``), their yields searched block by block in the kernel by the summary
sink's search (:func:`abs_engine.kernels.summaries._yields`, BMA section G)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..compile.card import compile_card
from ..kernels import card as KC
from ..results.card import CardResult
from ..spec import Deal, Scenario
from .compiling import announce_if_cold

__all__ = ["run_card"]


def run_card(deal: Deal, scenarios: Sequence[Scenario], *, summary_only: bool = False,
             scenario_level: bool = True) -> CardResult:
    """The series under ``scenarios``: a :class:`~abs_engine.results.card.CardResult` whose
    ``trust`` table holds every month (not with ``summary_only``) and whose ``summary()`` holds
    the certificates' WAL, yield (at par), losses and early-amortization month."""
    program = compile_card(deal, scenarios)
    s = deal.series
    n, k = program.n_periods, len(program.names)
    announce_if_cold(KC.run_trust)
    table = None if summary_only else np.zeros((k, n, KC.TRUST_COLS))
    stats = np.zeros((k, KC.CARD_STATS))
    yields, durations = np.empty(k), np.empty(k)
    t = program.tables
    rows = np.stack([program.rows[f] for f in ("payment_rate", "portfolio_yield", "charge_off_rate",
                                               "purchase_rate")]).astype(np.int64)
    KC.run_trust(float(deal.collateral.receivables), float(s.invested_amount), float(s.coupon),
                 float(s.servicing_fee), int(s.revolving_months), int(s.accumulation_months), t["payment_rate"],
                 t["portfolio_yield"], t["charge_off_rate"], t["purchase_rate"], rows, n, table, stats, yields,
                 durations)
    return CardResult(program, table, stats, yields, durations, scenario_level)
