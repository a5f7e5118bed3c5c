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
def annual_to_monthly(rate, per_year=12.0):
    """``1 - (1 - rate)^(1/per_year)``: CPR -> SMM and CDR -> MDR (1 stays 1); ``per_year`` 12 for
    a month, ``365 / days`` for a period of ``days`` actual days (CONVENTIONS R2.3)."""
    if rate >= 1.0:
        return 1.0
    return -math.expm1(math.log1p(-rate) / per_year)


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
def _smm(kind, value, m, per_year):
    if kind == PREPAY_CPR:
        return annual_to_monthly(value, per_year)
    if kind == PREPAY_SMM:
        return value
    if kind == PREPAY_PSA:
        return annual_to_monthly(psa_cpr(value, m), per_year)
    return abs_smm(value, m)


@kernel(inline=True)
def _mdr(kind, value, m, per_year):
    if kind == DEFAULT_CDR:
        return annual_to_monthly(value, per_year)
    if kind == DEFAULT_MDR:
        return value
    return annual_to_monthly(sda_cdr(value, m), per_year)


@kernel(parallel=True)
def rate_tables(prepay_kind, prepay, default_kind, default, ages, per_year):
    """SMM and MDR tables: ``[row, month, class]`` for every row of the ``[row, month]`` speed or
    rate vectors ``prepay`` / ``default`` (kinds per row) and every age class (``ages``); an
    annual rate (CPR, CDR, PSA, SDA) becomes month ``i``'s with the exponent ``1 / per_year[i]``
    (12: a month; 365 / days: the month's actual days, CONVENTIONS R2.3). Month index 0 is
    month 1. A curve not read at loan month is converted once per distinct value of its row
    (and of ``per_year``) and copied across classes."""
    n_cls = ages.size
    n_per = prepay.shape[1]
    smm = np.empty((prepay.shape[0], n_per, n_cls))
    mdr = np.empty((default.shape[0], n_per, n_cls))
    for r in prange(prepay.shape[0] + default.shape[0]):
        n_p = np.int64(prepay.shape[0])
        is_prepay = np.int64(r) < n_p
        row = np.int64(r) if is_prepay else np.int64(r) - n_p
        kind = prepay_kind[row] if is_prepay else default_kind[row]
        by_age = kind == PREPAY_PSA or kind == PREPAY_ABS if is_prepay else kind == DEFAULT_SDA
        last = np.nan
        last_year = np.nan
        rate = 0.0
        for i in range(n_per):
            v = prepay[row, i] if is_prepay else default[row, i]
            py = per_year[i]
            if not by_age and (v != last or py != last_year):
                rate = _smm(kind, v, 1, py) if is_prepay else _mdr(kind, v, 1, py)
                last = v
                last_year = py
            for c in range(n_cls):
                if by_age:
                    m = ages[c] + i + 1
                    rate = _smm(kind, v, m, py) if is_prepay else _mdr(kind, v, m, py)
                if is_prepay:
                    smm[row, i, c] = rate
                else:
                    mdr[row, i, c] = rate
    return smm, mdr
