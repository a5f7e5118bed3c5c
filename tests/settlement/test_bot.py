"""The settlement bot (issue 18, item 3): the non-agency example's three periods run end to end
into a real SQLite ledger and Vyper batch distributors in titanoboa's EVM; killed after every
step (and inside a submission, after the chain paid and before the ledger knew), then resumed,
it ends where an uninterrupted run ends, paying nobody twice; killed for real (a process that
exits at each step) with the Safe-files broadcaster, the same; and the CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import boa
import pytest
import yaml

import abs_engine as ae
from abs_engine.servicing.servicer import deal_id
from abs_engine.settlement import renderings as onchain
from abs_engine.settlement.bot import STEPS, EvmBroadcaster, ReconciliationError, SafeFiles, run_bot
from abs_engine.settlement.instruction import settle

ROOT = Path(__file__).resolve().parents[2]
DEAL = ROOT / "tranches/nonagency_rmbs.yaml"
COLLECTIONS = ROOT / "tranches/data/servicing/nonagency_rmbs"
HOLDERS = ROOT / "tranches/data/settlement/nonagency_rmbs.yaml"
CHAINS = (1, 8453)


class Killed(Exception):
    """A kill, raised where the bot was stopped."""


def _holders(tokens=None, sources=None) -> dict:
    """The example's settlement inputs with absolute paths (and the EVM's addresses)."""
    spec = yaml.safe_load(HOLDERS.read_text())
    folder = HOLDERS.parent
    for t in spec["tranches"]:
        for snap in t["snapshots"]:
            snap["holders"] = str(folder / snap["holders"])
    spec["allow_list"] = str(folder / spec["allow_list"])
    for c in CHAINS:
        if tokens:
            spec["payment_token"]["addresses"][c] = tokens[c].address
        if sources:
            spec["source"][c] = sources[c].address
    return spec


@contextmanager
def deployed():
    """A payment token and a funded batch distributor per chain, in one EVM (chain id set per
    call), rolled back on exit: ``(owner, tokens, distributors)``."""
    did = bytes.fromhex(deal_id(ae.load_deal(DEAL))[2:])
    with boa.env.anchor():
        owner = boa.env.generate_address("owner")
        with boa.env.prank(owner):
            tokens = {c: boa.load(str(ROOT / "tests/settlement/contracts/Token.vy")) for c in CHAINS}
            dists = {c: boa.loads(onchain.contract_source("BatchDistributor"), tokens[c].address, did) for c in CHAINS}
            for c in CHAINS:
                tokens[c].mint(dists[c].address, 10**30)
        yield owner, tokens, dists


@pytest.fixture
def chain():
    with deployed() as evm:
        yield evm


def _servicer(folder: Path) -> ae.Servicer:
    """The example deal's servicer on the ledger ``folder/l.sqlite``."""
    return ae.Servicer(DEAL, folder / "l.sqlite")


def _balances(tokens, spec) -> dict:
    out = {}
    for t in spec["tranches"]:
        for snap in t["snapshots"]:
            for line in Path(snap["holders"]).read_text().splitlines()[1:]:
                holder = line.split(",")[0]
                out[(snap["chain_id"], holder)] = tokens[snap["chain_id"]].balanceOf(holder)
    return out


def _end_state(ledger_path) -> list:
    ledger = ae.Ledger.open(ledger_path)
    return [(r["period"], r["content_id"], r["status"]) for r in ledger.instructions()]


def test_a_run_pays_every_period_once_and_a_second_run_does_nothing(tmp_path, chain):
    owner, tokens, dists = chain
    spec = _holders(tokens, dists)
    rows = run_bot(_servicer(tmp_path), COLLECTIONS, spec, tmp_path / "out", EvmBroadcaster(owner))
    assert {r["status"] for r in rows} == {"reconciled"} and {r["period"] for r in rows} == {1, 2, 3}
    statuses = _end_state(tmp_path / "l.sqlite")
    assert [s for _, _, s in statuses].count("reconciled") == len(rows)
    paid = _balances(tokens, spec)
    assert sum(paid.values()) > 0
    # every holder received what the three instructions say, to the unit
    servicer = ae.Servicer(DEAL, tmp_path / "l.sqlite")
    want: dict = {}
    for p in (1, 2, 3):
        s = settle(servicer.report(p), spec, ledger=servicer.ledger)
        for ins in s.instructions:
            for holder, amount in ins.transfers:
                want[(ins.chain_id, holder)] = want.get((ins.chain_id, holder), 0) + amount
    assert {k: v for k, v in paid.items() if v} == want
    assert sorted((tmp_path / "out").iterdir())[0].name == "period_1"
    again = run_bot(_servicer(tmp_path), COLLECTIONS, spec, tmp_path / "out", EvmBroadcaster(owner))
    assert again == rows and _end_state(tmp_path / "l.sqlite") == statuses and _balances(tokens, spec) == paid
    assert servicer.verify().ok


