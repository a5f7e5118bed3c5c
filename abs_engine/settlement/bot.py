"""A settlement bot that runs itself: every period whose collections are present and not yet done
goes distribute → settle → submit → confirm → reconcile, each step recorded in the ledger before
the next begins, so a run killed at any point resumes where it stopped and does nothing twice.

Per period ``p`` (in order; a missing period stops the run):

1. **distribute**: the servicer records the period from its collections file (skipped when it
   is recorded; a file whose content differs from the recorded inputs is refused: a change is a
   restatement, made on purpose with ``Servicer.restate``). A period whose instructions are all
   reconciled is done: only its report's header is compared again, not its tape;
2. **settle**: the allocation and one instruction per chain (:func:`~.instruction.settle`,
   after its allow-list and proof-of-backing checks), recorded as ``built``
   (:func:`~.lifecycle.record`, once per content id), its files written as a set into
   ``out/period_<p>/`` (settlement, calldata, Safe batch, Merkle claims; rewritten identically on a
   resume);
3. **submit**: each ``built`` instruction through the broadcaster, then recorded ``submitted``
   with what the broadcaster says (batches, transaction references);
4. **confirm**: the broadcaster's observed ERC-20 transfers, recorded ``confirmed``; a broadcaster
   that cannot see them yet (``None``) leaves the instruction submitted and the run stops there
   (the next run asks again);
5. **reconcile**: the observed transfers against the instruction
   (:func:`~.lifecycle.reconcile`); all equal: ``reconciled``; otherwise the run stops with a
   :class:`ReconciliationError` naming each difference, and the instruction stays ``confirmed``.

A kill between a broadcaster's submission and its ``submitted`` row is the one window where the
chain knows more than the ledger: a broadcaster must make ``submit`` idempotent per instruction.
The batch distributor makes it so on chain (each ``(period, batch)`` is paid once, under its
content id): :class:`EvmBroadcaster` asks it which batches are paid before it sends any, and
sends only the others.

Broadcasters (:class:`Broadcaster`): :class:`SafeFiles` writes Safe Transaction Builder batches
for people to sign and reads the transfers they export; :class:`EvmBroadcaster` executes the
batch distributor's calls in titanoboa's in-process EVM (the tests' chain). A broadcaster that
opens a network connection is the user's: any object with ``submit`` and ``confirm``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from ..errors import SpecError
from ..io.files import load_spec, write_atomic, write_file_set
from ..servicing.ledger import LedgerError
from ..spec.collection_report import CollectionReport
from .allocation import load_settlement_spec
from .instruction import Instruction, settle
from .lifecycle import STATUSES, advance, reconcile, record
from .renderings import calldata, merkle_claims, safe_batch

__all__ = ["Broadcaster", "SafeFiles", "EvmBroadcaster", "ReconciliationError", "run_bot", "STEPS"]

STEPS = ("distributed", "settled", "submitted", "confirmed", "reconciled")
"""The steps of a period, in order; the bot calls ``on_step(step, period, content_id)`` after each
is recorded (``content_id`` ``None`` for the first two)."""


class ReconciliationError(RuntimeError):
    """Observed transfers differ from the instruction: nothing more is done for it."""


class Broadcaster(Protocol):
    """What the bot submits through. ``submit`` sends an instruction (idempotently: a second call
    for an instruction already sent sends nothing) and returns a JSON-able record of what it did;
    ``confirm`` returns the transfers observed on chain for it (``[{"to", "value"}]``), or
    ``None`` while they are not known yet."""

    def submit(self, instruction: Instruction) -> dict: ...

    def confirm(self, instruction: Instruction, submitted: Mapping[str, Any]) -> list[dict] | None: ...


class SafeFiles:
    """Submission as files for a Safe: each instruction's Transaction Builder batch is written to
    ``folder/period_<p>_chain_<c>_safe_batch.json`` (the signers load, sign and execute it); its
    confirmation is ``folder/period_<p>_chain_<c>_observed.json``, the ERC-20 transfers the
    operator exports once executed (``[{"to": ..., "value": ...}]``), until then pending."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def _stem(self, ins: Instruction) -> str:
        return f"period_{ins.period}_chain_{ins.chain_id}"

    def submit(self, instruction: Instruction) -> dict:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{self._stem(instruction)}_safe_batch.json"
        batch = safe_batch(instruction)
        write_atomic(str(path), lambda tmp: Path(tmp).write_text(json.dumps(batch, indent=2) + "\n"))
        return {"broadcaster": "safe-files", "safe_batch": path.name, "checksum": batch["meta"]["checksum"]}

    def confirm(self, instruction: Instruction, submitted: Mapping[str, Any]) -> list[dict] | None:
        path = self.folder / f"{self._stem(instruction)}_observed.json"
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        if not isinstance(data, list):
            raise SpecError("transfers", type(data).__name__, "a list of {to, value} transfers", file=str(path))
        return [{"to": str(e["to"]), "value": str(int(e["value"]))} for e in data]


