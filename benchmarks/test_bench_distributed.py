"""Scale-out (issue: per-task overhead, and scaling with 1 and 2 Dask workers for 10^5 scenarios).

Each worker is one process with one numba thread (``NUMBA_NUM_THREADS=1``), so 2 workers use
the machine's 2 cores; the local figure uses numba's 2 threads in this process.
"""

from __future__ import annotations

import operator
import time
from pathlib import Path

import numpy as np

import abs_engine as ae
from abs_engine.engine.chunks import warm_workers
from abs_engine.io.loading import load_deck

from .conftest import size

ROOT = Path(__file__).resolve().parents[1]
DEAL = ROOT / "tranches/auto_prime_abs.yaml"


def _cluster(n: int):
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address="127.0.0.1:0", worker_dashboard_address="127.0.0.1:0",
                           env={"NUMBA_NUM_THREADS": "1"})
    client = Client(cluster)
    warm_workers(client)
    return cluster, client


def test_task_overhead_and_scaling(benchmark, report):
    n = size(100_000, 2_000)
    side = int(round(n ** 0.5))
    deck = load_deck({"grid": {"prepay": [{"abs": float(x)} for x in np.linspace(0.5, 2.5, side)],
                               "default": [{"cdr": float(x)} for x in np.linspace(0.0, 0.1, side)]},
                      "base": {"severity": 0.5, "recovery_lag": 3, "rates": {"SOFR": 0.043}}})
    chunk = max(len(deck) // 20, 100)
    ae.run(DEAL, deck[:200], summary_only=True, chunk_size=100, progress=False)  # warm
    t = time.perf_counter()
    local = ae.run(DEAL, deck, summary_only=True, chunk_size=chunk, progress=False)
    local_s = time.perf_counter() - t
    lines = [f"auto deal, {len(deck):,} scenarios x 57 months, summaries only, chunks of {chunk:,} scenarios",
             f"local (this process, 2 numba threads): {local_s:.2f} s = {len(deck) / local_s:,.0f} scenarios/s"]
    times = {}
    for workers in (1, 2):
        cluster, client = _cluster(workers)
        try:
            tasks = 200
            t = time.perf_counter()
            assert sum(client.gather([client.submit(operator.add, k, 1, pure=False) for k in range(tasks)])) > 0
            overhead = (time.perf_counter() - t) / tasks
            t = time.perf_counter()
            remote = ae.run(DEAL, deck, summary_only=True, chunk_size=chunk, executor=client, progress=False)
            times[workers] = time.perf_counter() - t
            assert remote.summary().equals(local.summary())
        finally:
            client.close()
            cluster.close()
        lines.append(f"{workers} worker(s): {times[workers]:.2f} s = {len(deck) / times[workers]:,.0f} scenarios/s; "
                     f"per-task overhead {overhead * 1e3:.2f} ms ({tasks} empty tasks)")
    lines.append(f"scaling 1 -> 2 workers: {times[1] / times[2]:.2f}x")
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    report(*lines)
