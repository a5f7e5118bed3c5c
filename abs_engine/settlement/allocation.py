"""Allocation: a period's tranche amounts in a token's base units, split across the holders at
the record block by largest remainder, after checking the holder snapshots and the allow list.

Money here is Python ``int`` in the payment token's base units, never float or int64: each
tranche's period amounts plus the remainder carried from the previous period are rounded down
from the float's exact decimal value (what rounding leaves is carried, never dropped); holder
order is canonical (chain id, then address), so a reordered snapshot gives the same payouts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

from ..errors import SpecError
from ..io.files import load_spec, read_table
from ..servicing.reports import PeriodReport, deal_id
from ..spec.settlement import SettlementSpec, base_units

__all__ = ["Holders", "PeriodAmounts", "load_settlement_spec", "period_amounts", "split_largest_remainder", "KINDS",
           "ZERO_ADDRESS", "VERIFIED_TRUE", "VERIFIED_FALSE"]

KINDS = ("interest", "principal", "residual")
UINT256_MAX = 2**256 - 1



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
                         float(res.whole_pool.loc[period, "ending_balance"]), float(acc))


# ---------------------------------------------------------------- the instruction


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


