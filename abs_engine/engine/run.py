"""``run``: deal and scenario in, :class:`~abs_engine.results.tables.RunResult` (or
:class:`~abs_engine.results.tables.SummaryResult`) out: a full run in this process, in chunks on an
executor, on a Parquet tape in chunks of row groups, or summaries only."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ..errors import SpecError
from ..io.loading import DealSource, ScenarioSource, is_deck, load_deal, load_deck, load_scenario, read_source
from ..io.loans import deal_loans
from ..io.scenario_set import ScenarioSet
from ..results.tables import RunResult, SummaryResult
from ..spec import Scenario
from .card import run_card
from .chunks import run_chunked, run_tape_chunks
from .full import run_full
from .groups import run_groups
from .summaries import run_summaries

__all__ = ["run", "MAX_TABLE_SCENARIO_PERIODS"]

MAX_TABLE_SCENARIO_PERIODS = 5_000_000
"""A full run keeps every per-period table of every scenario in this process (with an executor
too: chunks come back here), about 1.4 kB per scenario-period (10,000 scenarios x 360 months:
5 GB); beyond this many scenario-periods it is refused before anything is allocated:
``summary_only=True`` keeps per-scenario summaries of any number of scenarios."""


def _interactive() -> bool:
    """A terminal or a notebook is watching (so a progress bar helps)."""
    if "ipykernel" in sys.modules:
        return True
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def run(deal: DealSource, scenario: ScenarioSource | Sequence[ScenarioSource], *,
        loan_level: bool = False, summary_only: bool = False, chunk_size: int = 2048,
        progress: bool | None = None, executor=None, tape_chunks: int | None = None) -> RunResult | SummaryResult:
    """Project the deal's collateral under a scenario (or a list of them, all in one compiled
    call) and, when the deal has tranches, run its waterfall.

    Parameters
    ----------
    deal, scenario
        Specs, paths to YAML/JSON files, or dicts. A list of scenarios, or a deck (a file or
        dict with ``scenarios``, ``grid`` or ``monte_carlo``), gives results with a leading
        ``scenario`` level.
    loan_level
        Also keep per-loan flows (``result.loans``); for small pools and one scenario only.
    summary_only
        Keep only per-scenario summaries (:class:`SummaryResult`), running ``chunk_size``
        scenarios at a time, so any number of scenarios fits in memory.
    progress
        Show a progress bar (tqdm) over chunks; default: when a terminal or notebook is watching.
    executor
        Run chunks of ``chunk_size`` scenarios as tasks of any ``concurrent.futures``-style
        executor (a ``ProcessPoolExecutor``, a ``dask.distributed.Client``); results equal a
        local run (see :mod:`abs_engine.engine.chunks`).
    tape_chunks
        For a deal on a Parquet tape: project the pool in chunks of this many row groups (tasks
        of ``executor``, or in this process), summing pool flows in chunk order.

    Examples
    --------
    >>> res = run({"name": "pool", "collateral": {"rep_lines": [
    ...     {"balance": 100.0, "wac": 0.0, "wam": 4}]}}, {"prepay": {"cpr": 0.0}})
    >>> res.pool["scheduled_principal"].tolist()
    [25.0, 25.0, 25.0, 25.0]
    """
    deal = load_deal(deal, read_tape=tape_chunks is None)
    if isinstance(scenario, ScenarioSet):
        scenarios, several = scenario, True
    elif isinstance(scenario, list | tuple):
        scenarios, several = ScenarioSet.of([load_scenario(s) for s in scenario]), True
    elif isinstance(scenario, Scenario):
        scenarios, several = ScenarioSet.of([scenario]), False
    else:  # a file (read once) or a mapping: one scenario or a deck
        data = read_source(scenario)
        scenarios, several = ScenarioSet.of(load_deck(scenario, data)), is_deck(data)
    if deal.series is not None:  # a credit-card master trust series (CONVENTIONS R2.9): its own rules
        if loan_level or tape_chunks is not None or executor is not None:
            raise SpecError("series", deal.series.name, "a local run without loan_level or tape_chunks (a card "
                            "trust has no loans; its scenarios run in parallel here)", file=deal._file)
        return run_card(deal, scenarios, summary_only=summary_only, scenario_level=several)
    if deal.collateral.groups is not None:  # several collateral groups (CONVENTIONS R2.12): their own priority
        if loan_level or tape_chunks is not None or executor is not None:
            raise SpecError("collateral.groups", [g.name for g in deal.collateral.groups],
                            "a local run without loan_level or tape_chunks (each group is projected whole, its "
                            "scenarios in parallel here)", file=deal._file)
        return run_groups(deal, scenarios, summary_only=summary_only, chunk_size=chunk_size,
                          scenario_level=several)
    if loan_level and len(scenarios) > 1:
        raise SpecError("loan_level", len(scenarios), "one scenario for per-loan output")
    show = _interactive() if progress is None else progress
    if tape_chunks is not None:
        if summary_only or loan_level:
            raise SpecError("tape_chunks", tape_chunks, "a full run (not summary_only or loan_level)")
        return run_tape_chunks(deal, scenarios, tape_chunks, executor, progress=show, scenario_level=several)
    if summary_only:
        return run_summaries(deal, scenarios, chunk_size, show, executor)
    horizon = int(deal_loans(deal).maturity.max())
    if len(scenarios) * horizon > MAX_TABLE_SCENARIO_PERIODS:
        raise SpecError("scenarios", f"{len(scenarios):,} scenarios x {horizon} periods",
                        f"at most {MAX_TABLE_SCENARIO_PERIODS:,} scenario-periods with every per-period table kept "
                        "(the tables come back to this process, with an executor too): run with summary_only=True "
                        "(per-scenario summaries of any number of scenarios, locally or on an executor)")
    if executor is not None:
        if loan_level:
            raise SpecError("loan_level", True, "a local run (per-loan output is not distributed)")
        return run_chunked(deal, scenarios, chunk_size, executor, progress=show, scenario_level=several)
    return run_full(deal, scenarios, loan_level=loan_level, scenario_level=several)
