"""The waterfall interpreter: one period of a block of scenarios, for any structure.

:func:`interpret` is a period in the sense of :mod:`abs_engine.kernels.state`: it works on a
block's flat state ``S`` and parameters ``P`` and is called by the one loop,
:func:`abs_engine.kernels.deal.run_blocks`, once per period. It runs the pool's month (each
loan's :func:`~abs_engine.kernels.collateral.month_step`, or the pool's flows the loop was given:
actual collections, a loan-level projection), then the waterfall's period, reading the
structure (step table, members, each item's kind) from ``P``, then the running sums of a
summary. It writes the period's table rows too (:func:`~abs_engine.kernels.state.work_layout`),
which the loop copies out when it keeps tables. Compiled once, for every structure (a C-callable
function, as the periods :mod:`abs_engine.engine.codegen` generates for one structure).

Its parts (:func:`_pool_month`, :func:`_waterfall`, :func:`_running_sums`) each read the counts
in ``P`` and compute the offsets they need (integer arithmetic, once per call). The waterfall is
compiled and cached as a function of its own: inlined with the rest it took 30 s to compile in
a fresh cache, apart 13 s. Its loops go step -> group member -> scenario lane, each lane loop
branch-free. It only sequences the operations of :mod:`abs_engine.kernels.ops`, where each
operation's arithmetic is written once; a generated period sequences the same calls in the same
order, so the two give the same numbers.
"""

from __future__ import annotations

import numpy as np
from numba import carray

from ._jit import kernel, period_cfunc
from .collateral import AMORTIZED, DEFAULT, FCL, GROSS, LOSS, NCOL, NET, PERF, PREPAY, RECOVERY, SCHED, month_step
from .ops import (
    BASIS_POOL,
    above_plan,
    accretion,
    call_exercised,
    carry,
    coupon_paid,
    draw,
    fee_base,
    fee_due,
    gate,
    hedge_due,
    hedge_net,
    hedge_receipt,
    interest_due,
    net_coupon,
    oc_event,
    oc_principal,
    pay,
    principal_need,
    principal_pay,
    pro_rata_share,
    reserve_move,
    reserve_target,
    settle,
    settle_one,
    strip_rate,
    transfer_amount,
    trigger_breached,
    trigger_value,
    uncovered,
    unlocked,
    writedown,
)
from .state import (
    AC_BEG,
    AC_DEP,
    AC_DRAW,
    AC_END,
    AC_REL,
    AC_TARGET,
    ACCT_COLS,
    C_ACCELERATED,
    C_ACCRETION,
    C_CALL,
    C_DEPOSITS,
    C_DRAWS,
    C_FACILITY_DRAWS,
    C_FACILITY_INTEREST,
    C_FACILITY_REPAYMENTS,
    C_FEES,
    C_HEDGE_PAYMENTS,
    C_HEDGE_RECEIPTS,
    C_INTEREST,
    C_LOSS,
    C_NOTE_INTEREST,
    C_NOTE_PRINCIPAL,
    C_NOTES_BEG,
    C_NOTES_END,
    C_POOL_BEG,
    C_POOL_END,
    C_PRINCIPAL,
    C_RELEASES,
    C_RESIDUAL,
    C_UNALLOCATED,
    C_WRITEDOWN,
    CASH_COLS,
    FEE_COLS,
    FEE_DUE,
    FEE_PAID,
    FEE_SHORT,
    HX_BEG,
    HX_CAP,
    HX_COLS,
    HX_DRAW,
    HX_DUE,
    HX_END,
    HX_FACILITY,
    HX_NET,
    HX_NOTIONAL,
    HX_PAID,
    HX_RATE,
    HX_RECEIPT,
    HX_REPAID,
    HX_SHORT,
    L_F,
    L_ND,
    L_ND_J,
    L_NORM,
    L_NORM_J,
    L_W,
    N_LOAN_PARAMS,
    N_LOAN_ROWS,
    N_RUN,
    P_ADV,
    P_CALL_LEVEL,
    P_CALL_OPEN,
    P_CALL_TRIGGER,
    P_EOD_OC,
    P_FIXED,
    P_HAS_ACCEL,
    P_HAS_CALL,
    P_LAG,
    P_M1,
    P_N_ACCT,
    P_N_CLS,
    P_N_COV,
    P_N_FEES,
    P_N_HX,
    P_N_LOANS,
    P_N_MEMBERS,
    P_N_NOTES,
    P_N_STEPS,
    P_N_TRIG,
    P_OC_BLOCKER,
    P_OC_FLOOR,
    P_OC_ORIGINAL,
    P_OC_PCT,
    P_OC_STEP_PCT,
    P_OC_STEPPED,
    P_ORIG_POOL,
    P_POOL_GIVEN,
    P_PRINCIPAL_PHASE,
    P_WATERFALL,
    P_WD_ACCOUNTS,
    R_ACCEL,
    R_CALLED,
    R_CUM_LOSS,
    R_DELINQ,
    R_DONE,
    R_EXERCISE,
    R_IN_BEG,
    R_IN_END,
    R_IN_IC,
    R_IN_LOSS,
    R_IN_PC,
    R_POOL_LOSS,
    R_RESIDUAL,
    R_SEV,
    R_WAC,
    SB,
    TG_BREACHED,
    TG_THRESHOLD,
    TG_VALUE,
    TR_ACCRETION,
    TR_BEG,
    TR_COLS,
    TR_COUPON,
    TR_DUE,
    TR_END,
    TR_NOTIONAL,
    TR_PAID,
    TR_PRIN,
    TR_SHORT,
    TR_WD,
    TRIG_COLS,
    W_ACC,
    W_AVAIL,
    W_GBAL,
    W_GBEG,
    W_GLEFT,
    W_GOT,
    W_GRP,
    W_HREC,
    W_IC,
    W_NBSUM,
    W_NEED,
    W_NOW,
    W_ON,
    W_PAIDP,
    W_PC,
    W_PEND,
    W_PLOSS,
    W_PROCEEDS,
    W_REM,
    W_SEQ,
    W_TOT,
    WD_NONE,
    WD_POOL_AND_ACCOUNTS,
    code_layout,
    layout,
    work_layout,
)

__all__ = [
    "SB", "OP_FEES", "OP_INTEREST", "OP_PRINCIPAL", "OP_RESERVE", "OP_RESIDUAL", "OP_ACCRETION", "OP_HEDGE",
    "OP_FAC_INTEREST", "OP_FAC_REPAY", "OP_TRANSFER",
    "AMOUNT_COLLECTIONS", "AMOUNT_OC_TARGET", "AMOUNT_AVAILABLE", "AMOUNT_ACCRETION",
    "TR_COLS", "FEE_COLS", "ACCT_COLS", "TRIG_COLS", "CASH_COLS", "interpret",
]

