"""Prepayment speeds implied by pool factors (BMA SF B.2-B.4; CONVENTIONS R2.13): SMM, CPR, PSA
and ABS over one month or n, for one pool or several together.

A pool is described by its factors at the two dates (fractions of its original face), its gross
WAC, its remaining term and its loans' age at the first date. Scheduled amortization between the
dates is the level-pay balance fraction ``BAL(M) = 1 - (1 + WAC/12)^-M`` at the remaining terms
``M1`` and ``M1 - n``; what the factor fell by beyond it is prepayment.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..errors import SpecError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["implied_speeds", "IMPLIED_COLUMNS"]

IMPLIED_COLUMNS = ("months", "smm", "cpr", "psa", "abs")
"""``implied_speeds`` columns: the months measured, SMM and CPR (decimals), PSA and ABS (percent)."""

_FIELDS = ("factor_start", "factor_end", "wac", "remaining_term", "age")
_PSA_RANGE = (-10_000.0, 100_000.0)  # where the average PSA is searched (percent)


def _balance_ratio(wac: np.ndarray, m_to: np.ndarray, m_from: np.ndarray) -> np.ndarray:
    """``BAL(m_to) / BAL(m_from)``: the level-pay balance fraction at ``m_to`` months remaining
    over that at ``m_from`` (the original term cancels); at a 0% WAC, ``m_to / m_from``."""
    r = np.asarray(wac, dtype=np.float64) / 12.0
    with np.errstate(divide="ignore", invalid="ignore"):
        level = -np.expm1(-m_to * np.log1p(r)) / -np.expm1(-m_from * np.log1p(r))
    return np.where(r > 0.0, level, m_to / m_from)


def _psa_smm(psa: float | np.ndarray, month: np.ndarray) -> np.ndarray:
    """The SMM of ``psa`` percent PSA in loan month ``month`` (BMA SF B.2.c; a CPR above 100% is 100%)."""
    cpr = np.minimum(np.asarray(psa) / 100.0 * 0.002 * np.clip(month, 1, 30), 1.0)
    return 1.0 - (1.0 - cpr) ** (1.0 / 12.0)


def _projected(psa: float, face: np.ndarray, f1: np.ndarray, m1: np.ndarray, age: np.ndarray, wac: np.ndarray,
               n: int) -> float:
    """The pools' total balance after ``n`` months from ``f1`` at a constant ``psa``: each month
    scheduled amortization, then prepayment of the SMM of that loan month."""
    x = f1.copy()
    for k in range(n):
        x *= _balance_ratio(wac, m1 - k - 1, m1 - k) * (1.0 - _psa_smm(psa, age + k + 1))
    return float(np.sum(face * x))


def _average_psa(face, f1, f2, m1, age, wac, n) -> float:
    """The constant PSA that, projected from ``f1`` over the ``n`` months with each pool's own
    loan months, reproduces the actual total balance ``sum(face * f2)`` (bisection to 1e-8)."""
    target = float(np.sum(face * f2))
    lo, hi = _PSA_RANGE
    f_lo, f_hi = _projected(lo, face, f1, m1, age, wac, n) - target, _projected(hi, face, f1, m1, age, wac, n) - target
    if not (math.isfinite(f_lo) and math.isfinite(f_hi)) or f_lo * f_hi > 0.0:
        return math.nan  # no constant PSA in the range reproduces the factors
    while hi - lo > 1e-8:
        mid = 0.5 * (lo + hi)
        f_mid = _projected(mid, face, f1, m1, age, wac, n) - target
        if (f_mid > 0.0) == (f_lo > 0.0):
            lo, f_lo = mid, f_mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _pools(pools) -> tuple[list, dict[str, np.ndarray]]:
    """The pools as named columns, each value checked: one error naming the pool, the field and
    the value."""
    import pandas as pd  # deferred: a projection without tables never imports pandas

    if isinstance(pools, pd.DataFrame):
        records = pools.reset_index(drop=pools.index.name is None).to_dict("records")
    elif isinstance(pools, Mapping):
        records = [dict(pools)]
    elif isinstance(pools, Sequence) and not isinstance(pools, str):
        records = [dict(p) if isinstance(p, Mapping) else p for p in pools]
    else:
        raise SpecError("pools", type(pools).__name__, "a pool (a mapping), a list of pools or a DataFrame")
    if not records:
        raise SpecError("pools", [], "at least one pool")
    names, cols = [], {f: [] for f in (*_FIELDS, "face")}
    for k, p in enumerate(records):
        if not isinstance(p, Mapping):
            raise SpecError(f"pools[{k}]", p, "a mapping of factor_start, factor_end, wac, remaining_term, age")
        known = {*_FIELDS, "face", "name", "pool"}
        extra = sorted(set(p) - known)
        if extra:
            raise SpecError(f"pools[{k}].{extra[0]}", p[extra[0]], f"one of {sorted(known)}")
        name = p.get("name", p.get("pool", k))
        for f in (*_FIELDS, "face"):
            v = p.get(f, 1.0 if f == "face" else None)
            if v is None:
                raise SpecError(f"pools[{k}].{f}", "<missing>", "this required field")
            if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating) or not math.isfinite(v):
                raise SpecError(f"pools[{k}].{f}", v, "a finite number")
            cols[f].append(float(v))
        names.append(name)
    arrays = {f: np.asarray(v) for f, v in cols.items()}
    for f, ok, what in (("factor_start", arrays["factor_start"] > 0.0, "a factor > 0"),
                        ("factor_end", arrays["factor_end"] >= 0.0, "a factor >= 0"),
                        ("wac", arrays["wac"] >= 0.0, "a gross WAC >= 0 (decimal)"),
                        ("face", arrays["face"] > 0.0, "an original face > 0"),
                        ("age", (arrays["age"] >= 0) & (arrays["age"] == np.round(arrays["age"])),
                         "a whole number of months >= 0"),
                        ("remaining_term", (arrays["remaining_term"] >= 1)
                         & (arrays["remaining_term"] == np.round(arrays["remaining_term"])),
                         "a whole number of months >= 1")):
        bad = np.flatnonzero(~ok)
        if bad.size:
            k = int(bad[0])
            raise SpecError(f"pools[{k}].{f}", cols[f][k], what)
    if len(set(names)) != len(names):
        raise SpecError("pools", names, "pools with different names")
    return names, arrays


def implied_speeds(pools, months: int = 1) -> pd.DataFrame:
    """Prepayment speeds implied by each pool's factors over ``months`` months (CONVENTIONS
    R2.13), and, for several pools, their average (row ``all``).

    ``pools``: a mapping, a list of mappings or a DataFrame, each pool with ``factor_start`` and
    ``factor_end`` (its factors ``months`` apart), ``wac`` (gross, decimal), ``remaining_term``
    (months, at the first factor), ``age`` (its loans' age in months at the first factor: loan
    month ``age + 1`` is the first measured), and optionally ``face`` (original face, default 1:
    the weight in the average) and ``name``.

    Columns (``IMPLIED_COLUMNS``): ``smm`` and ``cpr`` (decimals) — over one month
    ``SMM = 1 - F2 / (F1 x BAL(M1-1)/BAL(M1))``, over n months the average
    ``1 - (actual / scheduled)^(1/n)`` of the summed balances; ``psa`` (percent) — over one month
    of one pool ``100 x CPR / CPR(100% PSA, month)``, otherwise the constant PSA that projected
    from the first factors with each pool's own loan months reproduces the actual total
    (bisection to 1e-8; NaN if none in -10,000..100,000); ``abs`` (percent, per pool) —
    ``100 x (F - B) / (AGE0 x F - AGE x B)`` with ``F`` the factor ratio, ``B`` the amortized
    balance ratio and the loans' ages at the two dates (NaN for the average). Unrounded: a
    negative or very large speed points at a wrong factor, term or WAC (BMA SF B.2).

    >>> import abs_engine as ae
    >>> s = ae.implied_speeds({"factor_start": 0.85150625, "factor_end": 0.84732282, "wac": 0.095,
    ...                        "remaining_term": 344, "age": 16})   # BMA SF-7: Ginnie Mae I 9.0%, June 1989
    >>> f"{100 * s.loc[0, 'smm']:.6f}%  {100 * s.loc[0, 'cpr']:.4f}%  {s.loc[0, 'psa']:.2f}%"
    '0.435270%  5.1000%  150.00%'
    """
    import pandas as pd  # deferred: a projection without tables never imports pandas

    if isinstance(months, bool) or not isinstance(months, int | np.integer) or months < 1:
        raise SpecError("months", months, "a whole number of months >= 1")
    n = int(months)
    names, a = _pools(pools)
    m1, age, wac = a["remaining_term"], a["age"], a["wac"]
    short = np.flatnonzero(m1 < n)
    if short.size:
        k = int(short[0])
        raise SpecError(f"pools[{k}].remaining_term", int(m1[k]), f"at least the {n} months measured")
    f1, f2, face = a["factor_start"], a["factor_end"], a["face"]
    scheduled = f1 * _balance_ratio(wac, m1 - n, m1)
    ratio = f2 / scheduled
    smm = 1.0 - ratio ** (1.0 / n)
    cpr = 1.0 - ratio ** (12.0 / n)
    if n == 1:
        psa = 100.0 * cpr / np.minimum(0.002 * np.clip(age + 1, 1, 30), 0.06)
    else:
        psa = np.array([_average_psa(face[k:k + 1], f1[k:k + 1], f2[k:k + 1], m1[k:k + 1], age[k:k + 1],
                                     wac[k:k + 1], n) for k in range(len(names))])
    factor, balance = f2 / f1, _balance_ratio(wac, m1 - n, m1)
    with np.errstate(divide="ignore", invalid="ignore"):
        abs_ = 100.0 * (factor - balance) / (age * factor - (age + n) * balance)
    rows = {"months": np.full(len(names), n), "smm": smm, "cpr": cpr, "psa": psa, "abs": abs_}
    if len(names) > 1:
        total = float(np.sum(face * f2)) / float(np.sum(face * scheduled))
        rows = {c: np.append(v, x) for (c, v), x in zip(rows.items(), (
            n, 1.0 - total ** (1.0 / n), 1.0 - total ** (12.0 / n), _average_psa(face, f1, f2, m1, age, wac, n),
            np.nan), strict=True)}
        names = [*names, "all"]
    index = pd.Index(names, name="pool")
    return pd.DataFrame({c: rows[c] for c in IMPLIED_COLUMNS}, index=index)