class EvmBroadcaster:
    """Submission to the batch distributor at each instruction's ``source`` in titanoboa's
    in-process EVM (``pip install abs_engine[evm]``), from ``sender`` (its owner), one call per
    batch, with the chain id set to the instruction's. Before sending, it reads the distributor's
    ``paid(period, batch)``: a batch already paid under the instruction's content id is not sent
    again (a batch paid under another id is an error). The transfers each call emitted, decoded
    from the EVM's logs, are what ``confirm`` observes."""

    TRANSFER = "Transfer(address,address,uint256)"

    def __init__(self, sender: str):
        self.sender = sender
        self._observed: dict[str, list[dict]] = {}

    def submit(self, instruction: Instruction) -> dict:
        import boa  # deferred: the in-process EVM is the evm extra's
        from eth_utils import keccak, to_checksum_address  # deferred: as boa

        topic = int.from_bytes(keccak(text=self.TRANSFER), "big")
        calls = calldata(instruction)["distributor_calls"]
        distributor = boa.env.lookup_contract(instruction.source)
        if distributor is None:
            raise LedgerError(f"no contract at {instruction.source} in this EVM")
        old = boa.env.evm.patch.chain_id
        boa.env.evm.patch.chain_id = instruction.chain_id
        sent, seen = [], self._observed.setdefault(instruction.content_id, [])
        try:
            for call in calls:
                paid = "0x" + bytes(distributor.paid(instruction.period, call["batch"])).hex()
                if paid == call["content_id"]:
                    continue  # sent before (a resumed run): the chain says so
                if int(paid, 16):
                    raise LedgerError(f"batch {call['batch']} of period {instruction.period} was paid under "
                                      f"{paid}, not {call['content_id']}")
                computation = boa.env.raw_call(call["to"], sender=self.sender, data=bytes.fromhex(call["data"][2:]))
                for address, topics, data in computation.get_log_entries():
                    if to_checksum_address(address) == instruction.token and topics[0] == topic and \
                            to_checksum_address(topics[1].to_bytes(32, "big")[-20:]) == instruction.source:
                        seen.append({"to": to_checksum_address(topics[2].to_bytes(32, "big")[-20:]),
                                     "value": str(int.from_bytes(data, "big"))})
                sent.append(call["batch"])
        finally:
            boa.env.evm.patch.chain_id = old
        return {"broadcaster": "evm", "batches": len(calls), "sent": sent}

    def confirm(self, instruction: Instruction, submitted: Mapping[str, Any]) -> list[dict] | None:
        return list(self._observed.get(instruction.content_id, []))


def _reconciled(ledger, period: int) -> dict[int, str]:
    """The chains whose instruction of ``period`` is reconciled, with its content id."""
    return {r["detail"]["chain_id"]: r["content_id"] for r in ledger.instructions(period)
            if r["status"] == "reconciled"}


def _status(ledger, content_id: str) -> tuple[str, dict[str, dict]]:
    """An instruction's latest status and each status's detail."""
    rows = [r for r in ledger.instructions() if r["content_id"] == content_id]
    details = {r["status"]: r["detail"] for r in rows}
    return max((r["status"] for r in rows), key=STATUSES.index), details


