"""A period's distribution as exact integer payouts per holder (``allocation``), the canonical
instruction that pays them (``instruction``) and its lifecycle in the ledger (``lifecycle``), rendered as
ERC-20 calldata, Safe batches, Merkle claims and feed reports (``renderings``, ``merkle``), and
the Vyper distributors that enforce them (``contracts``). Never imports the engine or kernels."""

from .allocation import load_settlement_spec, period_amounts
from .instruction import BackingError, Instruction, Settlement, settle
from .lifecycle import advance, reconcile, record, release_withheld
from .renderings import calldata, merkle_claims, nav_payloads, safe_batch

__all__ = ["settle", "record", "advance", "reconcile", "release_withheld", "period_amounts", "load_settlement_spec",
           "Settlement", "Instruction", "BackingError", "calldata", "safe_batch", "merkle_claims", "nav_payloads"]
