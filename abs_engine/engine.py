"""``run``: deal and scenario in, :class:`RunResult` out, through one compile boundary."""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np

from .compile import CollateralProgram, compile_collateral, deal_loans
from .errors import SpecError
from .kernels import collateral as K
from .kernels import curves
from .loading import DealSource, ScenarioSource, is_deck, load_deal, load_deck, load_scenario
from .loans import FORECLOSURE
from .results import RunResult, SummaryResult, summary_frame
from .spec import Scenario
from .waterfall import compile_waterfall, initial_state, pool_inputs, run_waterfall

__all__ = ["run", "project_collateral", "project_loan_level"]

LOAN_LEVEL_LIMIT = 20_000_000  # loans x periods x columns held for per-loan output
MAX_TABLE_SCENARIO_PERIODS = 5_000_000
"""A full run keeps every per-period table of every scenario in this process (with an executor
too: chunks come back here), about 1.4 kB per scenario-period (10,000 scenarios x 360 months:
5 GB); beyond this many scenario-periods it is refused before anything is allocated:
``summary_only=True`` keeps per-scenario summaries of any number of scenarios."""


def _interactive() -> bool:
    """A terminal or a notebook is watching (so a progress bar helps)."""
    import sys

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
        local run (see :mod:`abs_engine.distributed`).
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
    several = isinstance(scenario, list | tuple) or (not isinstance(scenario, Scenario) and is_deck(scenario))
    if isinstance(scenario, list | tuple):
        scenarios = tuple(load_scenario(s) for s in scenario)
    else:
        scenarios = load_deck(scenario)
    if loan_level and len(scenarios) > 1:
        raise SpecError("loan_level", len(scenarios), "one scenario for per-loan output")
    show = _interactive() if progress is None else progress
    if tape_chunks is not None:
        from .distributed import run_tape_chunks

        if summary_only or loan_level:
            raise SpecError("tape_chunks", tape_chunks, "a full run (not summary_only or loan_level)")
        return run_tape_chunks(deal, scenarios, tape_chunks, executor, progress=show, scenario_level=several)
    if summary_only:
        return _run_summaries(deal, scenarios, chunk_size, show, executor)
    horizon = int(deal_loans(deal).maturity.max())
    if len(scenarios) * horizon > MAX_TABLE_SCENARIO_PERIODS:
        raise SpecError("scenarios", f"{len(scenarios):,} scenarios x {horizon} periods",
                        f"at most {MAX_TABLE_SCENARIO_PERIODS:,} scenario-periods with every per-period table kept "
                        "(the tables come back to this process, with an executor too): run with summary_only=True "
                        "(per-scenario summaries of any number of scenarios, locally or on an executor)")
    if executor is not None:
        from .distributed import run_chunked

        if loan_level:
            raise SpecError("loan_level", True, "a local run (per-loan output is not distributed)")
        return run_chunked(deal, scenarios, chunk_size, executor, progress=show, scenario_level=several)
    program = compile_collateral(deal, scenarios)
    flows = project_collateral(program)
    loans = project_loan_level(program, 0) if loan_level else None
    waterfall = None
    if deal.tranches:
        wprog = compile_waterfall(deal, scenarios, program.n_periods, program.original_balance)
        state = initial_state(deal, len(scenarios))
        waterfall = run_waterfall(wprog, pool_inputs(flows, *program.start_balances), state)
    return RunResult(deal, scenarios, program, flows, loans, waterfall, scenario_level=several)


def rate_rows(program: CollateralProgram) -> tuple[np.ndarray, np.ndarray]:
    """SMM and MDR ``[row, month, class]`` for the scenarios' distinct prepayment and default rows."""
    s = program.scenarios
    return curves.rate_tables(s.prepay_kind, s.prepay_rows, s.default_kind, s.default_rows, program.ages)


def _rate_tables(program: CollateralProgram) -> tuple[np.ndarray, np.ndarray]:
    """SMM and MDR ``[scenario, month, class]``."""
    smm, mdr = rate_rows(program)
    s = program.scenarios
    return smm[s.prepay_row], mdr[s.default_row]


SMALL_POOL = 64  # at most this many loans: scenarios side by side (else loans side by side)


def scenario_lanes(lag: np.ndarray, advancing: np.ndarray) -> np.ndarray:
    """``[block, lane]`` scenario indices, blocks sharing one (recovery lag, advancing); a group's
    last block is padded with repeats of its first scenario, marked ``-1 - index``."""
    key = lag.astype(np.int64) * 2 + advancing.astype(np.int64)
    rows = []
    for value in np.unique(key):
        members = np.flatnonzero(key == value)
        pad = -len(members) % K.SB
        lanes = np.concatenate([members, np.full(pad, -1 - members[0])])
        rows.append(lanes.reshape(-1, K.SB))
    return np.concatenate(rows)


