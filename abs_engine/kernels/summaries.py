"""The summary sink: what a summary keeps of a block's periods, and the statistics it folds them
into at the end.

For runs that keep only summaries, storing the per-period tables is most of the cost: the
waterfall writes about 100 numbers per scenario-period, which at 10,000 scenarios x 360
months is 2.9 GB of memory traffic for tables nobody reads. The loop
(:func:`abs_engine.kernels.deal.run_blocks`) keeps instead, per block, its tranches' running sums
and cash flows per 100 of face, and :func:`finish_block` turns them into WAL, yield and
duration; a block's waterfall stops once every deal in it has retired, its pool once no later
month can add to the pool loss (:func:`no_loss_ahead`).

The numbers are the ones a full run gives: the same month step, the waterfall's arithmetic in the
same order, the same order of every sum, no re-association; WAL, yield and duration are the
formulas of :mod:`abs_engine.results.analytics` (BMA section G), the yield searched for every note of a
block at once (:func:`_yields`).

Every lane loop here is written to vectorize: a block's values live in a few flat arrays at
fixed distances (``S``, ``cf``), indexed with unsigned integers (numba then adds no
negative-index wraparound, which hides the address pattern from LLVM), over a run-time lane
count (a loop of constant length is unrolled before the vectorizer sees it).
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import kernel
from .collateral import fmax, fmin
from .state import L_W, N_LOAN_ROWS, SB, cell

__all__ = ["S_WAL", "S_FIRST", "S_LAST", "S_INTEREST", "S_PRINCIPAL", "S_WRITEDOWN", "S_YIELD", "S_PRICE",
           "S_MOD_DURATION", "N_STATS", "X_RESIDUAL", "X_POOL_LOSS", "N_EXTRA", "finish_block", "quiet_from",
           "no_loss_ahead"]

# per scenario and note
S_WAL, S_FIRST, S_LAST, S_INTEREST, S_PRINCIPAL, S_WRITEDOWN, S_YIELD, S_PRICE, S_MOD_DURATION = range(9)
N_STATS = 9
# per scenario
X_RESIDUAL, X_POOL_LOSS = range(2)
N_EXTRA = 2

YIELD_LO, YIELD_HI = -1.99, 10.0  # as abs_engine.results.analytics: down to -199% (CONVENTIONS R2.6.4)
# the monthly discount factor (1 + y/2)^(-1/6) at those bounds
X_AT_LO, X_AT_HI = ((1.0 + y / 2.0) ** (-1.0 / 6.0) for y in (YIELD_LO, YIELD_HI))
NEWTON_STEPS = 12
BISECTIONS = 80





@kernel(inline=True)
def _sums(cf, k1, m, x, w):
    """Per item ``i < m`` (note ``i // SB``, lane ``i % SB``), at the monthly discount factor
    ``x[i] = (1 + y/2)^(-1/6)``: ``A = Σ CF_k x^(k+1)`` (``w[i]``) and ``B = Σ (k+1) CF_k x^(k+1)``
    (``w[m + i]``) over periods ``0..k1``, ``CF_k = cf[k m + i]``; ``w[2 m + i]`` holds the
    running power. Products and sums only, no ``exp`` or ``log``; every note of a block at once,
    so the inner loop is long and contiguous and vectorizes, and four periods per visit of an
    item, so its sums stay in registers for them (a third of the loads and stores)."""
    for i in range(m):
        w[np.uint64(i)] = 0.0
        w[np.uint64(m + i)] = 0.0
        w[np.uint64(2 * m + i)] = x[np.uint64(i)]
    k = 0
    while k <= k1:
        if k + 3 <= k1:
            n = k + 1.0
            for i in range(m):
                xi = x[np.uint64(i)]
                u = w[np.uint64(2 * m + i)]
                v0 = cf[np.uint64(k * m + i)] * u
                u *= xi
                v1 = cf[np.uint64((k + 1) * m + i)] * u
                u *= xi
                v2 = cf[np.uint64((k + 2) * m + i)] * u
                u *= xi
                v3 = cf[np.uint64((k + 3) * m + i)] * u
                w[np.uint64(i)] += v0 + v1 + v2 + v3
                w[np.uint64(m + i)] += n * v0 + (n + 1.0) * v1 + (n + 2.0) * v2 + (n + 3.0) * v3
                w[np.uint64(2 * m + i)] = u * xi
            k += 4
        else:
            n = k + 1.0
            for i in range(m):
                v = cf[np.uint64(k * m + i)] * w[np.uint64(2 * m + i)]
                w[np.uint64(i)] += v
                w[np.uint64(m + i)] += n * v
                w[np.uint64(2 * m + i)] *= x[np.uint64(i)]
            k += 1




@kernel(inline=True)
def _step(x, pv, price, d):
    """One Newton step on ``ln P`` against ``ln x`` from ``x``, where the price is ``pv`` and its
    slope ``d = d ln P / d ln x >= 1``: ``x e^z``, ``z = ln(price/pv)/d``, with the Padé forms of
    ``ln`` and ``exp`` (see :func:`_yields`); clamped to the yields searched."""
    z = 2.0 * (price - pv) / ((price + pv) * d) if pv > 0.0 else 0.0
    return fmin(fmax(x * (2.0 + z) / (2.0 - z), X_AT_HI), X_AT_LO)


@kernel(inline=True)
def _any_positive(a, start, m):
    for i in range(start, start + m):
        if a[i] > 0.0:
            return True
    return False


@kernel(inline=True)
def _pv_at(cf, k1, m, x, c, i):
    """One item's price at ``x`` (:func:`_sums`' ``A`` times ``x^c``)."""
    u = x
    a = 0.0
    for k in range(k1 + 1):
        a += cf[k * m + i] * u
        u *= x
    return a if c == 0.0 else a * math.exp(c * math.log(x))


@kernel
def _yields(cf, n_per, m, price, delay, out_y, out_md):
    """Bond-equivalent yield at ``price[i // SB]`` and modified duration of every note in every
    lane (item ``i < m``) from their cash flows per 100 of face in periods ``0..n_per-1`` of
    ``cf`` (``[period, note, lane]``, flat).

    The formulas of :mod:`abs_engine.results.analytics` (BMA section G): with ``T_k = (30 (k+1) +
    delay)/360`` years, price ``P(y) = Σ CF_k (1 + y/2)^(-2 T_k)``. In the monthly discount factor
    ``x = (1 + y/2)^(-1/6)`` that is ``x^c A(x)`` with ``c = delay/30`` and ``A`` a polynomial
    (:func:`_sums`), increasing in ``x`` (no cash flow is negative). Newton steps on ``ln P``
    against ``ln x``, whose slope is ``D = c + B/A``: ``ln x += ln(price/P) / D``, with the Padé
    forms ``ln r ≈ 2 (r-1)/(r+1)`` and ``e^z ≈ (2+z)/(2-z)`` (third-order exact, so the steps stay
    quadratic; ``|z| < 2`` since ``D >= 1``), the first one from a zero yield (``x = 1``, where
    ``A`` and ``B`` are the scan's plain sums); clamped to [-99%, 1000%]. An item at a bound with
    the price beyond it has no yield (NaN, as :func:`abs_engine.results.analytics.yield_from_price`);
    items the steps leave unsettled are bisected. Then ``y = 2 (x^-6 - 1)`` and the modified
    duration
    ``Σ T_k CF_k (1 + y/2)^(-2 T_k) / (P (1 + y/2)) = (B + c A) / (12 A (1 + y/2))``."""
    s0 = np.zeros(m)  # per item: Σ CF_k (> 0: it is paid something; no cash flow is negative) and Σ (k+1) CF_k
    s1 = np.zeros(m)
    for k in range(n_per):
        row = k * m
        n = k + 1.0
        for i in range(m):
            v = cf[np.uint64(row + i)]
            s0[np.uint64(i)] += v
            s1[np.uint64(i)] += n * v
    k1 = n_per - 1  # the last period with a cash flow
    while k1 >= 0 and not _any_positive(cf, k1 * m, m):
        k1 -= 1
    c = delay / 30.0
    x = np.empty(m)
    xc = np.ones(m)  # x^c
    w = np.empty(3 * m)
    ok = np.empty(m, dtype=np.bool_)
    p = np.empty(m)
    for i in range(m):
        ok[i] = s0[i] > 0.0
        p[i] = price[i // SB]
        x[i] = _step(1.0, s0[i], p[i], c + s1[i] / s0[i]) if s0[i] > 0.0 else 1.0  # from a zero yield
    tol = np.empty(m)
    for i in range(m):
        tol[i] = 1e-12 * max(abs(p[i]), 1.0)
    settled = k1 < 0
    for _ in range(NEWTON_STEPS if k1 >= 0 else 0):
        _sums(cf, k1, m, x, w)
        if c != 0.0:
            for i in range(m):
                xc[i] = math.exp(c * math.log(x[i]))
        settled = True
        for i in range(m):
            f = xc[i] * w[i] - p[i]
            # at a bound with the price beyond it: no yield in [YIELD_LO, YIELD_HI] (P increases with x)
            ok[i] = ok[i] and not ((x[i] == X_AT_LO and f < 0.0) or (x[i] == X_AT_HI and f > 0.0))
            settled = settled and (abs(f) <= tol[i] or not ok[i])
        if settled:  # every item's price is within tol at x (A and B are x's), or it has no yield
            break
        for i in range(m):
            x[i] = _step(x[i], xc[i] * w[i], p[i], c + w[m + i] / w[i])
    if not settled:  # is there a yield at all? then bisection for the items Newton left
        for i in range(m):
            if ok[i] and not abs(_pv_at(cf, k1, m, x[i], c, i) - p[i]) <= tol[i]:
                ok[i] = _pv_at(cf, k1, m, X_AT_LO, c, i) >= p[i] >= _pv_at(cf, k1, m, X_AT_HI, c, i)
                lo = X_AT_HI
                hi = X_AT_LO
                for _ in range(BISECTIONS if ok[i] else 0):  # this item alone
                    mid = 0.5 * (lo + hi)
                    if _pv_at(cf, k1, m, mid, c, i) < p[i]:
                        lo = mid
                    else:
                        hi = mid
                x[i] = 0.5 * (lo + hi)
        _sums(cf, k1, m, x, w)
    for i in range(m):
        if ok[i]:
            x2 = x[i] * x[i]
            g = 1.0 / (x2 * x2 * x2)  # 1 + y/2
            out_y[i] = 2.0 * (g - 1.0)
            out_md[i] = (w[m + i] + c * w[i]) / (12.0 * w[i] * g)
        else:
            out_y[i] = np.nan
            out_md[i] = np.nan


@kernel
def finish_block(cf, n_per, run, residual, pool_loss, lanes, face, price, delay, stats, extra):
    """Write one block's summaries: ``cf`` (cash flows per 100 of face, ``[period, note, lane]``
    flattened, of which periods ``0..n_per-1`` were run),
    ``run[note, column, lane]`` (principal, period-weighted principal, interest, writedown, first
    and last principal period), residual and pool loss per lane. ``lanes``: the block's scenario
    indices (negative: padding, not written)."""
    n_notes = run.shape[0]
    y = np.empty(n_notes * SB)
    md = np.empty(n_notes * SB)
    _yields(cf, n_per, n_notes * SB, price, delay, y, md)
    for t in range(n_notes):
        for l in range(SB):
            j = lanes[l]
            if j < 0:
                continue
            total = run[t, 0, l]
            stats[S_WAL, j, t] = (30.0 * run[t, 1, l] + delay * total) / (360.0 * total) if total > 0.0 \
                else np.nan
            stats[S_FIRST, j, t] = run[t, 4, l]
            stats[S_LAST, j, t] = run[t, 5, l]
            stats[S_INTEREST, j, t] = run[t, 2, l]
            stats[S_PRINCIPAL, j, t] = total
            stats[S_WRITEDOWN, j, t] = run[t, 3, l]
            stats[S_YIELD, j, t] = y[t * SB + l]
            stats[S_PRICE, j, t] = price[t]
            stats[S_MOD_DURATION, j, t] = md[t * SB + l]
    for l in range(SB):
        j = lanes[l]
        if j >= 0:
            extra[j, X_RESIDUAL] = residual[l]
            extra[j, X_POOL_LOSS] = pool_loss[l]


@kernel
def quiet_from(mdr_rows):
    """Per row of an MDR table ``[row, month, class]``: the first month index from which every
    class's MDR is 0 (0 for a row without defaults)."""
    out = np.zeros(mdr_rows.shape[0], dtype=np.int64)
    for r in range(mdr_rows.shape[0]):
        i = mdr_rows.shape[1]
        while i > 0 and not (mdr_rows[r, i - 1] > 0.0).any():
            i -= 1
        out[r] = i
    return out


@kernel(inline=True)
def no_loss_ahead(S, ring, r_loan, n_loans, lag, m1, mat, quiet_at, nl):
    """Whether no month after ``m1`` can add to any lane's pool loss. A month's loss is
    ``min(severity x new defaults of lag months ago, liquidation)`` with a liquidation that is
    never negative (:func:`abs_engine.kernels.collateral.month_step`), so it is exactly 0 once
    every loan is past its maturity, or has no defaults waiting in the ring (``ring``: per loan
    and slot, new defaults and their scaled twin; every slot is checked) and can make none: its
    performing weight is 0, and stays 0, or its lane's MDR is 0 from the next month on
    (``quiet_at``). Stopping there leaves every sum as the full horizon gives it: the rest adds 0."""
    for k in range(n_loans):
        if m1 >= mat[k]:
            continue
        c0 = r_loan + N_LOAN_ROWS * k
        for l in range(nl):
            if S[cell(c0 + L_W, l)] != 0.0 and m1 < quiet_at[l]:
                return False
        r0 = k * (lag + 2) * 2
        for slot in range(lag + 2):
            for l in range(nl):
                if ring[cell(r0 + 2 * slot, l)] != 0.0:
                    return False
    return True