(OP_FEES, OP_INTEREST, OP_PRINCIPAL, OP_RESERVE, OP_RESIDUAL, OP_ACCRETION, OP_HEDGE, OP_FAC_INTEREST,
 OP_FAC_REPAY, OP_TRANSFER) = range(10)
AMOUNT_COLLECTIONS, AMOUNT_OC_TARGET, AMOUNT_AVAILABLE, AMOUNT_ACCRETION = range(4)



@kernel(inline=True)
def _pool_month(S, P):
    """Each loan's month in every lane, its flows added in loan order, plus the flows of loans in
    foreclosure at cut-off; then the waterfall's view of the month (as
    :func:`abs_engine.engine.waterfall.pool_inputs`)."""
    n_loans = int(P[P_N_LOANS])
    n_notes = int(P[P_N_NOTES])
    n_fees = int(P[P_N_FEES])
    n_acct = int(P[P_N_ACCT])
    n_trig = int(P[P_N_TRIG])
    n_steps = int(P[P_N_STEPS])
    n_hx = int(P[P_N_HX])
    (r_loan, r_cls, r_cf, r_bal, r_short, r_coupon, r_run, r_arrears, r_acct, r_breached, r_hxu, r_hxb, n_rows,
     p_loan, p_ios, p_face, p_dcf, p_fee_rate, p_fee_amount, p_acct_amount, p_acct_pct, p_acct_floor, p_thr, p_floor,
     p_lock, p_strike, p_hx_notional, p_hx_rate, p_hx_dcf, n_params) = \
        layout(n_loans, int(P[P_N_CLS]), n_notes, n_fees, n_acct, n_trig, n_steps, n_hx)
    (w0, r_nbeg, r_idue, r_ileft, r_accr, r_fdue, r_fleft, r_hxdue, r_hxleft, r_flow, r_extra, r_tr, r_fee, r_ac,
     r_tg, r_hx, r_cash, n_total) = \
        work_layout(n_rows, n_notes, n_fees, n_acct, n_trig, n_hx)
    (p_cls, p_fee_basis, p_acct_fixed, p_acct_basis, p_acct_keep, p_trig_metric, p_trig_below, p_trig_curable, p_op,
     p_arg, p_mem_ptr, p_members, p_cov_ptr, p_cov_acct, p_wd_order, p_ad_of, p_is_z, p_io_ref,
     p_step_acc, p_senior, p_eod_trig, p_hx_kind, p_hx_ref, p_step_when, p_step_unless, p_mem_group, p_total) = \
        code_layout(n_params, n_loans, n_notes, n_fees, n_acct, n_trig, n_steps, int(P[P_N_MEMBERS]),
                    int(P[P_N_COV]), n_hx)
    m1 = int(P[P_M1])
    lag = int(P[P_LAG])
    adv = P[P_ADV] != 0.0
    for c in range(NCOL):
        for l in range(SB):
            S[r_flow + c, l] = 0.0
    for l in range(SB):  # the beginning pool's net coupon, for WAC interest-only strips
        S[R_WAC, l] = 0.0
        S[w0 + W_NOW, l] = 0.0
    for k in range(n_loans):
        net = P[p_loan + N_LOAN_PARAMS * k + 4]
        c0 = r_loan + N_LOAN_ROWS * k
        for l in range(SB):
            S[R_WAC, l] += net * S[c0 + L_W, l]
            S[w0 + W_NOW, l] += S[c0 + L_W, l]
    for l in range(SB):
        S[R_WAC, l] = net_coupon(12.0 * S[R_WAC, l], S[w0 + W_NOW, l])
    for k in range(n_loans):
        q = p_loan + N_LOAN_PARAMS * k
        mat = int(P[q + 5])
        if m1 > mat:  # past its maturity: left as it is, adds nothing
            continue
        c0 = r_loan + N_LOAN_ROWS * k
        rc = r_cls + 2 * int(P[p_cls + k])
        sched, dec, growth, gross, net = P[q], P[q + 1], P[q + 2], P[q + 3], P[q + 4]
        for l in range(SB):
            r = month_step(m1, mat, lag, adv, S[rc, l], S[rc + 1, l], S[R_SEV, l],
                           S[c0 + L_W, l], sched, dec, growth, S[c0 + L_F, l], gross, net,
                           S[c0 + L_ND_J, l], S[c0 + L_NORM_J, l])
            S[c0 + L_W, l] = r[0]
            S[c0 + L_F, l] = r[3]
            S[c0 + L_ND, l] = r[4]
            S[c0 + L_NORM, l] = r[5]
            S[r_flow + SCHED, l] += r[6 + SCHED]
            S[r_flow + PREPAY, l] += r[6 + PREPAY]
            S[r_flow + DEFAULT, l] += r[6 + DEFAULT]
            S[r_flow + RECOVERY, l] += r[6 + RECOVERY]
            S[r_flow + LOSS, l] += r[6 + LOSS]
            S[r_flow + GROSS, l] += r[6 + GROSS]
            S[r_flow + NET, l] += r[6 + NET]
            S[r_flow + PERF, l] += r[6 + PERF]
            S[r_flow + FCL, l] += r[6 + FCL]
            S[r_flow + AMORTIZED, l] += r[6 + AMORTIZED]
    for c in range(NCOL):
        for l in range(SB):
            S[r_flow + c, l] += S[r_extra + c, l]
    for l in range(SB):
        S[R_IN_BEG, l] = S[R_IN_END, l]
        S[R_IN_IC, l] = S[r_flow + NET, l]
        S[R_IN_PC, l] = S[r_flow + SCHED, l] + S[r_flow + PREPAY, l] + S[r_flow + RECOVERY, l]
        S[R_IN_LOSS, l] = S[r_flow + LOSS, l]
        S[R_IN_END, l] = S[r_flow + PERF, l] + S[r_flow + FCL, l]
        S[R_POOL_LOSS, l] += S[r_flow + LOSS, l]


