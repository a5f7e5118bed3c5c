"""Run tasks in order, in this process or on any ``concurrent.futures``-style executor (a
``ProcessPoolExecutor``, a ``dask.distributed.Client``: anything with ``submit(fn, *args)``
returning a future with ``result()``). A task that fails raises :class:`ChunkError` naming the
chunk and its label; the other tasks are cancelled and nothing partial is returned. The tasks
themselves are in :mod:`abs_engine.engine.chunks` and :mod:`abs_engine.engine.summaries`."""

from __future__ import annotations

import importlib.util
import pickle
import sys
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import SpecError
from ..io.scenario_set import ScenarioSet

__all__ = ["ChunkError", "is_dask", "map_chunks", "scenario_labels", "scenario_chunks"]


class ChunkError(RuntimeError):
    """A chunk's task failed; ``chunk`` and ``label`` say which, ``__cause__`` why."""

    def __init__(self, chunk: int, label: str, cause: BaseException):
        self.chunk = chunk
        self.label = label
        super().__init__(f"chunk {chunk} ({label}) failed: {type(cause).__name__}: {cause}")


def is_dask(executor) -> bool:
    return hasattr(executor, "scheduler_info") and hasattr(executor, "scatter")


def _submit(executor, fn, *args):
    """``executor.submit``. On a Dask client the arguments go as one pickled blob, without
    hashing (``pure=False``): Dask walks a tuple of thousands of scenario specs item by item,
    which costs several times the task itself."""
    if is_dask(executor):
        return executor.submit(_unpack, fn, pickle.dumps(args, protocol=pickle.HIGHEST_PROTOCOL), pure=False)
    return executor.submit(fn, *args)


def progress_bar(iterable=None, **kw):
    """A tqdm bar: the notebook widget where ipywidgets is installed in a notebook, else the text
    bar on stderr (which a notebook shows too, updating in place); never tqdm.auto's fallback
    warning ("IProgress not found"). ``kw`` are tqdm's (``total``, ``desc``, ``disable``...)."""
    if "ipykernel" in sys.modules and importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.notebook import tqdm  # deferred: only runs that show progress need tqdm
    else:
        from tqdm.std import tqdm  # deferred: as above
    return tqdm(iterable, **kw)


def _unpack(fn, blob: bytes):
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
    bar = progress_bar(total=len(tasks), disable=not progress or len(tasks) <= 1, desc=desc, unit="chunk")
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


def scenario_chunks(scenarios, chunk_size: int) -> list[ScenarioSet]:
    """Consecutive chunks of ``chunk_size`` scenarios (slices of their :class:`ScenarioSet`), each
    named as in the whole set (so names made unique across the set stay so in every chunk)."""
    if chunk_size < 1:
        raise SpecError("chunk_size", chunk_size, "a number of scenarios >= 1")
    whole = ScenarioSet.of(scenarios)
    return [whole[k:k + chunk_size] for k in range(0, len(whole), chunk_size)]
