"""Prepayment and default curves of the BMA/SIFMA Standard Formulas, and rate tables.

Speeds: ``psa``, ``sda`` and ``abs`` in percent; ``cpr``, ``cdr``, ``smm``, ``mdr`` decimals.
Curves are read at loan month ``m`` (= age + projection month).
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from ._jit import kernel

__all__ = [
    "PREPAY_CPR", "PREPAY_SMM", "PREPAY_PSA", "PREPAY_ABS",
    "DEFAULT_CDR", "DEFAULT_MDR", "DEFAULT_SDA",
    "annual_to_monthly", "psa_cpr", "sda_cdr", "abs_smm", "rate_tables",
]

PREPAY_CPR, PREPAY_SMM, PREPAY_PSA, PREPAY_ABS = 0, 1, 2, 3
DEFAULT_CDR, DEFAULT_MDR, DEFAULT_SDA = 0, 1, 2


@kernel(inline=True)
def annual_to_monthly(rate):
    """``1 - (1 - rate)^(1/12)``: CPR -> SMM and CDR -> MDR (1 stays 1)."""
    if rate >= 1.0:
        return 1.0
    return -math.expm1(math.log1p(-rate) / 12.0)


@kernel(inline=True)
def psa_cpr(speed, m):
    """PSA: ``CPR = min(speed/100 * 0.2% * max(1, min(m, 30)), 100%)``."""
    return min(speed / 100.0 * 0.002 * max(1.0, min(float(m), 30.0)), 1.0)


@kernel(inline=True)
def sda_cdr(speed, m):
    """SDA: 0.02% x m to m = 30, 0.60% to m = 60, down 0.0095%/month to 0.03% at m = 120, then 0.03%."""
    if m <= 30:
        base = 0.0002 * m
    elif m <= 60:
        base = 0.006
    elif m <= 120:
        base = 0.006 - 0.000095 * (m - 60)
    else:
        base = 0.0003
    return min(speed / 100.0 * base, 1.0)


@kernel(inline=True)
def abs_smm(speed, m):
    """ABS: ``SMM = A / (1 - A (m - 1))`` with ``A = speed/100``; 1 once that reaches 1."""
    a = speed / 100.0
    den = 1.0 - a * (m - 1)
    if den <= a:
        return 1.0 if a > 0.0 else 0.0
    return a / den


@kernel(inline=True)
def _smm(kind, value, m):
    if kind == PREPAY_CPR:
        return annual_to_monthly(value)
    if kind == PREPAY_SMM:
        return value
    if kind == PREPAY_PSA:
        return annual_to_monthly(psa_cpr(value, m))
    return abs_smm(value, m)


@kernel(inline=True)
def _mdr(kind, value, m):
    if kind == DEFAULT_CDR:
        return annual_to_monthly(value)
    if kind == DEFAULT_MDR:
        return value
    return annual_to_monthly(sda_cdr(value, m))


@kernel(parallel=True)
def rate_tables(prepay_kind, prepay, default_kind, default, ages):
    """SMM and MDR for every scenario, projection month and age class.

    ``prepay``/``default`` are ``[scenario, month]`` speed or rate vectors; ``ages`` the ages of
    the classes. Returns two ``[scenario, month, class]`` arrays; month index 0 is month 1.
    """
    n_scen, n_per = prepay.shape
    n_cls = ages.size
    smm = np.empty((n_scen, n_per, n_cls))
    mdr = np.empty((n_scen, n_per, n_cls))
    for s in prange(n_scen):
        for i in range(n_per):
            for c in range(n_cls):
                m = ages[c] + i + 1
                smm[s, i, c] = _smm(prepay_kind[s], prepay[s, i], m)
                mdr[s, i, c] = _mdr(default_kind[s], default[s, i], m)
    return smm, mdr
