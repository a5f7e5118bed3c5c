"""OpenZeppelin's StandardMerkleTree (``@openzeppelin/merkle-tree``, dump format ``standard-v1``).

* leaf = ``keccak256(keccak256(abi.encode(values...)))`` (double hashed, ABI encoded with the
  tree's ``leafEncoding``);
* leaves sorted by hash; the tree is a complete binary tree stored as an array, the root at
  index 0, the children of ``i`` at ``2i+1`` and ``2i+2``, the sorted leaves at the end in
  reverse order (``tree[len-1-k]`` is the k-th smallest leaf);
* a node is ``keccak256`` of its two children concatenated in ascending order, which is what
  OpenZeppelin's ``MerkleProof.verify`` recomputes.

>>> t = StandardMerkleTree.of([["0x1111111111111111111111111111111111111111", 5000000000000000000],
...                            ["0x2222222222222222222222222222222222222222", 2500000000000000000]],
...                           ["address", "uint256"])
>>> t.root   # the @openzeppelin/merkle-tree README example
'0xd4dee0beab2d53f2cc83e567171bd2820e49898130a22622b10ead383e90bd77'
>>> t.proof(0)
['0xb92c48e9d7abe27fd8dfd6b5dfdbfb1c9a463f80c712b66f3a5180a090cccafc']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["StandardMerkleTree", "leaf_hash", "verify_proof"]


def _keccak(data: bytes) -> bytes:
    from eth_utils import keccak  # deferred: only onchain encodings need eth-utils

    return keccak(data)


def leaf_hash(value: Sequence[Any], encoding: Sequence[str]) -> bytes:
    """``keccak256(keccak256(abi.encode(value)))``."""
    from eth_abi import encode  # deferred: only onchain encodings need eth-abi

    return _keccak(_keccak(encode(list(encoding), list(value))))


def _pair(a: bytes, b: bytes) -> bytes:
    return _keccak(a + b if a < b else b + a)


def verify_proof(root: str, leaf: bytes, proof: Sequence[str]) -> bool:
    """Recompute the root from a leaf and its proof (as ``MerkleProof.verify``)."""
    h = leaf
    for p in proof:
        h = _pair(h, bytes.fromhex(p[2:]))
    return "0x" + h.hex() == root


@dataclass(frozen=True)
class StandardMerkleTree:
    tree: tuple[bytes, ...]
    values: tuple[tuple[Any, ...], ...]
    tree_index: tuple[int, ...]           # of each value
    leaf_encoding: tuple[str, ...]

    @classmethod
    def of(cls, values: Sequence[Sequence[Any]], leaf_encoding: Sequence[str]) -> StandardMerkleTree:
        if not values:
            raise ValueError("values: got [], expected at least one leaf")
        leaves = [(leaf_hash(v, leaf_encoding), k) for k, v in enumerate(values)]
        leaves.sort()
        n = len(leaves)
        tree: list[bytes] = [b""] * (2 * n - 1)
        index = [0] * n
        for k, (h, j) in enumerate(leaves):
            tree[len(tree) - 1 - k] = h
            index[j] = len(tree) - 1 - k
        for i in range(len(tree) - 1 - n, -1, -1):
            tree[i] = _pair(tree[2 * i + 1], tree[2 * i + 2])
        return cls(tuple(tree), tuple(tuple(v) for v in values), tuple(index), tuple(leaf_encoding))

    @property
    def root(self) -> str:
        return "0x" + self.tree[0].hex()

    def proof(self, k: int) -> list[str]:
        """The proof of the k-th value (siblings from the leaf up)."""
        i = self.tree_index[k]
        out = []
        while i > 0:
            sibling = i - 1 if i % 2 == 0 else i + 1
            out.append("0x" + self.tree[sibling].hex())
            i = (i - 1) // 2
        return out

    def dump(self) -> dict:
        """The ``standard-v1`` dump (numbers as decimal strings, as the JS library writes them)."""
        def plain(x):
            return str(x) if isinstance(x, int) and not isinstance(x, bool) else x

        return {"format": "standard-v1", "leafEncoding": list(self.leaf_encoding),
                "tree": ["0x" + h.hex() for h in self.tree],
                "values": [{"value": [plain(x) for x in v], "treeIndex": i}
                           for v, i in zip(self.values, self.tree_index, strict=True)]}
