"""Summary-only runs: per-scenario, per-tranche summaries without the per-period tables, each
chunk of scenarios fused per scenario block for a small pool (:mod:`abs_engine.kernels.summaries`
with the deal's generated period, :mod:`abs_engine.engine.codegen`), through the full engine
otherwise."""

from __future__ import annotations

import numba
import numpy as np

from ..compile.layout import scenario_lanes
from ..compile.program import Program, compile_deal
from ..errors import SpecError
from ..io.loans import FORECLOSURE, deal_loans
from ..io.scenario_set import ScenarioSet
from ..kernels import collateral as K
from ..kernels import summaries as KS
from ..results.tables import SummaryResult, summary_frame
from .codegen import summary_period
from .collateral import SMALL_POOL
from .executors import map_chunks, scenario_chunks, scenario_labels
from .full import run_program
from .loop import SummarySink, pool_arguments, run_loop

__all__ = ["run_summaries", "summary_chunk", "summarize"]


def run_summaries(deal, scenarios, chunk_size: int, progress: bool, executor=None) -> SummaryResult:
    """Run ``scenarios`` keeping per-scenario summaries only, ``chunk_size`` scenarios at a time
    (each chunk fused per scenario block for a small pool, :mod:`abs_engine.kernels.summaries`;
    through the full engine otherwise), locally or as tasks of ``executor``."""
    import pandas as pd  # deferred: a projection without tables never imports pandas

    if not deal.tranches:
        raise SpecError("summary_only", True, "a deal with tranches (summaries are per tranche)")
    scenarios = ScenarioSet.of(scenarios)
    if executor is None and _fused(deal):  # compiled once, the kernel called chunk by chunk
        program = compile_deal(deal, scenarios)
        stats, extra = summarize(program, chunk_size=chunk_size, bar=_bar(progress, deal.name))
        return SummaryResult(deal, scenarios, summary_frame(deal, program.names, stats, extra),
                             extra[:, KS.X_POOL_LOSS].copy())
    chunks = scenario_chunks(scenarios, chunk_size)
    parts = map_chunks(summary_chunk, [(deal, c) for c in chunks], scenario_labels(chunks), executor,
                       progress=progress, desc=deal.name)
    if all(p[0] == "arrays" for p in parts):  # one table for every chunk
        names = tuple(n for p in parts for n in p[1])
        stats = np.concatenate([p[2] for p in parts], axis=1)
        extra = np.concatenate([p[3] for p in parts])
        return SummaryResult(deal, scenarios, summary_frame(deal, names, stats, extra), extra[:, KS.X_POOL_LOSS].copy())
    return SummaryResult(deal, scenarios, pd.concat([p[1] for p in parts]), np.concatenate([p[2] for p in parts]))


def _fused(deal) -> bool:
    """Whether summaries run fused (:mod:`abs_engine.kernels.summaries`): a pool of few loans, none
    in foreclosure at cut-off."""
    loans = deal_loans(deal)
    return len(loans) <= SMALL_POOL and not (loans.status == FORECLOSURE).any()


def _bar(progress: bool, desc: str):
    """A progress bar over an iterable of known length, or None."""
    if not progress:
        return None

    def bar(items, total):
        from tqdm.auto import tqdm  # deferred: only runs that show progress need tqdm

        return tqdm(items, total=total, desc=desc, unit="chunk")

    return bar


def summary_chunk(deal, scenarios) -> tuple:
    """A task of a summary-only run: ``("arrays", names, stats, extra)`` of the fused kernel for a
    small pool, else ``("frame", summary table, pool losses)``."""
    program = compile_deal(deal, scenarios)
    if _fused(deal):
        stats, extra = summarize(program, chunk_size=max(len(scenarios), 1))
        return "arrays", program.names, stats, extra
    res = run_program(program)
    return "frame", res.summary(), res.flows[..., K.LOSS].sum(axis=1)


def summarize(program: Program, *, price: float = 100.0, delay_days: float = 0.0, chunk_size: int = 2048,
              bar=None) -> tuple[np.ndarray, np.ndarray]:
    """``(stats[S_*, scenario, note], extra[scenario, X_*])`` of :mod:`abs_engine.kernels.summaries`
    for a compiled program of a small pool (no loan in foreclosure at cut-off) with a waterfall:
    one kernel call per ``chunk_size`` scenarios, each parallel over its scenario blocks.

    The blocks of a chunk are laid out from that chunk's scenarios alone
    (:func:`~abs_engine.compile.layout.scenario_lanes`), as a task of a distributed run lays out
    its chunk: a block's yield search runs its lanes together, so the same chunks give the same
    bits, here or on an executor."""
    wprog, c = program.waterfall, program.collateral
    state = program.initial_state()
    s = c.scenarios
    n = len(s.names)
    face = state.balance[0].copy()  # the notes' original balances (the state advances, chunk by chunk)
    sink = SummarySink(face, np.full(face.size, float(price)), float(delay_days),
                       np.full((KS.N_STATS, n, face.size), np.nan), np.zeros((n, KS.N_EXTRA)))
    pool_args = pool_arguments(c, n, program.n_periods)  # once for every chunk
    period = summary_period(pool_args[7].shape[2], c.cls, wprog.structure())  # [row, month, class] SMM
    starts = range(0, n, max(chunk_size, 1))
    chunk = numba.get_parallel_chunksize()
    numba.set_parallel_chunksize(1)  # blocks differ in length (each stops when its deals retire): one at a time
    try:
        for lo in (bar(starts, len(starts)) if bar is not None else starts):
            hi = min(lo + max(chunk_size, 1), n)
            lanes = scenario_lanes(s.lag[lo:hi], s.advancing[lo:hi])
            lanes = np.where(lanes >= 0, lanes + lo, lanes - lo)  # positions in the whole set
            state.period = 0
            run_loop(wprog, lanes, state, collateral=c, pool_start=c.start_balances[0], tables=False, summary=sink,
                     period=period, pool_args=pool_args)
    finally:
        numba.set_parallel_chunksize(chunk)
    return sink.stats, sink.extra
