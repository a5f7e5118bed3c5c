"""Settlement: a period's distribution as exact integer payouts per holder, and the canonical
onchain instruction that pays them.

Money here is Python ``int`` in the payment token's base units, never float or int64:

* each tranche's period amounts (interest, principal; the residual class's cash) plus the
  remainder carried from the previous period are rounded down to base units, from the float's
  exact decimal value; what rounding leaves (less than one base unit) is carried to the next
  period in the ledger, never dropped;
* a tranche's base units are split across its holders at the record block (every chain its
  token lives on) by largest remainder, ties by holder order, so shares add up exactly; holder
  order is canonical (chain id, then address), not the order of the file, so a reordered
  snapshot gives the same payouts and the same content id; interest and principal stay
  separate per holder;
* holders not on the allow list are withheld into a claimable bucket (reported), so totals stay
  exact; payouts are aggregated per recipient into one instruction per chain.

The instruction's content id is the keccak-256 of its ABI encoding
``(uint256 chainId, address token, address source, bytes32 dealId, uint256 period,
address[] recipients, uint256[] amounts)`` with recipients in ascending address order, so the
same period always yields the same id, whatever the order of the input files.

Allocation is in :mod:`abs_engine.settlement.allocation`, the instruction's lifecycle in
:mod:`abs_engine.settlement.lifecycle`. Settlement reads period reports (or a projection's
periods); it never imports the kernels.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Any

from ..errors import SpecError
from ..io.display import Shown
from ..servicing.ledger import Ledger, LedgerError, keccak_hex
from .allocation import (
    PeriodAmounts,
    _check_amounts,
    _units,
    load_settlement_spec,
    period_amounts,
    split_largest_remainder,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Instruction", "Batch", "BATCH_SIZE", "MAX_BATCH_SIZE", "Settlement", "settle", "BackingError",
           "RELEASE_BASE"]

RELEASE_BASE = 2**62
"""A release of withheld payouts is paid under its own id, ``RELEASE_BASE + period`` (the period
as of which it releases), so the distributors' once-per-period guard covers it too."""
BATCH_SIZE = 256
"""Recipients per call of the batch distributor (``Instruction.batches``). Measured in the EVM
(tests/settlement/test_settlement.py, a 100,000-holder chain): a median of 25,607 gas per recipient whose
token balance was zero, so a batch of 256 costs about 6.6 M gas, well inside a 30 M block."""
MAX_BATCH_SIZE = 512
"""``MAX_RECIPIENTS`` of ``contracts/BatchDistributor.vy``."""
class BackingError(RuntimeError):
    """The notes are not backed: tranche tokens outstanding exceed the pool plus cash."""


# ---------------------------------------------------------------- integers


class _Payout:
    """What an instruction and its batches share: transfers, their total, and a content id that is
    the keccak-256 of ``abi.encode(<head fields>, address[] recipients, uint256[] amounts)``."""

    transfers: tuple[tuple[str, int], ...]

    def _head(self) -> list[tuple[str, Any]]:
        raise NotImplementedError

    @property
    def total(self) -> int:
        return sum(a for _, a in self.transfers)

    def encoded(self) -> bytes:
        from eth_abi import encode  # deferred: only onchain encodings need eth-abi

        head = self._head()
        return encode([t for t, _ in head] + ["address[]", "uint256[]"],
                      [v for _, v in head] + [[r for r, _ in self.transfers], [a for _, a in self.transfers]])

    @property
    def content_id(self) -> str:
        """keccak-256 of the canonical ABI encoding (see the module doc)."""
        return keccak_hex(self.encoded())


@dataclass(frozen=True)
class Instruction(_Payout):
    """One chain's payout for a period: (recipient, amount) in ascending recipient order."""

    chain_id: int
    token: str
    source: str
    deal_id: str
    period: int
    transfers: tuple[tuple[str, int], ...]

    def _head(self) -> list[tuple[str, Any]]:
        return [("uint256", self.chain_id), ("address", self.token), ("address", self.source),
                ("bytes32", bytes.fromhex(self.deal_id[2:])), ("uint256", self.period)]

    def to_dict(self) -> dict:
        return {"chain_id": self.chain_id, "token": self.token, "source": self.source, "deal_id": self.deal_id,
                "period": self.period, "content_id": self.content_id, "total": str(self.total),
                "transfers": [{"recipient": r, "amount": str(a)} for r, a in self.transfers]}

    def batches(self, size: int = BATCH_SIZE) -> tuple[Batch, ...]:
        """The transfers in consecutive batches of at most ``size`` recipients (the batch
        distributor pays one batch per call)."""
        if not 1 <= size <= MAX_BATCH_SIZE:
            raise SpecError("batch_size", size, f"a batch size in [1, {MAX_BATCH_SIZE}] (the contract's bound)")
        return tuple(Batch(self, k, self.transfers[at:at + size])
                     for k, at in enumerate(range(0, len(self.transfers), size)))


