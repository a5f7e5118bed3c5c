"""The one loop: every block of scenarios, period by period, the pool's month then the
waterfall's, into one of two sinks.

:func:`run_blocks` runs each block of ``SB`` scenarios (in parallel) through periods
``i0..i1-1``. Per period it fills the block's flat state and parameters
(:mod:`abs_engine.kernels.state`: this month's rates, severity, coupons, delinquency, day count
fractions, thresholds), calls a period on them, and hands the result to its sink:

* **tables**: the period's rows (pool flows, tranches, fees, accounts, triggers, instruments, cash) are copied
  into ``[block, period, item, column, lane]`` arrays (full runs, servicing);
* **summaries**: the running sums the period keeps are folded, at the end of the block, into
  per-scenario statistics (:func:`abs_engine.kernels.summaries.finish_block`: WAL, yield,
  duration...); a block stops once every deal in it has retired and no later month can add to
  its pool loss.

The period is a C-callable function of ``(S, P)``: the interpreter
(:func:`abs_engine.kernels.waterfall.interpret`, every structure, compiled once) or a period
generated for one structure (:mod:`abs_engine.engine.codegen`: the same operations in the same
order, unrolled, summaries only). Because the pool and the waterfall advance together, a
waterfall step can act on the pool before its next month and the pool's month can read the
deal's state: the place new structures hook in. A pool projected elsewhere (loan-blocked, or a
servicer's actual collections) is given to the loop as the waterfall sees it (``given``) and the
period skips the pool's month.

Each loan's month is :func:`abs_engine.kernels.collateral.month_step`, each lane adding its loans
in loan order, so the pool's flows are those of
:func:`~abs_engine.kernels.collateral.project_scenario_blocks`, bit for bit.
"""

from __future__ import annotations

import numpy as np
from numba import types
from numba.extending import intrinsic

from ._jit import kernel
from .collateral import NCOL, loan_setup
from .ops import BASIS_ORIGINAL
from .state import (
    AC_BEG,
    AC_END,
    AC_TARGET,
    ACCT_COLS,
    C_ACCELERATED,
    C_NOTES_BEG,
    C_NOTES_END,
    C_POOL_BEG,
    C_POOL_END,
    CASH_COLS,
    FEE_COLS,
    FEE_SHORT,
    HELD_BEG,
    HELD_COLS,
    HELD_IC,
    HELD_LOSS,
    HELD_PC,
    HELD_WAC,
    HX_BEG,
    HX_COLS,
    HX_END,
    HX_FACILITY,
    HX_NOTIONAL,
    HX_SHORT,
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
    TR_BEG,
    TR_COLS,
    TR_COUPON,
    TR_END,
    TR_SHORT,
    TRIG_COLS,
    cell,
    code_layout,
    layout,
    work_layout,
)
from .summaries import finish_block, no_loss_ahead

__all__ = ["run_blocks", "GIVEN_IC", "GIVEN_PC", "GIVEN_LOSS", "GIVEN_BEG", "GIVEN_END", "GIVEN_WAC", "GIVEN_DQ",
           "GIVEN_COLS"]

# a given pool's columns (``given[block, period, column, lane]``): the waterfall's view of its month;
# GIVEN_DQ: the pool's own 60+ delinquency ratio (NaN: the scenario's delinquency_60 applies)
GIVEN_IC, GIVEN_PC, GIVEN_LOSS, GIVEN_BEG, GIVEN_END, GIVEN_WAC, GIVEN_DQ = range(7)
GIVEN_COLS = 7


@intrinsic
def _address(typingctx, arr):
    """The data pointer of a contiguous array, for a C-callable period."""
    def codegen(context, builder, sig, args):
        return context.make_array(sig.args[0])(context, builder, args[0]).data
    return types.CPointer(arr.dtype)(arr), codegen


@intrinsic
def _take_block(typingctx, counter):
    """``counter[0]``, incremented atomically: the next block for the thread that asks. Threads
    that run :func:`run_blocks` on the same counter share its blocks, each taking one when it is
    done with the last (blocks differ in length: each stops when its deals retire)."""
    def codegen(context, builder, sig, args):
        ptr = context.make_array(sig.args[0])(context, builder, args[0]).data
        return builder.atomic_rmw("add", ptr, context.get_constant(types.int64, 1), "monotonic")
    return types.int64(counter), codegen


