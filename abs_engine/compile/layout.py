"""The kernels' scenario-block layout: scenarios in blocks of ``SB`` lanes, arrays ``[block, ...,
lane]``, so the lane loop is innermost and contiguous.

:func:`scenario_lanes` groups scenarios that share a recovery lag and an advancing flag, as the
pool's month needs (one lag per block; scenarios that all share them fill blocks in order), and
every run of the loop uses it for the pool and the waterfall alike (:func:`gather`,
:func:`scatter`)."""

from __future__ import annotations

import numpy as np

from ..kernels.lanes import gather_rows, scatter_lanes
from ..kernels.waterfall import SB

__all__ = ["SB", "scenario_lanes", "gather", "scatter", "constant_from"]


def scenario_lanes(lag: np.ndarray, advancing: np.ndarray, chunk_size: int | None = None) -> np.ndarray:
    """``[block, lane]`` scenario indices, blocks sharing one (recovery lag, advancing); a group's
    last block is padded with repeats of its first scenario, marked ``-1 - index``. With
    ``chunk_size``, each chunk of that many scenarios (in order) is laid out from its scenarios
    alone, its blocks after the previous chunk's, as a task of a distributed run lays out its
    chunk; all chunks at once, in array operations."""
    n = lag.size
    key = lag.astype(np.int64) * 2 + advancing.astype(np.int64)
    if chunk_size is not None:  # the chunk first: groups never span two chunks
        key = np.arange(n, dtype=np.int64) // max(chunk_size, 1) * (2 * (int(key.max(initial=0)) + 1)) + key
    order = np.argsort(key, kind="stable")             # by group, scenarios in order within it
    sorted_key = key[order]
    start = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]]) if n else np.zeros(0, dtype=np.int64)
    count = np.diff(np.r_[start, n])
    padded = -(-count // SB) * SB                     # each group to whole blocks
    at = np.r_[0, np.cumsum(padded)[:-1]]             # where each group's blocks begin
    group = np.repeat(np.arange(start.size), count)
    lanes = np.repeat(-1 - order[start], padded)       # padding: the group's first scenario, marked
    lanes[at[group] + np.arange(n) - start[group]] = order
    return lanes.reshape(-1, SB)


def constant_from(table: np.ndarray) -> np.ndarray:
    """Per row of a ``[row, month, ...]`` table, the first month index of its constant tail (the
    month from which the row no longer changes; 0 for a row constant throughout): the loop fills
    a row's numbers into a block's state up to that month, not after."""
    if table.shape[1] < 2:
        return np.zeros(table.shape[0], dtype=np.int64)
    changed = (table[:, 1:] != table[:, :-1]).reshape(table.shape[0], table.shape[1] - 1, -1).any(axis=2)
    last = table.shape[1] - 1 - np.argmax(changed[:, ::-1], axis=1)  # the month after the last change
    return np.where(changed.any(axis=1), last, 0).astype(np.int64)


def gather(x: np.ndarray, lanes: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """``[scenario, ...]`` -> ``[block, ..., lane]`` in the layout ``lanes`` (:func:`scenario_lanes`;
    a padding lane repeats the scenario it names). With ``rows``, ``x`` is a table of distinct
    values and scenario ``k``'s is ``x[rows[k]]``. Large arrays move through a kernel, small ones
    through numpy (a small run then loads no kernel for it); the same values either way."""
    if rows is None and x.ndim and x.shape[0] and x.strides[0] == 0:  # one row for every scenario (a
        row = x[0]                                                   # broadcast): the row in every lane
        return np.broadcast_to(row[None, ..., None], (lanes.shape[0], *row.shape, lanes.shape[1])).copy()
    take = np.where(lanes >= 0, lanes, -1 - lanes)
    if rows is not None:
        rows = np.ascontiguousarray(rows, dtype=np.int64)
    if lanes.size * (x[0].size if x.shape[0] else 0) <= SMALL:
        return np.ascontiguousarray(np.moveaxis(x[take if rows is None else rows[take]], 1, -1))
    flat = np.ascontiguousarray(x).reshape(x.shape[0], -1)
    out = np.empty((lanes.shape[0], flat.shape[1], lanes.shape[1]), dtype=x.dtype)
    gather_rows(flat, np.arange(x.shape[0], dtype=np.int64) if rows is None else rows, take, out)
    return out.reshape(lanes.shape[0], *x.shape[1:], lanes.shape[1])


def scatter(x: np.ndarray, lanes: np.ndarray, n_scen: int, out: np.ndarray | None = None) -> np.ndarray:
    """``[block, ..., lane]`` in the layout ``lanes`` -> ``[scenario, ...]`` (padding lanes dropped);
    into ``out`` when given, whose other scenarios are left as they are."""
    if out is None:
        out = np.empty((n_scen, *x.shape[1:-1]), dtype=x.dtype)
    if x.size <= SMALL or not out.flags.c_contiguous:
        valid = lanes >= 0
        out[lanes[valid]] = np.moveaxis(x, -1, 1)[valid]
        return out
    scatter_lanes(np.ascontiguousarray(x).reshape(x.shape[0], -1, x.shape[-1]), lanes, out.reshape(out.shape[0], -1))
    return out


SMALL = 1 << 16  # numbers moved through numpy rather than a kernel
