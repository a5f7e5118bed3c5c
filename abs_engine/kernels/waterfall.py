"""The waterfall kernel: a small interpreter of the compiled step table.

Scenarios run in blocks of ``SB`` side by side: the loops go block (parallel) -> period ->
step -> group member -> scenario lane, and the lane loop is branch-free, so it vectorizes.
Every array is laid out ``[block, ..., lane]``. The deal's state (note balances, interest
shortfalls, fee arrears, account balances, trigger states, cumulative loss, call flag) is
passed in and updated in place, so a run can stop after any period and resume from it.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from ._jit import kernel

__all__ = [
    "SB", "OP_FEES", "OP_INTEREST", "OP_PRINCIPAL", "OP_RESERVE", "OP_RESIDUAL",
    "AMOUNT_COLLECTIONS", "AMOUNT_OC_TARGET", "AMOUNT_AVAILABLE",
    "TR_COLS", "FEE_COLS", "ACCT_COLS", "TRIG_COLS", "CASH_COLS", "run_waterfall",
]

SB = 32  # scenarios per block

OP_FEES, OP_INTEREST, OP_PRINCIPAL, OP_RESERVE, OP_RESIDUAL = range(5)
AMOUNT_COLLECTIONS, AMOUNT_OC_TARGET, AMOUNT_AVAILABLE = range(3)
METRIC_CUM_LOSS, METRIC_OC, METRIC_DELINQ, METRIC_IC = range(4)
BASIS_POOL, BASIS_ORIGINAL, BASIS_NOTES, BASIS_INTEREST = range(4)

# output columns
TR_BEG, TR_COUPON, TR_DUE, TR_PAID, TR_SHORT, TR_PRIN, TR_WD, TR_END = range(8)
TR_COLS = 8
FEE_DUE, FEE_PAID, FEE_SHORT = range(3)
FEE_COLS = 3
AC_BEG, AC_DEP, AC_DRAW, AC_REL, AC_END, AC_TARGET = range(6)
ACCT_COLS = 6
TG_VALUE, TG_THRESHOLD, TG_BREACHED = range(3)
TRIG_COLS = 3
(C_INTEREST, C_PRINCIPAL, C_CALL, C_LOSS, C_DRAWS, C_RELEASES, C_FEES, C_NOTE_INTEREST, C_NOTE_PRINCIPAL,
 C_DEPOSITS, C_RESIDUAL, C_UNALLOCATED, C_WRITEDOWN, C_NOTES_BEG, C_NOTES_END, C_POOL_BEG, C_POOL_END) = range(17)
CASH_COLS = 17

ZERO = 1e-6  # amounts below this count as zero in projections


@kernel(parallel=True)
def run_waterfall(int_coll, prin_coll, loss, pool_beg, pool_end, delinq, exercise_call,
                  coupon, dcf, ios, fee_rate, fee_amount, fee_basis,
                  acct_fixed, acct_amount, acct_pct, acct_basis, acct_floor, acct_keep,
                  trig_metric, trig_below, trig_curable, trig_threshold,
                  op, arg, mem_ptr, members, cov_ptr, cov_acct, wd_order,
                  oc_params, call_pct, orig_pool, wd_accounts, principal_phase,
                  bal, short, arrears, acct, breached, cum_loss, called,
                  i0, i1, tr_out, fee_out, acct_out, trig_out, cash_out):
    """Run periods ``i0..i1-1`` (0-based) for every scenario block; see the module doc.

    Inputs per block are ``[block, period, lane]`` (pool), ``[block, period, tranche, lane]``
    (coupons); state ``[block, item, lane]``; outputs ``[block, period, item, column, lane]``.
    ``oc_params``: pct, basis, floor, step-down period (0-based, or -1), step-down pct,
    step-down blocking trigger (or -1).
    """
    n_blocks = int_coll.shape[0]
    n_notes = bal.shape[1]
    n_fees = arrears.shape[1]
    n_acct = acct.shape[1]
    n_trig = breached.shape[1]
    n_steps = op.size
    for b in prange(n_blocks):
        avail = np.zeros(SB)
        paid_principal = np.zeros(SB)
        need = np.zeros(SB)
        got = np.zeros(SB)
        rem = np.zeros(SB)
        tot = np.zeros(SB)
        seq = np.zeros(SB)
        ic = np.zeros(SB)
        pc = np.zeros(SB)
        ploss = np.zeros(SB)
        pend = np.zeros(SB)
        proceeds = np.zeros(SB)
        nb_sum = np.zeros(SB)
        now = np.zeros(SB)
        grp = np.zeros(SB)
        notes_beg = np.zeros((n_notes, SB))
        int_due = np.zeros((n_notes, SB))
        int_left = np.zeros((n_notes, SB))
        fee_due = np.zeros((n_fees, SB))
        fee_left = np.zeros((n_fees, SB))
        for i in range(i0, i1):
            tro = tr_out[b, i]
            feo = fee_out[b, i]
            aco = acct_out[b, i]
            tgo = trig_out[b, i]
            co = cash_out[b, i]
            # ---- collections (nothing after a clean-up call) and the call itself
            for l in range(SB):
                live = 1.0 - called[b, l]
                ic[l] = int_coll[b, i, l] * live
                pc[l] = prin_coll[b, i, l] * live
                ploss[l] = loss[b, i, l] * live
                pend[l] = pool_end[b, i, l] * live
                co[C_POOL_BEG, l] = pool_beg[b, i, l] * live
                cum_loss[b, l] += ploss[l]
                proceeds[l] = 0.0
            if call_pct >= 0.0:
                for l in range(SB):
                    go = (called[b, l] == 0.0) & (exercise_call[b, l] > 0.0) & (pend[l] > 0.0) \
                        & (pend[l] <= call_pct * orig_pool)
                    if go:
                        proceeds[l] = pend[l]
                        pend[l] = 0.0
                        called[b, l] = 1.0
            # ---- amounts due
            for l in range(SB):
                tot[l] = 0.0
            for t in range(n_notes):
                for l in range(SB):
                    c = coupon[b, i, t, l] * dcf[i, t]
                    notes_beg[t, l] = bal[b, t, l]
                    due = bal[b, t, l] * c + short[b, t, l] * (1.0 + c * ios[t])
                    int_due[t, l] = due
                    int_left[t, l] = due
                    tot[l] += due
                    tro[t, TR_BEG, l] = bal[b, t, l]
                    tro[t, TR_COUPON, l] = coupon[b, i, t, l]
                    tro[t, TR_DUE, l] = due
                    tro[t, TR_PRIN, l] = 0.0
                    tro[t, TR_WD, l] = 0.0
            _sum_items(bal, b, nb_sum)
            for f in range(n_fees):
                basis = fee_basis[f]
                for l in range(SB):
                    if basis == BASIS_POOL:
                        base = co[C_POOL_BEG, l]
                    elif basis == BASIS_ORIGINAL:
                        base = orig_pool
                    elif basis == BASIS_NOTES:
                        base = nb_sum[l]
                    else:  # a share of interest collections: not an annual rate
                        base = ic[l] * 12.0
                    alive = 1.0 if co[C_POOL_BEG, l] > 0.0 else 0.0  # fees accrue while there is a pool
                    due = (fee_rate[f] / 12.0 * base + fee_amount[f]) * alive + arrears[b, f, l]
                    fee_due[f, l] = due
                    fee_left[f, l] = due
                    feo[f, FEE_DUE, l] = due
                    feo[f, FEE_PAID, l] = 0.0
                    tot[l] += due
            # ---- triggers, on values that include this period
            for g in range(n_trig):
                thr = trig_threshold[i, g]
                m = trig_metric[g]
                for l in range(SB):
                    if m == METRIC_CUM_LOSS:
                        v = cum_loss[b, l] / orig_pool
                    elif m == METRIC_OC:
                        v = pend[l] / nb_sum[l] if nb_sum[l] > 0.0 else np.inf
                    elif m == METRIC_DELINQ:
                        v = delinq[b, i, l]
                    else:
                        v = ic[l] / tot[l] if tot[l] > 0.0 else np.inf
                    hit = v < thr if trig_below[g] else v > thr
                    if trig_curable[g] == 0:
                        hit = hit | (breached[b, g, l] > 0.0)
                    breached[b, g, l] = 1.0 if hit else 0.0
                    tgo[g, TG_VALUE, l] = v
                    tgo[g, TG_THRESHOLD, l] = thr
                    tgo[g, TG_BREACHED, l] = breached[b, g, l]
            # ---- accounts start
            for a in range(n_acct):
                for l in range(SB):
                    aco[a, AC_BEG, l] = acct[b, a, l]
                    aco[a, AC_DEP, l] = 0.0
                    aco[a, AC_DRAW, l] = 0.0
                    aco[a, AC_REL, l] = 0.0
                    aco[a, AC_TARGET, l] = 0.0
            for l in range(SB):
                avail[l] = ic[l] + (pc[l] + proceeds[l] if principal_phase < 0 else 0.0)
                paid_principal[l] = 0.0
                co[C_RESIDUAL, l] = 0.0
            # ---- the steps
            for k in range(n_steps):
                if k == principal_phase:
                    for l in range(SB):
                        avail[l] += pc[l] + proceeds[l]
                o = op[k]
                lo = mem_ptr[k]
                hi = mem_ptr[k + 1]
                if o == OP_FEES or o == OP_INTEREST:
                    left = fee_left if o == OP_FEES else int_left
                    _take(left, members, lo, hi, avail, need, got)
                    _draw(acct, b, cov_acct, cov_ptr[k], cov_ptr[k + 1], need, got, aco)
                    _settle(left, members, lo, hi, need, got)
                elif o == OP_PRINCIPAL:
                    kind = arg[k, 0]
                    switch = arg[k, 2]
                    always_seq = arg[k, 1] == 0
                    for l in range(SB):
                        grp[l] = 0.0
                        tot[l] = 0.0
                    for j in range(lo, hi):
                        m = members[j]
                        for l in range(SB):
                            grp[l] += bal[b, m, l]
                            tot[l] += notes_beg[m, l]
                    if kind == AMOUNT_OC_TARGET:
                        _oc_pda(oc_params, orig_pool, pend, nb_sum, i, breached, b, need)
                    for l in range(SB):
                        if kind == AMOUNT_COLLECTIONS:
                            cap = pc[l] + proceeds[l]
                        elif kind == AMOUNT_OC_TARGET:
                            cap = need[l]
                        else:
                            cap = np.inf
                        need[l] = min(max(cap - paid_principal[l], 0.0), grp[l])
                        got[l] = min(need[l], avail[l])
                        avail[l] -= got[l]
                        hit = switch >= 0 and breached[b, switch if switch >= 0 else 0, l] > 0.0
                        seq[l] = 1.0 if always_seq or hit else 0.0
                    _draw(acct, b, cov_acct, cov_ptr[k], cov_ptr[k + 1], need, got, aco)
                    for l in range(SB):
                        paid_principal[l] += got[l]
                        rem[l] = got[l]
                    for j in range(lo, hi):  # sequential, or pro rata by beginning balances
                        m = members[j]
                        for l in range(SB):
                            pro = got[l] * notes_beg[m, l] / tot[l] if tot[l] > 0.0 else 0.0
                            p = min(rem[l] if seq[l] > 0.0 else pro, bal[b, m, l], rem[l])
                            bal[b, m, l] -= p
                            tro[m, TR_PRIN, l] += p
                            rem[l] -= p
                    for j in range(lo, hi):  # what caps left over, in priority order
                        m = members[j]
                        for l in range(SB):
                            p = min(rem[l], bal[b, m, l])
                            bal[b, m, l] -= p
                            tro[m, TR_PRIN, l] += p
                            rem[l] -= p
                elif o == OP_RESERVE:
                    a = arg[k, 0]
                    _sum_items(bal, b, now)
                    for l in range(SB):
                        notes = now[l]
                        if acct_fixed[a]:
                            target = acct_amount[a]
                        else:
                            base = pend[l] if acct_basis[a] == BASIS_POOL else orig_pool
                            target = max(acct_pct[a] * base, acct_floor[a])
                        if notes <= ZERO and acct_keep[a] == 0:
                            target = 0.0
                        x = acct[b, a, l]
                        dep = min(avail[l], target - x) if x < target else 0.0
                        rel = x - target if x > target else 0.0
                        acct[b, a, l] = x + dep - rel
                        avail[l] += rel - dep
                        aco[a, AC_DEP, l] += dep
                        aco[a, AC_REL, l] += rel
                        aco[a, AC_TARGET, l] = target
                else:  # OP_RESIDUAL: first any fee or interest still unpaid, in step order
                    for kk in range(k):
                        if op[kk] == OP_FEES or op[kk] == OP_INTEREST:
                            left = fee_left if op[kk] == OP_FEES else int_left
                            _take(left, members, mem_ptr[kk], mem_ptr[kk + 1], avail, need, got)
                            _settle(left, members, mem_ptr[kk], mem_ptr[kk + 1], need, got)
                    for l in range(SB):
                        co[C_RESIDUAL, l] += avail[l]
                        avail[l] = 0.0
            # ---- writedowns in reverse priority, carry-forwards, period totals
            _sum_items(bal, b, now)
            if wd_accounts:
                _sum_items(acct, b, grp)
            for l in range(SB):
                cover = pend[l] + (grp[l] if wd_accounts else 0.0)
                rem[l] = max(now[l] - cover, 0.0)
            for j in range(n_notes):
                t = wd_order[j]
                for l in range(SB):
                    w = min(rem[l], bal[b, t, l])
                    rem[l] -= w
                    x = bal[b, t, l] - w
                    if x < ZERO:  # below 1e-6 counts as zero
                        w += x
                        x = 0.0
                    bal[b, t, l] = x
                    tro[t, TR_WD, l] = w
            for t in range(n_notes):
                for l in range(SB):
                    s = int_left[t, l]
                    short[b, t, l] = s if s >= ZERO else 0.0
                    tro[t, TR_PAID, l] = int_due[t, l] - s
                    tro[t, TR_SHORT, l] = short[b, t, l]
                    tro[t, TR_END, l] = bal[b, t, l]
            for f in range(n_fees):
                for l in range(SB):
                    s = fee_left[f, l]
                    arrears[b, f, l] = s if s >= ZERO else 0.0
                    feo[f, FEE_PAID, l] = fee_due[f, l] - s
                    feo[f, FEE_SHORT, l] = arrears[b, f, l]
            for a in range(n_acct):
                for l in range(SB):
                    aco[a, AC_END, l] = acct[b, a, l]
            for l in range(SB):
                co[C_INTEREST, l] = ic[l]
                co[C_PRINCIPAL, l] = pc[l]
                co[C_CALL, l] = proceeds[l]
                co[C_LOSS, l] = ploss[l]
                co[C_UNALLOCATED, l] = avail[l]
                co[C_POOL_END, l] = pend[l]
                co[C_NOTES_BEG, l] = nb_sum[l]
                co[C_FEES, l] = 0.0
                co[C_NOTE_INTEREST, l] = 0.0
                co[C_NOTE_PRINCIPAL, l] = 0.0
                co[C_WRITEDOWN, l] = 0.0
                co[C_NOTES_END, l] = 0.0
                co[C_DRAWS, l] = 0.0
                co[C_DEPOSITS, l] = 0.0
                co[C_RELEASES, l] = 0.0
            for f in range(n_fees):
                for l in range(SB):
                    co[C_FEES, l] += feo[f, FEE_PAID, l]
            for t in range(n_notes):
                for l in range(SB):
                    co[C_NOTE_INTEREST, l] += tro[t, TR_PAID, l]
                    co[C_NOTE_PRINCIPAL, l] += tro[t, TR_PRIN, l]
                    co[C_WRITEDOWN, l] += tro[t, TR_WD, l]
                    co[C_NOTES_END, l] += bal[b, t, l]
            for a in range(n_acct):
                for l in range(SB):
                    co[C_DRAWS, l] += aco[a, AC_DRAW, l]
                    co[C_DEPOSITS, l] += aco[a, AC_DEP, l]
                    co[C_RELEASES, l] += aco[a, AC_REL, l]


@kernel(inline=True)
def _sum_items(x, b, out):
    """``out[l] = sum_t x[b, t, l]`` with the lane loop innermost."""
    for l in range(out.size):
        out[l] = 0.0
    for t in range(x.shape[1]):
        for l in range(out.size):
            out[l] += x[b, t, l]


@kernel(inline=True)
def _take(left, members, lo, hi, avail, need, got):
    """A group's remaining dues (``need``) and what available funds pay of them (``got``)."""
    for l in range(need.size):
        need[l] = 0.0
    for j in range(lo, hi):
        for l in range(need.size):
            need[l] += left[members[j], l]
    for l in range(need.size):
        got[l] = min(need[l], avail[l])
        avail[l] -= got[l]


