"""Strings of a column held as Arrow buffers (``offsets``, ``data``): a test that every string is
distinct, without a Python object per string (a 4M-loan tape's ``loan_id``).

Each string is hashed (64-bit FNV-1a, then mixed by MurmurHash3's finalizer) and its hash
inserted into an open-addressing table of about 1.5 slots per string (8 bytes a slot: 48 MB for
4M strings, freed on return). Two equal strings have equal hashes, so a column whose hashes are
distinct has distinct strings; two equal hashes are only a *candidate* repeat (two distinct
strings collide with a probability of about n**2 / 2**65), which the caller settles exactly.
"""

from __future__ import annotations

import numpy as np

from ._jit import kernel

__all__ = ["hash_table", "insert_strings"]

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


def hash_table(n: int) -> np.ndarray:
    """An empty table for ``n`` strings (0 marks an empty slot)."""
    return np.zeros(max(16, n + n // 2), dtype=np.uint64)


@kernel
def insert_strings(offsets, data, table) -> int:
    """Insert the hashes of strings ``k`` (bytes ``data[offsets[k]:offsets[k + 1]]``) into ``table``
    in order; return the first ``k`` whose hash is already there (a candidate repeat), or -1.
    Strings are hashed a batch at a time, then inserted: a loop of inserts alone lets the CPU
    overlap the table's cache misses."""
    size = np.uint64(table.size)
    n = offsets.size - 1
    batch = np.empty(4096, dtype=np.uint64)
    for b0 in range(0, n, batch.size):
        b1 = min(n, b0 + batch.size)
        for k in range(b0, b1):
            h = _FNV_OFFSET
            for j in range(offsets[k], offsets[k + 1]):
                h = (h ^ np.uint64(data[j])) * _FNV_PRIME
            # FNV alone leaves the high bits of ids that differ in their last characters alike: mix
            # them (MurmurHash3's 64-bit finalizer), so the slots spread
            h ^= h >> np.uint64(33)
            h *= np.uint64(0xFF51AFD7ED558CCD)
            h ^= h >> np.uint64(33)
            h *= np.uint64(0xC4CEB9FE1A85EC53)
            h ^= h >> np.uint64(33)
            batch[k - b0] = h | np.uint64(1)  # never 0 (the empty slot)
        for k in range(b0, b1):
            h = batch[k - b0]
            slot = ((h >> np.uint64(32)) * size) >> np.uint64(32)  # in [0, size): the high bits, scaled
            while True:
                t = table[slot]
                if t == 0:
                    table[slot] = h
                    break
                if t == h:
                    return k
                slot += np.uint64(1)
                if slot == size:
                    slot = np.uint64(0)
    return -1