def _periods(folder: Path) -> list[tuple[int, Path, CollectionReport]]:
    """The collections files in ``folder`` (``*.yaml``, ``*.yml``, ``*.json``) by their period, with
    their headers (a tape is read only when its period is processed)."""
    out = {}
    heads = {}
    for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in (".yaml", ".yml", ".json")):
        head = load_spec(CollectionReport, path)[0]
        p = head.period
        heads[p] = head
        if p in out:
            raise SpecError("period", p, f"one collections file per period ({out[p].name} and {path.name})",
                            file=str(path))
        out[p] = path
    return [(p, out[p], heads[p]) for p in sorted(out)]


def run_bot(servicer, collections: str | Path, holders, out: str | Path, broadcaster: Broadcaster, *,
            on_step: Callable[[str, int, str | None], None] | None = None) -> list[dict]:
    """Run every period whose collections are in folder ``collections`` and not yet reconciled
    (see the module doc), with ``servicer`` (an :class:`abs_engine.Servicer`: the deal and its
    ledger), ``holders`` the settlement inputs (:func:`~.instruction.settle`), ``out`` the
    folder for each period's files. Returns one row per instruction: ``period``, ``chain_id``,
    ``content_id``, ``status`` (``submitted`` when its confirmation is pending)."""
    folder, out = Path(collections), Path(out)
    if not folder.is_dir():
        raise SpecError("collections", str(folder), "a folder of collections files (one per period)")
    out.mkdir(parents=True, exist_ok=True)
    step = on_step or (lambda *_: None)
    _spec, snapshots, _allowed = load_settlement_spec(holders)
    chains = {h.chain_id for h in snapshots}
    rows: list[dict] = []
    for period, path, head in _periods(folder):
        current = servicer.ledger.current()
        done = _reconciled(servicer.ledger, period)
        if period in current and set(done) == chains:  # every chain's instruction reconciled: nothing to do
            if head.model_dump(mode="json", exclude={"loans"}) != json.loads(current[period].inputs)["report"]:
                raise LedgerError(f"{path.name}: period {period}'s report differs from the recorded one (a change "
                                  "is a restatement: Servicer.restate)")
            rows += [{"period": period, "chain_id": c, "content_id": cid, "status": "reconciled"}
                     for c, cid in sorted(done.items())]
            continue
        if period in current:
            if not servicer.is_recorded(path):
                raise LedgerError(f"{path.name}: period {period}'s collections differ from the recorded ones "
                                  "(a change is a restatement: Servicer.restate)")
        else:
            servicer.distribute(path)  # (a gap: its error names the period expected)
            step("distributed", period, None)
        s = settle(servicer.report(period), holders, ledger=servicer.ledger)
        record(servicer.ledger, s)
        files = {"settlement.json": s.summary()}
        for ins in s.instructions:
            files[f"chain_{ins.chain_id}_calldata.json"] = calldata(ins)
            files[f"chain_{ins.chain_id}_safe_batch.json"] = safe_batch(ins)
            files[f"chain_{ins.chain_id}_merkle.json"] = merkle_claims(ins)
        write_file_set(out / f"period_{period}", {n: json.dumps(c, indent=2) + "\n" for n, c in files.items()})
        step("settled", period, None)
        pending = False
        for ins in s.instructions:
            cid = ins.content_id
            status, details = _status(servicer.ledger, cid)
            if status == "built":
                advance(servicer.ledger, cid, "submitted", broadcaster.submit(ins))
                step("submitted", period, cid)
                status, details = _status(servicer.ledger, cid)
            if status == "submitted":
                observed = broadcaster.confirm(ins, details["submitted"])
                if observed is None:
                    pending = True
                    rows.append({"period": period, "chain_id": ins.chain_id, "content_id": cid, "status": status})
                    continue
                advance(servicer.ledger, cid, "confirmed", {"transfers": observed})
                step("confirmed", period, cid)
                status, details = _status(servicer.ledger, cid)
            if status == "confirmed":
                differences = reconcile(ins, details["confirmed"]["transfers"])
                if not differences.empty:
                    raise ReconciliationError(f"period {period}, chain {ins.chain_id} ({cid}): observed transfers "
                                              f"differ from the instruction:\n{differences.to_string(index=False)}")
                advance(servicer.ledger, cid, "reconciled", {"differences": 0})
                step("reconciled", period, cid)
                status = "reconciled"
            rows.append({"period": period, "chain_id": ins.chain_id, "content_id": cid, "status": status})
        if pending:  # later periods wait for this one's confirmation
            break
    return rows