@dataclass(frozen=True)
class Batch(_Payout):
    """Part ``index`` of an instruction's transfers, paid by one call of the batch distributor. Its
    content id is ``keccak256(abi.encode(uint256 chainId, address token, address source, bytes32
    dealId, uint256 period, uint256 batch, address[] recipients, uint256[] amounts))``, which the
    contract recomputes from the call's arguments."""

    instruction: Instruction
    index: int
    transfers: tuple[tuple[str, int], ...]

    def _head(self) -> list[tuple[str, Any]]:
        return [*self.instruction._head(), ("uint256", self.index)]


@dataclass(repr=False)
class Settlement(Shown):
    """A period's allocation and its instructions (one per chain)."""

    deal: str
    deal_id: str
    period: int
    payment_date: str | None
    decimals: int
    instructions: tuple[Instruction, ...]
    allocations: list[dict]                      # tranche, chain_id, holder, kind, amount, withheld
    tranche_units: dict[str, dict[str, int]]
    carry_in: dict[str, dict[str, str]]
    carry_out: dict[str, dict[str, str]]
    withheld: dict[int, dict[str, int]]          # chain -> holder -> amount
    backing: dict[str, float]
    override_reason: str | None = None
    nav: dict[str, dict] = field(default_factory=dict)

    def allocation_frame(self) -> pd.DataFrame:
        import pandas as pd  # deferred: a projection without tables never imports pandas

        return pd.DataFrame(self.allocations, columns=["tranche", "chain_id", "holder", "kind", "amount", "withheld"])

    def check(self) -> dict[str, bool]:
        """Exactness: per tranche and kind, holders' amounts (paid + withheld) = the tranche's base
        units; per chain, the instruction's total + withheld = what its holders were allocated."""
        ok_tranche = all(
            sum(r["amount"] for r in self.allocations if r["tranche"] == t and r["kind"] == k) == units
            for t, kinds in self.tranche_units.items() for k, units in kinds.items())
        ok_chain = all(
            ins.total + sum(self.withheld.get(ins.chain_id, {}).values())
            == sum(r["amount"] for r in self.allocations if r["chain_id"] == ins.chain_id)
            for ins in self.instructions)
        return {"tranches": ok_tranche, "chains": ok_chain}

    def _display(self):
        import pandas as pd  # deferred: a projection without tables never imports pandas

        ok = self.check()
        items = [("deal", f"{self.deal} ({self.deal_id})"), ("period", f"{self.period}, paid {self.payment_date}"),
                 ("units", f"{self.decimals}-decimal base units (integers)"),
                 ("exact", "holders add up to every tranche and chain" if all(ok.values()) else f"NOT EXACT: {ok}"),
                 ("backing", f"tokens outstanding {self.backing['tokens_outstanding']:,.2f} <= pool + cash "
                             f"{self.backing['assets']:,.2f}: {self.backing['backed']}"
                             + (f" (override: {self.override_reason})" if self.override_reason else ""))]
        rows = [{"chain_id": i.chain_id, "token": i.token, "recipients": len(i.transfers), "total": str(i.total),
                 "withheld": str(sum(self.withheld.get(i.chain_id, {}).values())), "content_id": i.content_id}
                for i in self.instructions]
        frame = pd.DataFrame(rows, columns=["chain_id", "token", "recipients", "total", "withheld", "content_id"])
        return "Settlement", items, [("instructions (amounts in base units)", frame.set_index("chain_id"))]

    def summary(self) -> dict:
        return {"deal": self.deal, "deal_id": self.deal_id, "period": self.period, "decimals": self.decimals,
                "instructions": [i.to_dict() for i in self.instructions],
                "tranche_units": {t: {k: str(v) for k, v in kinds.items()} for t, kinds in self.tranche_units.items()},
                "carry_in": self.carry_in, "carry_out": self.carry_out,
                "withheld": {str(c): {h: str(a) for h, a in w.items()} for c, w in self.withheld.items()},
                "backing": self.backing, "override_reason": self.override_reason, "nav": self.nav}


