"""The collateral kernel with a delinquency pipeline (CONVENTIONS R2.11): each loan's balance in
one of current, 30, 60 and 90+ days delinquent and foreclosure, moved each month by the
scenario's roll rates; only the paying current balance amortizes, prepays and pays interest
(with advancing, the servicer also advances interest on the delinquent balances); defaults come
from the 90+ bucket and liquidate ``L`` months later at the liquidation month's severity.

A loan's schedule is the level-pay (or straight-line, or interest-only) scheduled fraction ``S``
of :func:`abs_engine.kernels.collateral.loan_setup`; month ``i``'s amortization ratio is
``S_i / S_{i-1}`` (the pool's remaining term ``wam - i + 1``, R2.11.3). In a loan's final month
the current balance pays off, a balance cured that month is paid with it (as scheduled
principal), and what is still delinquent or in foreclosure after the month is liquidated in it
(no loan outlives its term).

Loans are processed in blocks of ``W`` side by side, as by
:func:`~abs_engine.kernels.collateral.project_blocks`; work items are (scenario, chunk of
blocks), each with its own accumulator, reduced in a fixed order afterwards.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from ._jit import kernel
from .collateral import (
    AMORTIZED,
    DEFAULT,
    FCL,
    GROSS,
    LOSS,
    NCOL,
    NET,
    PERF,
    PREPAY,
    RECOVERY,
    SCHED,
    W,
    fmin,
    load_schedules,
    schedule_lanes,
)

__all__ = ["project_delinquent", "ROLL_COLS", "TO_30", "CURE_30", "CURE_60", "CURE_90", "STAY_90", "DEFAULT_90",
           "DQ_COLS", "DQ_30", "DQ_60", "DQ_90"]

TO_30, CURE_30, CURE_60, CURE_90, STAY_90, DEFAULT_90 = range(6)  # a month's roll rates
ROLL_COLS = 6
DQ_30, DQ_60, DQ_90 = range(3)  # the month-end delinquent balances
DQ_COLS = 3


@kernel(inline=True)
def _pipeline_block(m, i, lag, adv, ends, a, c30, c60, c90, s90, d90r, sev, smm, cur, d30, d60, d90, fcl, s, d,
                    growth, gr, nr, mt, rd, wr):
    """Month ``i`` of a block's ``m`` loans; returns the block's flows in the order (scheduled,
    prepaid, defaults, recovery, loss, gross, net, performing, foreclosure, amortized, D30,
    D60, D90). ``rd``: each loan's defaults of month ``i - lag`` (a row of zeros at lag 0),
    ``wr``: where this month's go (a different row). Written with selects, no branch, so the
    loop over the block's loans vectorizes; a loan past its final month has every balance 0.
    ``ends``: whether some loan of the block may be in or past its final month (a constant of
    each compiled copy: before the block's first maturity the final month's terms are left out)."""
    t0 = t1 = t2 = t3 = t4 = t5 = t6 = t7 = t8 = t9 = t10 = t11 = t12 = 0.0
    now = 1.0 if lag == 0 else 0.0  # (at lag 0 a month's defaults liquidate in it)
    for l in range(m):
        alive = (1.0 if i <= mt[l] else 0.0) if ends else 1.0
        fin = (1.0 if i >= mt[l] else 0.0) if ends else 0.0
        s_new = s[l] - d[l]
        if ends:
            s_new = 0.0 if i >= mt[l] else s_new
        ratio = s_new / s[l] if s[l] > 0.0 else 0.0
        c0 = cur[l]
        x30 = d30[l]
        x60 = d60[l]
        x90 = d90[l]
        pay = (1.0 - a) * c0                          # R2.11.3: only the paying current balance pays
        amortized = pay * ratio
        sched = pay - amortized
        prep = amortized * smm[l]
        late = x30 + x60 + x90
        base = pay + late if adv else pay             # R2.11.4: advanced interest on delinquencies
        nd = d90r * x90                               # R2.11.5: defaults enter foreclosure
        c1 = amortized - prep + c30 * x30 + c60 * x60 + c90 * x90   # R2.11.6: month end
        y30 = a * c0
        y60 = (1.0 - c30) * x30
        y90 = (1.0 - c60) * x60 + s90 * x90
        liq = (rd[l] + now * nd) * alive              # the defaults of month i - L
        wr[l] = nd
        f1 = fcl[l] + nd - liq
        f1 = f1 if f1 > 0.0 else 0.0                  # (rounding of cohorts liquidated)
        if ends:  # the final month: a cured balance pays, what is still delinquent or in foreclosure liquidates
            rest = fin * (y30 + y60 + y90 + f1)
            sched += fin * c1
            nd += fin * (y30 + y60 + y90)
            liq += rest
            keep = 1.0 - fin
            c1 *= keep
            y30 *= keep
            y60 *= keep
            y90 *= keep
            f1 *= keep
        cur[l] = c1
        d30[l] = y30
        d60[l] = y60
        d90[l] = y90
        fcl[l] = f1
        s[l] = s_new
        d[l] *= growth[l]
        t0 += sched
        t1 += prep
        t2 += nd
        t3 += liq - sev * liq
        t4 += sev * liq
        t5 += base * gr[l]
        t6 += base * nr[l]
        t7 += c1 + y30 + y60 + y90
        t8 += f1
        t9 += amortized
        t10 += y30
        t11 += y60
        t12 += y90
    return t0, t1, t2, t3, t4, t5, t6, t7, t8, t9, t10, t11, t12


@kernel(inline=True)
def _pipeline_block_as(adv, ends, m, i, lag, a, c30, c60, c90, s90, d90r, sev, smm, cur, d30, d60, d90, fcl, s, d,
                       growth, gr, nr, mt, rd, wr):
    """:func:`_pipeline_block` with ``adv`` and ``ends`` constants in each copy (no branch on them
    in the loop)."""
    if adv:
        if ends:
            return _pipeline_block(m, i, lag, True, True, a, c30, c60, c90, s90, d90r, sev, smm, cur, d30, d60, d90,
                                   fcl, s, d, growth, gr, nr, mt, rd, wr)
        return _pipeline_block(m, i, lag, True, False, a, c30, c60, c90, s90, d90r, sev, smm, cur, d30, d60, d90,
                               fcl, s, d, growth, gr, nr, mt, rd, wr)
    if ends:
        return _pipeline_block(m, i, lag, False, True, a, c30, c60, c90, s90, d90r, sev, smm, cur, d30, d60, d90,
                               fcl, s, d, growth, gr, nr, mt, rd, wr)
    return _pipeline_block(m, i, lag, False, False, a, c30, c60, c90, s90, d90r, sev, smm, cur, d30, d60, d90, fcl,
                           s, d, growth, gr, nr, mt, rd, wr)


@kernel(parallel=True)
def project_delinquent(balance, bucket, gross_m, net_m, amort_n, amort_kind, mat, cls, chunk_bounds, smm_tab,
                       roll, severity, lag, advancing, n_periods):
    """``(flows[scenario, chunk, period, column], dq[scenario, chunk, period, DQ_*])``; sum over
    chunks for the pool. Loans sorted by rate class ``cls`` (column of ``smm_tab[scenario, month,
    class]``), each starting in ``bucket`` (0 current, 1-3: 30, 60, 90+ days delinquent); roll
    rates ``roll[scenario, month, ROLL_COLS]``, severities ``[scenario, month]``. Flows in the
    columns of :mod:`abs_engine.kernels.collateral`: ``PERF`` is every balance not in foreclosure
    (current and delinquent), ``AMORTIZED`` the paying current balance after its scheduled
    principal, ``DEFAULT`` the balance entering foreclosure."""
    n = balance.size
    n_scen = smm_tab.shape[0]
    n_chunks = chunk_bounds.size - 1
    out = np.zeros((n_scen, n_chunks, n_periods, NCOL))
    dq = np.zeros((n_scen, n_chunks, n_periods, DQ_COLS))
    for item in prange(n_scen * n_chunks):
        sc = item // n_chunks
        c = item - sc * n_chunks
        L = lag[sc]
        adv = advancing[sc]
        acc = out[sc, c]
        dacc = dq[sc, c]
        cur = np.empty(W)  # the balances current, 30, 60, 90+ days delinquent and in foreclosure
        d30 = np.empty(W)
        d60 = np.empty(W)
        d90 = np.empty(W)
        fcl = np.empty(W)
        s, d, growth, gr, nr, mt, lane_smm = schedule_lanes()
        # rows 0..L: the last L+1 months' defaults; row L+1 is never written: the read row at lag 0
        ring = np.zeros((L + 2, W))
        for b in range(chunk_bounds[c], chunk_bounds[c + 1]):
            lo = b * W
            hi = min(lo + W, n)
            m = hi - lo
            last = load_schedules(lo, m, gross_m, net_m, amort_n, amort_kind, mat, s, d, growth, gr, nr, mt)
            first = last  # the block's first maturity: before it no loan is in its final month
            for l in range(m):
                first = min(first, mt[l])
            for l in range(m):  # each loan's balance in its bucket at cut-off
                x = balance[lo + l]
                q = bucket[lo + l]
                cur[l] = x if q == 0 else 0.0
                d30[l] = x if q == 1 else 0.0
                d60[l] = x if q == 2 else 0.0
                d90[l] = x if q == 3 else 0.0
                fcl[l] = 0.0
            ring[:, :] = 0.0
            uniform = cls[lo] == cls[hi - 1]
            for i in range(1, min(last, n_periods) + 1):
                j = i - 1
                if uniform:
                    x = fmin(smm_tab[sc, j, cls[lo]], 1.0)
                    for l in range(m):
                        lane_smm[l] = x
                else:
                    for l in range(m):
                        lane_smm[l] = fmin(smm_tab[sc, j, cls[lo + l]], 1.0)
                ws = i % (L + 1)  # this month's defaults; month i - L's are read (row L+1 at lag 0)
                rs = (i + 1) % (L + 1) if L > 0 else L + 1
                r = _pipeline_block_as(adv, i >= first, m, i, L, roll[sc, j, TO_30], roll[sc, j, CURE_30],
                                       roll[sc, j, CURE_60], roll[sc, j, CURE_90], roll[sc, j, STAY_90],
                                       roll[sc, j, DEFAULT_90],
                                       severity[sc, j], lane_smm, cur, d30, d60, d90, fcl, s, d, growth, gr, nr, mt,
                                       ring[rs], ring[ws])
                row = acc[j]
                row[SCHED] += r[0]
                row[PREPAY] += r[1]
                row[DEFAULT] += r[2]
                row[RECOVERY] += r[3]
                row[LOSS] += r[4]
                row[GROSS] += r[5]
                row[NET] += r[6]
                row[PERF] += r[7]
                row[FCL] += r[8]
                row[AMORTIZED] += r[9]
                dacc[j, DQ_30] += r[10]
                dacc[j, DQ_60] += r[11]
                dacc[j, DQ_90] += r[12]
    return out, dq
