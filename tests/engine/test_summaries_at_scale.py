"""Summary runs of many scenarios: chunks laid out all at once as one by one, calls of the loop
over groups of chunks equal to one task per chunk, and a summary table that is a view of what
the kernel wrote."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

import abs_engine as ae
from abs_engine.compile.layout import SB, constant_from, scenario_lanes
from abs_engine.engine.summaries import CHUNKS_PER_CALL, summarize
from abs_engine.io.loading import load_deck
from abs_engine.kernels import summaries as KS

ROOT = Path(__file__).resolve().parents[2]
AUTO = ROOT / "tranches/auto_prime_abs.yaml"


def _one_chunk(lag: np.ndarray, adv: np.ndarray) -> np.ndarray:
    """The layout of one chunk, written out group by group (the oracle)."""
    key = lag.astype(np.int64) * 2 + adv.astype(np.int64)
    rows = []
    for value in sorted(set(key.tolist())):
        members = np.flatnonzero(key == value)
        pad = -len(members) % SB
        rows.append(np.concatenate([members, np.full(pad, -1 - members[0])]).reshape(-1, SB))
    return np.concatenate(rows)


@settings(max_examples=100, deadline=None)
@given(lag=st.lists(st.integers(0, 3), min_size=1, max_size=300), data=st.data())
def test_every_chunk_is_laid_out_from_its_own_scenarios(lag, data):
    lag = np.array(lag)
    adv = np.array(data.draw(st.lists(st.booleans(), min_size=lag.size, max_size=lag.size)))
    size = data.draw(st.integers(1, 120), label="chunk")
    expected = []
    for lo in range(0, lag.size, size):
        part = _one_chunk(lag[lo:lo + size], adv[lo:lo + size])
        expected.append(np.where(part >= 0, part + lo, part - lo))
    np.testing.assert_array_equal(scenario_lanes(lag, adv, size), np.concatenate(expected))
    np.testing.assert_array_equal(scenario_lanes(lag, adv), _one_chunk(lag, adv))


def _deck(n_side: int) -> dict:
    return {"grid": {"prepay": [{"abs": float(x)} for x in np.linspace(0.5, 2.5, n_side)],
                     "default": [{"cdr": float(x)} for x in np.linspace(0.0, 0.08, n_side)],
                     "recovery_lag": [0, 3, 5]},
            "base": {"severity": 0.5, "rates": {"SOFR": 0.043}}}


def test_groups_of_chunks_in_one_call_give_what_one_task_per_chunk_gives():
    deck = _deck(12)  # 432 scenarios, chunks of 7: 62 chunks, several calls of CHUNKS_PER_CALL chunks
    assert 432 // 7 > 2 * CHUNKS_PER_CALL
    local = ae.run(AUTO, deck, summary_only=True, chunk_size=7, progress=False)
    with ThreadPoolExecutor(2) as pool:  # each chunk a task, compiled and run on its own
        tasks = ae.run(AUTO, deck, summary_only=True, chunk_size=7, executor=pool, progress=False)
    pd.testing.assert_frame_equal(local.summary(), tasks.summary(), check_exact=True)
    bar_calls = []
    barred = ae.compile_deal(ae.load_deal(AUTO), load_deck(deck))
    stats, extra = summarize(barred, chunk_size=7, bar=lambda calls, total: bar_calls.append(total) or calls)
    assert bar_calls == [-(-432 // (7 * CHUNKS_PER_CALL))]
    table = local.summary()
    np.testing.assert_array_equal(stats[KS.S_WAL].reshape(-1), table["wal"].to_numpy())


def test_the_summary_table_is_a_view_of_what_the_kernel_wrote():
    program = ae.compile_deal(ae.load_deal(AUTO), load_deck(_deck(4)))
    stats, extra = summarize(program)
    before = stats.copy()
    from abs_engine.results.tables import summary_frame

    table = summary_frame(program.deal, program.names, stats, extra)
    assert np.shares_memory(table["wal"].to_numpy(), stats) and np.shares_memory(table["yield"].to_numpy(), stats)
    first = table["first_principal_period"].array  # nullable whole numbers: the kernel's column and a mask
    assert first._data.dtype == np.int64 and np.shares_memory(first._data, stats)  # turned to integers in place
    np.testing.assert_array_equal(first._data, before[KS.S_FIRST].reshape(-1).astype(np.int64))
    np.testing.assert_array_equal(first._mask, before[KS.S_FIRST].reshape(-1) == 0)  # 0: no principal, missing
    residual = table.xs("Certificates", level="tranche")
    assert residual[["wal", "yield", "price", "modified_duration", "first_principal_period"]].isna().all().all()
    assert (residual["total_principal"] == 0).all()
    np.testing.assert_array_equal(residual["total_residual"].to_numpy(), extra[:, KS.X_RESIDUAL])


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_a_rows_constant_tail_starts_after_its_last_change(data):
    # the loop fills a table's numbers up to this month only: it must be the constant tail's first
    rows, months, cols = (data.draw(st.integers(1, 4)), data.draw(st.integers(1, 30)), data.draw(st.integers(1, 3)))
    table = np.array(data.draw(st.lists(st.sampled_from([0.0, 0.01, 0.02]), min_size=rows * months * cols,
                                        max_size=rows * months * cols))).reshape(rows, months, cols)
    for r, k in enumerate(constant_from(table)):
        assert (table[r, k:] == table[r, k]).all()
        assert k == 0 or (table[r, k - 1] != table[r, k]).any()
