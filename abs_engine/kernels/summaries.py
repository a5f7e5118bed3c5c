"""Summaries in one pass: collateral, waterfall and per-tranche summaries fused per scenario block.

For runs that keep only summaries, storing the per-period tables is most of the cost: the
waterfall writes about 100 numbers per scenario-period, which at 10,000 scenarios x 360
months is 2.9 GB of memory traffic for tables nobody reads. Here each block of ``SB``
scenarios projects its pool for one period (scenarios in the lanes, loans in loan order, as
:func:`abs_engine.kernels.collateral.project_scenario_blocks`), runs the same
:func:`abs_engine.kernels.waterfall.period` on it, and folds the period into running sums;
every per-period array is a small scratch array that stays in cache. A block keeps only its
tranches' cash flows per 100 of face (for the yield), ``[period, note, lane]``.

The numbers are the ones a full run gives: the same month step, the same period function and
the same order of every sum, so pool and tranche flows are identical; WAL, yield and duration
are the formulas of :mod:`abs_engine.analytics` (BMA section G), evaluated here per lane.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from . import waterfall as KW
from ._jit import kernel
from .collateral import FCL, LOSS, NCOL, NET, PERF, PREPAY, RECOVERY, SCHED, loan_setup, month_step

__all__ = ["SB", "S_WAL", "S_FIRST", "S_LAST", "S_INTEREST", "S_PRINCIPAL", "S_WRITEDOWN", "S_YIELD", "S_PRICE",
           "S_MOD_DURATION", "N_STATS", "X_RESIDUAL", "X_POOL_LOSS", "N_EXTRA", "project_summaries"]

SB = KW.SB

# per scenario and note
S_WAL, S_FIRST, S_LAST, S_INTEREST, S_PRINCIPAL, S_WRITEDOWN, S_YIELD, S_PRICE, S_MOD_DURATION = range(9)
N_STATS = 9
# per scenario
X_RESIDUAL, X_POOL_LOSS = range(2)
N_EXTRA = 2

YIELD_LO, YIELD_HI = -0.99, 10.0  # as abs_engine.analytics
NEWTON_STEPS = 12
SLAB = 16  # periods per waterfall call: the call's dozens of array arguments are paid once per slab
BISECTIONS = 80


@kernel(inline=True)
def _advance_lanes(adv, m1, mk, lag, c, smm_l, mdr_l, sev_l, k, wl, fl, s_prev, d, growth, gr, nr,
                   ring_nd, ring_norm, rs, ws, acc):
    """Loan ``k``, month ``m1``, in every lane; flows added to ``acc[column, lane]``."""
    for l in range(SB):
        r = month_step(m1, mk, lag, adv, smm_l[c, l], mdr_l[c, l], sev_l[l], wl[k, l], s_prev, d, growth,
                       fl[k, l], gr, nr, ring_nd[k, rs, l], ring_norm[k, rs, l])
        wl[k, l] = r[0]
        fl[k, l] = r[3]
        ring_nd[k, ws, l] = r[4]
        ring_norm[k, ws, l] = r[5]
        acc[0, l] += r[6]
        acc[1, l] += r[7]
        acc[2, l] += r[8]
        acc[3, l] += r[9]
        acc[4, l] += r[10]
        acc[5, l] += r[11]
        acc[6, l] += r[12]
        acc[7, l] += r[13]
        acc[8, l] += r[14]
        acc[9, l] += r[15]


@kernel(inline=True)
def _pv(cf, t, y, delay, k0, k1, pv, dv, q, v):
    """Per lane: ``pv = Σ CF_k (1 + y/2)^(-2 T_k)`` and ``dv = Σ T_k CF_k (1 + y/2)^(-2 T_k)`` over
    periods ``k0..k1`` (0-based) of note ``t``, ``T_k = (30 (k+1) + delay)/360``."""
    t0 = (30.0 * (k0 + 1) + delay) / 360.0
    for l in range(SB):
        g = math.log1p(y[l] / 2.0)
        q[l] = math.exp(-g / 6.0)
        v[l] = math.exp(-2.0 * t0 * g)
        pv[l] = 0.0
        dv[l] = 0.0
    for k in range(k0, k1 + 1):
        tk = (30.0 * (k + 1) + delay) / 360.0
        for l in range(SB):
            x = cf[k, t, l] * v[l]
            pv[l] += x
            dv[l] += tk * x
            v[l] *= q[l]


@kernel
def _yields(cf, t, price, delay, out_y, out_md):
    """Bond-equivalent yield at ``price`` and modified duration of note ``t``, every lane: Newton
    steps with the exact derivative, bisection for lanes they leave unsettled, NaN where no
    yield in [-99%, 1000%] gives the price (as :func:`abs_engine.analytics.yield_from_price`)."""
    n = cf.shape[0]
    k0 = n
    k1 = -1
    for k in range(n):
        for l in range(SB):
            if cf[k, t, l] != 0.0:
                k0 = min(k0, k)
                k1 = max(k1, k)
    if k1 < 0:
        for l in range(SB):
            out_y[l] = np.nan
            out_md[l] = np.nan
        return
    y = np.empty(SB)
    pv = np.empty(SB)
    dv = np.empty(SB)
    q = np.empty(SB)
    v = np.empty(SB)
    ok = np.empty(SB, dtype=np.bool_)
    tol = 1e-12 * max(abs(price), 1.0)
    y[:] = YIELD_LO
    _pv(cf, t, y, delay, k0, k1, pv, dv, q, v)
    for l in range(SB):
        ok[l] = pv[l] >= price
    y[:] = YIELD_HI
    _pv(cf, t, y, delay, k0, k1, pv, dv, q, v)
    for l in range(SB):
        ok[l] = ok[l] and pv[l] <= price
    y[:] = 0.05
    for _ in range(NEWTON_STEPS):
        _pv(cf, t, y, delay, k0, k1, pv, dv, q, v)
        settled = True
        for l in range(SB):
            f = pv[l] - price
            settled = settled and (abs(f) <= tol or not ok[l])
            slope = -dv[l] / (1.0 + y[l] / 2.0)
            y[l] = min(max(y[l] - f / (slope if slope < 0.0 else -1.0), YIELD_LO), YIELD_HI)
        if settled:
            break
    _pv(cf, t, y, delay, k0, k1, pv, dv, q, v)
    for l in range(SB):
        if ok[l] and not abs(pv[l] - price) <= tol:  # bisection, this lane alone
            a = YIELD_LO
            b = YIELD_HI
            for _ in range(BISECTIONS):
                mid = 0.5 * (a + b)
                g = math.log1p(mid / 2.0)
                s = 0.0
                for k in range(k0, k1 + 1):
                    s += cf[k, t, l] * math.exp(-2.0 * ((30.0 * (k + 1) + delay) / 360.0) * g)
                if s > price:
                    a = mid
                else:
                    b = mid
            y[l] = 0.5 * (a + b)
    _pv(cf, t, y, delay, k0, k1, pv, dv, q, v)
    for l in range(SB):
        if ok[l]:
            out_y[l] = y[l]
            out_md[l] = dv[l] / pv[l] / (1.0 + y[l] / 2.0)
        else:
            out_y[l] = np.nan
            out_md[l] = np.nan


@kernel(parallel=True)
def project_summaries(balance, gross_m, net_m, amort_n, interest_only, mat, cls,
                      smm_rows, mdr_rows, sev_rows, prow, drow, srow, lanes, lag_b, adv_b, pool_start,
                      coupon_rows, crow, delinq_rows, qrow, exercise,
                      dcf, ios, fee_rate, fee_amount, fee_basis, acct_fixed, acct_amount, acct_pct,
                      acct_basis, acct_floor, acct_keep, trig_metric, trig_below, trig_curable,
                      trig_threshold, op, arg, mem_ptr, members, cov_ptr, cov_acct, wd_order,
                      oc_params, call_pct, orig_pool, wd_accounts, principal_phase,
                      bal0, acct0, face, price, delay, stats, extra):
    """Summaries of every scenario of ``lanes`` (``[block, lane]`` scenario indices; a padding lane
    holds ``-1 - index`` of a scenario it repeats and is not written).

    Collateral: a small pool (its loans in every lane), rate tables ``[row, month, class]`` and
    severities ``[row, month]`` with each scenario's rows ``prow``/``drow``/``srow``; every lane of
    a block shares ``lag_b[block]`` and ``adv_b[block]``. Waterfall: the structure arguments of
    :func:`abs_engine.kernels.waterfall.period`, coupons ``[row, period, note]`` and 60+
    delinquency ``[row, period]`` with rows ``crow``/``qrow``, call elections ``exercise``;
    initial note balances ``bal0`` and account balances ``acct0``. ``face``: each note's original
    balance; ``price``: per note, per 100 of face; ``delay``: payment delay in days.

    Writes ``stats[scenario, note, S_*]`` and ``extra[scenario, X_*]``.
    """
    n_loans = balance.size
    n_per = dcf.shape[0]
    n_notes = bal0.size
    n_fees = fee_rate.size
    n_acct = acct0.size
    n_trig = trig_metric.size
    n_cls = smm_rows.shape[2]
    n_rows = KW.W_FIXED + 3 * n_notes + 2 * n_fees
    for b in prange(lanes.shape[0]):
        lag = lag_b[b]
        adv = adv_b[b]
        sc = np.empty(SB, dtype=np.int64)
        for l in range(SB):
            x = lanes[b, l]
            sc[l] = x if x >= 0 else -1 - x
        # collateral state: per loan and lane; the schedule per loan
        wl = np.empty((n_loans, SB))
        fl = np.zeros((n_loans, SB))
        ring_nd = np.zeros((n_loans, lag + 2, SB))
        ring_norm = np.zeros((n_loans, lag + 2, SB))
        s = np.ones(n_loans)
        d = np.empty(n_loans)
        growth = np.empty(n_loans)
        for k in range(n_loans):
            d[k], growth[k] = loan_setup(gross_m[k], amort_n[k], interest_only[k])
            for l in range(SB):
                wl[k, l] = balance[k]
        # the deal's state, one block
        bal = np.empty((1, n_notes, SB))
        short = np.zeros((1, n_notes, SB))
        arrears = np.zeros((1, n_fees, SB))
        acct = np.empty((1, n_acct, SB))
        breached = np.zeros((1, n_trig, SB))
        cum_loss = np.zeros((1, SB))
        called = np.zeros((1, SB))
        for l in range(SB):
            for t in range(n_notes):
                bal[0, t, l] = bal0[t]
            for a in range(n_acct):
                acct[0, a, l] = acct0[a]
        w = np.zeros((n_rows, SB))
        # one period's inputs and outputs
        ic = np.zeros((1, SLAB, SB))
        pc = np.zeros((1, SLAB, SB))
        ls = np.zeros((1, SLAB, SB))
        beg = np.zeros((1, SLAB, SB))
        end = np.zeros((1, SLAB, SB))
        dq = np.zeros((1, SLAB, SB))
        cp = np.zeros((1, SLAB, n_notes, SB))
        ex = np.zeros((1, SB))
        tro = np.zeros((1, SLAB, n_notes, KW.TR_COLS, SB))
        feo = np.zeros((1, SLAB, n_fees, KW.FEE_COLS, SB))
        aco = np.zeros((1, SLAB, n_acct, KW.ACCT_COLS, SB))
        tgo = np.zeros((1, SLAB, n_trig, KW.TRIG_COLS, SB))
        co = np.zeros((1, SLAB, KW.CASH_COLS, SB))
        prev_end = np.empty(SB)
        acc = np.zeros((NCOL, SB))
        smm_l = np.empty((n_cls, SB))
        mdr_l = np.empty((n_cls, SB))
        sev_l = np.empty(SB)
        # running sums: principal, period-weighted principal, interest, writedown, first, last
        run = np.zeros((n_notes, 6, SB))
        cf = np.zeros((n_per, n_notes, SB))
        residual = np.zeros(SB)
        pool_loss = np.zeros(SB)
        for l in range(SB):
            ex[0, l] = exercise[sc[l]]
            prev_end[l] = pool_start
        for i0 in range(0, n_per, SLAB):  # a slab of periods: collateral, then one waterfall call
            i1 = min(i0 + SLAB, n_per)
            for i in range(i0, i1):
                q = i - i0
                m1 = i + 1
                for l in range(SB):
                    j = sc[l]
                    sev_l[l] = sev_rows[srow[j], i]
                    dq[0, q, l] = delinq_rows[qrow[j], i]
                    for c in range(n_cls):
                        smm_l[c, l] = smm_rows[prow[j], i, c]
                        mdr_l[c, l] = mdr_rows[drow[j], i, c]
                    for t in range(n_notes):
                        cp[0, q, t, l] = coupon_rows[crow[j], i, t]
                for col in range(NCOL):
                    for l in range(SB):
                        acc[col, l] = 0.0
                ws = m1 % (lag + 1)
                rs = (m1 + 1) % (lag + 1) if lag > 0 else lag + 1
                for k in range(n_loans):
                    mk = mat[k]
                    if m1 > mk:
                        continue
                    if adv:
                        _advance_lanes(True, m1, mk, lag, cls[k], smm_l, mdr_l, sev_l, k, wl, fl, s[k], d[k],
                                       growth[k], gross_m[k], net_m[k], ring_nd, ring_norm, rs, ws, acc)
                    else:
                        _advance_lanes(False, m1, mk, lag, cls[k], smm_l, mdr_l, sev_l, k, wl, fl, s[k], d[k],
                                       growth[k], gross_m[k], net_m[k], ring_nd, ring_norm, rs, ws, acc)
                    s[k] = 0.0 if m1 >= mk else s[k] - d[k]
                    d[k] *= growth[k]
                for l in range(SB):  # the waterfall's view of the period (as abs_engine.waterfall.pool_inputs)
                    ic[0, q, l] = acc[NET, l]
                    pc[0, q, l] = acc[SCHED, l] + acc[PREPAY, l] + acc[RECOVERY, l]
                    ls[0, q, l] = acc[LOSS, l]
                    end[0, q, l] = acc[PERF, l] + acc[FCL, l]
                    beg[0, q, l] = prev_end[l]
                    prev_end[l] = end[0, q, l]
                    pool_loss[l] += acc[LOSS, l]
            KW.period(0, 0, ic, pc, ls, beg, end, dq, ex, cp, i0, i1,
                      dcf, ios, fee_rate, fee_amount, fee_basis, acct_fixed, acct_amount, acct_pct,
                      acct_basis, acct_floor, acct_keep, trig_metric, trig_below, trig_curable,
                      trig_threshold, op, arg, mem_ptr, members, cov_ptr, cov_acct, wd_order,
                      oc_params, call_pct, orig_pool, wd_accounts, principal_phase,
                      0, bal, short, arrears, acct, breached, cum_loss, called, w,
                      0, 0, 1, tro, feo, aco, tgo, co)
            for i in range(i0, i1):
                q = i - i0
                m1 = i + 1
                for l in range(SB):
                    residual[l] += co[0, q, KW.C_RESIDUAL, l]
                for t in range(n_notes):
                    for l in range(SB):
                        p = tro[0, q, t, KW.TR_PRIN, l]
                        paid = tro[0, q, t, KW.TR_PAID, l]
                        run[t, 0, l] += p
                        run[t, 1, l] += m1 * p
                        run[t, 2, l] += paid
                        run[t, 3, l] += tro[0, q, t, KW.TR_WD, l]
                        if p > 0.0:
                            if run[t, 4, l] == 0.0:
                                run[t, 4, l] = m1
                            run[t, 5, l] = m1
                        cf[i, t, l] = (paid + p) * 100.0 / face[t] if face[t] > 0.0 else 0.0
        y = np.empty(SB)
        md = np.empty(SB)
        for t in range(n_notes):
            _yields(cf, t, price[t], delay, y, md)
            for l in range(SB):
                j = lanes[b, l]
                if j < 0:
                    continue
                total = run[t, 0, l]
                stats[j, t, S_WAL] = (30.0 * run[t, 1, l] + delay * total) / (360.0 * total) if total > 0.0 \
                    else np.nan
                stats[j, t, S_FIRST] = run[t, 4, l]
                stats[j, t, S_LAST] = run[t, 5, l]
                stats[j, t, S_INTEREST] = run[t, 2, l]
                stats[j, t, S_PRINCIPAL] = total
                stats[j, t, S_WRITEDOWN] = run[t, 3, l]
                stats[j, t, S_YIELD] = y[l]
                stats[j, t, S_PRICE] = price[t]
                stats[j, t, S_MOD_DURATION] = md[l]
        for l in range(SB):
            j = lanes[b, l]
            if j >= 0:
                extra[j, X_RESIDUAL] = residual[l]
                extra[j, X_POOL_LOSS] = pool_loss[l]
