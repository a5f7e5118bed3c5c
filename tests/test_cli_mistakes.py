"""The CLI never tracebacks on a plain mistake: one line on stderr, exit 2 (3 for the ledger), and
nothing written. Outputs follow their extension; settle records before it writes and writes its
set atomically with ordinary modes; a concurrent distribute loses with the ledger's own error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import yaml

from abs_engine.cli import main

ROOT = Path(__file__).resolve().parents[1]
AGENCY = str(ROOT / "tranches/agency_30y.yaml")
AUTO = str(ROOT / "tranches/auto_prime_abs.yaml")
BASE = str(ROOT / "scenarios/base.yaml")
AUTO_BASE = str(ROOT / "scenarios/auto_base.yaml")
GRID = str(ROOT / "scenarios/auto_grid.yaml")
RMBS = str(ROOT / "tranches/nonagency_rmbs.yaml")
SERVICING = ROOT / "tranches/data/servicing/nonagency_rmbs"
HOLDERS = str(ROOT / "tranches/data/settlement/nonagency_rmbs.yaml")


def _fails(capsys, argv, code, *needles):
    got = _exit(argv)
    err = capsys.readouterr().err
    assert got == code, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for n in needles:
        assert n in err, err
    return err


def _exit(argv) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse's own errors
        return exc.code


@pytest.mark.parametrize(("argv", "needles"), [
    (["run", AUTO, "--scenario", GRID], ["holds a deck of 24 scenarios", "abs-engine grid"]),
    (["price", AGENCY, "--scenario", BASE], ["this deal has no tranches"]),
    (["breakeven", AGENCY, "--scenario", BASE], ["this deal has no tranches"]),
    (["grid", AGENCY, "--scenarios", GRID], ["this deal has no tranches"]),
    (["price", AUTO, "--scenario", AUTO_BASE, "--yield", "4.5"], ["did you mean 0.045?"]),
    (["price", AUTO, "--scenario", AUTO_BASE, "--price", "0"], ["--price", "(0, 1000]"]),
    (["price", AUTO, "--scenario", AUTO_BASE, "--price", "nan"], ["a finite number"]),
    (["price", AUTO, "--scenario", AUTO_BASE, "--delay-days", "-3"], ["delay"]),
    (["breakeven", AUTO, "--scenario", AUTO_BASE, "--yield-floor", "5"], ["did you mean 0.05?"]),
    (["run", AUTO, "--scenario", AUTO_BASE, "--scenario", BASE], ["--scenario: given more than once"]),
    (["run", AUTO, "--scenario", AUTO_BASE, "--out", "x.csv", "--out", "y.csv"], ["--out: given more than once"]),
    (["settle", "--ledger", "l.sqlite", "--period", "1", "--period", "2", "--holders", HOLDERS, "--out", "o"],
     ["--period: given more than once"]),
    (["settle", "--ledger", "l.sqlite", "--period", "0", "--holders", HOLDERS, "--out", "o"], ["whole number >= 1"]),
    (["run", AUTO], ["--scenario"]),
])
def test_plain_mistakes_are_one_line(capsys, tmp_path, monkeypatch, argv, needles):
    monkeypatch.chdir(tmp_path)
    _fails(capsys, argv, 2, *needles)
    assert list(tmp_path.iterdir()) == []


def test_out_must_be_in_an_existing_folder_and_name_a_known_format(capsys, tmp_path):
    _fails(capsys, ["run", AGENCY, "--scenario", BASE, "--out", str(tmp_path / "missing/p.csv")], 2,
           "existing folder")
    _fails(capsys, ["run", AGENCY, "--scenario", BASE, "--out", str(tmp_path / "p.xlsx")], 2,
           ".txt, .csv, .json, .parquet")
    _fails(capsys, ["run", AGENCY, "--scenario", BASE, "--format", "json", "--out", str(tmp_path / "p.csv")], 2,
           "the format of --out")
    _fails(capsys, ["grid", AUTO, "--scenarios", GRID, "--out", str(tmp_path / "g.txt")], 2, ".csv, .json, .parquet")
    assert list(tmp_path.iterdir()) == []


def test_parquet_out_is_parquet_and_every_table_is_written(tmp_path, capsys):
    import abs_engine as ae

    assert main(["run", AUTO, "--scenario", AUTO_BASE, "--out", str(tmp_path / "r.parquet")]) == 0
    res = ae.run(AUTO, AUTO_BASE)
    names = {"pool", "summary", "tranches", "fees", "accounts", "triggers", "cash", "check"}
    files = {p.name for p in tmp_path.iterdir()}
    assert files == {"r.parquet"} | {f"r_{n}.parquet" for n in names - {"pool"}}
    pool = pd.read_parquet(tmp_path / "r.parquet")
    assert pool["ending_balance"].tolist() == pytest.approx(res.pool["ending_balance"].tolist(), rel=1e-12)
    tr = pd.read_parquet(tmp_path / "r_tranches.parquet")
    assert len(tr) == len(res.tranches)
    assert main(["run", AUTO, "--scenario", AUTO_BASE, "--out", str(tmp_path / "c.csv")]) == 0
    for n in names - {"pool"}:
        frame = pd.read_csv(tmp_path / f"c_{n}.csv")
        assert len(frame) == len(getattr(res, n) if n not in ("summary", "check") else getattr(res, n)())
    doc = json.loads((tmp_path / "j.json").read_text()) if main(
        ["run", AUTO, "--scenario", AUTO_BASE, "--out", str(tmp_path / "j.json")]) == 0 else None
    assert names <= set(doc) | {"pool"} and len(doc["fees"]) == len(res.fees)


def test_grid_out_follows_the_extension(tmp_path, capsys):
    for ext in ("parquet", "csv", "json"):
        assert main(["grid", AUTO, "--scenarios", GRID, "--out", str(tmp_path / f"g.{ext}")]) == 0
    a = pd.read_parquet(tmp_path / "g.parquet")
    b = pd.read_csv(tmp_path / "g.csv")
    c = pd.DataFrame(json.loads((tmp_path / "g.json").read_text()))
    assert len(a) == len(b) == len(c) == 24 * 9
    assert a["wal"].tolist() == pytest.approx(b["wal"].tolist(), rel=1e-12, nan_ok=True)


def test_non_utf8_and_oversize_integers_are_one_line(tmp_path, capsys):
    bad = tmp_path / "deal.yaml"
    bad.write_bytes(b"name: caf\xe9\n")
    _fails(capsys, ["validate", str(bad)], 2, "a UTF-8 text file")
    big = tmp_path / "big.yaml"
    big.write_text(yaml.safe_dump({"name": "x", "collateral": {"rep_lines": [
        {"balance": 10**400, "wac": 0.05, "wam": 360}]}}))
    _fails(capsys, ["validate", str(big)], 2, "balance", "too large")
    huge = tmp_path / "huge.json"
    huge.write_text('{"name": "x", "collateral": {"rep_lines": [{"balance": 1' + "0" * 5000 + ', "wac": 0.05, "wam": 1}]}}')
    _fails(capsys, ["validate", str(huge)], 2, str(huge))


def _settled_ledger(tmp_path) -> Path:
    ledger = tmp_path / "ledger.sqlite"
    assert main(["distribute", RMBS, "--ledger", str(ledger), "--collections", str(SERVICING / "period_1.yaml")]) == 0
    return ledger


def test_settle_records_before_it_writes_and_writes_a_whole_set(tmp_path, capsys, monkeypatch):
    from abs_engine import cli
    from abs_engine.servicing.ledger import Ledger

    ledger = _settled_ledger(tmp_path)
    out = tmp_path / "payouts"
    boom = RuntimeError("disk full")

    def fail(*a, **k):
        raise boom

    monkeypatch.setattr(cli, "write_file_set", fail)
    with pytest.raises(RuntimeError):
        main(["settle", "--ledger", str(ledger), "--period", "1", "--holders", HOLDERS, "--out", str(out)])
    assert not out.exists()
    built = [r for r in Ledger.open(ledger).instructions(1) if r["status"] == "built"]
    assert len(built) == 2                        # recorded although nothing was written
    monkeypatch.undo()
    assert main(["settle", "--ledger", str(ledger), "--period", "1", "--holders", HOLDERS, "--out", str(out)]) == 0
    assert len(Ledger.open(ledger).instructions(1)) == 2   # the same content ids: not recorded twice
    umask = os.umask(0)
    os.umask(umask)
    files = sorted(out.iterdir())
    assert [f.name for f in files] == ["period_1_chain_1_safe_batch.json", "period_1_chain_8453_safe_batch.json",
                                       "period_1_settlement.json"]
    assert all((f.stat().st_mode & 0o777) == 0o666 & ~umask for f in files)
    assert (out.stat().st_mode & 0o777) == 0o777 & ~umask
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".payouts")]   # no temporary folder left
    # into an existing folder: each file replaced atomically, other files kept
    (out / "keep.txt").write_text("x")
    assert main(["settle", "--ledger", str(ledger), "--period", "1", "--holders", HOLDERS, "--format", "merkle",
                 "--out", str(out)]) == 0
    assert (out / "keep.txt").exists() and (out / "period_1_chain_1_merkle.json").exists()


def test_settle_out_that_is_a_file_is_refused(tmp_path, capsys):
    ledger = _settled_ledger(tmp_path)
    f = tmp_path / "file"
    f.write_text("x")
    _fails(capsys, ["settle", "--ledger", str(ledger), "--period", "1", "--holders", HOLDERS, "--out", str(f)], 2,
           "a folder")
    _fails(capsys, ["settle", "--ledger", str(ledger), "--period", "1", "--holders", HOLDERS, "--out",
                    str(tmp_path / "a/b/c")], 2, "parent")
    _fails(capsys, ["settle", "--ledger", str(ledger), "--period", "2", "--holders", HOLDERS, "--out",
                    str(tmp_path / "o")], 3, "period 2 is not recorded")


RACER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from abs_engine.servicing import ledger as L
    from abs_engine.cli import main
    role, locked, read = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    if role == "first":
        def hold_lock(self):   # inside the period's write transaction, its row inserted
            if self._conn.execute("SELECT COUNT(*) FROM periods").fetchone()[0]:
                locked.write_text("locked")
                deadline = time.time() + 600
                while not read.exists() and time.time() < deadline:   # until the second has read the ledger
                    time.sleep(0.05)
                time.sleep(0.5)
        L.Ledger._before_commit = hold_lock
    else:
        current = L.Ledger.current
        def current_then_signal(self):
            out = current(self)
            read.write_text("read")
            return out
        L.Ledger.current = current_then_signal
    sys.exit(main(sys.argv[4:]))
""")