@kernel(reassociate=False)
def _waterfall(S, P):
    """The waterfall's period on the month's pool flows as it sees them (rows ``R_IN_*``)."""
    n_loans = int(P[P_N_LOANS])
    n_notes = int(P[P_N_NOTES])
    n_fees = int(P[P_N_FEES])
    n_acct = int(P[P_N_ACCT])
    n_trig = int(P[P_N_TRIG])
    n_steps = int(P[P_N_STEPS])
    n_hx = int(P[P_N_HX])
    (r_loan, r_cls, r_cf, r_bal, r_short, r_coupon, r_run, r_arrears, r_acct, r_breached, r_hxu, r_hxb, n_rows,
     p_loan, p_ios, p_face, p_dcf, p_fee_rate, p_fee_amount, p_acct_amount, p_acct_pct, p_acct_floor, p_thr, p_floor,
     p_lock, p_strike, p_hx_notional, p_hx_rate, p_hx_dcf, n_params) = \
        layout(n_loans, int(P[P_N_CLS]), n_notes, n_fees, n_acct, n_trig, n_steps, n_hx)
    (w0, r_nbeg, r_idue, r_ileft, r_accr, r_fdue, r_fleft, r_hxdue, r_hxleft, r_flow, r_extra, r_tr, r_fee, r_ac,
     r_tg, r_hx, r_cash, n_total) = \
        work_layout(n_rows, n_notes, n_fees, n_acct, n_trig, n_hx)
    (p_cls, p_fee_basis, p_acct_fixed, p_acct_basis, p_acct_keep, p_trig_metric, p_trig_below, p_trig_curable, p_op,
     p_arg, p_mem_ptr, p_members, p_cov_ptr, p_cov_acct, p_wd_order, p_ad_of, p_is_z, p_io_ref,
     p_step_acc, p_senior, p_eod_trig, p_hx_kind, p_hx_ref, p_step_when, p_step_unless, p_mem_group, p_total) = \
        code_layout(n_params, n_loans, n_notes, n_fees, n_acct, n_trig, n_steps, int(P[P_N_MEMBERS]),
                    int(P[P_N_COV]), n_hx)
    orig_pool = P[P_ORIG_POOL]
    principal_phase = int(P[P_PRINCIPAL_PHASE])
    # ---- collections (nothing after a clean-up call) and the call itself
    for l in range(SB):
        live = 1.0 - S[R_CALLED, l]
        S[w0 + W_IC, l] = S[R_IN_IC, l] * live
        S[w0 + W_PC, l] = S[R_IN_PC, l] * live
        S[w0 + W_PLOSS, l] = S[R_IN_LOSS, l] * live
        S[w0 + W_PEND, l] = S[R_IN_END, l] * live
        S[r_cash + C_POOL_BEG, l] = S[R_IN_BEG, l] * live
        S[R_CUM_LOSS, l] += S[w0 + W_PLOSS, l]
        S[w0 + W_PROCEEDS, l] = 0.0
    if P[P_HAS_CALL] != 0.0:
        level = P[P_CALL_LEVEL]
        dated = P[P_CALL_OPEN] != 0.0
        trig = int(P[P_CALL_TRIGGER])  # (its breach as last tested: this period's tests come later)
        for l in range(SB):
            pend = S[w0 + W_PEND, l]
            opened = dated or (trig >= 0 and S[r_breached + (trig if trig >= 0 else 0), l] > 0.0)
            if call_exercised(S[R_CALLED, l], S[R_EXERCISE, l], pend, level, opened):
                S[w0 + W_PROCEEDS, l] = pend
                S[w0 + W_PEND, l] = 0.0
                S[R_CALLED, l] = 1.0
    # ---- amounts due
    for l in range(SB):
        S[w0 + W_TOT, l] = 0.0
        S[w0 + W_ACC, l] = 0.0
    for t in range(n_notes):
        for l in range(SB):
            S[r_nbeg + t, l] = S[r_bal + t, l]
            S[r_accr + t, l] = 0.0
    for a in range(n_notes):  # a Z class accrues while a class its accretion is directed to is outstanding
        z = int(P[p_ad_of + a])
        if z >= 0:
            for l in range(SB):
                if S[r_nbeg + a, l] > 0.0:
                    S[r_accr + z, l] = 1.0
    for t in range(n_notes):
        dcf = P[p_dcf + t]
        ios = P[p_ios + t]
        tr = r_tr + TR_COLS * t
        ref = int(P[p_io_ref + t])  # an interest-only class's notional: the pool (-1) or a class
        strike = P[p_strike + t]
        for l in range(SB):
            b = S[r_nbeg + t, l]
            if ref == -2:
                base = b
            elif ref == -1:
                base = S[r_cash + C_POOL_BEG, l]
            else:
                base = S[r_nbeg + (ref if ref >= 0 else 0), l]
            cpn = S[r_coupon + t, l] if strike < 0.0 else strip_rate(S[R_WAC, l], strike)
            accruing = S[r_accr + t, l] > 0.0
            acc = accretion(b, cpn, dcf, accruing)
            due = interest_due(base, coupon_paid(cpn, accruing), dcf, S[r_short + t, l], ios)
            S[tr + TR_NOTIONAL, l] = base if ref != -2 else 0.0
            S[r_accr + t, l] = acc
            S[r_bal + t, l] = b + acc
            S[r_idue + t, l] = due
            S[r_ileft + t, l] = due
            S[w0 + W_TOT, l] += due
            S[tr + TR_BEG, l] = b
            S[tr + TR_COUPON, l] = cpn
            S[tr + TR_DUE, l] = due
            S[tr + TR_PRIN, l] = 0.0
            S[tr + TR_WD, l] = 0.0
            S[tr + TR_ACCRETION, l] = acc
    _sum_rows(S, r_nbeg, n_notes, w0 + W_NBSUM)
    for f in range(n_fees):
        basis = int(P[p_fee_basis + f])
        rate = P[p_fee_rate + f]
        amount = P[p_fee_amount + f]
        fe = r_fee + FEE_COLS * f
        for l in range(SB):
            beg = S[r_cash + C_POOL_BEG, l]
            base = fee_base(basis, beg, orig_pool, S[w0 + W_NBSUM, l], S[w0 + W_IC, l])
            due = fee_due(rate, base, amount, beg, S[r_arrears + f, l])
            S[r_fdue + f, l] = due
            S[r_fleft + f, l] = due
            S[fe + FEE_DUE, l] = due
            S[fe + FEE_PAID, l] = 0.0
            S[w0 + W_TOT, l] += due
    for l in range(SB):
        S[w0 + W_HREC, l] = 0.0
    for x in range(n_hx):  # hedges (while there is a pool) and facilities (CONVENTIONS R2.8)
        kind = int(P[p_hx_kind + x])
        ref = int(P[p_hx_ref + x])
        given, rate, dcf = P[p_hx_notional + x], P[p_hx_rate + x], P[p_hx_dcf + x]
        hx = r_hx + HX_COLS * x
        for l in range(SB):
            index = S[r_coupon + n_notes + x, l]
            drawn = S[r_hxb + x, l]
            if kind == HX_FACILITY:  # interest on the drawn balance at the start of the period
                notional, net = given, 0.0
                due = interest_due(drawn, index, dcf, S[r_hxu + x, l], 0.0)
            else:
                notional = given if ref < 0 else S[r_nbeg + (ref if ref >= 0 else 0), l]
                net = gate(hedge_net(kind == HX_CAP, notional, rate, index, dcf), S[r_cash + C_POOL_BEG, l] > 0.0)
                due = hedge_due(net, S[r_hxu + x, l])
            rec = hedge_receipt(net)
            S[r_hxdue + x, l] = due
            S[r_hxleft + x, l] = due
            S[w0 + W_HREC, l] += rec
            S[hx + HX_NOTIONAL, l] = notional
            S[hx + HX_RATE, l] = index
            S[hx + HX_NET, l] = net
            S[hx + HX_DUE, l] = due
            S[hx + HX_RECEIPT, l] = rec
            S[hx + HX_BEG, l] = drawn
            S[hx + HX_REPAID, l] = 0.0
            S[hx + HX_DRAW, l] = 0.0
    # ---- triggers, on values that include this period
    for g in range(n_trig):
        thr = P[p_thr + g]
        metric = int(P[p_trig_metric + g])
        below = P[p_trig_below + g] != 0.0
        curable = int(P[p_trig_curable + g])
        tg = r_tg + TRIG_COLS * g
        for l in range(SB):
            v = trigger_value(metric, S[R_CUM_LOSS, l], orig_pool, S[w0 + W_PEND, l],
                              S[w0 + W_NBSUM, l], S[R_DELINQ, l], S[w0 + W_IC, l],
                              S[w0 + W_TOT, l])
            x = trigger_breached(v, thr, below, curable, S[r_breached + g, l])
            S[r_breached + g, l] = x
            S[tg + TG_VALUE, l] = v
            S[tg + TG_THRESHOLD, l] = thr
            S[tg + TG_BREACHED, l] = x
    # ---- accounts start
    for a in range(n_acct):
        ac = r_ac + ACCT_COLS * a
        for l in range(SB):
            S[ac + AC_BEG, l] = S[r_acct + a, l]
            S[ac + AC_DEP, l] = 0.0
            S[ac + AC_DRAW, l] = 0.0
            S[ac + AC_REL, l] = 0.0
            S[ac + AC_TARGET, l] = 0.0
    for l in range(SB):  # one pot for a single priority, and for the post-acceleration one
        one_pot = principal_phase < 0 or S[R_ACCEL, l] > 0.0
        extra = S[w0 + W_PC, l] + S[w0 + W_PROCEEDS, l] if one_pot else 0.0
        S[w0 + W_AVAIL, l] = S[w0 + W_IC, l] + S[w0 + W_HREC, l] + extra  # hedge receipts: at the top
        S[w0 + W_PAIDP, l] = 0.0
        S[r_cash + C_RESIDUAL, l] = 0.0
        S[r_cash + C_ACCELERATED, l] = S[R_ACCEL, l]
    # ---- the steps
    for k in range(n_steps):
        if k == principal_phase:  # principal funds: collections, call proceeds and accretion moved
            for l in range(SB):
                more = S[w0 + W_PC, l] + S[w0 + W_PROCEEDS, l] + S[w0 + W_ACC, l]
                S[w0 + W_AVAIL, l] += gate(more, S[R_ACCEL, l] == 0.0)
        acc = P[p_step_acc + k]  # 1: a step of the post-acceleration priority, applying in accelerated lanes
        _applies(S, P, w0, r_breached, acc, int(P[p_step_when + k]), int(P[p_step_unless + k]))
        o = int(P[p_op + k])
        lo = int(P[p_mem_ptr + k])
        hi = int(P[p_mem_ptr + k + 1])
        c_lo = int(P[p_cov_ptr + k])
        c_hi = int(P[p_cov_ptr + k + 1])
        if o == OP_FEES or o == OP_INTEREST or o == OP_HEDGE or o == OP_FAC_INTEREST:
            left = r_fleft if o == OP_FEES else r_ileft if o == OP_INTEREST else r_hxleft
            _take(S, P, w0, left, p_members, lo, hi)
            _draw(S, P, w0, r_acct, r_ac, p_cov_acct, c_lo, c_hi, n_acct, r_hxb, r_hx, p_hx_notional)
            _settle(S, P, w0, left, p_members, lo, hi)
        elif o == OP_FAC_REPAY:  # repay a facility's drawn balance from the funds available
            x = int(P[p_members + lo])
            hx = r_hx + HX_COLS * x
            for l in range(SB):
                got, avail = pay(gate(S[r_hxb + x, l], S[w0 + W_ON, l] > 0.0), S[w0 + W_AVAIL, l])
                S[w0 + W_AVAIL, l] = avail
                S[r_hxb + x, l] -= got
                S[hx + HX_REPAID, l] += got
        elif o == OP_PRINCIPAL:
            kind = int(P[p_arg + 4 * k])
            always_seq = int(P[p_arg + 4 * k + 1]) == 0
            switch = int(P[p_arg + 4 * k + 2])
            within = int(P[p_arg + 4 * k + 3])  # bond groups: -1 none, 0 sequential inside, 1 pro rata inside
            planned = P[p_floor + k]
            _open_sums(S, P, lo, hi, p_members, p_lock, r_bal, r_nbeg, w0 + W_GRP, w0 + W_TOT)
            if kind == AMOUNT_OC_TARGET:
                _oc_pda(S, P, w0, r_breached, orig_pool)
            for l in range(SB):
                if kind == AMOUNT_COLLECTIONS:
                    cap = S[w0 + W_PC, l] + S[w0 + W_PROCEEDS, l] + S[w0 + W_ACC, l]
                elif kind == AMOUNT_OC_TARGET:
                    cap = S[w0 + W_NEED, l]
                elif kind == AMOUNT_ACCRETION:
                    cap = S[w0 + W_ACC, l]
                else:
                    cap = np.inf
                need = gate(principal_need(cap, S[w0 + W_PAIDP, l], above_plan(S[w0 + W_GRP, l], planned)),
                            S[w0 + W_ON, l] > 0.0)
                got, avail = pay(need, S[w0 + W_AVAIL, l])
                S[w0 + W_NEED, l] = need
                S[w0 + W_GOT, l] = got
                S[w0 + W_AVAIL, l] = avail
                hit = switch >= 0 and S[r_breached + (switch if switch >= 0 else 0), l] > 0.0
                S[w0 + W_SEQ, l] = 1.0 if always_seq or hit else 0.0
            _draw(S, P, w0, r_acct, r_ac, p_cov_acct, c_lo, c_hi, n_acct, r_hxb, r_hx, p_hx_notional)
            for l in range(SB):
                S[w0 + W_PAIDP, l] += S[w0 + W_GOT, l]
                S[w0 + W_REM, l] = S[w0 + W_GOT, l]
            if within >= 0:  # bond groups: each group's share, then its classes' (see _groups)
                _groups(S, P, w0, lo, hi, p_members, p_mem_group, p_lock, r_nbeg, r_bal, r_tr, within)
            for j in range(lo, hi if within < 0 else lo):  # sequential, or pro rata by beginning balances
                m = int(P[p_members + j])
                lk = P[p_lock + m]
                tr = r_tr + TR_COLS * m
                for l in range(SB):
                    rem = S[w0 + W_REM, l]
                    pro = pro_rata_share(S[w0 + W_GOT, l], unlocked(S[r_nbeg + m, l], lk), S[w0 + W_TOT, l])
                    p = principal_pay(rem, pro, S[w0 + W_SEQ, l] > 0.0, unlocked(S[r_bal + m, l], lk))
                    S[r_bal + m, l] -= p
                    S[tr + TR_PRIN, l] += p
                    S[w0 + W_REM, l] = rem - p
            _leftover(S, P, lo, hi, p_members, p_lock, r_bal, r_tr, w0 + W_REM)  # what caps left over
        elif o == OP_ACCRETION:  # cash for a Z class's accretion: from interest funds to principal funds
            z = int(P[p_arg + 4 * k])
            now = P[p_arg + 4 * k + 1] != 0.0  # in the principal priority (or a single one): available at once
            for l in range(SB):
                got, avail = pay(gate(S[r_accr + z, l], S[w0 + W_ON, l] > 0.0), S[w0 + W_AVAIL, l])
                S[w0 + W_AVAIL, l] = avail + got if now else avail
                S[w0 + W_ACC, l] += got
        elif o == OP_RESERVE:
            a = int(P[p_arg + 4 * k])
            ac = r_ac + ACCT_COLS * a
            _account_target(S, P, w0, a, orig_pool, r_bal, n_notes, p_acct_fixed, p_acct_basis, p_acct_keep,
                            p_acct_amount, p_acct_pct, p_acct_floor)
            for l in range(SB):
                target = S[w0 + W_GBEG, l]
                x = S[r_acct + a, l]
                dep, rel = reserve_move(x, target, S[w0 + W_AVAIL, l])
                on = S[w0 + W_ON, l] > 0.0
                dep, rel = gate(dep, on), gate(rel, on)
                target = target if on else S[ac + AC_TARGET, l]
                S[r_acct + a, l] = x + dep - rel
                S[w0 + W_AVAIL, l] += rel - dep
                S[ac + AC_DEP, l] += dep
                S[ac + AC_REL, l] += rel
                S[ac + AC_TARGET, l] = target
        elif o == OP_TRANSFER:  # from one account to another
            a = int(P[p_arg + 4 * k])
            b = int(P[p_arg + 4 * k + 1])
            everything = P[p_arg + 4 * k + 2] != 0.0
            _account_target(S, P, w0, b, orig_pool, r_bal, n_notes, p_acct_fixed, p_acct_basis, p_acct_keep,
                            p_acct_amount, p_acct_pct, p_acct_floor)
            for l in range(SB):
                x = gate(transfer_amount(S[r_acct + a, l], S[w0 + W_GBEG, l], S[r_acct + b, l], everything),
                         S[w0 + W_ON, l] > 0.0)
                S[r_acct + a, l] -= x
                S[r_acct + b, l] += x
                S[r_ac + ACCT_COLS * a + AC_DRAW, l] += x
                S[r_ac + ACCT_COLS * b + AC_DEP, l] += x
        else:  # OP_RESIDUAL: first any fee or interest still unpaid, in step order (where the
            # residual step applies, whatever those steps' own conditions: what is due is due)
            for kk in range(k):
                ok = int(P[p_op + kk])
                dues = ok == OP_FEES or ok == OP_INTEREST or ok == OP_HEDGE or ok == OP_FAC_INTEREST
                if dues and P[p_step_acc + kk] == acc:  # (of its own priority)
                    left = r_fleft if ok == OP_FEES else r_ileft if ok == OP_INTEREST else r_hxleft
                    lo2 = int(P[p_mem_ptr + kk])
                    hi2 = int(P[p_mem_ptr + kk + 1])
                    _take(S, P, w0, left, p_members, lo2, hi2)
                    _settle(S, P, w0, left, p_members, lo2, hi2)
            for l in range(SB):
                rest = gate(S[w0 + W_AVAIL, l], S[w0 + W_ON, l] > 0.0)
                S[r_cash + C_RESIDUAL, l] += rest
                S[w0 + W_AVAIL, l] -= rest
    # ---- events of default, after the period's waterfall and before writedowns: acceleration
    # applies from the next period on, for good (CONVENTIONS R2.7.2-3)
    _sum_rows(S, r_bal, n_notes, w0 + W_NOW)
    if P[P_HAS_ACCEL] != 0.0:
        for l in range(SB):
            S[w0 + W_GRP, l] = 0.0
        for t in range(n_notes):
            if P[p_senior + t] != 0.0:
                for l in range(SB):
                    if carry(S[r_ileft + t, l]) > 0.0:
                        S[w0 + W_GRP, l] = 1.0
        threshold = P[P_EOD_OC]
        if threshold > 0.0:
            for l in range(SB):
                if oc_event(S[w0 + W_PEND, l], S[w0 + W_NOW, l], threshold):
                    S[w0 + W_GRP, l] = 1.0
        for g in range(n_trig):
            if P[p_eod_trig + g] != 0.0:
                for l in range(SB):
                    if S[r_breached + g, l] > 0.0:
                        S[w0 + W_GRP, l] = 1.0
        for l in range(SB):
            if S[w0 + W_GRP, l] > 0.0:
                S[R_ACCEL, l] = 1.0
    # ---- writedowns in reverse priority (none when the deal says so), carry-forwards, period totals
    wd_mode = int(P[P_WD_ACCOUNTS])
    if wd_mode == WD_POOL_AND_ACCOUNTS:
        _sum_rows(S, r_acct, n_acct, w0 + W_GRP)
    for l in range(SB):
        cover = S[w0 + W_PEND, l] + (S[w0 + W_GRP, l] if wd_mode == WD_POOL_AND_ACCOUNTS else 0.0)
        S[w0 + W_REM, l] = 0.0 if wd_mode == WD_NONE else uncovered(S[w0 + W_NOW, l], cover)
    for j in range(n_notes):
        t = int(P[p_wd_order + j])
        tr = r_tr + TR_COLS * t
        for l in range(SB):
            wd, x, rem = writedown(S[w0 + W_REM, l], S[r_bal + t, l])
            S[w0 + W_REM, l] = rem
            S[r_bal + t, l] = x
            S[tr + TR_WD, l] = wd
    _carry(S, n_notes, r_ileft, r_idue, r_short, r_tr, TR_COLS, TR_PAID, TR_SHORT)
    _carry(S, n_fees, r_fleft, r_fdue, r_arrears, r_fee, FEE_COLS, FEE_PAID, FEE_SHORT)
    _carry(S, n_hx, r_hxleft, r_hxdue, r_hxu, r_hx, HX_COLS, HX_PAID, HX_SHORT)
    for t in range(n_notes):
        for l in range(SB):
            S[r_tr + TR_COLS * t + TR_END, l] = S[r_bal + t, l]
    for a in range(n_acct):
        for l in range(SB):
            S[r_ac + ACCT_COLS * a + AC_END, l] = S[r_acct + a, l]
    for x in range(n_hx):
        for l in range(SB):
            S[r_hx + HX_COLS * x + HX_END, l] = S[r_hxb + x, l]
    for l in range(SB):
        S[r_cash + C_INTEREST, l] = S[w0 + W_IC, l]
        S[r_cash + C_PRINCIPAL, l] = S[w0 + W_PC, l]
        S[r_cash + C_CALL, l] = S[w0 + W_PROCEEDS, l]
        S[r_cash + C_LOSS, l] = S[w0 + W_PLOSS, l]
        S[r_cash + C_UNALLOCATED, l] = S[w0 + W_AVAIL, l]
        S[r_cash + C_POOL_END, l] = S[w0 + W_PEND, l]
        S[r_cash + C_NOTES_BEG, l] = S[w0 + W_NBSUM, l]
        S[r_cash + C_FEES, l] = 0.0
        S[r_cash + C_NOTE_INTEREST, l] = 0.0
        S[r_cash + C_NOTE_PRINCIPAL, l] = 0.0
        S[r_cash + C_WRITEDOWN, l] = 0.0
        S[r_cash + C_NOTES_END, l] = 0.0
        S[r_cash + C_DRAWS, l] = 0.0
        S[r_cash + C_DEPOSITS, l] = 0.0
        S[r_cash + C_RELEASES, l] = 0.0
        S[r_cash + C_ACCRETION, l] = 0.0
        S[r_cash + C_HEDGE_RECEIPTS, l] = S[w0 + W_HREC, l]
        S[r_cash + C_HEDGE_PAYMENTS, l] = 0.0
        S[r_cash + C_FACILITY_DRAWS, l] = 0.0
        S[r_cash + C_FACILITY_INTEREST, l] = 0.0
        S[r_cash + C_FACILITY_REPAYMENTS, l] = 0.0
    for x in range(n_hx):
        hx = r_hx + HX_COLS * x
        paid = C_FACILITY_INTEREST if int(P[p_hx_kind + x]) == HX_FACILITY else C_HEDGE_PAYMENTS
        for l in range(SB):
            S[r_cash + paid, l] += S[hx + HX_PAID, l]
            S[r_cash + C_FACILITY_DRAWS, l] += S[hx + HX_DRAW, l]
            S[r_cash + C_FACILITY_REPAYMENTS, l] += S[hx + HX_REPAID, l]
    for f in range(n_fees):
        for l in range(SB):
            S[r_cash + C_FEES, l] += S[r_fee + FEE_COLS * f + FEE_PAID, l]
    for t in range(n_notes):
        tr = r_tr + TR_COLS * t
        for l in range(SB):
            S[r_cash + C_NOTE_INTEREST, l] += S[tr + TR_PAID, l]
            S[r_cash + C_NOTE_PRINCIPAL, l] += S[tr + TR_PRIN, l]
            S[r_cash + C_WRITEDOWN, l] += S[tr + TR_WD, l]
            S[r_cash + C_NOTES_END, l] += S[r_bal + t, l]
            S[r_cash + C_ACCRETION, l] += S[tr + TR_ACCRETION, l]
    for a in range(n_acct):
        ac = r_ac + ACCT_COLS * a
        for l in range(SB):
            S[r_cash + C_DRAWS, l] += S[ac + AC_DRAW, l]
            S[r_cash + C_DEPOSITS, l] += S[ac + AC_DEP, l]
            S[r_cash + C_RELEASES, l] += S[ac + AC_REL, l]


