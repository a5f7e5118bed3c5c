"""The kernels' scenario-block layout: scenarios in blocks of ``SB`` lanes, arrays ``[block, ...,
lane]``, so the lane loop is innermost and contiguous."""

from __future__ import annotations

import numpy as np

from ..kernels.waterfall import SB

__all__ = ["SB", "blocks", "unblock"]


def blocks(x: np.ndarray) -> np.ndarray:
    """``[scenario, ...]`` -> ``[block, ..., lane]`` (scenarios padded with zeros to whole blocks)."""
    s = x.shape[0]
    nb = -(-s // SB)
    pad = np.zeros((nb * SB, *x.shape[1:]), dtype=x.dtype)
    pad[:s] = x
    out = pad.reshape(nb, SB, *x.shape[1:])
    return np.ascontiguousarray(np.moveaxis(out, 1, -1))


def unblock(x: np.ndarray, n_scen: int) -> np.ndarray:
    """``[block, ..., lane]`` -> ``[scenario, ...]``."""
    y = np.moveaxis(x, -1, 1)
    return y.reshape(y.shape[0] * y.shape[1], *y.shape[2:])[:n_scen]
