"""Scale-out: the same ``ae.run`` in chunks, as tasks of an executor (:mod:`abs_engine.engine.executors`).

Work is split into chunks and each chunk is one task; the tasks are plain functions of this
module (picklable), so a ``ProcessPoolExecutor`` and a ``dask.distributed.Client`` both run
them (anything with ``submit(fn, *args)`` returning a future with ``result()``):

* **chunks of scenarios** (``chunk_size`` each): a task runs the chunk as a local run would and
  returns its summaries (summary-only runs) or its per-period tables (pool flows and the
  waterfall's tables, scenario x period), never loans x periods. Results are put back in chunk
  order, so a distributed run equals a local run with the same ``chunk_size`` bitwise; full
  runs equal an unchunked run bitwise too (every scenario is computed independently of the
  others in its chunk).
* **chunks of a loan tape** (``tape_chunks`` Parquet row groups each): a task reads its row
  groups on the worker, projects them under every scenario and returns pool flows
  ``[scenario, period, column]``; the driver sums them in chunk order (so the same chunking
  gives the same bits) and runs the waterfall on the total. The tape is never read whole.

A task that fails raises :class:`ChunkError` naming the chunk and its scenario (or row group)
range; the other tasks are cancelled and nothing partial is returned.

Workers keep compiled kernels in memory between tasks; :func:`warm_workers` loads them (from
the on-disk JIT cache, or compiles once) on every worker before the first real task.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..compile.collateral import ScenarioArrays, compile_collateral, scenario_arrays
from ..compile.program import Program, compile_deal
from ..compile.waterfall import compile_waterfall, initial_state
from ..errors import SpecError
from ..io.loading import load_deal
from ..io.loans import tape_from_table
from ..io.scenario_set import ScenarioSet
from ..results.tables import RunResult
from ..spec import Scenario
from .collateral import project_collateral
from .executors import is_dask, map_chunks, scenario_chunks, scenario_labels
from .full import run_full
from .summaries import run_summaries
from .waterfall import WaterfallFlows, pool_inputs, run_waterfall

__all__ = ["run_chunked", "run_tape_chunks", "full_chunk", "tape_chunk", "warm_workers", "PoolTotals"]


# ---------------------------------------------------------------- chunks of scenarios


def full_chunk(deal, scenarios) -> tuple:
    """A task of a full run: pool flows and the waterfall's tables in scenario order."""
    res = run_full(deal, tuple(scenarios))
    wf = res.waterfall
    return res.flows, None if wf is None else {n: getattr(wf, n) for n in WaterfallFlows.NAMES}


def run_chunked(deal, scenarios, chunk_size: int, executor, *, progress: bool = False, scenario_level: bool = True):
    """A full run in chunks of scenarios on ``executor``; equal to a local run bitwise."""
    chunks = scenario_chunks(scenarios, chunk_size)
    parts = map_chunks(full_chunk, [(deal, c) for c in chunks], scenario_labels(chunks), executor,
                       progress=progress, desc=deal.name)
    named = ScenarioSet.of(scenarios)
    program = compile_deal(deal, named)
    flows = np.concatenate([f for f, _ in parts])
    waterfall = None
    if parts and parts[0][1] is not None:
        waterfall = WaterfallFlows({}, len(named))
        for name in WaterfallFlows.NAMES:
            setattr(waterfall, name, np.concatenate([w[name] for _, w in parts]))
    return RunResult(program, flows, None, waterfall, scenario_level=scenario_level)


# ---------------------------------------------------------------- chunks of a loan tape


@dataclass(frozen=True, eq=False)
class PoolTotals:
    """What a run needs of a pool projected in chunks (instead of its loans)."""

    scenarios: ScenarioArrays
    n_periods: int
    original_balance: float
    start_balances: tuple[float, float]
    loans: None = None


