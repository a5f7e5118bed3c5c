"""Settlement inputs: the payment token, the paying address per chain, the allow list and each
tranche token's holder snapshots (one per chain it lives on).

Integers in base units may be written as JSON/YAML integers or decimal strings (for amounts
beyond 2**53). Holders come inline or from a CSV file (columns ``address``, ``balance``).
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, WithJsonSchema, field_validator, model_validator

from ..errors import SpecError
from .base import Spec
from .fields import IntKey, Seq, StrictInt

__all__ = ["base_units", "PaymentToken", "Snapshot", "TrancheHolders", "SettlementSpec"]


def base_units(v: object) -> int:
    """An integer in base units: an int, or a decimal string of at most 80 digits (never a bool
    or a float, which loses precision); ``ValueError`` otherwise."""
    if isinstance(v, bool) or isinstance(v, float):
        raise ValueError("an integer in base units (a float loses precision; write a decimal string)")
    if isinstance(v, str):
        v = v.strip()
        if not v.lstrip("-").isascii() or not v.lstrip("-").isdigit() or len(v) > 80:
            raise ValueError("an integer in base units (a decimal string of at most 80 digits)")
        return int(v)
    if isinstance(v, int):
        return v
    raise ValueError("an integer in base units")


class PaymentToken(Spec):
    """The ERC-20 paid out; ``addresses``: chain id -> token address."""

    symbol: str
    decimals: StrictInt = Field(ge=0, le=36)
    addresses: dict[IntKey, str]
    fee_on_transfer: bool = False
    rebasing: bool = False


_BASE_UNITS = WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 0},
                                         {"type": "string", "pattern": "^[0-9]{1,78}$"}],
                               "description": "token base units: an integer, or a string of digits (readers may "
                                              "round large numbers)"})


class Snapshot(Spec):
    """A tranche token's holders on one chain at the record block."""

    chain_id: StrictInt = Field(gt=0, lt=2**64)
    token: str
    decimals: StrictInt = Field(ge=0, le=36)
    record_block: StrictInt = Field(ge=0, lt=2**64)
    total_supply: Annotated[StrictInt, _BASE_UNITS]
    holders: str | Seq[tuple[str, Annotated[StrictInt, _BASE_UNITS]]] = Field(
        description="a CSV file (address, balance) or [address, balance] pairs")

    @field_validator("total_supply", mode="before")
    @classmethod
    def _supply(cls, v: object) -> int:
        x = base_units(v)
        if not 0 <= x < 2**256:
            raise ValueError("a total supply in [0, 2**256) base units")
        return x

    @field_validator("holders", mode="before")
    @classmethod
    def _holders(cls, v: object) -> object:
        if isinstance(v, list | tuple):
            return tuple((str(a), base_units(b)) for a, b in v)
        return v


class TrancheHolders(Spec):
    tranche: str
    snapshots: Seq[Snapshot] = Field(min_length=1)


class SettlementSpec(Spec):
    """Everything a settlement bot needs besides the period report."""

    deal: str | None = None
    payment_token: PaymentToken
    source: dict[IntKey, str] = Field(description="chain id -> the distributor contract or Safe that pays")
    allow_list: str | Seq[str] | None = Field(
        None, description="addresses allowed to receive: a list, or a CSV (a plain list or an ERC-3643 identity "
                          "registry export with columns address and, optionally, verified)")
    tranches: Seq[TrancheHolders] = Field(min_length=1)

    @model_validator(mode="after")
    def _chains(self) -> Self:
        for k, t in enumerate(self.tranches):
            for j, s in enumerate(t.snapshots):
                if s.chain_id not in self.payment_token.addresses:
                    raise SpecError(f"tranches[{k}].snapshots[{j}].chain_id", s.chain_id,
                                    f"a chain of payment_token.addresses {sorted(self.payment_token.addresses)}")
                if s.chain_id not in self.source:
                    raise SpecError(f"tranches[{k}].snapshots[{j}].chain_id", s.chain_id,
                                    f"a chain of source {sorted(self.source)}")
        names = [t.tranche for t in self.tranches]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise SpecError("tranches", dup, "each tranche once")
        return self
