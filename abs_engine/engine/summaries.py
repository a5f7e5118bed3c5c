"""Summary-only runs: per-scenario, per-tranche summaries without the per-period tables: the one
loop (:func:`~abs_engine.engine.loop.run_loop`) with the summary sink, chunk by chunk of scenarios.

The period is the one generated for the deal's structure (:mod:`abs_engine.engine.codegen`) for a
pool of few loans, the interpreter otherwise: when loans were in foreclosure at cut-off (their
flows are added to each month's), and for a large pool, projected loan-blocked per chunk and
given to the loop. Memory is bounded by the chunk, never by periods x scenarios."""

from __future__ import annotations

import numpy as np

from ..compile.layout import scenario_lanes
from ..compile.program import Program, compile_deal
from ..compile.waterfall import DealState
from ..errors import SpecError
from ..io.loans import deal_loans
from ..io.scenario_set import ScenarioSet
from ..kernels import collateral as K
from ..kernels import summaries as KS
from ..results.tables import SummaryResult, summary_frame
from .codegen import summary_period
from .collateral import SMALL_POOL, cutoff_foreclosures, project_pool
from .executors import map_chunks, progress_bar, scenario_chunks, scenario_labels
from .loop import SummarySink, pool_arguments, run_loop
from .waterfall import given_pool, projected_pool

__all__ = ["run_summaries", "summary_chunk", "summarize", "CHUNKS_PER_CALL"]

CHUNKS_PER_CALL = 16
"""Chunks a call of the loop runs: the threads share each call's blocks, and what a call holds
(each lane's state and scenario rows) is bounded by this many chunks, whatever the scenarios."""


def run_summaries(deal, scenarios, chunk_size: int, progress: bool, executor=None) -> SummaryResult:
    """Run ``scenarios`` keeping per-scenario summaries only, ``chunk_size`` scenarios at a time,
    locally or as tasks of ``executor``. A pool of few loans is compiled once and the loop called
    chunk by chunk; a large pool is compiled and projected per chunk."""
    if not deal.tranches:
        raise SpecError("summary_only", True, "a deal with tranches (summaries are per tranche)")
    scenarios = ScenarioSet.of(scenarios)
    if executor is None and len(deal_loans(deal)) <= SMALL_POOL:
        program = compile_deal(deal, scenarios)
        stats, extra = summarize(program, chunk_size=chunk_size, bar=_bar(progress, deal.name))
        names = program.names
    else:
        chunks = scenario_chunks(scenarios, chunk_size)
        parts = map_chunks(summary_chunk, [(deal, c) for c in chunks], scenario_labels(chunks), executor,
                           progress=progress, desc=deal.name)
        names = tuple(n for p in parts for n in p[0])
        stats = np.concatenate([p[1] for p in parts], axis=1)
        extra = np.concatenate([p[2] for p in parts])
    return SummaryResult(deal, scenarios, summary_frame(deal, names, stats, extra), extra[:, KS.X_POOL_LOSS].copy())


def _bar(progress: bool, desc: str):
    """A progress bar over an iterable of known length, or None."""
    if not progress:
        return None

    def bar(items, total):
        return progress_bar(items, total=total, desc=desc, unit="chunk", disable=total <= 1)  # (one chunk: no bar)

    return bar


def summary_chunk(deal, scenarios) -> tuple:
    """A task of a summary-only run: ``(names, stats, extra)`` of :func:`summarize` for the chunk."""
    program = compile_deal(deal, scenarios)
    stats, extra = summarize(program, chunk_size=max(len(scenarios), 1))
    return program.names, stats, extra


def summarize(program: Program, *, price: float = 100.0, delay_days: float = 0.0, chunk_size: int = 2048,
              bar=None, generated: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(stats[S_*, scenario, item], extra[scenario, X_*])`` of the summary sink
    (:mod:`abs_engine.kernels.summaries`) for a compiled program with a waterfall (items: the
    notes, then the residual class if the deal has one, whose cash is in ``extra``): one call of
    the loop per :data:`CHUNKS_PER_CALL` chunks of ``chunk_size`` scenarios, each parallel over
    its scenario blocks; memory beyond these results is bounded by the chunk size. The period is the
    one generated for the structure when ``generated`` and the pool is small with no loan in
    foreclosure at cut-off, else the interpreter (the same numbers).

    The blocks of a chunk are laid out from that chunk's scenarios alone
    (:func:`~abs_engine.compile.layout.scenario_lanes`), as a task of a distributed run lays out
    its chunk: a block's yield search runs its lanes together, so the same chunks give the same
    bits, here or on an executor. ``bar``: a progress bar over the calls."""
    wprog, c = program.waterfall, program.collateral
    one = program.initial_state(1)
    s = c.scenarios
    n = len(s.names)
    # every scenario starts from the same state, read through a broadcast view: nothing per scenario
    state = DealState(0, *(np.broadcast_to(getattr(one, k), (n, *getattr(one, k).shape[1:]))
                           for k in DealState.ARRAYS))
    face = wprog.arrays["face"].copy()  # the notes' original balances (an IO class: its initial notional)
    residual = any(t.residual for t in program.deal.tranches)
    stats = np.empty((KS.N_STATS, n, face.size + residual))  # the sink writes every scenario's notes
    if residual:  # the residual class's row of the summary table: cash only (total_residual, from extra)
        stats[:, :, face.size] = np.nan
        for k in (KS.S_FIRST, KS.S_LAST, KS.S_INTEREST, KS.S_PRINCIPAL, KS.S_WRITEDOWN):
            stats[k, :, face.size] = 0.0
    sink = SummarySink(face, np.full(face.size, float(price)), float(delay_days), stats, np.zeros((n, KS.N_EXTRA)))
    pool = {}
    if c.balance.size > SMALL_POOL or c.projected_apart:
        proj = project_pool(c)  # projected apart, given to the loop as the waterfall sees it
        flows = proj.flows
        pool["given"] = given_pool(projected_pool(proj, *c.start_balances))
        pool_loss = flows[..., K.LOSS].sum(axis=1)
        period = None  # the interpreter
    else:
        pool = {"collateral": c, "pool_start": sum(c.start_balances),
                "pool_args": pool_arguments(c, n, program.n_periods)}  # once for every chunk
        if c.foreclosed.size:  # flows of loans in foreclosure at cut-off, added to each month's
            pool["cutoff"] = cutoff_foreclosures(c)
        pool_loss = None
        period = summary_period(pool["pool_args"][7].shape[2], c.cls, wprog.structure()) \
            if generated and not c.foreclosed.size else None
    size = max(chunk_size, 1)
    lanes = scenario_lanes(s.lag, s.advancing, size)  # each chunk laid out alone, all at once
    first = np.where(lanes[:, 0] >= 0, lanes[:, 0], -1 - lanes[:, 0])
    cuts = np.searchsorted(first // (size * CHUNKS_PER_CALL), np.arange(1, -(-n // (size * CHUNKS_PER_CALL))))
    calls = np.split(lanes, cuts)
    for part in (calls if bar is None else bar(calls, len(calls))):
        run_loop(wprog, part, state, tables=False, summary=sink, period=period, write_back=False, **pool)
    if pool_loss is not None:  # the loop sees the given pool's loss only as the waterfall does
        sink.extra[:, KS.X_POOL_LOSS] = pool_loss
    return sink.stats, sink.extra