@kernel(inline=True)
def _settle(left, members, lo, hi, need, got):
    """Reduce each member's dues pro rata by the share of the group's dues that was paid."""
    for j in range(lo, hi):
        m = members[j]
        for l in range(need.size):
            left[m, l] -= left[m, l] * (got[l] / need[l]) if need[l] > 0.0 else 0.0


@kernel(inline=True)
def _draw(acct, b, cov_acct, lo, hi, need, got, aco):
    """Cover a step's shortfall (``need - got``) from its accounts, in order."""
    for j in range(lo, hi):
        a = cov_acct[j]
        for l in range(need.size):
            d = min(need[l] - got[l], acct[b, a, l])
            d = d if d > 0.0 else 0.0
            acct[b, a, l] -= d
            got[l] += d
            aco[a, AC_DRAW, l] += d


@kernel(inline=True)
def _oc_pda(oc_params, orig_pool, pend, notes_sum, i, breached, b, out):
    """Principal distribution amount of an OC target, per lane: ``max(0, notes - max(0, pool - target))``."""
    pct = oc_params[0]
    step_period = int(oc_params[3])
    blocker = int(oc_params[5])
    stepped = step_period >= 0 and i >= step_period
    for l in range(out.size):
        p = pct
        if stepped and (blocker < 0 or breached[b, blocker if blocker >= 0 else 0, l] == 0.0):
            p = oc_params[4]
        base = orig_pool if oc_params[1] == BASIS_ORIGINAL else pend[l]
        target = max(p * base, oc_params[2])
        out[l] = max(0.0, notes_sum[l] - max(0.0, pend[l] - target))