@kernel(inline=True)
def _same(at):
    """Whether every lane reads the same row of a table."""
    for l in range(at.size):
        if at[l] != at[0]:
            return False
    return True



@kernel(reassociate=False)
def run_blocks(counter, full_state, period, balance, gross_m, net_m, amort_n, amort_kind, mat, cls, smm_rows,
               mdr_rows, mdr_end, sev_rows, prow, drow, srow, smm_from, mdr_from, sev_from, lanes, lag_b, adv_b,
               pool_start, coupon_rows, crow, delinq_rows, qrow, cpn_from, dq_from, exercise, dcf, ios, fee_rate,
               fee_amount, fee_basis, acct_fixed, acct_amount, acct_pct, acct_basis, acct_floor, acct_keep,
               trig_metric, trig_below, trig_curable, trig_threshold, op, arg, mem_ptr, members, cov_ptr, cov_acct,
               wd_order, oc_params, call_pct, call_open, call_trigger, orig_pool, wd_accounts,
               principal_phase, floor, locked, ad_of, is_z, io_ref, strike, step_acc, senior, eod_trig, eod_oc,
               hx_kind, hx_ref, hx_notional, hx_rate, hx_dcf, step_when, step_unless, mem_group,
               bal, short, arrears, acct, breached, cum_loss, called, accelerated, hx_unpaid, hx_drawn, held, step,
               given, cutoff, i0, i1, pool_out, tr_out, fee_out, acct_out, trig_out, hx_out, cash_out, face, price,
               delay, stats, extra):
    """Periods ``i0..i1-1`` (0-based) of every block of ``lanes`` (``[block, lane]`` scenario
    indices; a padding lane holds ``-1 - index`` of a scenario it repeats and is not written).

    ``period``: a C-callable ``(S, P)`` period (see the module doc); ``full_state``: whether it
    needs the rows of ``S`` after :func:`~abs_engine.kernels.state.layout`'s (the interpreter
    does, a generated period does not), which the table sink and the flows of loans in
    foreclosure at cut-off need too. Collateral: a small pool (its
    loans in every lane), rate tables ``[row, month, class]`` and severities ``[row, month]``
    with each scenario's rows ``prow``/``drow``/``srow``, and per MDR row the month index from
    which it is 0 everywhere (``mdr_end``); every lane of a block shares ``lag_b[block]`` and
    ``adv_b[block]``; ``pool_start``: the pool balance at cut-off. Or ``given[block, period,
    GIVEN_*, lane]``, the pool as the waterfall sees it (then no loans). ``cutoff[block, period,
    column, lane]``: flows of loans in foreclosure at cut-off, added to the month's (or ``None``).
    Waterfall: the structure arguments of
    :meth:`abs_engine.compile.waterfall.WaterfallProgram.structure`, coupons ``[row, period,
    note]`` and 60+ delinquency ``[row, period]`` with rows ``crow``/``qrow``, call elections
    ``exercise[scenario]``, the call (``call_pct``: the clean-up percentage, -1 none;
    ``call_open[period]``: 1.0 once its date is reached; ``call_trigger``: the trigger whose breach
    opens it, -1 none), per step the triggers that gate it ``step_when``/``step_unless`` (-1:
    none) and per member its bond group ``mem_group``, each step's planned balance ``floor[period,
    step]`` and each note's lockout ``locked[period, note]`` (1.0 while locked out of principal), per note the Z class
    its accretion is directed to ``ad_of`` (-1: none), whether it is a Z class ``is_z``, what an
    interest-only class's notional is ``io_ref`` (-1 the pool, else a note; -2: not one) and a
    WAC strip's ``strike`` (-1: none); acceleration: each step's priority ``step_acc`` (1: after
    acceleration), the most senior classes ``senior``, the triggers that are events of default
    ``eod_trig`` and the OC ratio below which one is ``eod_oc`` (0: none); the instruments (hedges,
    then facilities, CONVENTIONS R2.8): their kind ``hx_kind``, a hedge's notional class ``hx_ref``
    (-1: given), and per period ``hx_notional``, ``hx_rate`` and ``hx_dcf`` (``[period,
    instrument]``). The deal's state ``bal``, ``short``, ``arrears``, ``acct``, ``breached``,
    ``hx_unpaid``, ``hx_drawn``, ``held`` (``[block, item, lane]``), ``cum_loss``, ``called``,
    ``accelerated`` (``[block, lane]``) is read at ``i0`` and written back at ``i1``.

    Notes paid every ``step`` months (CONVENTIONS R2.2): each month the pool's month runs alone
    and its collections are added to ``held`` (``HELD_*``: the collection period's interest,
    principal, losses, beginning pool balance and its net coupon); in a payment month (every ``step``-th, and
    the last) the waterfall runs once on the period's sums, as on a given pool. Between payment
    dates the tables show the balances as they stand and nothing paid, the triggers untested (no value,
    their state as it stands), and the summary's cash flows are 0.

    Sinks (each ``None`` when not wanted, and then compiled away): with ``cash_out``, tables
    ``pool_out[block, period, column, lane]``,
    ``*_out[block, period, item, column, lane]`` and ``cash_out[block, period, column, lane]``;
    with ``stats``, ``stats[S_*, scenario, item]`` (the notes' items; any after them are left
    as they are) and ``extra[scenario, X_*]`` for
    ``face`` (each note's original balance), ``price`` (per note, per 100 of face) and ``delay``
    (payment delay in days), the block stopping early once retired.
    """
    n_loans = balance.size
    n_per = dcf.shape[0]
    n_notes = bal.shape[1]
    n_fees = fee_rate.size
    n_acct = acct.shape[1]
    n_trig = trig_metric.size
    n_steps = op.size
    n_cpn = coupon_rows.shape[2]  # the notes' coupons, then the instruments' rates
    n_hx = hx_kind.size
    n_cls = smm_rows.shape[2]
    (r_loan, r_cls, r_cf, r_bal, r_short, r_coupon, r_run, r_arrears, r_acct, r_breached, r_hxu, r_hxb, n_rows,
     p_loan, p_ios, p_face, p_dcf, p_fee_rate, p_fee_amount, p_acct_amount, p_acct_pct, p_acct_floor, p_thr, p_floor,
     p_lock, p_strike, p_hx_notional, p_hx_rate, p_hx_dcf, n_params) = \
        layout(n_loans, n_cls, n_notes, n_fees, n_acct, n_trig, n_steps, n_hx)
    (r_work, r_nbeg, r_idue, r_ileft, r_accr, r_fdue, r_fleft, r_hxdue, r_hxleft, r_flow, r_extra, r_tr, r_fee, r_ac,
     r_tg, r_hx, r_cash, n_total) = \
        work_layout(n_rows, n_notes, n_fees, n_acct, n_trig, n_hx)
    (p_cls, p_fee_basis, p_acct_fixed, p_acct_basis, p_acct_keep, p_trig_metric, p_trig_below, p_trig_curable, p_op,
     p_arg, p_mem_ptr, p_members, p_cov_ptr, p_cov_acct, p_wd_order, p_ad_of, p_is_z, p_io_ref,
     p_step_acc, p_senior, p_eod_trig, p_hx_kind, p_hx_ref, p_step_when, p_step_unless, p_mem_group, p_total) = \
        code_layout(n_params, n_loans, n_notes, n_fees, n_acct, n_trig, n_steps, members.size, cov_acct.size, n_hx)
    step_period = int(oc_params[3])
    nl = lanes.shape[1]  # = SB, but a run-time number: a loop of constant length is unrolled, not vectorized
    smm_flat = smm_rows.ravel()
    mdr_flat = mdr_rows.ravel()
    cpn_flat = coupon_rows.ravel()
    sev_flat = sev_rows.ravel()
    dq_flat = delinq_rows.ravel()
    n_blocks = lanes.shape[0]
    while True:
        b = _take_block(counter)  # the next block no thread has taken
        if b >= n_blocks:
            break
        lag = lag_b[b]
        S = np.zeros((n_total if full_state else n_rows) * SB)
        P = np.zeros(p_total)
        P[P_CALL_LEVEL] = call_pct * orig_pool if call_pct >= 0.0 else -1.0  # (-1: no clean-up condition)
        P[P_CALL_TRIGGER] = call_trigger
        P[P_ORIG_POOL] = orig_pool
        P[P_OC_PCT] = oc_params[0]
        P[P_OC_ORIGINAL] = 1.0 if oc_params[1] == BASIS_ORIGINAL else 0.0
        P[P_OC_FLOOR] = oc_params[2]
        P[P_OC_STEP_PCT] = oc_params[4]
        P[P_OC_BLOCKER] = oc_params[5]
        P[P_LAG] = lag
        P[P_ADV] = 1.0 if adv_b[b] else 0.0
        # the structure as numbers, for the interpreter (a generated period has it in its code)
        P[P_N_LOANS] = n_loans
        P[P_N_CLS] = n_cls
        P[P_N_NOTES] = n_notes
        P[P_N_FEES] = n_fees
        P[P_N_ACCT] = n_acct
        P[P_N_TRIG] = n_trig
        P[P_N_STEPS] = n_steps
        P[P_N_MEMBERS] = members.size
        P[P_N_COV] = cov_acct.size
        P[P_N_HX] = n_hx
        P[P_POOL_GIVEN] = 0.0 if given is None else 1.0
        P[P_HAS_CALL] = 1.0 if call_pct >= 0.0 or call_trigger >= 0 or (call_open.size and call_open.max() > 0.0) \
            else 0.0
        P[P_WD_ACCOUNTS] = wd_accounts  # WD_POOL, WD_POOL_AND_ACCOUNTS or WD_NONE
        P[P_EOD_OC] = eod_oc
        P[P_HAS_ACCEL] = 1.0 if step_acc.size and step_acc.max() > 0 else 0.0
        P[P_PRINCIPAL_PHASE] = principal_phase
        for k in range(n_loans):
            P[p_cls + k] = cls[k]
        for f in range(n_fees):
            P[p_fee_basis + f] = fee_basis[f]
        for a in range(n_acct):
            P[p_acct_fixed + a] = 1.0 if acct_fixed[a] else 0.0
            P[p_acct_basis + a] = acct_basis[a]
            P[p_acct_keep + a] = acct_keep[a]
        for g in range(n_trig):
            P[p_trig_metric + g] = trig_metric[g]
            P[p_trig_below + g] = 1.0 if trig_below[g] else 0.0
            P[p_trig_curable + g] = trig_curable[g]
        for k in range(n_steps):
            P[p_op + k] = op[k]
            for c in range(4):
                P[p_arg + 4 * k + c] = arg[k, c]
            P[p_step_when + k] = step_when[k]
            P[p_step_unless + k] = step_unless[k]
        for k in range(n_steps + 1):
            P[p_mem_ptr + k] = mem_ptr[k]
            P[p_cov_ptr + k] = cov_ptr[k]
        for j in range(members.size):
            P[p_members + j] = members[j]
            P[p_mem_group + j] = mem_group[j]
        for j in range(cov_acct.size):
            P[p_cov_acct + j] = cov_acct[j]
        for t in range(n_notes):
            P[p_wd_order + t] = wd_order[t]
            P[p_ad_of + t] = ad_of[t]
            P[p_is_z + t] = is_z[t]
            P[p_io_ref + t] = io_ref[t]
            P[p_strike + t] = strike[t]
            P[p_senior + t] = senior[t]
        for k in range(n_steps):
            P[p_step_acc + k] = step_acc[k]
        for g in range(n_trig):
            P[p_eod_trig + g] = eod_trig[g]
        for x in range(n_hx):
            P[p_hx_kind + x] = hx_kind[x]
            P[p_hx_ref + x] = hx_ref[x]
        for k in range(n_loans):
            q = p_loan + N_LOAN_PARAMS * k
            d0, g0 = loan_setup(gross_m[k], amort_n[k], amort_kind[k])
            P[q] = 1.0
            P[q + 1] = d0
            P[q + 2] = g0
            P[q + 3] = gross_m[k]
            P[q + 4] = net_m[k]
            P[q + 5] = mat[k]
        for t in range(n_notes):
            P[p_ios + t] = ios[t]
            if stats is not None:  # cash flows per 100 of face: a product
                P[p_face + t] = 100.0 / face[t] if face[t] > 0.0 else 0.0
        for f in range(n_fees):
            P[p_fee_rate + f] = fee_rate[f]
        for a in range(n_acct):
            P[p_acct_amount + a] = acct_amount[a]
            P[p_acct_pct + a] = acct_pct[a]
            P[p_acct_floor + a] = acct_floor[a]
        # each lane's rows of the scenario tables, as offsets into the flat tables
        smm_at = np.empty(SB, dtype=np.uint64)  # + month * n_cls + class
        mdr_at = np.empty(SB, dtype=np.uint64)
        sev_at = np.empty(SB, dtype=np.uint64)  # + month
        cpn_at = np.empty(SB, dtype=np.uint64)  # + month * n_cpn + note
        dq_at = np.empty(SB, dtype=np.uint64)  # + month
        quiet_at = np.empty(SB, dtype=np.int64)  # months from which the lane's MDR is 0
        for l in range(SB):
            x = lanes[b, l]
            j = x if x >= 0 else -1 - x
            smm_at[l] = prow[j] * n_per * n_cls
            mdr_at[l] = drow[j] * n_per * n_cls
            sev_at[l] = srow[j] * n_per
            cpn_at[l] = crow[j] * n_per * n_cpn
            dq_at[l] = qrow[j] * n_per
            quiet_at[l] = mdr_end[drow[j]]
            S[R_EXERCISE * SB + l] = exercise[j]
            S[R_IN_END * SB + l] = pool_start
            S[R_CUM_LOSS * SB + l] = cum_loss[b, l]
            S[R_CALLED * SB + l] = called[b, l]
            S[R_ACCEL * SB + l] = accelerated[b, l]
            for k in range(n_loans):
                S[(r_loan + N_LOAN_ROWS * k + L_W) * SB + l] = balance[k]
            for t in range(n_notes):
                S[(r_bal + t) * SB + l] = bal[b, t, l]
                S[(r_short + t) * SB + l] = short[b, t, l]
            for f in range(n_fees):
                S[(r_arrears + f) * SB + l] = arrears[b, f, l]
            for a in range(n_acct):
                S[(r_acct + a) * SB + l] = acct[b, a, l]
            for g in range(n_trig):
                S[(r_breached + g) * SB + l] = breached[b, g, l]
            for x in range(n_hx):
                S[(r_hxu + x) * SB + l] = hx_unpaid[b, x, l]
                S[(r_hxb + x) * SB + l] = hx_drawn[b, x, l]
        smm_b = mdr_b = sev_b = cpn_b = dq_b = 0  # from these months on, the block's rows stay as filled
        for l in range(SB):
            x = lanes[b, l]
            j = x if x >= 0 else -1 - x
            smm_b = max(smm_b, smm_from[prow[j]])
            mdr_b = max(mdr_b, mdr_from[drow[j]])
            sev_b = max(sev_b, sev_from[srow[j]])
            cpn_b = max(cpn_b, cpn_from[crow[j]])
            dq_b = max(dq_b, dq_from[qrow[j]])
        one_smm = _same(smm_at)
        one_mdr = _same(mdr_at)
        one_sev = _same(sev_at)
        one_cpn = _same(cpn_at)
        one_dq = _same(dq_at)
        hold = np.zeros((HELD_COLS, SB))  # the collection period's sums so far (CONVENTIONS R2.2)
        for l in range(SB):
            for c in range(HELD_COLS):
                hold[c, l] = held[b, c, l]
        ring = np.zeros(n_loans * (lag + 2) * 2 * SB)  # per loan and slot: new defaults, and / scheduled fraction
        cf = np.empty(0 if stats is None else n_per * n_notes * SB)  # [period, note, lane], flat, of the periods run
        n_run = 0  # periods the waterfall has run
        retired = False
        for i in range(i0, i1):
            m1 = i + 1
            if given is not None:
                for l in range(nl):
                    S[cell(R_IN_IC, l)] = given[b, i, GIVEN_IC, l]
                    S[cell(R_IN_PC, l)] = given[b, i, GIVEN_PC, l]
                    S[cell(R_IN_LOSS, l)] = given[b, i, GIVEN_LOSS, l]
                    S[cell(R_IN_BEG, l)] = given[b, i, GIVEN_BEG, l]
                    S[cell(R_IN_END, l)] = given[b, i, GIVEN_END, l]
                    S[cell(R_WAC, l)] = given[b, i, GIVEN_WAC, l]
            else:
                for c in range(n_cls):  # this month's rates
                    mi = np.uint64(i * n_cls + c)
                    if i == i0 or i <= smm_b:  # (a row that has stopped changing stays as filled)
                        if one_smm:  # every lane reads the same row: one load
                            x = smm_flat[smm_at[0] + mi]
                            for l in range(nl):
                                S[cell(r_cls + 2 * c, l)] = x
                        else:
                            for l in range(nl):
                                S[cell(r_cls + 2 * c, l)] = smm_flat[smm_at[l] + mi]
                    if i == i0 or i <= mdr_b:  # (a row that has stopped changing stays as filled)
                        if one_mdr:  # every lane reads the same row: one load
                            x = mdr_flat[mdr_at[0] + mi]
                            for l in range(nl):
                                S[cell(r_cls + 2 * c + 1, l)] = x
                        else:
                            for l in range(nl):
                                S[cell(r_cls + 2 * c + 1, l)] = mdr_flat[mdr_at[l] + mi]
                if i == i0 or i <= sev_b:  # (a row that has stopped changing stays as filled)
                    if one_sev:  # every lane reads the same row: one load
                        x = sev_flat[sev_at[0] + np.uint64(i)]
                        for l in range(nl):
                            S[cell(R_SEV, l)] = x
                    else:
                        for l in range(nl):
                            S[cell(R_SEV, l)] = sev_flat[sev_at[l] + np.uint64(i)]
                if cutoff is not None:
                    for c in range(NCOL):
                        for l in range(nl):
                            S[cell(r_extra + c, l)] = cutoff[b, i, c, l]
                ws = m1 % (lag + 1)
                rs = (m1 + 1) % (lag + 1) if lag > 0 else lag + 1
                for k in range(n_loans):  # the ring's defaults of lag months ago, into the loan's rows
                    c0 = r_loan + N_LOAN_ROWS * k
                    r0 = k * (lag + 2) * 2
                    for l in range(nl):
                        S[cell(c0 + L_ND_J, l)] = ring[cell(r0 + 2 * rs, l)]
                        S[cell(c0 + L_NORM_J, l)] = ring[cell(r0 + 2 * rs + 1, l)]
            P[P_M1] = m1
            P[P_WATERFALL] = 0.0 if retired else 1.0
            if not retired:
                mc = np.uint64(i * n_cpn)
                if i == i0 or i <= cpn_b:  # (a row that has stopped changing stays as filled)
                    for t in range(n_cpn):  # this period's coupons (and instruments' rates) and delinquency
                        if one_cpn:  # every lane reads the same row: one load
                            x = cpn_flat[cpn_at[0] + mc + np.uint64(t)]
                            for l in range(nl):
                                S[cell(r_coupon + t, l)] = x
                        else:
                            for l in range(nl):
                                S[cell(r_coupon + t, l)] = cpn_flat[cpn_at[l] + mc + np.uint64(t)]
                if i == i0 or i <= dq_b:  # (a row that has stopped changing stays as filled)
                    if one_dq:  # every lane reads the same row: one load
                        x = dq_flat[dq_at[0] + np.uint64(i)]
                        for l in range(nl):
                            S[cell(R_DELINQ, l)] = x
                    else:
                        for l in range(nl):
                            S[cell(R_DELINQ, l)] = dq_flat[dq_at[l] + np.uint64(i)]
                if given is not None:  # a pool projected with its delinquencies: its own ratio
                    for l in range(nl):
                        x = given[b, i, GIVEN_DQ, l]
                        if x == x:
                            S[cell(R_DELINQ, l)] = x
                P[P_OC_STEPPED] = 1.0 if step_period >= 0 and i >= step_period else 0.0
                P[P_CALL_OPEN] = call_open[i]
                for t in range(n_notes):
                    P[p_dcf + t] = dcf[i, t]
                for g in range(n_trig):
                    P[p_thr + g] = trig_threshold[i, g]
                for f in range(n_fees):
                    P[p_fee_amount + f] = fee_amount[i, f]
                for k in range(n_steps):
                    P[p_floor + k] = floor[i, k]
                for t in range(n_notes):
                    P[p_lock + t] = locked[i, t]
                for x in range(n_hx):
                    P[p_hx_notional + x] = hx_notional[i, x]
                    P[p_hx_rate + x] = hx_rate[i, x]
                    P[p_hx_dcf + x] = hx_dcf[i, x]
            pay = step == 1 or m1 % step == 0 or m1 == n_per  # a payment month (CONVENTIONS R2.2)
            if step == 1:
                period(_address(S), _address(P))
            else:  # the pool's month alone, its collections held; on a payment date, the period's sums paid
                P[P_WATERFALL] = 0.0
                if given is None:
                    period(_address(S), _address(P))
                start = i % step == 0
                for l in range(nl):
                    if start:
                        hold[HELD_BEG, l] = S[cell(R_IN_BEG, l)]
                        hold[HELD_WAC, l] = S[cell(R_WAC, l)]
                        hold[HELD_IC, l] = 0.0
                        hold[HELD_PC, l] = 0.0
                        hold[HELD_LOSS, l] = 0.0
                    hold[HELD_IC, l] += S[cell(R_IN_IC, l)]
                    hold[HELD_PC, l] += S[cell(R_IN_PC, l)]
                    hold[HELD_LOSS, l] += S[cell(R_IN_LOSS, l)]
                if pay:
                    for l in range(nl):
                        S[cell(R_IN_IC, l)] = hold[HELD_IC, l]
                        S[cell(R_IN_PC, l)] = hold[HELD_PC, l]
                        S[cell(R_IN_LOSS, l)] = hold[HELD_LOSS, l]
                        S[cell(R_IN_BEG, l)] = hold[HELD_BEG, l]
                        S[cell(R_WAC, l)] = hold[HELD_WAC, l]
                        for c in range(HELD_COLS):
                            hold[c, l] = 0.0
                    P[P_WATERFALL] = 0.0 if retired else 1.0
                    P[P_POOL_GIVEN] = 1.0
                    period(_address(S), _address(P))
                    P[P_POOL_GIVEN] = 0.0 if given is None else 1.0
            if given is None:
                ws = m1 % (lag + 1)
                for k in range(n_loans):
                    if m1 <= mat[k]:  # this month's defaults into the ring; the schedule, the same in every lane
                        c0 = r_loan + N_LOAN_ROWS * k
                        r0 = k * (lag + 2) * 2
                        for l in range(nl):
                            ring[cell(r0 + 2 * ws, l)] = S[cell(c0 + L_ND, l)]
                            ring[cell(r0 + 2 * ws + 1, l)] = S[cell(c0 + L_NORM, l)]
                        q = p_loan + N_LOAN_PARAMS * k
                        P[q] = 0.0 if m1 >= mat[k] else P[q] - P[q + 1]
                        P[q + 1] *= P[q + 2]
            if cash_out is not None and not pay:  # a month between payments: balances as they stand
                for c in range(NCOL):
                    for l in range(nl):
                        pool_out[b, i, c, l] = S[cell(r_flow + c, l)]
                for t in range(n_notes):
                    for l in range(nl):
                        tr_out[b, i, t, TR_BEG, l] = S[cell(r_bal + t, l)]
                        tr_out[b, i, t, TR_END, l] = S[cell(r_bal + t, l)]
                        tr_out[b, i, t, TR_COUPON, l] = S[cell(r_coupon + t, l)]
                        tr_out[b, i, t, TR_SHORT, l] = S[cell(r_short + t, l)]
                for f in range(n_fees):
                    for l in range(nl):
                        fee_out[b, i, f, FEE_SHORT, l] = S[cell(r_arrears + f, l)]
                for a in range(n_acct):
                    for l in range(nl):
                        acct_out[b, i, a, AC_BEG, l] = S[cell(r_acct + a, l)]
                        acct_out[b, i, a, AC_END, l] = S[cell(r_acct + a, l)]
                        acct_out[b, i, a, AC_TARGET, l] = np.nan  # (set on payment dates)
                for g in range(n_trig):  # not tested: no value; the state as it stands
                    for l in range(nl):
                        trig_out[b, i, g, TG_VALUE, l] = np.nan
                        trig_out[b, i, g, TG_THRESHOLD, l] = trig_threshold[i, g]
                        trig_out[b, i, g, TG_BREACHED, l] = S[cell(r_breached + g, l)]
                for x in range(n_hx):
                    for l in range(nl):
                        hx_out[b, i, x, HX_BEG, l] = S[cell(r_hxb + x, l)]
                        hx_out[b, i, x, HX_END, l] = S[cell(r_hxb + x, l)]
                        hx_out[b, i, x, HX_SHORT, l] = S[cell(r_hxu + x, l)]
                        if hx_kind[x] == HX_FACILITY:  # (a facility's commitment)
                            hx_out[b, i, x, HX_NOTIONAL, l] = hx_notional[i, x]
                for l in range(nl):
                    notes_now = 0.0
                    for t in range(n_notes):
                        notes_now += S[cell(r_bal + t, l)]
                    cash_out[b, i, C_NOTES_BEG, l] = notes_now
                    cash_out[b, i, C_NOTES_END, l] = notes_now
                    # the pool as the waterfall sees it: as it was at the last payment date
                    cash_out[b, i, C_POOL_BEG, l] = hold[HELD_BEG, l]
                    cash_out[b, i, C_POOL_END, l] = hold[HELD_BEG, l]
                    cash_out[b, i, C_ACCELERATED, l] = S[cell(R_ACCEL, l)]
            elif cash_out is not None:  # the table sink: the period's rows, as written
                for c in range(NCOL):
                    for l in range(nl):
                        pool_out[b, i, c, l] = S[cell(r_flow + c, l)]
                for t in range(n_notes):
                    for c in range(TR_COLS):
                        for l in range(nl):
                            tr_out[b, i, t, c, l] = S[cell(r_tr + TR_COLS * t + c, l)]
                for f in range(n_fees):
                    for c in range(FEE_COLS):
                        for l in range(nl):
                            fee_out[b, i, f, c, l] = S[cell(r_fee + FEE_COLS * f + c, l)]
                for a in range(n_acct):
                    for c in range(ACCT_COLS):
                        for l in range(nl):
                            acct_out[b, i, a, c, l] = S[cell(r_ac + ACCT_COLS * a + c, l)]
                for g in range(n_trig):
                    for c in range(TRIG_COLS):
                        for l in range(nl):
                            trig_out[b, i, g, c, l] = S[cell(r_tg + TRIG_COLS * g + c, l)]
                for x in range(n_hx):
                    for c in range(HX_COLS):
                        for l in range(nl):
                            hx_out[b, i, x, c, l] = S[cell(r_hx + HX_COLS * x + c, l)]
                for c in range(CASH_COLS):
                    for l in range(nl):
                        cash_out[b, i, c, l] = S[cell(r_cash + c, l)]
            if stats is not None:  # the summary sink
                # a block whose deals have all retired projects its pool alone, for the pool loss,
                # while a loss can still come (loans in foreclosure at cut-off may still
                # liquidate at a loss: run on)
                if retired:
                    if cutoff is None and no_loss_ahead(S, ring, r_loan, n_loans, lag, m1, mat, quiet_at, nl):
                        break
                    continue
                if not pay:  # nothing paid between payment dates
                    for t in range(n_notes):
                        row = i * n_notes + t
                        for l in range(nl):
                            cf[cell(row, l)] = 0.0
                    continue
                n_run = m1
                done = 1.0
                for l in range(nl):
                    done = min(done, S[cell(R_DONE, l)])
                retired = done > 0.0
                for t in range(n_notes):
                    row = i * n_notes + t
                    for l in range(nl):
                        cf[cell(row, l)] = S[cell(r_cf + t, l)]
        for l in range(SB):  # the state the next period starts from
            cum_loss[b, l] = S[R_CUM_LOSS * SB + l]
            called[b, l] = S[R_CALLED * SB + l]
            accelerated[b, l] = S[R_ACCEL * SB + l]
            for t in range(n_notes):
                bal[b, t, l] = S[(r_bal + t) * SB + l]
                short[b, t, l] = S[(r_short + t) * SB + l]
            for f in range(n_fees):
                arrears[b, f, l] = S[(r_arrears + f) * SB + l]
            for a in range(n_acct):
                acct[b, a, l] = S[(r_acct + a) * SB + l]
            for g in range(n_trig):
                breached[b, g, l] = S[(r_breached + g) * SB + l]
            for x in range(n_hx):
                hx_unpaid[b, x, l] = S[(r_hxu + x) * SB + l]
                hx_drawn[b, x, l] = S[(r_hxb + x) * SB + l]
            for c in range(HELD_COLS):
                held[b, c, l] = hold[c, l]
        if stats is not None:
            run = np.empty((n_notes, N_RUN, SB))
            residual = np.empty(SB)
            pool_loss = np.empty(SB)
            for l in range(SB):
                residual[l] = S[R_RESIDUAL * SB + l]
                pool_loss[l] = S[R_POOL_LOSS * SB + l]
                for t in range(n_notes):
                    for c in range(N_RUN):
                        run[t, c, l] = S[(r_run + N_RUN * t + c) * SB + l]
            finish_block(cf, n_run, run, residual, pool_loss, lanes[b], face, price, delay, stats, extra)