@kernel(inline=True)
def _running_sums(S, P):
    """What a summary keeps of the period, as a generated period keeps it: the residual paid, per
    note its running sums and its cash flow per 100 of face, and whether the deal has retired."""
    n_loans = int(P[P_N_LOANS])
    n_notes = int(P[P_N_NOTES])
    n_fees = int(P[P_N_FEES])
    n_acct = int(P[P_N_ACCT])
    n_trig = int(P[P_N_TRIG])
    n_steps = int(P[P_N_STEPS])
    n_hx = int(P[P_N_HX])
    (r_loan, r_cls, r_cf, r_bal, r_short, r_coupon, r_run, r_arrears, r_acct, r_breached, r_hxu, r_hxb, n_rows,
     p_loan, p_ios, p_face, p_dcf, p_fee_rate, p_fee_amount, p_acct_amount, p_acct_pct, p_acct_floor, p_thr, p_floor,
     p_lock, p_strike, p_hx_notional, p_hx_rate, p_hx_dcf, n_params) = \
        layout(n_loans, int(P[P_N_CLS]), n_notes, n_fees, n_acct, n_trig, n_steps, n_hx)
    (w0, r_nbeg, r_idue, r_ileft, r_accr, r_fdue, r_fleft, r_hxdue, r_hxleft, r_flow, r_extra, r_tr, r_fee, r_ac,
     r_tg, r_hx, r_cash, n_total) = \
        work_layout(n_rows, n_notes, n_fees, n_acct, n_trig, n_hx)
    (p_cls, p_fee_basis, p_acct_fixed, p_acct_basis, p_acct_keep, p_trig_metric, p_trig_below, p_trig_curable, p_op,
     p_arg, p_mem_ptr, p_members, p_cov_ptr, p_cov_acct, p_wd_order, p_ad_of, p_is_z, p_io_ref,
     p_step_acc, p_senior, p_eod_trig, p_hx_kind, p_hx_ref, p_step_when, p_step_unless, p_mem_group, p_total) = \
        code_layout(n_params, n_loans, n_notes, n_fees, n_acct, n_trig, n_steps, int(P[P_N_MEMBERS]),
                    int(P[P_N_COV]), n_hx)
    m1f = float(P[P_M1])
    for l in range(SB):
        S[R_RESIDUAL, l] += S[r_cash + C_RESIDUAL, l]
    for t in range(n_notes):
        tr = r_tr + TR_COLS * t
        run = r_run + N_RUN * t
        per_face = P[p_face + t]
        for l in range(SB):
            prin = S[tr + TR_PRIN, l]
            paid = S[tr + TR_PAID, l]
            S[run, l] += prin
            S[run + 1, l] += m1f * prin
            S[run + 2, l] += paid
            S[run + 3, l] += S[tr + TR_WD, l]
            if prin > 0.0 and S[run + 4, l] == 0.0:
                S[run + 4, l] = m1f
            if prin > 0.0:
                S[run + 5, l] = m1f
            S[r_cf + t, l] = (paid + prin) * per_face
    for l in range(SB):  # retired: no pool left (or called), no note or account balance
        done = not S[R_IN_END, l] > 0.0 or S[R_CALLED, l] > 0.0
        for t in range(n_notes):
            done = done and not S[r_bal + t, l] > 0.0
        for a in range(n_acct):
            done = done and not S[r_acct + a, l] > 0.0
        S[R_DONE, l] = 1.0 if done else 0.0