def test_killed_after_every_step_in_turn_it_resumes_and_pays_nobody_twice(tmp_path, chain):
    """Each run is killed right after the first step it records, and the next run resumes: so the
    bot is killed after every one of a life's steps (3 periods x (distributed, settled) and 3 per
    instruction: 24), each time resuming from the ledger alone."""
    owner, tokens, dists = chain
    spec = _holders(tokens, dists)
    broadcaster = EvmBroadcaster(owner)
    killed = []

    def kill(step, period, content_id):  # a step seen before is redone on a resume (settle): not killed again
        if (step, period, content_id) not in killed:
            killed.append((step, period, content_id))
            raise Killed(f"{step} of period {period}")

    for _ in range(100):
        try:
            rows = run_bot(_servicer(tmp_path), COLLECTIONS, spec, tmp_path / "out", broadcaster, on_step=kill)
            break
        except Killed:
            continue
    chains = {s["chain_id"] for t in spec["tranches"] for s in t["snapshots"]}
    assert len(killed) == 3 * (2 + 3 * len(chains)) == 24
    assert [k[0] for k in killed[:2]] == ["distributed", "settled"] and {k[0] for k in killed} == set(STEPS)
    assert {r["status"] for r in rows} == {"reconciled"}
    history = _end_state(tmp_path / "l.sqlite")
    for cid in {c for _, c, _ in history}:  # each step once, in order
        assert [s for _, c, s in history if c == cid] == ["built", "submitted", "confirmed", "reconciled"]
    # what every holder holds is what three periods pay: nothing was paid twice
    assert {k: v for k, v in _balances(tokens, spec).items() if v} == _owed(tmp_path / "l.sqlite", spec)
    assert _servicer(tmp_path).verify().ok


class _DiesAfterSending(EvmBroadcaster):
    """Sends, then dies before the bot can record the submission (the chain knows, the ledger not)."""

    def __init__(self, sender, times: int):
        super().__init__(sender)
        self.times = times

    def submit(self, instruction):
        detail = super().submit(instruction)
        if self.times:
            self.times -= 1
            raise Killed("after sending")
        return detail


def test_killed_inside_a_submission_it_does_not_send_again(tmp_path, chain):
    owner, tokens, dists = chain
    spec = _holders(tokens, dists)
    broadcaster = _DiesAfterSending(owner, times=2)
    for _ in range(2):
        with pytest.raises(Killed):
            run_bot(_servicer(tmp_path), COLLECTIONS, spec, tmp_path / "out", broadcaster)
    rows = run_bot(_servicer(tmp_path), COLLECTIONS, spec, tmp_path / "out", broadcaster)
    assert {r["status"] for r in rows} == {"reconciled"}
    rows_ = ae.Ledger.open(tmp_path / "l.sqlite").instructions()
    submitted = [r["detail"] for r in rows_ if r["status"] == "submitted"]
    assert submitted[0]["sent"] == []  # the resumed submission found its batch paid and sent nothing
    assert {k: v for k, v in _balances(tokens, spec).items() if v} == _owed(tmp_path / "l.sqlite", spec)


def _owed(ledger, spec) -> dict:
    """What the recorded periods' instructions pay each holder, summed."""
    want: dict = {}
    servicer = ae.Servicer(DEAL, ledger)
    for p in sorted(servicer.ledger.current()):
        for ins in settle(servicer.report(p), spec, ledger=servicer.ledger).instructions:
            for holder, amount in ins.transfers:
                want[(ins.chain_id, holder)] = want.get((ins.chain_id, holder), 0) + amount
    return want


def test_a_transfer_that_differs_stops_the_bot(tmp_path, chain):
    owner, tokens, dists = chain
    spec = _holders(tokens, dists)

    class Short(EvmBroadcaster):
        def confirm(self, instruction, submitted):
            observed = super().confirm(instruction, submitted)
            observed[0] = {**observed[0], "value": str(int(observed[0]["value"]) - 1)}
            return observed

    with pytest.raises(ReconciliationError, match="amount"):
        run_bot(_servicer(tmp_path), COLLECTIONS, spec, tmp_path / "out", Short(owner))
    assert "reconciled" not in [s for _, _, s in _end_state(tmp_path / "l.sqlite")]


