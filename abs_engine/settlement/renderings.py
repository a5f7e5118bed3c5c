"""Renderings of an :class:`~abs_engine.settlement.instruction.Instruction` for the tools that execute it.

* ERC-20 ``transfer`` calldata (eth-abi), and the batch distributor's ``distribute`` call;
* a Safe Transaction Builder batch (JSON the Safe app imports, with its ``meta.checksum``:
  keccak-256 of the Safe app's key-sorted serialization of the batch with ``meta.name`` null
  and no checksum);
* an OpenZeppelin StandardMerkleTree (``standard-v1`` dump, root, each recipient's index,
  amount and proof), leaves ``(uint256 index, address account, uint256 amount)``, for
  ``contracts/MerkleDistributor.vy``;
* the tranche's NAV per token as an oracle update payload.

The Vyper sources of the two distributors ship in ``abs_engine/settlement/contracts/``.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from ..servicing.ledger import keccak_hex
from .instruction import BATCH_SIZE, Batch, Instruction, Settlement
from .merkle import StandardMerkleTree

__all__ = ["TRANSFER_SELECTOR", "transfer_calldata", "distribute_calldata", "calldata", "safe_batch",
           "safe_checksum", "merkle_claims", "nav_payloads", "contract_source", "MERKLE_LEAF_ENCODING"]

MERKLE_LEAF_ENCODING = ("uint256", "address", "uint256", "uint256", "address", "uint256")
"""Leaf values ``(chainId, distributor, period, index, account, amount)``: a proof is valid for one
chain, one distributor and one period (``contracts/MerkleDistributor.vy`` hashes the same)."""
TX_BUILDER_VERSION = "1.18.0"


def _selector(signature: str) -> bytes:
    from eth_utils import keccak  # deferred: only onchain encodings need eth-utils

    return keccak(text=signature)[:4]


TRANSFER_SELECTOR = "0xa9059cbb"
"""``bytes4(keccak256("transfer(address,uint256)"))``."""


def transfer_calldata(recipient: str, amount: int) -> str:
    """``transfer(recipient, amount)`` calldata.

    >>> transfer_calldata("0x1111111111111111111111111111111111111111", 5)[:10]
    '0xa9059cbb'
    """
    from eth_abi import encode  # deferred: only onchain encodings need eth-abi

    args = encode(["address", "uint256"], [recipient, int(amount)])
    return "0x" + (_selector("transfer(address,uint256)") + args).hex()


def distribute_calldata(batch: Batch) -> str:
    """``distribute(period, batch, content_id, recipients, amounts, total)`` of the batch
    distributor, for one :class:`~abs_engine.settlement.instruction.Batch` of an instruction."""
    from eth_abi import encode  # deferred: only onchain encodings need eth-abi

    sig = "distribute(uint256,uint256,bytes32,address[],uint256[],uint256)"
    args = encode(["uint256", "uint256", "bytes32", "address[]", "uint256[]", "uint256"],
                  [batch.instruction.period, batch.index, bytes.fromhex(batch.content_id[2:]),
                   [r for r, _ in batch.transfers], [a for _, a in batch.transfers], batch.total])
    return "0x" + (_selector(sig) + args).hex()


def calldata(instruction: Instruction, *, batch_size: int = BATCH_SIZE) -> dict:
    """Both ways to pay: one ERC-20 transfer per recipient (from a Safe or an EOA holding the
    funds), or the batch distributor at the instruction's source, one call per batch of at most
    ``batch_size`` recipients (``distributor_calls``, each with its batch index and content id)."""
    return {**instruction.to_dict(),
            "erc20_transfers": [{"to": instruction.token, "value": "0", "data": transfer_calldata(r, a)}
                                for r, a in instruction.transfers],
            "distributor_calls": [{"batch": b.index, "content_id": b.content_id, "recipients": len(b.transfers),
                                   "total": str(b.total), "to": instruction.source, "value": "0",
                                   "data": distribute_calldata(b)} for b in instruction.batches(batch_size)]}


def _serialize(x: Any) -> str:
    """The Safe tx-builder's serialization: objects as their sorted key list then each value."""
    if isinstance(x, list):
        return "[" + ",".join(_serialize(v) for v in x) + "]"
    if isinstance(x, dict):
        keys = sorted(x)
        return "{" + json.dumps(keys, separators=(",", ":"), ensure_ascii=False) + "".join(
            _serialize(x[k]) + "," for k in keys) + "}"
    return json.dumps(x, separators=(",", ":"), ensure_ascii=False)


def safe_checksum(batch: dict) -> str:
    """``meta.checksum`` of a Transaction Builder batch."""

    meta = {k: v for k, v in batch["meta"].items() if k != "checksum"}
    return keccak_hex(_serialize({**batch, "meta": {**meta, "name": None}}))


def safe_batch(instruction: Instruction, *, name: str | None = None, created_at_ms: int = 0) -> dict:
    """The instruction as a Safe Transaction Builder batch: one ERC-20 ``transfer`` per recipient,
    from the Safe at the instruction's source. ``created_at_ms`` defaults to 0 so the file is the
    same every time it is built."""
    method = {"inputs": [{"internalType": "address", "name": "to", "type": "address"},
                         {"internalType": "uint256", "name": "value", "type": "uint256"}],
              "name": "transfer", "payable": False}
    batch = {
        "version": "1.0",
        "chainId": str(instruction.chain_id),
        "createdAt": int(created_at_ms),
        "meta": {"name": name or f"period {instruction.period} payout",
                 "description": f"abs_engine deal {instruction.deal_id} period {instruction.period}, content id "
                                f"{instruction.content_id}, total {instruction.total}",
                 "txBuilderVersion": TX_BUILDER_VERSION, "createdFromSafeAddress": instruction.source,
                 "createdFromOwnerAddress": ""},
        "transactions": [{"to": instruction.token, "value": "0", "data": None, "contractMethod": method,
                          "contractInputsValues": {"to": r, "value": str(a)}} for r, a in instruction.transfers],
    }
    batch["meta"]["checksum"] = safe_checksum(batch)
    return batch


def merkle_claims(instruction: Instruction) -> dict:
    """The StandardMerkleTree of the instruction: ``root``, ``dump`` (standard-v1) and ``claims``
    (recipient -> index, amount, proof); leaves :data:`MERKLE_LEAF_ENCODING`, the distributor
    being the instruction's source."""
    i = instruction
    values = [(i.chain_id, i.source, i.period, k, r, a) for k, (r, a) in enumerate(i.transfers)]
    tree = StandardMerkleTree.of(values, MERKLE_LEAF_ENCODING)
    return {"chain_id": i.chain_id, "period": i.period, "content_id": i.content_id,
            "token": i.token, "distributor": i.source, "root": tree.root,
            "total": str(i.total), "dump": tree.dump(),
            "claims": {r: {"index": k, "amount": str(a), "proof": tree.proof(k)} for _, _, _, k, r, a in values}}


def nav_payloads(settlement: Settlement) -> dict:
    """Per tranche: NAV per token (note balance / token supply, in units of 10^-decimals of the
    deal currency, rounded down), decimals, period and timestamp."""
    return settlement.nav


def contract_source(name: str) -> str:
    """The Vyper source of ``BatchDistributor`` or ``MerkleDistributor``."""
    return resources.files("abs_engine.settlement.contracts").joinpath(f"{name}.vy").read_text()