@kernel(inline=True)
def _sizes(H):
    """``(rows of S, numbers in P)`` for the counts in ``P``'s first ``P_FIXED`` numbers ``H``."""
    n_loans = int(H[P_N_LOANS])
    n_notes = int(H[P_N_NOTES])
    n_fees = int(H[P_N_FEES])
    n_acct = int(H[P_N_ACCT])
    n_trig = int(H[P_N_TRIG])
    n_hx = int(H[P_N_HX])
    sizes = layout(n_loans, int(H[P_N_CLS]), n_notes, n_fees, n_acct, n_trig, int(H[P_N_STEPS]), n_hx)
    n_rows, n_params = sizes[12], sizes[29]
    n_total = work_layout(n_rows, n_notes, n_fees, n_acct, n_trig, n_hx)[17]
    p_total = code_layout(n_params, n_loans, n_notes, n_fees, n_acct, n_trig, int(H[P_N_STEPS]), int(H[P_N_MEMBERS]),
                          int(H[P_N_COV]), n_hx)[26]
    return n_total, p_total


@kernel(inline=True)
def _sum_rows(S, first, n, row):
    """``S[row] = sum of rows first .. first + n - 1``, lane by lane, in row order."""
    for l in range(SB):
        S[row, l] = 0.0
    for t in range(n):
        for l in range(SB):
            S[row, l] += S[first + t, l]