def tape_chunk(deal, scenarios, path: str, groups: tuple[int, ...]) -> tuple:
    """A task: read row groups ``groups`` of the Parquet tape and project them under every
    scenario. Returns (pool flows, original balance, balance in foreclosure at cut-off)."""
    import pyarrow.parquet as pq  # deferred: only tapes in Parquet need pyarrow

    table = pq.ParquetFile(path).read_row_groups(list(groups))
    table = table.rename_columns([str(c).strip() for c in table.column_names])
    loans = tape_from_table(table, file=f"{path} (row groups {groups[0]}..{groups[-1]})",
                            servicing_fee_rate=deal.collateral.servicing_fee_rate, cut_off=deal.cut_off_date)
    program = compile_collateral(deal, scenarios, loans=loans)
    perf, fcl = program.start_balances
    return project_collateral(program), perf + fcl, fcl


def run_tape_chunks(deal, scenarios, tape_chunks: int, executor=None, *, progress: bool = False,
                    scenario_level: bool = True):
    """A full run of a deal on a Parquet tape, the pool projected in chunks of ``tape_chunks``
    row groups (tasks of ``executor``, or in this process); pool flows summed in chunk order."""
    import pyarrow.parquet as pq  # deferred: only tapes in Parquet need pyarrow

    path = deal.tape_path()
    if path is None or path.suffix.lower() != ".parquet":
        raise SpecError("tape_chunks", tape_chunks, "a deal on a Parquet loan tape (chunks are its row groups)",
                        file=deal._file)
    if tape_chunks < 1:
        raise SpecError("tape_chunks", tape_chunks, "a number of row groups >= 1")
    n_groups = pq.ParquetFile(path).num_row_groups
    groups = [tuple(range(k, min(k + tape_chunks, n_groups))) for k in range(0, n_groups, tape_chunks)]
    named = ScenarioSet.of(scenarios)
    parts = map_chunks(tape_chunk, [(deal, named, str(path), g) for g in groups],
                       [f"row groups {g[0]}..{g[-1]}" for g in groups], executor, progress=progress, desc=deal.name)
    n = max(f.shape[1] for f, _, _ in parts)
    flows = np.zeros((len(named), n, parts[0][0].shape[2]))
    for f, _, _ in parts:  # in chunk order: the same chunking, the same bits
        flows[:, : f.shape[1]] += f
    original = sum(o for _, o, _ in parts)
    fcl = sum(c for _, _, c in parts)
    adv = deal.collateral.advancing_default
    totals = PoolTotals(scenario_arrays(named, n, adv), n, float(original), (float(original - fcl), float(fcl)))
    waterfall = None
    if deal.tranches:
        wprog = compile_waterfall(deal, named, n, float(original))
        waterfall = run_waterfall(wprog, pool_inputs(flows, *totals.start_balances), initial_state(deal, len(named)))
    return RunResult(Program(deal, named, totals, wprog if deal.tranches else None), flows, None, waterfall,
                     scenario_level=scenario_level)


# ---------------------------------------------------------------- workers


def _warm() -> bool:
    """Run a tiny deal through every kernel, so a worker has them loaded before real tasks."""
    deal = load_deal({"name": "warm", "collateral": {"rep_lines": [{"balance": 100.0, "wac": 0.06, "wam": 12}]},
            "tranches": [{"name": "A", "balance": 90.0, "coupon": 0.05, "priority": 1}],
            "waterfall": [{"pay": "interest", "tranches": ["A"]},
                          {"pay": "principal", "tranches": ["A"], "amount": "collections"}]})
    run_full(deal, (Scenario(name="a"), Scenario(name="b")))
    run_summaries(deal, (Scenario(name="a"),), 2048, False)
    return True


def warm_workers(executor, n: int | None = None) -> int:
    """Load the kernels on every worker once: ``Client.run`` on a Dask client (each worker),
    else ``n`` warm-up tasks (default: the executor's ``_max_workers``). Returns how many ran."""
    if is_dask(executor):  # dask.distributed.Client
        return len(executor.run(_warm))
    n = n or getattr(executor, "_max_workers", 1)
    return sum(f.result() for f in [executor.submit(_warm) for _ in range(n)])