def test_the_loser_of_a_concurrent_distribute_gets_the_ledgers_error(tmp_path):
    """Two processes distribute period 1 at once: the first holds the write lock while the second
    computes from the same (empty) ledger; the second then finds the chain moved: exit 3, one
    line, nothing of its own recorded."""
    import time

    ledger = tmp_path / "ledger.sqlite"
    locked, read = tmp_path / "locked", tmp_path / "read"
    argv = ["distribute", RMBS, "--ledger", str(ledger), "--collections", str(SERVICING / "period_1.yaml")]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    first = subprocess.Popen([sys.executable, "-c", RACER, "first", str(locked), str(read), *argv],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 600
    while not locked.exists():
        assert time.time() < deadline and first.poll() is None, first.communicate()
        time.sleep(0.05)
    second = subprocess.run([sys.executable, "-c", RACER, "second", str(locked), str(read), *argv],
                            capture_output=True, text=True, env=env, timeout=600)
    out1, err1 = first.communicate(timeout=600)
    assert first.returncode == 0, err1
    assert second.returncode == 3, second.stderr
    assert second.stderr.count("\n") == 1 and "Traceback" not in second.stderr
    assert "abs-engine: ledger:" in second.stderr and "the ledger changed while the period was computed" \
        in second.stderr
    from abs_engine.servicing.ledger import Ledger

    assert [r.period for r in Ledger.open(ledger).rows()] == [1]
    again = subprocess.run([sys.executable, "-c", RACER, "again", str(locked), str(read), *argv],
                           capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 0   # run again: the recorded period, identical inputs