def project_collateral(program: CollateralProgram) -> np.ndarray:
    """Pool flows ``[scenario, period, column]`` (columns of :mod:`abs_engine.kernels.collateral`).

    Pools of at most ``SMALL_POOL`` loans run with scenarios side by side; larger pools with
    loans side by side, in chunks of a fixed size. Either way a scenario's flows do not depend
    on which other scenarios run with it: a grid's scenario k equals a single run of it."""
    s = program.scenarios
    smm, mdr = _rate_tables(program)
    if program.balance.size <= SMALL_POOL:
        lanes = scenario_lanes(s.lag, s.advancing)
        take = np.where(lanes >= 0, lanes, -1 - lanes)
        first = take[:, 0]
        out = K.project_scenario_blocks(
            program.balance, program.gross_m, program.net_m, program.amort_n, program.interest_only, program.mat,
            program.cls, np.ascontiguousarray(np.moveaxis(smm[take], 1, -1)),
            np.ascontiguousarray(np.moveaxis(mdr[take], 1, -1)),
            np.ascontiguousarray(np.moveaxis(s.severity[take], 1, -1)), s.lag[first], s.advancing[first],
            program.n_periods)
        flows = np.empty((len(s.names), program.n_periods, K.NCOL))
        valid = lanes >= 0
        flows[lanes[valid]] = np.moveaxis(out, 3, 1)[valid]
    else:
        out = K.project_blocks(program.balance, program.gross_m, program.net_m, program.amort_n,
                               program.interest_only, program.mat, program.cls, program.chunk_bounds,
                               smm, mdr, s.severity, s.lag, s.advancing, program.n_periods)
        flows = out.sum(axis=1)
    if program.foreclosed.size:
        flows += _cutoff_foreclosures(program)
    return flows


def project_loan_level(program: CollateralProgram, scenario: int) -> np.ndarray:
    """Per-loan flows ``[loan (tape order), period, column]`` for one scenario."""
    n_loans = len(program.loans)
    if n_loans * program.n_periods * K.NCOL > LOAN_LEVEL_LIMIT:
        raise SpecError("loan_level", n_loans, f"at most {LOAN_LEVEL_LIMIT // (program.n_periods * K.NCOL)} "
                        f"loans for per-loan output over {program.n_periods} periods")
    s = program.scenarios
    smm, mdr = _rate_tables(program)
    out = np.zeros((n_loans, program.n_periods, K.NCOL))
    out[program.index] = K.project_loans(
        program.balance, program.gross_m, program.net_m, program.amort_n, program.interest_only,
        program.mat, program.cls, smm[scenario], mdr[scenario], s.severity[scenario],
        int(s.lag[scenario]), bool(s.advancing[scenario]), program.n_periods)
    for k in program.foreclosed:
        out[k] = _foreclosed_flows(program, scenario, np.array([k]))
    return out


def _foreclosed_flows(program: CollateralProgram, scenario: int, which: np.ndarray) -> np.ndarray:
    """Loans in foreclosure at cut-off: they do not amortize, earn (advanced) interest only with
    advancing, and liquidate in month ``max(L, 1)`` with the scenario's severity of that month."""
    s = program.scenarios
    loans = program.loans
    n = program.n_periods
    out = np.zeros((n, K.NCOL))
    bal = float(loans.balance[which].sum())
    t = min(max(int(s.lag[scenario]), 1), n)
    out[: t - 1, K.FCL] = bal
    loss = min(float(s.severity[scenario, t - 1]), 1.0) * bal
    out[t - 1, K.LOSS] = loss
    out[t - 1, K.RECOVERY] = bal - loss
    if s.advancing[scenario]:
        out[:t, K.GROSS] = float((loans.balance[which] * loans.rate[which]).sum()) / 12.0
        out[:t, K.NET] = float((loans.balance[which] * loans.net_rate[which]).sum()) / 12.0
    return out


def _cutoff_foreclosures(program: CollateralProgram) -> np.ndarray:
    n_scen = len(program.scenarios.names)
    return np.stack([_foreclosed_flows(program, j, program.foreclosed) for j in range(n_scen)])



