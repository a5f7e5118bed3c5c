"""The waterfall kernel: a small interpreter of the compiled step table.

Scenarios run in blocks of ``SB`` side by side: the loops go block (parallel) -> period ->
step -> group member -> scenario lane, and the lane loop is branch-free (LLVM vectorizes only
some of these loops: see docs/benchmarks.md).
Every array is laid out ``[block, ..., lane]``. The deal's state (note balances, interest
shortfalls, fee arrears, account balances, trigger states, cumulative loss, call flag) is
passed in and updated in place, so a run can stop after any period and resume from it.

:func:`period` runs periods of one block; :func:`run_waterfall` calls it for stored pool
flows (full runs, servicing). Summary runs use a month generated for the deal's structure by
:mod:`abs_engine.engine.codegen`. Both only sequence the operations of :mod:`abs_engine.kernels.ops`,
where each operation's arithmetic is written once; neither restates it.

Its working values live in one ``[row, lane]`` array: rows ``W_*``, then per
note its beginning balance, interest due and interest unpaid, then per fee its amount due and
unpaid. They are indexed rather than sliced, so no array view is made inside the period.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from ._jit import kernel
from .ops import (
    BASIS_ORIGINAL,
    BASIS_POOL,
    call_exercised,
    carry,
    draw,
    fee_base,
    fee_due,
    interest_due,
    oc_principal,
    pay,
    principal_need,
    principal_pay,
    pro_rata_share,
    reserve_move,
    reserve_target,
    settle,
    trigger_breached,
    trigger_value,
    uncovered,
    writedown,
)

__all__ = [
    "SB", "OP_FEES", "OP_INTEREST", "OP_PRINCIPAL", "OP_RESERVE", "OP_RESIDUAL",
    "AMOUNT_COLLECTIONS", "AMOUNT_OC_TARGET", "AMOUNT_AVAILABLE",
    "TR_COLS", "FEE_COLS", "ACCT_COLS", "TRIG_COLS", "CASH_COLS", "run_waterfall", "period",
]

SB = 32  # scenarios per block

OP_FEES, OP_INTEREST, OP_PRINCIPAL, OP_RESERVE, OP_RESIDUAL = range(5)
AMOUNT_COLLECTIONS, AMOUNT_OC_TARGET, AMOUNT_AVAILABLE = range(3)

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

# rows of the working array
(W_AVAIL, W_PAIDP, W_NEED, W_GOT, W_REM, W_TOT, W_SEQ, W_IC, W_PC, W_PLOSS, W_PEND, W_PROCEEDS, W_NBSUM, W_NOW,
 W_GRP) = range(15)
W_FIXED = 15


@kernel
def period(int_coll, prin_coll, loss, pool_beg, pool_end, delinq, exercise_call, coupon, i0, i1,
           dcf, ios, fee_rate, fee_amount, fee_basis,
           acct_fixed, acct_amount, acct_pct, acct_basis, acct_floor, acct_keep,
           trig_metric, trig_below, trig_curable, trig_threshold,
           op, arg, mem_ptr, members, cov_ptr, cov_acct, wd_order,
           oc_params, call_pct, orig_pool, wd_accounts, principal_phase,
           b, bal, short, arrears, acct, breached, cum_loss, called, w,
           tro, feo, aco, tgo, co):
    """Periods ``i0..i1-1`` (0-based) of block ``b``: pool inputs ``[b, i, lane]`` (coupons
    ``[b, i, note, lane]``, call election ``[b, lane]``), outputs ``[b, i, item, column, lane]``
    (cash ``[b, i, column, lane]``). ``w`` is the working array (see the module doc). One call
    runs many periods, so the call's cost (dozens of array arguments) is paid once per block.
    """
    n_notes = bal.shape[1]
    n_fees = arrears.shape[1]
    n_acct = acct.shape[1]
    n_trig = breached.shape[1]
    n_steps = op.size
    r_nbeg = W_FIXED  # the rows after W_FIXED: see the module doc
    r_idue = r_nbeg + n_notes
    r_ileft = r_idue + n_notes
    r_fdue = r_ileft + n_notes
    r_fleft = r_fdue + n_fees
    for i in range(i0, i1):
        # ---- collections (nothing after a clean-up call) and the call itself
        for l in range(SB):
            live = 1.0 - called[b, l]
            w[W_IC, l] = int_coll[b, i, l] * live
            w[W_PC, l] = prin_coll[b, i, l] * live
            w[W_PLOSS, l] = loss[b, i, l] * live
            w[W_PEND, l] = pool_end[b, i, l] * live
            co[b, i, C_POOL_BEG, l] = pool_beg[b, i, l] * live
            cum_loss[b, l] += w[W_PLOSS, l]
            w[W_PROCEEDS, l] = 0.0
        if call_pct >= 0.0:
            for l in range(SB):
                pend = w[W_PEND, l]
                if call_exercised(called[b, l], exercise_call[b, l], pend, call_pct * orig_pool):
                    w[W_PROCEEDS, l] = pend
                    w[W_PEND, l] = 0.0
                    called[b, l] = 1.0
        # ---- amounts due
        for l in range(SB):
            w[W_TOT, l] = 0.0
        for t in range(n_notes):
            for l in range(SB):
                w[r_nbeg + t, l] = bal[b, t, l]
                due = interest_due(bal[b, t, l], coupon[b, i, t, l], dcf[i, t], short[b, t, l], ios[t])
                w[r_idue + t, l] = due
                w[r_ileft + t, l] = due
                w[W_TOT, l] += due
                tro[b, i, t, TR_BEG, l] = bal[b, t, l]
                tro[b, i, t, TR_COUPON, l] = coupon[b, i, t, l]
                tro[b, i, t, TR_DUE, l] = due
                tro[b, i, t, TR_PRIN, l] = 0.0
                tro[b, i, t, TR_WD, l] = 0.0
        _sum_items(bal, b, w, W_NBSUM)
        for f in range(n_fees):
            basis = fee_basis[f]
            for l in range(SB):
                beg = co[b, i, C_POOL_BEG, l]
                base = fee_base(basis, beg, orig_pool, w[W_NBSUM, l], w[W_IC, l])
                due = fee_due(fee_rate[f], base, fee_amount[i, f], beg, arrears[b, f, l])
                w[r_fdue + f, l] = due
                w[r_fleft + f, l] = due
                feo[b, i, f, FEE_DUE, l] = due
                feo[b, i, f, FEE_PAID, l] = 0.0
                w[W_TOT, l] += due
        # ---- triggers, on values that include this period
        for g in range(n_trig):
            thr = trig_threshold[i, g]
            m = trig_metric[g]
            for l in range(SB):
                v = trigger_value(m, cum_loss[b, l], orig_pool, w[W_PEND, l], w[W_NBSUM, l], delinq[b, i, l],
                                  w[W_IC, l], w[W_TOT, l])
                breached[b, g, l] = trigger_breached(v, thr, trig_below[g], trig_curable[g], breached[b, g, l])
                tgo[b, i, g, TG_VALUE, l] = v
                tgo[b, i, g, TG_THRESHOLD, l] = thr
                tgo[b, i, g, TG_BREACHED, l] = breached[b, g, l]
        # ---- accounts start
        for a in range(n_acct):
            for l in range(SB):
                aco[b, i, a, AC_BEG, l] = acct[b, a, l]
                aco[b, i, a, AC_DEP, l] = 0.0
                aco[b, i, a, AC_DRAW, l] = 0.0
                aco[b, i, a, AC_REL, l] = 0.0
                aco[b, i, a, AC_TARGET, l] = 0.0
        for l in range(SB):
            w[W_AVAIL, l] = w[W_IC, l] + (w[W_PC, l] + w[W_PROCEEDS, l] if principal_phase < 0 else 0.0)
            w[W_PAIDP, l] = 0.0
            co[b, i, C_RESIDUAL, l] = 0.0
        # ---- the steps
        for k in range(n_steps):
            if k == principal_phase:
                for l in range(SB):
                    w[W_AVAIL, l] += w[W_PC, l] + w[W_PROCEEDS, l]
            o = op[k]
            lo = mem_ptr[k]
            hi = mem_ptr[k + 1]
            if o == OP_FEES or o == OP_INTEREST:
                left = r_fleft if o == OP_FEES else r_ileft
                _take(w, left, members, lo, hi)
                _draw(acct, b, cov_acct, cov_ptr[k], cov_ptr[k + 1], w, aco, i)
                _settle(w, left, members, lo, hi)
            elif o == OP_PRINCIPAL:
                kind = arg[k, 0]
                switch = arg[k, 2]
                always_seq = arg[k, 1] == 0
                for l in range(SB):
                    w[W_GRP, l] = 0.0
                    w[W_TOT, l] = 0.0
                for j in range(lo, hi):
                    m = members[j]
                    for l in range(SB):
                        w[W_GRP, l] += bal[b, m, l]
                        w[W_TOT, l] += w[r_nbeg + m, l]
                if kind == AMOUNT_OC_TARGET:
                    _oc_pda(oc_params, orig_pool, w, i, breached, b)
                for l in range(SB):
                    if kind == AMOUNT_COLLECTIONS:
                        cap = w[W_PC, l] + w[W_PROCEEDS, l]
                    elif kind == AMOUNT_OC_TARGET:
                        cap = w[W_NEED, l]
                    else:
                        cap = np.inf
                    need = principal_need(cap, w[W_PAIDP, l], w[W_GRP, l])
                    got, avail = pay(need, w[W_AVAIL, l])
                    w[W_NEED, l] = need
                    w[W_GOT, l] = got
                    w[W_AVAIL, l] = avail
                    hit = switch >= 0 and breached[b, switch if switch >= 0 else 0, l] > 0.0
                    w[W_SEQ, l] = 1.0 if always_seq or hit else 0.0
                _draw(acct, b, cov_acct, cov_ptr[k], cov_ptr[k + 1], w, aco, i)
                for l in range(SB):
                    w[W_PAIDP, l] += w[W_GOT, l]
                    w[W_REM, l] = w[W_GOT, l]
                for j in range(lo, hi):  # sequential, or pro rata by beginning balances
                    m = members[j]
                    for l in range(SB):
                        rem = w[W_REM, l]
                        pro = pro_rata_share(w[W_GOT, l], w[r_nbeg + m, l], w[W_TOT, l])
                        p = principal_pay(rem, pro, w[W_SEQ, l] > 0.0, bal[b, m, l])
                        bal[b, m, l] -= p
                        tro[b, i, m, TR_PRIN, l] += p
                        w[W_REM, l] = rem - p
                for j in range(lo, hi):  # what caps left over, in priority order
                    m = members[j]
                    for l in range(SB):
                        p = principal_pay(w[W_REM, l], w[W_REM, l], True, bal[b, m, l])
                        bal[b, m, l] -= p
                        tro[b, i, m, TR_PRIN, l] += p
                        w[W_REM, l] -= p
            elif o == OP_RESERVE:
                a = arg[k, 0]
                _sum_items(bal, b, w, W_NOW)
                for l in range(SB):
                    base = w[W_PEND, l] if acct_basis[a] == BASIS_POOL else orig_pool
                    target = reserve_target(acct_fixed[a], acct_amount[a], acct_pct[a], base, acct_floor[a],
                                            acct_keep[a], w[W_NOW, l])
                    x = acct[b, a, l]
                    dep, rel = reserve_move(x, target, w[W_AVAIL, l])
                    acct[b, a, l] = x + dep - rel
                    w[W_AVAIL, l] += rel - dep
                    aco[b, i, a, AC_DEP, l] += dep
                    aco[b, i, a, AC_REL, l] += rel
                    aco[b, i, a, AC_TARGET, l] = target
            else:  # OP_RESIDUAL: first any fee or interest still unpaid, in step order
                for kk in range(k):
                    if op[kk] == OP_FEES or op[kk] == OP_INTEREST:
                        left = r_fleft if op[kk] == OP_FEES else r_ileft
                        _take(w, left, members, mem_ptr[kk], mem_ptr[kk + 1])
                        _settle(w, left, members, mem_ptr[kk], mem_ptr[kk + 1])
                for l in range(SB):
                    co[b, i, C_RESIDUAL, l] += w[W_AVAIL, l]
                    w[W_AVAIL, l] = 0.0
        # ---- writedowns in reverse priority, carry-forwards, period totals
        _sum_items(bal, b, w, W_NOW)
        if wd_accounts:
            _sum_items(acct, b, w, W_GRP)
        for l in range(SB):
            cover = w[W_PEND, l] + (w[W_GRP, l] if wd_accounts else 0.0)
            w[W_REM, l] = uncovered(w[W_NOW, l], cover)
        for j in range(n_notes):
            t = wd_order[j]
            for l in range(SB):
                wd, x, rem = writedown(w[W_REM, l], bal[b, t, l])
                w[W_REM, l] = rem
                bal[b, t, l] = x
                tro[b, i, t, TR_WD, l] = wd
        for t in range(n_notes):
            for l in range(SB):
                s = w[r_ileft + t, l]
                short[b, t, l] = carry(s)
                tro[b, i, t, TR_PAID, l] = w[r_idue + t, l] - s
                tro[b, i, t, TR_SHORT, l] = short[b, t, l]
                tro[b, i, t, TR_END, l] = bal[b, t, l]
        for f in range(n_fees):
            for l in range(SB):
                s = w[r_fleft + f, l]
                arrears[b, f, l] = carry(s)
                feo[b, i, f, FEE_PAID, l] = w[r_fdue + f, l] - s
                feo[b, i, f, FEE_SHORT, l] = arrears[b, f, l]
        for a in range(n_acct):
            for l in range(SB):
                aco[b, i, a, AC_END, l] = acct[b, a, l]
        for l in range(SB):
            co[b, i, C_INTEREST, l] = w[W_IC, l]
            co[b, i, C_PRINCIPAL, l] = w[W_PC, l]
            co[b, i, C_CALL, l] = w[W_PROCEEDS, l]
            co[b, i, C_LOSS, l] = w[W_PLOSS, l]
            co[b, i, C_UNALLOCATED, l] = w[W_AVAIL, l]
            co[b, i, C_POOL_END, l] = w[W_PEND, l]
            co[b, i, C_NOTES_BEG, l] = w[W_NBSUM, l]
            co[b, i, C_FEES, l] = 0.0
            co[b, i, C_NOTE_INTEREST, l] = 0.0
            co[b, i, C_NOTE_PRINCIPAL, l] = 0.0
            co[b, i, C_WRITEDOWN, l] = 0.0
            co[b, i, C_NOTES_END, l] = 0.0
            co[b, i, C_DRAWS, l] = 0.0
            co[b, i, C_DEPOSITS, l] = 0.0
            co[b, i, C_RELEASES, l] = 0.0
        for f in range(n_fees):
            for l in range(SB):
                co[b, i, C_FEES, l] += feo[b, i, f, FEE_PAID, l]
        for t in range(n_notes):
            for l in range(SB):
                co[b, i, C_NOTE_INTEREST, l] += tro[b, i, t, TR_PAID, l]
                co[b, i, C_NOTE_PRINCIPAL, l] += tro[b, i, t, TR_PRIN, l]
                co[b, i, C_WRITEDOWN, l] += tro[b, i, t, TR_WD, l]
                co[b, i, C_NOTES_END, l] += bal[b, t, l]
        for a in range(n_acct):
            for l in range(SB):
                co[b, i, C_DRAWS, l] += aco[b, i, a, AC_DRAW, l]
                co[b, i, C_DEPOSITS, l] += aco[b, i, a, AC_DEP, l]
                co[b, i, C_RELEASES, l] += aco[b, i, a, AC_REL, l]


@kernel(parallel=True)
def run_waterfall(int_coll, prin_coll, loss, pool_beg, pool_end, delinq, exercise_call, coupon, structure,
                  bal, short, arrears, acct, breached, cum_loss, called,
                  i0, i1, tr_out, fee_out, acct_out, trig_out, cash_out):
    """Run periods ``i0..i1-1`` (0-based) for every scenario block; see the module doc.

    Inputs per block are ``[block, period, lane]`` (pool), ``[block, period, tranche, lane]``
    (coupons); ``structure``: the tuple of
    :meth:`abs_engine.compile.waterfall.WaterfallProgram.structure`, in the order :func:`period`
    takes it (``oc_params``: pct, basis, floor, step-down period (0-based, or -1), step-down pct,
    step-down blocking trigger (or -1)); state ``[block, item, lane]``; outputs ``[block, period,
    item, column, lane]``.
    """
    n_rows = W_FIXED + 3 * bal.shape[1] + 2 * arrears.shape[1]
    for b in prange(int_coll.shape[0]):
        w = np.zeros((n_rows, SB))
        period(int_coll, prin_coll, loss, pool_beg, pool_end, delinq, exercise_call, coupon, i0, i1, *structure,
               np.int64(b), bal, short, arrears, acct, breached, cum_loss, called, w,
               tr_out, fee_out, acct_out, trig_out, cash_out)


@kernel(inline=True)
def _sum_items(x, b, w, row):
    """``w[row, l] = sum_t x[b, t, l]`` with the lane loop innermost."""
    for l in range(SB):
        w[row, l] = 0.0
    for t in range(x.shape[1]):
        for l in range(SB):
            w[row, l] += x[b, t, l]


@kernel(inline=True)
def _take(w, left, members, lo, hi):
    """A group's remaining dues (row ``W_NEED``) and what available funds pay of them (``W_GOT``);
    ``left``: the first row of the dues (interest or fees)."""
    for l in range(SB):
        w[W_NEED, l] = 0.0
    for j in range(lo, hi):
        r = left + members[j]
        for l in range(SB):
            w[W_NEED, l] += w[r, l]
    for l in range(SB):
        got, avail = pay(w[W_NEED, l], w[W_AVAIL, l])
        w[W_GOT, l] = got
        w[W_AVAIL, l] = avail


@kernel(inline=True)
def _settle(w, left, members, lo, hi):
    """Reduce each member's dues pro rata by the share of the group's dues that was paid."""
    for j in range(lo, hi):
        r = left + members[j]
        for l in range(SB):
            w[r, l] = settle(w[r, l], w[W_GOT, l], w[W_NEED, l])


@kernel(inline=True)
def _draw(acct, b, cov_acct, lo, hi, w, aco, i):
    """Cover a step's shortfall (``W_NEED - W_GOT``) from its accounts, in order."""
    for j in range(lo, hi):
        a = cov_acct[j]
        for l in range(SB):
            d = draw(w[W_NEED, l], w[W_GOT, l], acct[b, a, l])
            acct[b, a, l] -= d
            w[W_GOT, l] += d
            aco[b, i, a, AC_DRAW, l] += d


@kernel(inline=True)
def _oc_pda(oc_params, orig_pool, w, i, breached, b):
    """Principal distribution amount of an OC target, per lane, into ``W_NEED``:
    ``max(0, notes - max(0, pool - target))``."""
    pct = oc_params[0]
    step_period = int(oc_params[3])
    blocker = int(oc_params[5])
    stepped = step_period >= 0 and i >= step_period
    for l in range(SB):
        p = pct
        if stepped and (blocker < 0 or breached[b, blocker if blocker >= 0 else 0, l] == 0.0):
            p = oc_params[4]
        pend = w[W_PEND, l]
        base = orig_pool if oc_params[1] == BASIS_ORIGINAL else pend
        w[W_NEED, l] = oc_principal(p, base, oc_params[2], w[W_NBSUM, l], pend)