def test_collections_that_differ_from_the_recorded_ones_are_refused(tmp_path, chain):
    owner, tokens, dists = chain
    spec = _holders(tokens, dists)
    folder = tmp_path / "collections"
    shutil.copytree(COLLECTIONS, folder)
    run_bot(_servicer(tmp_path), folder, spec, tmp_path / "out", EvmBroadcaster(owner))
    text = (folder / "period_2.yaml").read_text()
    (folder / "period_2.yaml").write_text(text.replace("exercise_call: false", "exercise_call: true")
                                          if "exercise_call: false" in text else text + "exercise_call: true\n")
    with pytest.raises(ae.LedgerError, match="differs? from the recorded ones?"):
        run_bot(_servicer(tmp_path), folder, spec, tmp_path / "out", EvmBroadcaster(owner))


_DRIVER = """
import os, sys
from abs_engine.settlement.instruction import settle
from abs_engine import Servicer
from abs_engine.settlement.bot import SafeFiles, run_bot
kill_at = int(sys.argv[1]); n = [0]
def step(*args):
    if n[0] == kill_at:
        os._exit(9)  # a real kill: no cleanup, no finally
    n[0] += 1
run_bot(Servicer(sys.argv[2], sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6], SafeFiles(sys.argv[7]), on_step=step)
"""


def _observed_files(folder: Path, out: Path) -> None:
    """What the Safe's signers export once they executed every batch written so far."""
    for batch in folder.glob("*_safe_batch.json"):
        period, chain = batch.name.split("_")[1], batch.name.split("_")[3]
        ins = json.loads((out / f"period_{period}" / f"chain_{chain}_calldata.json").read_text())
        transfers = [{"to": t["recipient"], "value": t["amount"]} for t in ins["transfers"]]
        (folder / batch.name.replace("_safe_batch", "_observed")).write_text(json.dumps(transfers))


@pytest.mark.parametrize(("passes", "kill_at"), [(0, 0), (0, 3), (1, 1), (1, 5)])
def test_a_process_killed_at_a_step_resumes_with_the_safe_files_broadcaster(tmp_path, passes, kill_at):
    """A run with the Safe-files broadcaster stops at each confirmation it cannot see yet: the
    first pass distributes, settles and submits period 1 (steps 0-3); once the signers exported
    its transfers, the second confirms and reconciles it and goes on to period 2. The process is
    killed at a step of one of these passes."""
    holders = tmp_path / "holders.yaml"
    holders.write_text(yaml.safe_dump(_holders()))
    safe, out, ledger = tmp_path / "safe", tmp_path / "out", tmp_path / "l.sqlite"
    args = [str(DEAL), str(ledger), str(COLLECTIONS), str(holders), str(out), str(safe)]
    for _ in range(passes):
        run_bot(ae.Servicer(*args[:2]), *args[2:5], SafeFiles(safe))
        _observed_files(safe, out)
    done = subprocess.run([sys.executable, "-c", _DRIVER, str(kill_at), *args], capture_output=True, text=True)
    assert done.returncode == 9, done.stderr
    for _ in range(4):  # each run submits what it can; the signers execute; the next run confirms
        rows = run_bot(ae.Servicer(*args[:2]), *args[2:5], SafeFiles(safe))
        _observed_files(safe, out)
    rows = run_bot(ae.Servicer(*args[:2]), *args[2:5], SafeFiles(safe))
    assert {r["status"] for r in rows} == {"reconciled"} and {r["period"] for r in rows} == {1, 2, 3}
    assert ae.Servicer(DEAL, ledger).verify().ok
    history = _end_state(ledger)
    for cid in {c for _, c, _ in history}:
        assert [s for _, c, s in history if c == cid] == ["built", "submitted", "confirmed", "reconciled"]


def test_the_cli_runs_the_bot_with_the_safe_files_broadcaster(tmp_path, capsys):
    from abs_engine.cli import main

    holders = tmp_path / "holders.yaml"
    holders.write_text(yaml.safe_dump(_holders()))
    argv = ["advance", str(DEAL), "--ledger", str(tmp_path / "l.sqlite"), "--collections", str(COLLECTIONS),
            "--holders", str(holders), "--out", str(tmp_path / "out")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "period 1" in out and "submitted" in out and "pending" in out
    assert (tmp_path / "out" / "safe" / "period_1_chain_1_safe_batch.json").exists()