def _run_summaries(deal, scenarios, chunk_size: int, progress: bool, executor=None) -> SummaryResult:
    """Run ``scenarios`` keeping per-scenario summaries only, ``chunk_size`` scenarios at a time
    (each chunk fused per scenario block for a small pool, :mod:`abs_engine.kernels.summaries`;
    through the full engine otherwise), locally or as tasks of ``executor``."""
    import pandas as pd

    from .distributed import map_chunks, scenario_labels

    if not deal.tranches:
        raise SpecError("summary_only", True, "a deal with tranches (summaries are per tranche)")
    chunks = scenario_chunks(scenarios, chunk_size)
    parts = map_chunks(summary_chunk, [(deal, c) for c in chunks], scenario_labels(chunks), executor,
                       progress=progress, desc=deal.name)
    if all(p[0] == "arrays" for p in parts):  # one table for every chunk
        from .kernels import summaries as KS

        names = tuple(n for p in parts for n in p[1])
        stats = np.concatenate([p[2] for p in parts])
        extra = np.concatenate([p[3] for p in parts])
        return SummaryResult(deal, scenarios, summary_frame(deal, names, stats, extra), extra[:, KS.X_POOL_LOSS].copy())
    return SummaryResult(deal, scenarios, pd.concat([p[1] for p in parts]), np.concatenate([p[2] for p in parts]))


def scenario_chunks(scenarios, chunk_size: int) -> list[tuple]:
    """Consecutive chunks of ``chunk_size`` scenarios, each named as in the whole list (so names
    made unique across the list stay so in every chunk)."""
    from .compile import _unique_names

    if chunk_size < 1:
        raise SpecError("chunk_size", chunk_size, "a number of scenarios >= 1")
    names = _unique_names([s.name or f"scenario-{k}" for k, s in enumerate(scenarios)])
    named = [s if s.name == n else s.model_copy(update={"name": n}) for s, n in zip(scenarios, names, strict=True)]
    return [tuple(named[k:k + chunk_size]) for k in range(0, len(named), chunk_size)]


def summary_chunk(deal, scenarios) -> tuple:
    """A task of a summary-only run: ``("arrays", names, stats, extra)`` of the fused kernel for a
    small pool, else ``("frame", summary table, pool losses)``."""
    loans = deal_loans(deal)
    if len(loans) <= SMALL_POOL and not (loans.status == FORECLOSURE).any():
        program = compile_collateral(deal, scenarios)
        wprog = compile_waterfall(deal, scenarios, program.n_periods, program.original_balance)
        stats, extra = summarize(deal, program, wprog, chunk_size=max(len(scenarios), 1))
        return "arrays", program.scenarios.names, stats, extra
    res = run(deal, list(scenarios))
    return "frame", res.summary(), res.flows[..., K.LOSS].sum(axis=1)


def summarize(deal, program: CollateralProgram, wprog, *, price: float = 100.0, delay_days: float = 0.0,
              chunk_size: int = 2048, bar=None) -> tuple[np.ndarray, np.ndarray]:
    """``(stats[scenario, note, S_*], extra[scenario, X_*])`` of :mod:`abs_engine.kernels.summaries`
    for a compiled small pool (no loan in foreclosure at cut-off) and waterfall: one kernel call
    per ``chunk_size`` scenarios, each parallel over its scenario blocks."""
    from .codegen import summary_period
    from .kernels import summaries as KS  # loaded on first use: projections do not pay for it

    s = program.scenarios
    smm, mdr = rate_rows(program)
    mdr_end = KS.quiet_from(mdr)
    lanes = scenario_lanes(s.lag, s.advancing)
    first = np.where(lanes[:, 0] >= 0, lanes[:, 0], -1 - lanes[:, 0])
    lag_b, adv_b = s.lag[first], s.advancing[first]
    a = wprog.arrays
    n, notes = len(s.names), deal.notes
    face = np.array([t.balance for t in notes], dtype=np.float64)
    acct0 = np.array([x.initial for x in deal.accounts], dtype=np.float64)
    stats = np.full((n, len(notes), KS.N_STATS), np.nan)
    extra = np.zeros((n, KS.N_EXTRA))
    structure = wprog.structure()
    period = summary_period(smm.shape[2], program.cls, structure)
    per_call = max(1, chunk_size // KS.SB)
    starts = range(0, len(lanes), per_call)
    chunk = numba.get_parallel_chunksize()
    numba.set_parallel_chunksize(1)  # blocks differ in length (each stops when its deals retire): one at a time
    try:
        for lo in (bar(starts, len(starts)) if bar is not None else starts):
            hi = lo + per_call
            KS.project_summaries(
                period, program.balance, program.gross_m, program.net_m, program.amort_n, program.interest_only,
                program.mat, program.cls, smm, mdr, mdr_end, s.severity_rows, s.prepay_row, s.default_row,
                s.severity_row, lanes[lo:hi], lag_b[lo:hi], adv_b[lo:hi], program.start_balances[0],
                a["coupon_rows"], a["coupon_row"], a["delinq_rows"], a["delinq_row"], a["exercise"], *structure,
                face.copy(), acct0, face, np.full(len(notes), float(price)), float(delay_days), stats, extra)
    finally:
        numba.set_parallel_chunksize(chunk)
    return stats, extra