@kernel(inline=True)
def _open_sums(S, P, lo, hi, p_members, p_lock, r_bal, r_nbeg, row_bal, row_beg):
    """Rows ``row_bal`` and ``row_beg``: the balances and beginning balances of members ``lo..hi``
    of a principal step, each as the step sees it (0 while locked out)."""
    for l in range(SB):
        S[row_bal, l] = 0.0
        S[row_beg, l] = 0.0
    for j in range(lo, hi):
        m = int(P[p_members + j])
        lk = P[p_lock + m]
        for l in range(SB):
            S[row_bal, l] += unlocked(S[r_bal + m, l], lk)
            S[row_beg, l] += unlocked(S[r_nbeg + m, l], lk)


@kernel(inline=True)
def _leftover(S, P, lo, hi, p_members, p_lock, r_bal, r_tr, row):
    """The cash left in ``row`` paid to members ``lo..hi`` in order, each up to its balance."""
    for j in range(lo, hi):
        m = int(P[p_members + j])
        lk = P[p_lock + m]
        tr = r_tr + TR_COLS * m
        for l in range(SB):
            rem = S[row, l]
            p = principal_pay(rem, rem, True, unlocked(S[r_bal + m, l], lk))
            S[r_bal + m, l] -= p
            S[tr + TR_PRIN, l] += p
            S[row, l] = rem - p


