"""An instruction's lifecycle in the ledger: recorded when built, then submitted, confirmed and
reconciled against what the chain shows; withheld payouts released when their holders are
allowed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import SpecError
from ..servicing.ledger import Ledger, LedgerError
from .allocation import load_settlement_spec
from .instruction import RELEASE_BASE, Instruction, Settlement, _guard

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["STATUSES", "record", "release_withheld", "advance", "reconcile"]

STATUSES = ("built", "submitted", "confirmed", "reconciled")
def record(ledger: Ledger, s: Settlement) -> None:
    """Record each instruction as ``built`` (once per content id), with the carried remainders."""
    _guard(ledger, s)
    have = {r["content_id"] for r in ledger.instructions(s.period)}
    for ins in s.instructions:
        if ins.content_id in have:
            continue
        ledger.record_instruction(s.period, ins.content_id, "built", {
            "chain_id": ins.chain_id, "total": str(ins.total), "carry_in": s.carry_in, "carry_out": s.carry_out,
            "withheld": {h: str(a) for h, a in s.withheld.get(ins.chain_id, {}).items()},
            "override_reason": s.override_reason, "backing": s.backing})


def release_withheld(ledger: Ledger, settlement_spec, *, as_of: int) -> tuple[Instruction, ...]:
    """The claimable bucket: payouts withheld in periods up to ``as_of`` from holders who are on
    the allow list now, and not yet released, as one instruction per chain with the id
    ``RELEASE_BASE + as_of``; the funds are those that stayed with each chain's source. Recorded
    as ``built`` (detail ``kind: release``) like any instruction."""
    spec, _holders_, allowed = load_settlement_spec(settlement_spec)
    rows = ledger.instructions()
    deal = ledger.deal_id
    owed: dict[int, dict[str, int]] = {}
    for r in rows:
        d = r["detail"]
        if r["status"] != "built":
            continue
        if d.get("kind") == "release":
            if d["as_of"] == as_of:  # this release itself: rebuilt identically, not subtracted
                continue
            for h, a in d["released"].items():
                owed.setdefault(d["chain_id"], {})[h] = owed.get(d["chain_id"], {}).get(h, 0) - int(a)
        elif r["period"] <= as_of:
            for h, a in d.get("withheld", {}).items():
                owed.setdefault(d["chain_id"], {})[h] = owed.get(d["chain_id"], {}).get(h, 0) + int(a)
    out = []
    for chain in sorted(owed):
        pay = {h: a for h, a in owed[chain].items() if a > 0 and (allowed is None or h in allowed)}
        if not pay:
            continue
        ins = Instruction(chain, spec.payment_token.addresses[chain], spec.source[chain], deal, RELEASE_BASE + as_of,
                          tuple(sorted(pay.items(), key=lambda x: x[0].lower())))
        if not any(r["content_id"] == ins.content_id for r in rows):
            ledger.record_instruction(ins.period, ins.content_id, "built", {
                "chain_id": chain, "kind": "release", "as_of": as_of, "total": str(ins.total),
                "released": {h: str(a) for h, a in ins.transfers}})
        out.append(ins)
    return tuple(out)


def advance(ledger: Ledger, content_id: str, status: str, detail: Mapping[str, Any] | None = None) -> None:
    """Move an instruction along ``built -> submitted -> confirmed -> reconciled`` (e.g. with the
    transaction hash); statuses never go back."""
    if status not in STATUSES[1:]:
        raise SpecError("status", status, f"one of {list(STATUSES[1:])}")
    rows = [r for r in ledger.instructions() if r["content_id"] == content_id]
    if not rows:
        raise LedgerError(f"no instruction with content id {content_id}")
    last = max(STATUSES.index(r["status"]) for r in rows)
    if STATUSES.index(status) <= last:
        raise LedgerError(f"instruction {content_id} is already {STATUSES[last]}")
    ledger.record_instruction(rows[0]["period"], content_id, status,
                              {"chain_id": rows[0]["detail"]["chain_id"], **(detail or {})})


def reconcile(instruction: Instruction, observed: Sequence[Any]) -> pd.DataFrame:
    """Compare observed transfers (ERC-20 ``Transfer`` events as dicts with ``to`` and ``value``,
    or ``(to, value)`` pairs) with the instruction; one row per recipient whose received amount
    differs (missing, short, over, or not in the instruction). Empty when it all matches."""
    import pandas as pd  # deferred: a projection without tables never imports pandas

    got: dict[str, int] = {}
    for e in observed:
        to, value = (e["to"], e["value"]) if isinstance(e, Mapping) else (e[0], e[1])
        got[str(to).lower()] = got.get(str(to).lower(), 0) + int(value)
    want = {r.lower(): a for r, a in instruction.transfers}
    rows = []
    for r in sorted(set(got) | set(want)):
        e, o = want.get(r, 0), got.get(r, 0)
        if e != o:
            rows.append({"recipient": r, "expected": e, "observed": o, "difference": o - e,
                         "issue": "missing" if o == 0 else ("unexpected" if e == 0 else "amount")})
    return pd.DataFrame(rows, columns=["recipient", "expected", "observed", "difference", "issue"])
