"""Scale-out: the same ``ae.run`` on any ``concurrent.futures``-style executor.

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

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .compile import ScenarioArrays, compile_collateral, scenario_arrays
from .errors import SpecError

__all__ = ["ChunkError", "map_chunks", "scenario_labels", "run_chunked", "run_tape_chunks", "full_chunk", "tape_chunk",
           "warm_workers"]


class ChunkError(RuntimeError):
    """A chunk's task failed; ``chunk`` and ``label`` say which, ``__cause__`` why."""

    def __init__(self, chunk: int, label: str, cause: BaseException):
        self.chunk = chunk
        self.label = label
        super().__init__(f"chunk {chunk} ({label}) failed: {type(cause).__name__}: {cause}")


def _is_dask(executor) -> bool:
    return hasattr(executor, "scheduler_info") and hasattr(executor, "scatter")


def _submit(executor, fn, *args):
    """``executor.submit``. On a Dask client the arguments go as one pickled blob, without
    hashing (``pure=False``): Dask walks a tuple of thousands of scenario specs item by item,
    which costs several times the task itself."""
    if _is_dask(executor):
        import pickle

        return executor.submit(_unpack, fn, pickle.dumps(args, protocol=pickle.HIGHEST_PROTOCOL), pure=False)
    return executor.submit(fn, *args)


def _unpack(fn, blob: bytes):
    import pickle

    return fn(*pickle.loads(blob))


def scenario_labels(chunks: Sequence[Sequence[Any]]) -> list[str]:
    """``"scenarios lo..hi"`` of each consecutive chunk."""
    out, lo = [], 0
    for c in chunks:
        out.append(f"scenarios {lo}..{lo + len(c) - 1}")
        lo += len(c)
    return out


def map_chunks(fn: Callable, tasks: Sequence[tuple], labels: Sequence[str], executor=None, *,
               progress: bool = False, desc: str = "") -> list:
    """``[fn(*args) for args in tasks]``, in order: in this process, or as tasks of ``executor``.
    A failure is a :class:`ChunkError` naming the task's label; the remaining tasks are cancelled
    and no result is returned."""
    from tqdm.auto import tqdm

    bar = tqdm(total=len(tasks), disable=not progress, desc=desc, unit="chunk")
    futures = None if executor is None else [_submit(executor, fn, *args) for args in tasks]
    out = []
    try:
        for k, args in enumerate(tasks):
            try:
                out.append(fn(*args) if futures is None else futures[k].result())
            except BaseException as exc:
                for f in (futures or [])[k + 1:]:
                    f.cancel()
                if isinstance(exc, SpecError) or not isinstance(exc, Exception):
                    raise
                raise ChunkError(k, labels[k], exc) from exc
            bar.update()
        return out
    finally:
        bar.close()


# ---------------------------------------------------------------- chunks of scenarios


def full_chunk(deal, scenarios) -> tuple:
    """A task of a full run: pool flows and the waterfall's tables in scenario order."""
    from .engine import run
    from .waterfall import WaterfallFlows

    res = run(deal, list(scenarios))
    wf = res.waterfall
    return res.flows, None if wf is None else {n: getattr(wf, n) for n in WaterfallFlows.NAMES}


def run_chunked(deal, scenarios, chunk_size: int, executor, *, progress: bool = False, scenario_level: bool = True):
    """A full run in chunks of scenarios on ``executor``; equal to a local run bitwise."""
    from .engine import scenario_chunks
    from .results import RunResult
    from .waterfall import WaterfallFlows

    chunks = scenario_chunks(scenarios, chunk_size)
    parts = map_chunks(full_chunk, [(deal, c) for c in chunks], scenario_labels(chunks), executor,
                       progress=progress, desc=deal.name)
    named = tuple(s for c in chunks for s in c)
    program = compile_collateral(deal, named)
    flows = np.concatenate([f for f, _ in parts])
    waterfall = None
    if parts and parts[0][1] is not None:
        waterfall = WaterfallFlows({}, len(named))
        for name in WaterfallFlows.NAMES:
            setattr(waterfall, name, np.concatenate([w[name] for _, w in parts]))
    return RunResult(deal, named, program, flows, None, waterfall, scenario_level=scenario_level)


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
    import pyarrow.parquet as pq

    from .engine import project_collateral
    from .loans import tape_from_frame

    frame = pq.ParquetFile(path).read_row_groups(list(groups)).to_pandas()
    loans = tape_from_frame(frame, file=f"{path} (row groups {groups[0]}..{groups[-1]})",
                            servicing_fee_rate=deal.collateral.servicing_fee_rate)
    program = compile_collateral(deal, scenarios, loans=loans)
    perf, fcl = program.start_balances
    return project_collateral(program), perf + fcl, fcl


def run_tape_chunks(deal, scenarios, tape_chunks: int, executor=None, *, progress: bool = False,
                    scenario_level: bool = True):
    """A full run of a deal on a Parquet tape, the pool projected in chunks of ``tape_chunks``
    row groups (tasks of ``executor``, or in this process); pool flows summed in chunk order."""
    import pyarrow.parquet as pq

    from .engine import scenario_chunks
    from .results import RunResult
    from .waterfall import compile_waterfall, initial_state, pool_inputs, run_waterfall

    path = deal.tape_path()
    if path is None or path.suffix.lower() != ".parquet":
        raise SpecError("tape_chunks", tape_chunks, "a deal on a Parquet loan tape (chunks are its row groups)",
                        file=deal._file)
    if tape_chunks < 1:
        raise SpecError("tape_chunks", tape_chunks, "a number of row groups >= 1")
    n_groups = pq.ParquetFile(path).num_row_groups
    groups = [tuple(range(k, min(k + tape_chunks, n_groups))) for k in range(0, n_groups, tape_chunks)]
    named = scenario_chunks(scenarios, max(len(scenarios), 1))[0]
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
    return RunResult(deal, named, totals, flows, None, waterfall, scenario_level=scenario_level)


# ---------------------------------------------------------------- workers


def _warm() -> bool:
    """Run a tiny deal through every kernel, so a worker has them loaded before real tasks."""
    from .engine import run

    deal = {"name": "warm", "collateral": {"rep_lines": [{"balance": 100.0, "wac": 0.06, "wam": 12}]},
            "tranches": [{"name": "A", "balance": 90.0, "coupon": 0.05, "priority": 1}],
            "waterfall": [{"pay": "interest", "tranches": ["A"]},
                          {"pay": "principal", "tranches": ["A"], "amount": "collections"}]}
    run(deal, [{"name": "a"}, {"name": "b"}])
    run(deal, [{"name": "a"}], summary_only=True, progress=False)
    return True


def warm_workers(executor, n: int | None = None) -> int:
    """Load the kernels on every worker once: ``Client.run`` on a Dask client (each worker),
    else ``n`` warm-up tasks (default: the executor's ``_max_workers``). Returns how many ran."""
    if _is_dask(executor):  # dask.distributed.Client
        return len(executor.run(_warm))
    n = n or getattr(executor, "_max_workers", 1)
    return sum(f.result() for f in [executor.submit(_warm) for _ in range(n)])