@kernel(inline=True)
def _carry(S, n, r_left, r_due, r_carried, r_table, cols, c_paid, c_short):
    """Each of ``n`` items' unpaid amount (rows from ``r_left``) carried to the next period (rows
    from ``r_carried``), and its table columns: paid (due, rows from ``r_due``, less unpaid) and
    carried."""
    for i in range(n):
        row = r_table + cols * i
        for l in range(SB):
            s = S[r_left + i, l]
            c = carry(s)
            S[r_carried + i, l] = c
            S[row + c_paid, l] = S[r_due + i, l] - s
            S[row + c_short, l] = c


@kernel(inline=True)
def _account_target(S, P, w0, b, orig_pool, r_bal, n_notes, p_acct_fixed, p_acct_basis, p_acct_keep,
                    p_acct_amount, p_acct_pct, p_acct_floor):
    """Account ``b``'s target this period (:func:`reserve_target`, on the ending pool or the
    original pool, zero once the notes are paid unless kept), per lane into ``W_GBEG``."""
    fixed = P[p_acct_fixed + b] != 0.0
    on_pool = int(P[p_acct_basis + b]) == BASIS_POOL
    keep = int(P[p_acct_keep + b])
    amount, pct, floor = P[p_acct_amount + b], P[p_acct_pct + b], P[p_acct_floor + b]
    _sum_rows(S, r_bal, n_notes, w0 + W_NOW)
    for l in range(SB):
        base = S[w0 + W_PEND, l] if on_pool else orig_pool
        S[w0 + W_GBEG, l] = reserve_target(fixed, amount, pct, base, floor, keep, S[w0 + W_NOW, l])


