"""Scale-out on a real local Dask cluster (2 worker processes, loopback only): the same results
as a local run, bitwise for the same chunking; failures name their chunk."""

from __future__ import annotations

from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import abs_engine as ae
from abs_engine.engine.chunks import warm_workers
from abs_engine.engine.executors import ChunkError
from abs_engine.io.loading import load_deck

ROOT = Path(__file__).resolve().parents[2]
AUTO = ROOT / "tranches/auto_prime_abs.yaml"


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address="127.0.0.1:0", worker_dashboard_address="127.0.0.1:0")
    client = Client(cluster)
    assert warm_workers(client) == 2
    yield client
    client.close()
    cluster.close()


def grid(n_side: int):
    return load_deck({"grid": {"prepay": [{"abs": float(x)} for x in np.linspace(0.5, 2.5, n_side)],
                               "default": [{"cdr": float(x)} for x in np.linspace(0.0, 0.1, n_side)]},
                      "base": {"severity": 0.5, "recovery_lag": 3, "rates": {"SOFR": 0.043}}})


def test_a_10000_scenario_grid_on_the_cluster_equals_the_local_run(client):
    deck = grid(100)
    remote = ae.run(AUTO, deck, summary_only=True, chunk_size=2500, executor=client, progress=False)
    local = ae.run(AUTO, deck, summary_only=True, chunk_size=2500, progress=False)
    assert len(remote.summary()) == 10_000 * 9
    pd.testing.assert_frame_equal(remote.summary(), local.summary(), check_exact=True)
    np.testing.assert_array_equal(remote.pool_loss, local.pool_loss)


def test_full_tables_in_chunks_equal_an_unchunked_run(client):
    deck = grid(12)
    remote = ae.run(AUTO, deck, chunk_size=50, executor=client)
    local = ae.run(AUTO, deck)
    np.testing.assert_array_equal(remote.flows, local.flows)
    for name in ("tranches", "fees", "accounts", "cash"):
        np.testing.assert_array_equal(getattr(remote.waterfall, name), getattr(local.waterfall, name))
    pd.testing.assert_frame_equal(remote.summary(), local.summary(), check_exact=True)


def test_a_loan_tape_in_row_group_chunks(client, tmp_path):
    tape = pd.read_csv(ROOT / "tranches/data/nonagency_seasoned.csv", dtype={"loan_id": str})
    path = tmp_path / "tape.parquet"
    tape.to_parquet(path, row_group_size=500)  # 6 row groups
    import yaml

    deal = yaml.safe_load((ROOT / "tranches/nonagency_rmbs.yaml").read_text())
    deal["collateral"]["loan_tape"] = str(path)
    scen = [ae.load_scenario(ROOT / "scenarios/base.yaml"), ae.load_scenario(ROOT / "scenarios/stress.yaml")]
    remote = ae.run(deal, scen, tape_chunks=2, executor=client)
    local = ae.run(deal, scen, tape_chunks=2)
    np.testing.assert_array_equal(remote.flows, local.flows)                     # same chunking, same bits
    np.testing.assert_array_equal(remote.waterfall.tranches, local.waterfall.tranches)
    whole = ae.run(deal, scen)                                                    # one local run of the tape
    np.testing.assert_allclose(remote.flows, whole.flows, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(remote.waterfall.tranches, whole.waterfall.tranches, rtol=1e-9, atol=1e-6)
    assert remote.check().abs().to_numpy().max() <= 1e-14 * remote.program.original_balance  # 956M pool


def test_a_process_pool_is_an_executor_too():
    deck = grid(5)
    import multiprocessing

    # numba's OpenMP threads do not survive fork(): a pool of spawned processes
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        warm_workers(pool)
        remote = ae.run(AUTO, deck, summary_only=True, chunk_size=7, executor=pool, progress=False)
    local = ae.run(AUTO, deck, summary_only=True, chunk_size=7, progress=False)
    pd.testing.assert_frame_equal(remote.summary(), local.summary(), check_exact=True)


class FailingExecutor:
    """Runs tasks in threads, except the ``fail``-th submitted one, whose future raises."""

    def __init__(self, fail: int):
        self.pool = ThreadPoolExecutor(2)
        self.fail = fail
        self.count = 0

    def submit(self, fn, *args):
        k = self.count
        self.count += 1
        if k == self.fail:
            f = Future()
            f.set_exception(ConnectionError("worker lost"))
            return f
        return self.pool.submit(fn, *args)


def test_a_failed_task_names_its_chunk_and_nothing_partial_is_returned():
    deck = grid(4)  # 16 scenarios, chunks of 5: 0..4, 5..9, 10..14, 15..15
    with pytest.raises(ChunkError, match=r"chunk 1 \(scenarios 5\.\.9\) failed: ConnectionError: worker lost"):
        ae.run(AUTO, deck, summary_only=True, chunk_size=5, executor=FailingExecutor(1), progress=False)
    with pytest.raises(ChunkError, match=r"chunk 3 \(scenarios 15\.\.15\)"):
        ae.run(AUTO, deck, chunk_size=5, executor=FailingExecutor(3))
