"""Attestation: a period report, or a ledger's head, as EIP-712 typed data, signed only when the
caller passes a key.

A period report's message binds the deal id, the period, the report's hash (keccak-256 of its
canonical JSON) and each tranche's interest and principal paid, in integer units of
``10**-decimals`` of the deal's currency (rounded down, see :func:`abs_engine.units.to_base_units`).
A head's message binds the deal id, the chain's last ``seq``, the latest period and the head
hash, so a third party holding it can later prove that nothing recorded up to it was removed
or rewritten (``abs-engine ledger verify --head``).

Every ``uint256`` of a published message (amounts, periods, the chain id) is a decimal string, so
JavaScript readers never meet a number beyond 2**53; the signature is the same as with integers.

>>> from eth_account import Account
>>> key = "0x" + "11" * 32
>>> report = PeriodReport({"deal": "d", "deal_id": "0x" + "ab" * 32, "period": 1, "tranches": [
...     {"name": "A", "interest_paid": 4.5, "principal_paid": 100.0}]})
>>> typed = typed_data(report, chain_id=1)
>>> typed["message"]["payments"]
[{'tranche': 'A', 'interest': '4500000', 'principal': '100000000'}]
>>> recover_signer(typed, sign(typed, key)) == Account.from_key(key).address
True
"""

from __future__ import annotations

from typing import Any

from ..units import to_base_units
from .reports import PeriodReport

__all__ = ["typed_data", "head_typed_data", "sign", "recover_signer", "DOMAIN_NAME", "HEAD_DOMAIN_NAME",
           "DOMAIN_VERSION"]

DOMAIN_NAME = "abs_engine period report"
HEAD_DOMAIN_NAME = "abs_engine ledger head"
DOMAIN_VERSION = "1"

TYPES = {
    "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                     {"name": "chainId", "type": "uint256"}],
    "TranchePayment": [{"name": "tranche", "type": "string"}, {"name": "interest", "type": "uint256"},
                       {"name": "principal", "type": "uint256"}],
    "PeriodReport": [{"name": "dealId", "type": "bytes32"}, {"name": "period", "type": "uint256"},
                     {"name": "reportHash", "type": "bytes32"}, {"name": "payments", "type": "TranchePayment[]"}],
}
HEAD_TYPES = {
    "EIP712Domain": TYPES["EIP712Domain"],
    "LedgerHead": [{"name": "dealId", "type": "bytes32"}, {"name": "seq", "type": "uint256"},
                   {"name": "period", "type": "uint256"}, {"name": "head", "type": "bytes32"}],
}


def _domain(types: dict, name: str, chain_id: int, verifying_contract: str | None) -> dict[str, Any]:
    domain: dict[str, Any] = {"name": name, "version": DOMAIN_VERSION, "chainId": str(int(chain_id))}
    if verifying_contract is not None:
        from eth_utils import to_checksum_address  # deferred: only onchain encodings need eth-utils

        types["EIP712Domain"] = [*types["EIP712Domain"], {"name": "verifyingContract", "type": "address"}]
        domain["verifyingContract"] = to_checksum_address(verifying_contract)
    return domain


def head_typed_data(head: dict, *, chain_id: int, verifying_contract: str | None = None) -> dict[str, Any]:
    """The EIP-712 typed data of a ledger head (:meth:`abs_engine.servicing.ledger.Ledger.head`).

    >>> typed = head_typed_data({"deal_id": "0x" + "ab" * 32, "seq": 7, "period": 3, "hash": "0x" + "cd" * 32},
    ...                         chain_id=8453)
    >>> typed["message"]["seq"], typed["domain"]["chainId"]
    ('7', '8453')
    """
    types = {k: list(v) for k, v in HEAD_TYPES.items()}
    domain = _domain(types, HEAD_DOMAIN_NAME, chain_id, verifying_contract)
    message = {"dealId": head["deal_id"], "seq": str(int(head["seq"])), "period": str(int(head["period"])),
               "head": head["hash"]}
    return {"types": types, "primaryType": "LedgerHead", "domain": domain, "message": message}


def typed_data(report: PeriodReport, *, chain_id: int, decimals: int = 6,
               verifying_contract: str | None = None) -> dict[str, Any]:
    """The EIP-712 typed data (``types``, ``primaryType``, ``domain``, ``message``) of a period report."""
    types = {k: list(v) for k, v in TYPES.items()}
    domain = _domain(types, DOMAIN_NAME, chain_id, verifying_contract)
    payments = [{"tranche": t["name"], "interest": str(to_base_units(t["interest_paid"], decimals)),
                 "principal": str(to_base_units(t["principal_paid"], decimals))}
                for t in report.data["tranches"] if "interest_paid" in t]
    message = {"dealId": report.data["deal_id"], "period": str(int(report.period)), "reportHash": report.hash,
               "payments": payments}
    return {"types": types, "primaryType": "PeriodReport", "domain": domain, "message": message}


def sign(typed: dict[str, Any], private_key: str | bytes) -> str:
    """Sign typed data with ``private_key`` (eth-account); returns the ``0x`` signature."""
    from eth_account import Account  # deferred: only signing needs eth-account

    signed = Account.sign_typed_data(private_key, full_message=typed)
    return "0x" + bytes(signed.signature).hex()


def recover_signer(typed: dict[str, Any], signature: str | bytes) -> str:
    """The checksummed address that signed ``typed``."""
    from eth_account import Account  # deferred: only signing needs eth-account
    from eth_account.messages import encode_typed_data  # deferred: only signing needs eth-account

    return Account.recover_message(encode_typed_data(full_message=typed), signature=signature)