@kernel(inline=True)
def _groups(S, P, w0, lo, hi, p_members, p_mem_group, p_lock, r_nbeg, r_bal, r_tr, within):
    """A principal step's cash ``W_GOT`` over bond groups (members ``lo..hi``, group by group):
    each group in turn is allotted the rest of the cash (sequential across groups, ``W_SEQ``) or
    its pro-rata share by beginning balances, at most its balance and the cash remaining
    (:func:`principal_pay` with the group as one class); the allotment is paid to its classes
    sequentially (``within`` 0) or pro rata by their beginning balances and then in priority
    order for what caps left. ``W_REM`` falls by what is paid."""
    g_lo = lo
    while g_lo < hi:
        g_hi = g_lo + 1
        while g_hi < hi and P[p_mem_group + g_hi] == P[p_mem_group + g_lo]:
            g_hi += 1
        _open_sums(S, P, g_lo, g_hi, p_members, p_lock, r_bal, r_nbeg, w0 + W_GBAL, w0 + W_GBEG)
        for l in range(SB):
            rem = S[w0 + W_REM, l]
            share = pro_rata_share(S[w0 + W_GOT, l], S[w0 + W_GBEG, l], S[w0 + W_TOT, l])
            a = principal_pay(rem, share, S[w0 + W_SEQ, l] > 0.0, S[w0 + W_GBAL, l])
            S[w0 + W_GLEFT, l] = a
            S[w0 + W_REM, l] = rem - a
            S[w0 + W_NEED, l] = a  # the allotment, for the shares inside the group
        for j in range(g_lo, g_hi):
            m = int(P[p_members + j])
            lk = P[p_lock + m]
            tr = r_tr + TR_COLS * m
            for l in range(SB):
                left = S[w0 + W_GLEFT, l]
                pro = pro_rata_share(S[w0 + W_NEED, l], unlocked(S[r_nbeg + m, l], lk), S[w0 + W_GBEG, l])
                p = principal_pay(left, pro, within == 0, unlocked(S[r_bal + m, l], lk))
                S[r_bal + m, l] -= p
                S[tr + TR_PRIN, l] += p
                S[w0 + W_GLEFT, l] = left - p
        if within != 0:  # what the caps inside the group left over, in priority order
            _leftover(S, P, g_lo, g_hi, p_members, p_lock, r_bal, r_tr, w0 + W_GLEFT)
        for l in range(SB):  # (anything an allotment could not place goes back to the step's cash)
            S[w0 + W_REM, l] += S[w0 + W_GLEFT, l]
        g_lo = g_hi


@kernel(inline=True)
def _applies(S, P, w0, r_breached, acc, when, unless):
    """``W_ON``: 1.0 in the lanes where a step applies: their priority (1: accelerated) is the
    step's ``acc``, trigger ``when`` is breached and trigger ``unless`` is not (-1: no such
    condition)."""
    for l in range(SB):
        on = S[R_ACCEL, l] == acc
        if when >= 0:
            on = on and S[r_breached + when, l] > 0.0
        if unless >= 0:
            on = on and not S[r_breached + unless, l] > 0.0
        S[w0 + W_ON, l] = 1.0 if on else 0.0


@kernel(inline=True)
def _take(S, P, w0, left, p_members, lo, hi):
    """A group's remaining dues (``W_NEED``) and what available funds pay of them (``W_GOT``);
    ``left``: the first row of the dues (interest or fees); none in a lane where the step does
    not apply (``W_ON``)."""
    for l in range(SB):
        S[w0 + W_NEED, l] = 0.0
    for j in range(lo, hi):
        r = left + int(P[p_members + j])
        for l in range(SB):
            S[w0 + W_NEED, l] += S[r, l]
    for l in range(SB):
        S[w0 + W_NEED, l] = gate(S[w0 + W_NEED, l], S[w0 + W_ON, l] > 0.0)
        got, avail = pay(S[w0 + W_NEED, l], S[w0 + W_AVAIL, l])
        S[w0 + W_GOT, l] = got
        S[w0 + W_AVAIL, l] = avail


@kernel(inline=True)
def _settle(S, P, w0, left, p_members, lo, hi):
    """Reduce each member's dues pro rata by the share of the group's dues that was paid (a
    group of one: by what was paid)."""
    if hi - lo == 1:
        r = left + int(P[p_members + lo])
        for l in range(SB):
            S[r, l] = settle_one(S[r, l], S[w0 + W_GOT, l])
        return
    for j in range(lo, hi):
        r = left + int(P[p_members + j])
        for l in range(SB):
            S[r, l] = settle(S[r, l], S[w0 + W_GOT, l], S[w0 + W_NEED, l])


@kernel(inline=True)
def _draw(S, P, w0, r_acct, r_ac, p_cov_acct, lo, hi, n_acct, r_hxb, r_hx, p_hx_notional):
    """Cover a step's shortfall (``W_NEED - W_GOT``) from its accounts, in order, then from the
    facilities drawn for it (each up to its commitment less its drawn balance)."""
    for j in range(lo, hi):
        a = int(P[p_cov_acct + j])
        if a >= n_acct:
            x = a - n_acct
            k = P[p_hx_notional + x]
            for l in range(SB):
                d = draw(S[w0 + W_NEED, l], S[w0 + W_GOT, l], k - S[r_hxb + x, l])
                S[r_hxb + x, l] += d
                S[w0 + W_GOT, l] += d
                S[r_hx + HX_COLS * x + HX_DRAW, l] += d
            continue
        for l in range(SB):
            d = draw(S[w0 + W_NEED, l], S[w0 + W_GOT, l], S[r_acct + a, l])
            S[r_acct + a, l] -= d
            S[w0 + W_GOT, l] += d
            S[r_ac + ACCT_COLS * a + AC_DRAW, l] += d


@kernel(inline=True)
def _oc_pda(S, P, w0, r_breached, orig_pool):
    """Principal distribution amount of an OC target, per lane, into ``W_NEED``:
    ``max(0, notes - max(0, pool - target))``."""
    stepped = P[P_OC_STEPPED] != 0.0
    blocker = int(P[P_OC_BLOCKER])
    on_original = P[P_OC_ORIGINAL] != 0.0
    for l in range(SB):
        p = P[P_OC_PCT]
        if stepped and (blocker < 0 or S[r_breached + (blocker if blocker >= 0 else 0), l] == 0.0):
            p = P[P_OC_STEP_PCT]
        pend = S[w0 + W_PEND, l]
        base = orig_pool if on_original else pend
        S[w0 + W_NEED, l] = oc_principal(p, base, P[P_OC_FLOOR], S[w0 + W_NBSUM, l], pend)

def _interpret(s_ptr, p_ptr):
    """One period of a block: the pool's month (unless ``P`` says its flows were given), then the
    waterfall's period of the structure in ``P``, then the running sums; see the module doc."""
    H = carray(p_ptr, (P_FIXED,))
    n_total, p_total = _sizes(H)
    S = carray(s_ptr, (n_total, SB))  # [row, lane]
    P = carray(p_ptr, (p_total,))
    if P[P_POOL_GIVEN] == 0.0:
        _pool_month(S, P)
    if P[P_WATERFALL] == 0.0:  # every deal of the block has retired: the pool runs on alone
        return
    _waterfall(S, P)
    _running_sums(S, P)


_COMPILED: list = []


def interpret():
    """The interpreter as a C-callable period (see the module doc). Compiled (or loaded from the
    cache) on first use, not when the module is imported: a C-callable function is compiled
    eagerly, and a run that never meets the waterfall should not wait for it."""
    if not _COMPILED:
        _COMPILED.append(period_cfunc(_interpret))
    return _COMPILED[0]
