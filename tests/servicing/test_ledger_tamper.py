"""The ledger sees every change: each kind of tampering (edit, delete, insert, reorder; in the
periods, the instructions and the meta table; trailing deletions; rows rewritten with every hash
recomputed) is found by ``ledger verify`` (the chain, and with ``--deal`` every period
recomputed) or, for what a chain cannot show by itself, by ``verify --head`` against a head kept
outside the ledger. The attacker here has the file: it drops the append-only triggers first."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

import abs_engine as ae
from abs_engine.cli import main
from abs_engine.io.collection_reports import collections_from_frame
from abs_engine.servicing.ledger import Ledger, LedgerError, canonical_json, keccak_hex
from abs_engine.servicing.servicer import projected_collections
from abs_engine.settlement import advance, record, settle

ROOT = Path(__file__).resolve().parents[2]
AUTO = ROOT / "tranches/auto_prime_abs.yaml"
SCENARIO = {"prepay": {"abs": 1.5}, "default": {"cdr": 0.03}, "severity": 0.5, "recovery_lag": 3,
            "rates": {"SOFR": 0.043}, "exercise_call": False}


def _addr(seed) -> str:
    from eth_utils import keccak, to_checksum_address

    return to_checksum_address(keccak(text=str(seed))[-20:])


SPEC = {"payment_token": {"symbol": "USDC", "decimals": 6, "addresses": {8453: _addr("usdc")}},
        "source": {8453: _addr("dist")},
        "tranches": [{"tranche": "A-1", "snapshots": [{"chain_id": 8453, "token": _addr("A-1"), "decimals": 18,
                                                       "record_block": 1, "total_supply": "300",
                                                       "holders": [[_addr("a"), "100"], [_addr("b"), "200"]]}]}]}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """A ledger of 3 periods and the settlement lifecycle of periods 1 and 2 (periods, instructions
    interleaved in one chain), and its head."""
    projection = ae.run(AUTO, SCENARIO, loan_level=True)
    path = tmp_path_factory.mktemp("ledger") / "ledger.sqlite"
    servicer = ae.Servicer(AUTO, path)
    for p in (1, 2, 3):
        head, tape = projected_collections(projection, p)
        rep = servicer.distribute(collections_from_frame(head, tape))
        if p < 3:
            s = settle(rep, SPEC, ledger=servicer.ledger)
            record(servicer.ledger, s)
            cid = s.instructions[0].content_id
            for status in ("submitted", "confirmed", "reconciled"):
                advance(servicer.ledger, cid, status, {"tx": "0x" + "11" * 32})
    head = servicer.ledger.head()
    servicer.ledger.close()
    return path, head


def _copy(pristine, tmp_path) -> Path:
    path = tmp_path / "ledger.sqlite"
    shutil.copy(pristine[0], path)
    return path


def _sql(path, *statements):
    with sqlite3.connect(path) as c:
        for t in ("meta", "periods", "instructions"):
            c.execute(f"DROP TRIGGER IF EXISTS {t}_append_only_u")
            c.execute(f"DROP TRIGGER IF EXISTS {t}_append_only_d")
        for st in statements:
            c.execute(*st) if isinstance(st, tuple) else c.execute(st)


def _one(path, sql, *args):
    with sqlite3.connect(path) as c:
        return c.execute(sql, args).fetchone()


def _rehash_from(path, seq):
    """What a forger who knows the format does: recompute every hash from ``seq`` on so the chain
    is consistent again."""
    led = Ledger.open(path)
    chain = led.chain()
    prev = led.deal_id
    updates = []
    for r in chain:
        if r.seq >= seq:
            if r.table == "periods":
                new = led.build_row(r.seq, r.period, r.version, r.reason, r.inputs, r.state, r.report, prev)
                updates.append(("UPDATE periods SET prev_hash = ?, hash = ?, inputs_hash = ?, state_hash = ?, "
                                "report_hash = ? WHERE seq = ?", (prev, new.hash, new.inputs_hash, new.state_hash,
                                                                 new.report_hash, r.seq)))
                prev = new.hash
            else:
                header = {**r.header(led.deal_id), "prev_hash": prev}
                h = keccak_hex(canonical_json(header))
                updates.append(("UPDATE instructions SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, h, r.seq)))
                prev = h
        else:
            prev = r.hash
    led.close()
    _sql(path, *updates)


def _instruction_seq(path, status, period=1):
    return _one(path, "SELECT seq FROM instructions WHERE status = ? AND period = ?", status, period)[0]


def _detail(path, seq):
    return json.loads(_one(path, "SELECT detail FROM instructions WHERE seq = ?", seq)[0])


# each kind: (name, tamper(path), found by the chain alone?, found with --deal?)
def _edit_report(p):
    rep = json.loads(_one(p, "SELECT report FROM periods WHERE period = 2")[0])
    rep["tranches"][0]["principal_paid"] += 1.0
    _sql(p, ("UPDATE periods SET report = ? WHERE period = 2", (json.dumps(rep),)))


def _rehashed_report(p):
    rep = json.loads(_one(p, "SELECT report FROM periods WHERE period = 2")[0])
    rep["tranches"][0]["interest_paid"] += 1.0
    _sql(p, ("UPDATE periods SET report = ? WHERE period = 2", (canonical_json(rep),)))
    _rehash_from(p, _one(p, "SELECT seq FROM periods WHERE period = 2")[0])


def _edit_carry_out(p):
    seq = _instruction_seq(p, "built")
    d = _detail(p, seq)
    d["carry_out"]["A-1"]["principal"] = "0.5"
    _sql(p, ("UPDATE instructions SET detail = ? WHERE seq = ?", (canonical_json(d), seq)))


def _rehashed_carry_out(p):
    seq = _instruction_seq(p, "built", period=2)
    d = _detail(p, seq)
    d["carry_out"]["A-1"]["principal"] = "0.5"
    _sql(p, ("UPDATE instructions SET detail = ? WHERE seq = ?", (canonical_json(d), seq)))
    _rehash_from(p, seq)


def _delete_submitted_rehashed(p):
    seq = _instruction_seq(p, "submitted")
    _sql(p, ("DELETE FROM instructions WHERE seq = ?", (seq,)))
    _renumber(p, seq)


def _renumber(p, gone):
    """Close the gap a deleted row left (seq after it one lower) and rehash: a consistent-looking chain."""
    with sqlite3.connect(p) as c:
        for t in ("periods", "instructions"):
            for (s,) in c.execute(f"SELECT seq FROM {t} WHERE seq > ? ORDER BY seq", (gone,)).fetchall():
                c.execute(f"UPDATE {t} SET seq = ? WHERE seq = ?", (s - 1, s))
    _rehash_from(p, gone)


def _insert_submitted(p):
    seq = _instruction_seq(p, "confirmed")
    row = _one(p, "SELECT period, content_id, detail, prev_hash, hash FROM instructions WHERE seq = ?", seq)
    _sql(p, ("INSERT INTO instructions (seq, period, content_id, status, detail, prev_hash, hash) VALUES "
             "(?, ?, ?, 'submitted', ?, ?, ?)", (10_000, row[0], row[1] + "00", row[2], row[3], "0x" + "99" * 32)))


def _swap(p, table, a, b):
    _sql(p, (f"UPDATE {table} SET seq = -1 WHERE seq = ?", (a,)), (f"UPDATE {table} SET seq = ? WHERE seq = ?", (a, b)),
         (f"UPDATE {table} SET seq = ? WHERE seq = -1", (b,)))


def _periods_seqs(p):
    with sqlite3.connect(p) as c:
        return [s for (s,) in c.execute("SELECT seq FROM periods ORDER BY seq")]


def _instr_seqs(p):
    with sqlite3.connect(p) as c:
        return [s for (s,) in c.execute("SELECT seq FROM instructions ORDER BY seq")]


def _delete_last(p, table):
    seqs = _periods_seqs(p) if table == "periods" else _instr_seqs(p)
    last = max(_periods_seqs(p) + _instr_seqs(p))
    assert table != "periods" or seqs[-1] == last  # the fixture ends with period 3
    _sql(p, (f"DELETE FROM {table} WHERE seq = ?", (seqs[-1],)))


def _delete_trailing_instructions(p):
    """The lifecycle of period 2 ends the instructions; period 3 follows it in the chain: delete
    period 3 and the last instruction rows, leaving a shorter, consistent chain."""
    _sql(p, "DELETE FROM periods WHERE period = 3")
    last = _instr_seqs(p)[-2:]
    _sql(p, *[("DELETE FROM instructions WHERE seq = ?", (s,)) for s in last])


KINDS = {
    # periods
    "periods: edit a report": (_edit_report, True),
    "periods: edit inputs": (lambda p: _sql(p, "UPDATE periods SET inputs = replace(inputs, '\"period\":2', "
                                            "'\"period\":2 ') WHERE period = 2"), True),
    "periods: edit the state": (lambda p: _sql(p, "UPDATE periods SET state = replace(state, '\"period\":1', "
                                           "'\"period\":1 ') WHERE period = 1"), True),
    "periods: edit the version": (lambda p: _sql(p, "UPDATE periods SET version = 2 WHERE period = 1"), True),
    "periods: edit a hash": (lambda p: _sql(p, ("UPDATE periods SET hash = ? WHERE period = 1", ("0x" + "00" * 32,))),
                             True),
    "periods: delete a middle row": (lambda p: _sql(p, "DELETE FROM periods WHERE period = 2"), True),
    "periods: insert a row": (lambda p: _sql(p, "INSERT INTO periods SELECT 10000, period, 2, 'x', inputs_hash, "
                                             "inputs, state_hash, state, report_hash, report, prev_hash, hash || 'f' "
                                             "FROM periods WHERE period = 1"), True),
    "periods: reorder two rows": (lambda p: _swap(p, "periods", *_periods_seqs(p)[:2]), True),
    "periods: a report rewritten with every hash": (_rehashed_report, "deal"),
    "periods: delete the last row": (lambda p: _delete_last(p, "periods"), "head"),
    # instructions
    "instructions: edit a carry_out": (_edit_carry_out, True),
    "instructions: edit a content_id": (lambda p: _sql(p, ("UPDATE instructions SET content_id = ? WHERE seq = ?",
                                                           ("0x" + "77" * 32, _instruction_seq(p, "built")))), True),
    "instructions: edit a status": (lambda p: _sql(p, ("UPDATE instructions SET status = 'paid' WHERE seq = ?",
                                                       (_instruction_seq(p, "submitted"),))), True),
    "instructions: delete a submitted row": (lambda p: _sql(p, ("DELETE FROM instructions WHERE seq = ?",
                                                                (_instruction_seq(p, "submitted"),))), True),
    "instructions: insert a submitted row": (_insert_submitted, True),
    "instructions: reorder two rows": (lambda p: _swap(p, "instructions", *_instr_seqs(p)[1:3]), True),
    "instructions: a deleted submitted row, the chain renumbered and rehashed": (_delete_submitted_rehashed, True),
    "instructions: a carry_out rewritten with every hash": (_rehashed_carry_out, "head"),
    "instructions: delete the trailing rows (and the period after them)": (_delete_trailing_instructions, "head"),
    # meta
    "meta: edit the deal id": (lambda p: _sql(p, ("UPDATE meta SET value = ? WHERE key = 'deal_id'",
                                                  ("0x" + "12" * 32,))), True),
    "meta: delete the deal id": (lambda p: _sql(p, "DELETE FROM meta WHERE key = 'deal_id'"), True),
    "meta: insert a second deal": (lambda p: _sql(p, "INSERT INTO meta VALUES ('deal_id_2', 'x')"), True),
}


def _verify(path, *extra) -> int:
    return main(["ledger", "verify", str(path), *extra])


def test_the_pristine_ledger_verifies_in_every_mode(pristine, tmp_path, capsys):
    path = _copy(pristine, tmp_path)
    head = pristine[1]["hash"]
    assert _verify(path) == 0 and _verify(path, "--head", head) == 0
    assert _verify(path, "--deal", str(AUTO), "--head", head) == 0
    assert "ok" in capsys.readouterr().out
    led = Ledger.open(path)
    tables = {r.table for r in led.chain()}
    assert tables == {"periods", "instructions"} and len(led.chain()) == 3 + 8


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_tamper_kind_is_found(pristine, tmp_path, kind, capsys):
    tamper, found_by = KINDS[kind]
    path = _copy(pristine, tmp_path)
    tamper(path)
    head = pristine[1]["hash"]
    if kind.startswith("meta: delete") or kind == "meta: edit the deal id":
        # the ledger no longer says whose it is (or says another deal's): refused when opened
        # against the deal, and the chain no longer links to its anchor
        with pytest.raises(LedgerError):
            ae.Servicer(AUTO, path)
        assert _verify(path) != 0
        return
    chain_only = _verify(path)
    with_deal = _verify(path, "--deal", str(AUTO))
    with_head = _verify(path, "--head", head)
    both = _verify(path, "--deal", str(AUTO), "--head", head)
    out = capsys.readouterr().out
    assert "MISMATCH" in out
    assert with_head == 1 and both == 1, out        # a head kept outside finds every kind
    if found_by is True:
        assert chain_only == 1 and with_deal == 1, out
    elif found_by == "deal":
        assert chain_only == 0 and with_deal == 1, out   # the recomputation finds the rewritten report
    else:
        assert chain_only == 0, out                      # only the head can: documented


def test_triggers_refuse_update_and_delete_on_every_table(pristine, tmp_path):
    path = _copy(pristine, tmp_path)
    with sqlite3.connect(path) as c:
        for sql in ("UPDATE periods SET reason = 'x'", "DELETE FROM periods", "UPDATE instructions SET status = 'x'",
                    "DELETE FROM instructions", "UPDATE meta SET value = 'x'", "DELETE FROM meta"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                c.execute(sql)


def test_head_cli_and_its_attestation(pristine, tmp_path, capsys):
    from eth_account import Account

    from abs_engine.servicing.attestation import head_typed_data, recover_signer, sign

    path = _copy(pristine, tmp_path)
    assert main(["ledger", "head", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"head {pristine[1]['hash']}" in out and "period 3" in out and "seq 11" in out
    assert main(["ledger", "head", str(path), "--typed-data", "--chain-id", "8453", "--out",
                 str(tmp_path / "head.json")]) == 0
    typed = json.loads((tmp_path / "head.json").read_text())
    assert typed == head_typed_data(pristine[1], chain_id=8453)
    assert typed["message"] == {"dealId": pristine[1]["deal_id"], "seq": "11", "period": "3",
                                "head": pristine[1]["hash"]}
    key = "0x" + "42" * 32
    assert recover_signer(typed, sign(typed, key)) == Account.from_key(key).address


def test_lifecycle_steps_cannot_be_skipped_or_repeated(pristine, tmp_path):
    path = _copy(pristine, tmp_path)
    led = Ledger.open(path)
    with pytest.raises(LedgerError, match="lifecycle"):
        led.record_instruction(9, "0x" + "55" * 32, "confirmed", {})
    led.record_instruction(9, "0x" + "55" * 32, "built", {})
    with pytest.raises(LedgerError, match="lifecycle"):
        led.record_instruction(9, "0x" + "55" * 32, "reconciled", {})


def test_a_ledger_that_is_not_sqlite_is_one_error(tmp_path, capsys):
    bogus = tmp_path / "ledger.sqlite"
    bogus.write_bytes(b"this is not a database" * 100)
    assert main(["ledger", "verify", str(bogus)]) == 3
    assert main(["ledger", "show", str(bogus)]) == 3
    err = capsys.readouterr().err
    assert "not an abs_engine ledger" in err and "Traceback" not in err
