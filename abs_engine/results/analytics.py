"""Yield, price, duration, convexity, WAL and discount margin, by the BMA Standard Formulas
section G (see CONVENTIONS.md). Every function is vectorized over leading axes, so a grid of
tranches x scenarios is priced in one call.

Cash flows are per 100 of face, one per month; the k-th (k = 1, 2, ...) is received at
``T_k = (30k + delay_days)/360`` years (30/360). Yields are bond-equivalent (semiannual).
"""

from __future__ import annotations

import numpy as np

__all__ = ["times", "price_from_yield", "yield_from_price", "mortgage_yield", "macaulay_duration", "risk_measures",
           "modified_duration", "convexity", "wal", "discount_margin", "price_from_discount_margin"]

_LO, _HI = -1.99, 10.0  # bond-equivalent yields searched, down to -199% (CONVENTIONS R2.6.4; discount margins too)


def times(n: int, delay_days: float = 0.0) -> np.ndarray:
    """``T_k = (30k + delay_days)/360`` for k = 1..n.

    >>> times(3).tolist()
    [0.08333333333333333, 0.16666666666666666, 0.25]
    """
    return (30.0 * np.arange(1, n + 1) + delay_days) / 360.0


def _discount(y, t):
    """``(1 + y/2)^(-2t)`` as ``exp(-2t log1p(y/2))``."""
    return np.exp(-2.0 * t * np.log1p(np.asarray(y, dtype=np.float64)[..., None] / 2.0))


