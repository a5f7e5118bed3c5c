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

Settlement reads period reports (or a projection's periods); it never imports the kernels.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import SpecError
from ..io.files import load_spec, read_table
from ..servicing.ledger import Ledger, LedgerError, keccak_hex
from ..servicing.reports import PeriodReport, deal_id
from ..spec.settlement import SettlementSpec, base_units

if TYPE_CHECKING:
    import pandas as pd

    from ..servicing.reports import PeriodReport

__all__ = ["Holders", "Instruction", "Batch", "BATCH_SIZE", "MAX_BATCH_SIZE", "Settlement", "load_settlement_spec", "split_largest_remainder",
           "period_amounts", "settle", "record", "advance", "reconcile", "release_withheld", "BackingError",
           "STATUSES", "RELEASE_BASE"]

STATUSES = ("built", "submitted", "confirmed", "reconciled")
RELEASE_BASE = 2**62
"""A release of withheld payouts is paid under its own id, ``RELEASE_BASE + period`` (the period
as of which it releases), so the distributors' once-per-period guard covers it too."""
KINDS = ("interest", "principal", "residual")
BATCH_SIZE = 256
"""Recipients per call of the batch distributor (``Instruction.batches``). Measured in the EVM
(tests/settlement/test_settlement.py, a 100,000-holder chain): a median of 25,607 gas per recipient whose
token balance was zero, so a batch of 256 costs about 6.6 M gas, well inside a 30 M block."""
MAX_BATCH_SIZE = 512
"""``MAX_RECIPIENTS`` of ``contracts/BatchDistributor.vy``."""
UINT256_MAX = 2**256 - 1


class BackingError(RuntimeError):
    """The notes are not backed: tranche tokens outstanding exceed the pool plus cash."""


# ---------------------------------------------------------------- integers


def split_largest_remainder(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` base units in proportion to ``weights`` exactly: each share is rounded
    down, and the units left go one each to the largest remainders, ties by position.

    >>> split_largest_remainder(10, [1, 1, 1])
    [4, 3, 3]
    >>> split_largest_remainder(10**30 + 1, [2, 1])
    [666666666666666666666666666667, 333333333333333333333333333334]
    """
    total = int(total)
    if total < 0:
        raise ValueError(f"total: got {total}, expected an amount >= 0")
    s = sum(int(w) for w in weights)
    if total and s <= 0:
        raise ValueError(f"weights: got a sum of {s}, expected holders with a positive balance")
    if not total:
        return [0] * len(weights)
    shares = [total * int(w) // s for w in weights]
    rems = [total * int(w) % s for w in weights]
    left = total - sum(shares)
    for k in sorted(range(len(weights)), key=lambda k: (-rems[k], k))[:left]:
        shares[k] += 1
    return shares


def _units(amount: float, carry: Decimal, decimals: int) -> tuple[int, Decimal]:
    exact = Decimal(repr(float(amount))) + carry
    units = int(exact.scaleb(decimals).to_integral_value(rounding=ROUND_FLOOR))
    return max(units, 0), exact - Decimal(max(units, 0)).scaleb(-decimals)


# ---------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Holders:
    """A validated snapshot: checksummed, unique addresses whose balances sum to the supply."""

    tranche: str
    chain_id: int
    token: str
    decimals: int
    record_block: int
    total_supply: int
    addresses: tuple[str, ...]
    balances: tuple[int, ...]


ZERO_ADDRESS = "0x" + "00" * 20


def _checksummed(value: str, where: str, file: str | None) -> str:
    """An EIP-55 checksummed address other than the zero address (nothing can be paid to, from or
    in it: a transfer to it burns the payout)."""
    from eth_utils import is_checksum_address  # deferred: only onchain encodings need eth-utils

    if not isinstance(value, str) or not is_checksum_address(value):
        raise SpecError(where, value, "an EIP-55 checksummed address", file=file)
    if value == ZERO_ADDRESS:
        raise SpecError(where, value, "an address other than the zero address", file=file)
    return value


def _read_holders(source, base: Path | None, where: str) -> tuple[list[tuple[str, object]], str | None, list[str]]:
    if not isinstance(source, str):
        return list(source), None, [f"{where}[{k}]" for k in range(len(source))]
    path = Path(source) if base is None or Path(source).is_absolute() else base / source
    if not path.is_file():
        raise SpecError(where, source, "an existing holders CSV (address, balance)", file=str(path))
    frame = read_table(path, str, "holders list")
    if list(frame.columns[:2]) != ["address", "balance"]:
        raise SpecError("columns", list(frame.columns), "the columns address, balance", file=str(path))
    rows = list(zip(frame["address"], frame["balance"], strict=True))
    return rows, str(path), [f"row {k + 1}" for k in range(len(rows))]


def _holders(spec: SettlementSpec, base: Path | None, file: str | None) -> list[Holders]:
    out = []
    for k, t in enumerate(spec.tranches):
        for j, s in enumerate(t.snapshots):
            where = f"tranches[{k}].snapshots[{j}]"
            _checksummed(s.token, f"{where}.token", file)
            rows, hfile, names = _read_holders(s.holders, base, f"{where}.holders")
            hfile = hfile or file
            seen: set[str] = set()
            addresses, balances = [], []
            for (addr, bal), name in zip(rows, names, strict=True):
                a = _checksummed(addr, f"{name}.address", hfile)
                if a in seen:
                    raise SpecError(f"{name}.address", a, "an address not listed before", file=hfile)
                seen.add(a)
                try:
                    b = base_units(bal)
                except ValueError:
                    raise SpecError(f"{name}.balance", bal, "an integer balance in base units", file=hfile) from None
                if not 0 <= b < 2**256:
                    raise SpecError(f"{name}.balance", b, "a balance >= 0 and below 2**256", file=hfile)
                addresses.append(a)
                balances.append(b)
            if sum(balances) != s.total_supply:
                raise SpecError(f"{where}.total_supply", s.total_supply,
                                f"the sum of the holders' balances ({sum(balances)})", file=file)
            order = sorted(range(len(addresses)), key=lambda k: addresses[k].lower())  # holder order: by address
            out.append(Holders(t.tranche, s.chain_id, s.token, s.decimals, s.record_block, s.total_supply,
                               tuple(addresses[k] for k in order), tuple(balances[k] for k in order)))
    return sorted(out, key=lambda h: (h.tranche, h.chain_id))


def _allow_list(spec: SettlementSpec, base: Path | None, file: str | None) -> set[str] | None:
    src = spec.allow_list
    if src is None:
        return None
    if not isinstance(src, str):
        return {_checksummed(a, f"allow_list[{k}]", file) for k, a in enumerate(src)}

    path = Path(src) if base is None or Path(src).is_absolute() else base / src
    if not path.is_file():
        raise SpecError("allow_list", src, "an existing allow-list CSV", file=str(path))
    frame = read_table(path, str, "allow list")
    if "address" not in frame.columns:
        raise SpecError("columns", list(frame.columns), "an address column (and optionally verified)", file=str(path))
    allowed = set()
    has_verified = "verified" in frame.columns
    for k, row in enumerate(frame.itertuples(index=False)):
        a = _checksummed(row.address, f"row {k + 1}.address", str(path))
        if not has_verified:  # a plain list: every address listed is allowed
            allowed.add(a)
            continue
        raw = row.verified
        verified = "" if raw is None or raw != raw else str(raw).strip().lower()
        if verified in VERIFIED_TRUE:
            allowed.add(a)
        elif verified not in VERIFIED_FALSE:  # fails closed: a blank or unknown cell is an error, never "yes"
            raise SpecError(f"row {k + 1}.verified", raw, f"one of {sorted(VERIFIED_TRUE | VERIFIED_FALSE)}",
                            file=str(path))
    return allowed


VERIFIED_TRUE = frozenset({"true", "1", "yes"})
VERIFIED_FALSE = frozenset({"false", "0", "no"})


def load_settlement_spec(source: SettlementSpec | str | os.PathLike[str] | Mapping[str, Any]):
    """``(spec, holders, allow_list)``: validated, every address checksummed, every snapshot's
    balances summing to its total supply; a token that charges a fee on transfer or rebases is
    refused. Errors name the file, the row and the value."""

    spec, file = load_spec(SettlementSpec, source)
    fname = str(file) if file else None
    base = file.parent if file else None
    pt = spec.payment_token
    if pt.fee_on_transfer:
        raise SpecError("payment_token.fee_on_transfer", True,
                        "a payment token without a fee on transfer (holders would receive less than is sent)",
                        file=fname)
    if pt.rebasing:
        raise SpecError("payment_token.rebasing", True,
                        "a payment token that does not rebase (amounts would change after emission)", file=fname)
    for chain, addr in pt.addresses.items():
        _checksummed(addr, f"payment_token.addresses.{chain}", fname)
    for chain, addr in spec.source.items():
        _checksummed(addr, f"source.{chain}", fname)
    return spec, _holders(spec, base, fname), _allow_list(spec, base, fname)


# ---------------------------------------------------------------- what a period pays


@dataclass(frozen=True)
class PeriodAmounts:
    """A period's payments per tranche (currency units, floats as computed) and what backs the notes."""

    deal: str
    deal_id: str
    period: int
    payment_date: str | None
    amounts: dict[str, dict[str, float]]         # tranche -> kind -> amount
    note_balance: dict[str, float]               # ending balance
    note_original: dict[str, float]
    pool_balance: float
    cash: float                                  # account balances


def period_amounts(source: PeriodReport | Any, period: int | None = None) -> PeriodAmounts:
    """From a :class:`~abs_engine.servicing.servicer.PeriodReport`, or from a one-scenario projection
    (:class:`~abs_engine.results.tables.RunResult`) and a ``period``."""

    if isinstance(source, PeriodReport):
        d = source.data
        amounts, bal, orig = {}, {}, {}
        for t in d["tranches"]:
            if "interest_paid" in t:
                amounts[t["name"]] = {"interest": t["interest_paid"], "principal": t["principal_paid"]}
                bal[t["name"]] = t["ending_balance"]
                orig[t["name"]] = t.get("original_balance", float("nan"))
            else:
                amounts[t["name"]] = {"residual": t["residual_paid"]}
        return PeriodAmounts(d["deal"], d["deal_id"], d["period"], d.get("payment_date"), amounts, bal, orig,
                             d["pool"]["ending_balance"], sum(a["ending_balance"] for a in d["accounts"]))
    res = source
    if period is None or not 1 <= period <= res.n_periods:
        raise SpecError("period", period, f"a period of the projection (1..{res.n_periods})")
    tr = res.tranches.xs(period, level="period")
    amounts, bal, orig = {}, {}, {}
    for t in res.deal.tranches:
        if t.residual:
            amounts[t.name] = {"residual": float(res.cash.loc[period, "residual_paid"])}
        else:
            amounts[t.name] = {"interest": float(tr.loc[t.name, "interest_paid"]),
                               "principal": float(tr.loc[t.name, "principal_paid"])}
            bal[t.name] = float(tr.loc[t.name, "ending_balance"])
            orig[t.name] = float(t.balance)
    acc = res.accounts.xs(period, level="period")["ending_balance"].sum() if res.deal.accounts else 0.0

    date = res.dates[period - 1]
    when = None if date is None or date != date else str(date.date())  # NaT without a first payment date
    return PeriodAmounts(res.deal.name, deal_id(res.deal, res.program.loans), period, when, amounts, bal, orig,
                         float(res.pool.loc[period, "ending_balance"]), float(acc))


# ---------------------------------------------------------------- the instruction


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


@dataclass
class Settlement:
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


def _check_amounts(pa: PeriodAmounts, decimals: int) -> None:
    """Every amount of the period is finite, >= 0 and fits a uint256 in base units; a class of
    notes is paid no more principal than its face left before the period. Refused with one
    :class:`SpecError`, before anything is allocated or emitted."""
    where = f"period {pa.period} report"
    for name, kinds in pa.amounts.items():
        for kind, amount in kinds.items():
            x = float(amount)
            if not (x == x and 0.0 <= x < float("inf")):
                raise SpecError(f"tranches.{name}.{kind}", amount, "a finite amount >= 0", file=where)
            if int(Decimal(repr(x)).scaleb(decimals)) > UINT256_MAX:
                raise SpecError(f"tranches.{name}.{kind}", amount,
                                f"an amount below 2**256 base units of a {decimals}-decimal token", file=where)
        if name in pa.note_original and pa.note_original[name] == pa.note_original[name]:
            face = pa.note_original[name]
            before = pa.note_balance[name] + kinds["principal"]
            if before > face * (1 + 1e-9) + 0.01:
                raise SpecError(f"tranches.{name}.principal", kinds["principal"],
                                f"principal of at most the face outstanding before the period ({face - pa.note_balance[name] :,.2f} "
                                f"would leave {pa.note_balance[name]:,.2f} of {face:,.2f})", file=where)


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
