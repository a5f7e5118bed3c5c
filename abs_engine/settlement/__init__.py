"""A period's distribution as exact integer payouts per holder (``instruction``), rendered as
ERC-20 calldata, Safe batches, Merkle claims and feed reports (``renderings``, ``merkle``), and
the Vyper distributors that enforce them (``contracts``). Never imports the engine or kernels."""

from .instruction import (
                          BackingError,
                          Instruction,
                          Settlement,
                          advance,
                          load_settlement_spec,
                          period_amounts,
                          reconcile,
                          record,
                          release_withheld,
                          settle,
)
from .renderings import calldata, merkle_claims, nav_payloads, safe_batch

__all__ = ["settle", "record", "advance", "reconcile", "release_withheld", "period_amounts", "load_settlement_spec",
           "Settlement", "Instruction", "BackingError", "calldata", "safe_batch", "merkle_claims", "nav_payloads"]