def risk_measures(cf, y, delay_days: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(macaulay, modified, convexity)`` from one set of discount factors (see the three
    functions below, which this equals)."""
    cf = np.asarray(cf, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    t = times(cf.shape[-1], delay_days)
    pv = cf * _discount(y, t)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = pv.sum(axis=-1)
        mac = (t * pv).sum(axis=-1) / p
        conv = (t * (t + 0.5) * pv).sum(axis=-1) / ((1.0 + y / 2.0) ** 2 * p)
    return mac, mac / (1.0 + y / 2.0), conv


def price_from_yield(cf, y, delay_days: float = 0.0) -> np.ndarray:
    """``P = Σ CF_k (1 + y/2)^(-2 T_k)``: price per 100 of face (including accrued interest).

    >>> round(float(price_from_yield([0.0] * 119 + [100.0], 0.05)), 6)   # 10-year zero at 5%
    61.027094
    """
    cf = np.asarray(cf, dtype=np.float64)
    return (cf * _discount(y, times(cf.shape[-1], delay_days))).sum(axis=-1)


def yield_from_price(cf, price, delay_days: float = 0.0) -> np.ndarray:
    """The bond-equivalent yield at which the cash flows are worth ``price``, every bond at once:
    Newton steps (the derivative is exact), then bisection for any bond they leave unsettled;
    to 1e-13. NaN where no yield in [-199%, 1000%] gives the price.

    >>> round(float(yield_from_price([0.5] * 359 + [100.5], 100.0)), 10)   # 6% monthly at par
    0.0607550188
    """
    cf = np.asarray(cf, dtype=np.float64)
    price = np.broadcast_to(np.asarray(price, dtype=np.float64), cf.shape[:-1])
    t = times(cf.shape[-1], delay_days)

    def pv(y):
        return (cf * np.exp(-2.0 * t * np.log1p(np.asarray(y)[..., None] / 2.0))).sum(axis=-1)

    lo = np.full(cf.shape[:-1], _LO)
    hi = np.full(cf.shape[:-1], _HI)
    ok = (pv(lo) >= price) & (pv(hi) <= price)
    y = np.full(cf.shape[:-1], 0.05)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        for _ in range(12):
            v = np.exp(-2.0 * t * np.log1p(y[..., None] / 2.0))
            f = (cf * v).sum(axis=-1) - price
            slope = -(cf * v * t).sum(axis=-1) / (1.0 + y / 2.0)  # dP/dy
            y = np.clip(y - f / np.where(slope < 0, slope, -1.0), _LO, _HI)
        settled = np.abs(pv(y) - price) <= 1e-12 * np.maximum(np.abs(price), 1.0)
    if not settled[ok].all():  # bisection for the rest
        rest = ok & ~settled
        a, b = lo[rest], hi[rest]
        cr, pr = cf[rest], price[rest]
        for _ in range(80):
            mid = 0.5 * (a + b)
            above = (cr * np.exp(-2.0 * t * np.log1p(mid[..., None] / 2.0))).sum(axis=-1) > pr
            a = np.where(above, mid, a)
            b = np.where(above, b, mid)
        y[rest] = 0.5 * (a + b)
    return np.where(ok, y, np.nan)


def mortgage_yield(bey) -> np.ndarray:
    """Monthly-compounded yield equivalent to a bond-equivalent yield: ``12 [(1 + y/2)^(1/6) - 1]``.

    >>> round(float(mortgage_yield(0.0607550187875)), 12)
    0.06
    """
    return 12.0 * ((1.0 + np.asarray(bey, dtype=np.float64) / 2.0) ** (1.0 / 6.0) - 1.0)


def macaulay_duration(cf, y, delay_days: float = 0.0) -> np.ndarray:
    """``(1/P) Σ T_k CF_k v^(2 T_k)`` in years, ``v = 1/(1 + y/2)``."""
    cf = np.asarray(cf, dtype=np.float64)
    t = times(cf.shape[-1], delay_days)
    pv = cf * _discount(y, t)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (t * pv).sum(axis=-1) / pv.sum(axis=-1)


def modified_duration(cf, y, delay_days: float = 0.0) -> np.ndarray:
    """Macaulay duration / (1 + y/2)."""
    return macaulay_duration(cf, y, delay_days) / (1.0 + np.asarray(y, dtype=np.float64) / 2.0)


def convexity(cf, y, delay_days: float = 0.0) -> np.ndarray:
    """``Σ T_k (T_k + 1/2) CF_k v^(2 T_k) / ((1 + y/2)^2 P)``."""
    cf = np.asarray(cf, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    t = times(cf.shape[-1], delay_days)
    pv = cf * _discount(y, t)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (t * (t + 0.5) * pv).sum(axis=-1) / ((1.0 + y / 2.0) ** 2 * pv.sum(axis=-1))


def wal(principal, delay_days: float = 0.0) -> np.ndarray:
    """Weighted-average life in years: ``Σ T_k principal_k / Σ principal_k`` (NaN with no principal).

    >>> float(wal([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 100]))
    1.0
    """
    principal = np.asarray(principal, dtype=np.float64)
    t = times(principal.shape[-1], delay_days)
    total = principal.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (t * principal).sum(axis=-1) / total, np.nan)


def price_from_discount_margin(cf, index, dm) -> np.ndarray:
    """A floater's price per 100 discounting month k at ``Π_{j<=k} 1/(1 + (index_j + dm)/12)``.

    ``index`` is the index path by month (``[..., n]``, broadcast against ``cf``)."""
    cf = np.asarray(cf, dtype=np.float64)
    rate = np.asarray(index, dtype=np.float64) + np.asarray(dm, dtype=np.float64)[..., None]
    return (cf * np.cumprod(1.0 / (1.0 + rate / 12.0), axis=-1)).sum(axis=-1)


def discount_margin(cf, price, index) -> np.ndarray:
    """The margin over the index path at which a floater's cash flows are worth ``price``.

    >>> cf = [100 * (0.05 + 0.01) / 12] * 11 + [100 * (1 + (0.05 + 0.01) / 12)]
    >>> round(float(discount_margin(cf, 100.0, [0.05] * 12)), 10)   # priced at par: DM = spread
    0.01
    """
    cf = np.asarray(cf, dtype=np.float64)
    price = np.broadcast_to(np.asarray(price, dtype=np.float64), cf.shape[:-1])
    lo = np.full(cf.shape[:-1], _LO)
    hi = np.full(cf.shape[:-1], _HI)
    ok = (price_from_discount_margin(cf, index, lo) >= price) & (price_from_discount_margin(cf, index, hi) <= price)
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        above = price_from_discount_margin(cf, index, mid) > price
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
    return np.where(ok, 0.5 * (lo + hi), np.nan)