def settle(source, settlement_spec, *, period: int | None = None, carry: Mapping[str, Mapping[str, str]] | None = None,
           override_reason: str | None = None, ledger: Ledger | None = None, nav_decimals: int = 18,
           timestamp: int | None = None) -> Settlement:
    """Allocate a period (a :class:`PeriodReport`, or a projection and ``period``) to holders and
    build its instructions, after the checks: checksummed and consistent snapshots, a payment
    token that neither charges fees on transfer nor rebases, and proof of backing (refused with
    :class:`BackingError` unless ``override_reason`` states why, which is recorded).

    With a ``ledger``, the remainder carried from the previous period is read from it, and a
    period already submitted is never rebuilt with a different content id (:class:`LedgerError`);
    record the result with :func:`record`.
    """
    pa = source if isinstance(source, PeriodAmounts) else period_amounts(source, period)
    spec, holders, allowed = load_settlement_spec(settlement_spec)
    if spec.deal is not None and spec.deal != pa.deal:
        raise SpecError("deal", spec.deal, f"the deal of the period report ({pa.deal!r})")
    dec = spec.payment_token.decimals
    for h in holders:
        if h.tranche not in pa.amounts:
            raise SpecError("tranches", h.tranche, f"a tranche of the deal ({sorted(pa.amounts)})")

    _check_amounts(pa, dec)

    # proof of backing: tranche tokens outstanding x factor against the pool plus cash
    outstanding = 0.0
    for name in {h.tranche for h in holders} & set(pa.note_balance):
        supply = sum(Decimal(h.total_supply).scaleb(-h.decimals) for h in holders if h.tranche == name)
        orig = pa.note_original.get(name, float("nan"))
        factor = pa.note_balance[name] / orig if orig and orig == orig else 1.0
        outstanding += float(supply) * factor
    assets = pa.pool_balance + pa.cash
    backing = {"tokens_outstanding": outstanding, "pool_balance": pa.pool_balance, "cash": pa.cash,
               "assets": assets, "backed": outstanding <= assets * (1 + 1e-12) + 0.01}
    if not backing["backed"] and not override_reason:
        raise BackingError(f"period {pa.period}: tranche tokens outstanding {outstanding:,.2f} exceed the pool "
                           f"balance plus cash {assets:,.2f}; nothing emitted (override with a stated reason)")

    if carry is None and ledger is not None:
        carry = _carry_from_ledger(ledger, pa.period)
    carry = carry or {}
    allocations: list[dict] = []
    per_chain: dict[int, dict[str, int]] = {}
    withheld: dict[int, dict[str, int]] = {}
    tranche_units: dict[str, dict[str, int]] = {}
    carry_in: dict[str, dict[str, str]] = {}
    carry_out: dict[str, dict[str, str]] = {}
    for name in [t.tranche for t in spec.tranches]:
        snaps = [h for h in holders if h.tranche == name]
        members = [(h.chain_id, a, b) for h in snaps for a, b in zip(h.addresses, h.balances, strict=True)]
        tranche_units[name], carry_in[name], carry_out[name] = {}, {}, {}
        for kind, amount in pa.amounts[name].items():
            c_in = Decimal(carry.get(name, {}).get(kind, "0"))
            units, c_out = _units(amount, c_in, dec)
            tranche_units[name][kind] = units
            carry_in[name][kind], carry_out[name][kind] = str(c_in), str(c_out)
            shares = split_largest_remainder(units, [b for _, _, b in members])
            for (chain, addr, _), share in zip(members, shares, strict=True):
                held = allowed is not None and addr not in allowed
                allocations.append({"tranche": name, "chain_id": chain, "holder": addr, "kind": kind,
                                    "amount": share, "withheld": held})
                bucket = withheld if held else per_chain
                d = bucket.setdefault(chain, {})
                d[addr] = d.get(addr, 0) + share
    instructions = []
    for chain in sorted({h.chain_id for h in holders}):
        paid = per_chain.get(chain, {})
        transfers = tuple(sorted(((a, v) for a, v in paid.items() if v > 0), key=lambda x: x[0].lower()))
        instructions.append(Instruction(chain, spec.payment_token.addresses[chain], spec.source[chain], pa.deal_id,
                                        pa.period, transfers))
    nav = {}
    for name in pa.note_balance:
        snaps = [h for h in holders if h.tranche == name]
        if not snaps:
            continue
        supply = sum(Decimal(h.total_supply).scaleb(-h.decimals) for h in snaps)
        value = (Decimal(repr(pa.note_balance[name])) / supply).scaleb(nav_decimals) if supply else Decimal(0)
        nav[name] = {"value": str(int(value.to_integral_value(rounding=ROUND_FLOOR))), "decimals": nav_decimals,
                     "period": pa.period, "timestamp": timestamp if timestamp is not None else _timestamp(pa)}
    out = Settlement(pa.deal, pa.deal_id, pa.period, pa.payment_date, dec, tuple(instructions), allocations,
                     tranche_units, carry_in, carry_out, {c: w for c, w in withheld.items() if any(w.values())},
                     backing, override_reason if not backing["backed"] else None, nav)
    if ledger is not None:
        _guard(ledger, out)
    return out


def _timestamp(pa: PeriodAmounts) -> int:
    if pa.payment_date is None:
        return 0
    d = dt.date.fromisoformat(pa.payment_date)
    return int(dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC).timestamp())


# ---------------------------------------------------------------- ledger lifecycle


def _carry_from_ledger(ledger: Ledger, period: int) -> dict:
    rows = [r for r in ledger.instructions() if r["status"] == "built" and r["period"] < period]
    return rows[-1]["detail"]["carry_out"] if rows else {}


def _guard(ledger: Ledger, s: Settlement) -> None:
    for ins in s.instructions:
        rows = [r for r in ledger.instructions(s.period) if r["detail"].get("chain_id") == ins.chain_id]
        sent = [r for r in rows if r["status"] != "built"]
        if sent and any(r["content_id"] != ins.content_id for r in sent):
            raise LedgerError(f"period {s.period} on chain {ins.chain_id} was {sent[-1]['status']} with content id "
                              f"{sent[-1]['content_id']}; refusing to emit a different one ({ins.content_id})")


