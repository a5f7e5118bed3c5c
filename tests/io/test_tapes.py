"""Loan tapes read as Arrow columns: a Parquet tape (typed columns, dictionary-encoded text, gaps,
several row groups) gives the loans its CSV twin gives; ids stay Arrow strings; repeated ids are
found by a hash table and settled exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import abs_engine as ae
from abs_engine.io import loans as L
from abs_engine.kernels import strings as KS

ROOT = Path(__file__).resolve().parents[2]
TAPE = ROOT / "tranches/data/nonagency_seasoned.csv"  # level, interest-only and balloon loans, some delinquent
FIELDS = ("balance", "rate", "net_rate", "remaining_term", "age", "original_term", "amortization", "balloon_month",
          "status")


def _parquet_twin(frame: pd.DataFrame, path: Path, row_group_size: int) -> None:
    """The CSV tape as a servicer's Parquet export: months as nullable integers, text columns as
    they are (pyarrow stores them dictionary-encoded), several row groups."""
    table = pa.table({
        "loan_id": pa.array(frame["loan_id"].astype(str).tolist()),
        **{c: pa.array(frame[c].tolist(), type=pa.float64()) for c in ("balance", "rate", "servicing_fee_rate")},
        **{c: pa.array([None if pd.isna(x) else int(x) for x in frame[c]], type=pa.int32())
           for c in ("remaining_term", "age", "original_term", "balloon_month")},
        **{c: pa.array([None if pd.isna(x) else str(x) for x in frame[c]]) for c in ("amortization", "status")},
    })
    pq.write_table(table, path, row_group_size=row_group_size)


def test_a_parquet_tape_gives_the_loans_of_its_csv_twin(tmp_path):
    frame = pd.read_csv(TAPE, dtype={"loan_id": str})
    frame.loc[5, "servicing_fee_rate"] = np.nan   # a gap: the collateral's rate
    frame.loc[7, "original_term"] = np.nan        # a gap: age + remaining_term
    frame.loc[9, "status"] = np.nan               # a gap: current
    frame.loc[11, "status"] = " 60 "              # trimmed
    csv = tmp_path / "tape.csv"
    frame.to_csv(csv, index=False)
    _parquet_twin(frame, tmp_path / "tape.parquet", row_group_size=700)
    assert pq.ParquetFile(tmp_path / "tape.parquet").num_row_groups == 5
    a = ae.read_tape(csv, servicing_fee_rate=0.004)
    b = ae.read_tape(tmp_path / "tape.parquet", servicing_fee_rate=0.004)
    for f in FIELDS:
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)
        assert getattr(a, f).dtype == getattr(b, f).dtype, f
    assert list(a.loan_id) == list(b.loan_id) == frame["loan_id"].tolist()
    assert b.net_rate[5] == b.rate[5] - 0.004 and b.original_term[7] == b.age[7] + b.remaining_term[7]
    assert b.status[9] == 0 and b.status[11] == 2
    assert {"interest_only", "balloon"} <= {L.AMORTIZATION[k] for k in b.amortization}  # every kind came through


def test_a_tapes_ids_stay_arrow_strings_and_index_like_an_array(tmp_path):
    frame = pd.read_csv(TAPE, dtype={"loan_id": str}).head(50)
    _parquet_twin(frame, tmp_path / "tape.parquet", row_group_size=20)
    loans = ae.read_tape(tmp_path / "tape.parquet")
    assert isinstance(loans.loan_id, pd.arrays.ArrowStringArray)  # no Python object per loan
    assert list(loans.loan_id[np.array([3, 0])]) == [frame["loan_id"][3], frame["loan_id"][0]]
    assert loans.position[frame["loan_id"][42]] == 42


def test_a_repeated_id_in_a_later_row_group_names_the_row_that_repeats(tmp_path):
    frame = pd.read_csv(TAPE, dtype={"loan_id": str}).head(300)
    frame.loc[250, "loan_id"] = frame.loc[17, "loan_id"]
    _parquet_twin(frame, tmp_path / "tape.parquet", row_group_size=100)
    with pytest.raises(ae.SpecError) as info:
        ae.read_tape(tmp_path / "tape.parquet")
    assert info.value.field == f"row 251 (loan_id {frame.loc[17, 'loan_id']}), loan_id"
    assert "not used by an earlier row" in info.value.expected


def _chunked(strings: list[str], cuts: list[int], large: bool) -> pa.ChunkedArray:
    bounds = sorted({0, len(strings), *(c % (len(strings) + 1) for c in cuts)})
    kind = pa.large_string() if large else pa.string()
    whole = pa.array(strings, type=kind)
    return pa.chunked_array([whole.slice(a, b - a) for a, b in zip(bounds, bounds[1:], strict=False)] or [whole],
                            type=kind)


@settings(max_examples=200, deadline=None)
@given(strings=st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=60),
       cuts=st.lists(st.integers(0, 60), max_size=4), large=st.booleans())
def test_distinct_ids_are_told_from_repeated_ones_as_a_set_would(strings, cuts, large):
    # oracle: Python's set; the arrays are sliced chunks (offsets into shared buffers)
    assert L._distinct(_chunked(strings, cuts, large)) == (len(set(strings)) == len(strings))


def test_a_repeated_hash_is_settled_exactly(monkeypatch):
    ids = _chunked([f"L{k}" for k in range(1000)], [300], False)
    monkeypatch.setattr(KS, "insert_strings", lambda offsets, data, table: 0)  # every hash "repeats"
    assert L._distinct(ids)          # pandas finds no repeat: a collision of distinct ids is no error
    assert not L._distinct(_chunked(["a", "b", "a"], [], False))


def test_the_hash_table_finds_the_first_repeat_in_insertion_order():
    ids = pa.array(["x", "y", "z", "y", "x"])
    offsets = np.frombuffer(ids.buffers()[1], dtype=np.int32)
    data = np.frombuffer(ids.buffers()[2], dtype=np.uint8)
    assert KS.insert_strings(offsets, data, KS.hash_table(5)) == 3
    assert KS.insert_strings(offsets[:5], data, KS.hash_table(4)) == 3   # x, y, z, y
    assert KS.insert_strings(offsets[:4], data, KS.hash_table(3)) == -1  # x, y, z


def test_whole_number_ids_read_as_their_text(tmp_path):
    frame = pd.read_csv(TAPE, dtype={"loan_id": str}).head(30)
    _parquet_twin(frame, tmp_path / "tape.parquet", row_group_size=10)
    table = pq.read_table(tmp_path / "tape.parquet")
    ids = pa.array([7000 + k for k in range(30)], type=pa.int64())
    pq.write_table(table.set_column(0, "loan_id", ids), tmp_path / "ints.parquet")
    assert list(ae.read_tape(tmp_path / "ints.parquet").loan_id) == [str(7000 + k) for k in range(30)]
    repeated = pa.array([7000 + k for k in range(29)] + [7003], type=pa.int64())
    pq.write_table(table.set_column(0, "loan_id", repeated), tmp_path / "repeat.parquet")
    with pytest.raises(ae.SpecError) as info:
        ae.read_tape(tmp_path / "repeat.parquet")
    assert info.value.field == "row 30 (loan_id 7003), loan_id"
