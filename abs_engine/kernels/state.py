"""The flat state and parameters of one block of scenarios, as every period works on them.

A block's values live in two flat arrays: state ``S`` (row ``r`` of lane ``l`` at
``S[r * SB + l]``) and parameters ``P`` (the same in every lane). The loop
(:func:`abs_engine.kernels.deal.run_blocks`) fills them, calls a period on them (the interpreter
:func:`abs_engine.kernels.waterfall.interpret`, or a period generated for one structure by
:mod:`abs_engine.engine.codegen`), and reads them back. Both periods read and write the same
rows; only the interpreter writes the rows after ``layout``'s (its working values and the
period's table rows), and only it reads the structure from ``P``.

``S``: first these rows (the month's pool flows as the waterfall sees them, what the period
carries, the month's severity and 60+ delinquency, flags, the beginning pool's net coupon), then
per loan its performing weight,
foreclosure weight, the new defaults of ``lag`` months ago (plain, and divided by the scheduled
fraction) and this month's (the same two); per rate class this month's SMM and MDR; per note
its cash flow per 100 of face this period, balance, interest shortfall, coupon (the coupon rows
go on with each instrument's rate: a hedge's index, a facility's rate), six running sums
(principal, period-weighted principal, interest, writedown, first and last principal period);
then fee arrears, account balances, trigger states, and per instrument (hedges, then
facilities: CONVENTIONS R2.8) its unpaid amount carried (a swap's net payment, a facility's
interest) and its drawn balance (a facility's). After them (:func:`work_layout`): the
interpreter's working rows, the month's pool flows, the flows of loans in foreclosure at
cut-off, and the period's table rows (per note, fee, account, trigger and instrument its
columns, then the
cash columns).

``P``: these, then per loan its scheduled fraction, its decrement and the decrement's growth,
gross and net monthly rates and maturity; per note ios, 100 / face and this period's day count
fraction; per fee its rate and this period's amount; per account amount, pct and floor; per
trigger this period's threshold; per step this period's planned balance (0 for a step without
one); per note 1 if it is locked out of principal this period, else 0; per note the strike of
a WAC interest-only strip (-1: none); per instrument this period's notional (a hedge's given
notional, a facility's commitment), rate (a swap's fixed rate, a cap's strike) and day count
fraction. After them (:func:`code_layout`): the structure as numbers,
for the interpreter (each loan's rate class, each item's kind, the step table).
"""

from __future__ import annotations

import numpy as np

from ._jit import kernel
from .collateral import NCOL

__all__ = ["SB", "layout", "work_layout", "code_layout", "cell"]

SB = 32  # scenarios per block

(R_EXERCISE, R_IN_END, R_IN_BEG, R_IN_IC, R_IN_PC, R_IN_LOSS, R_CALLED, R_RESIDUAL, R_CUM_LOSS, R_DELINQ,
 R_DONE, R_SEV, R_POOL_LOSS, R_WAC, R_ACCEL) = range(15)
R_FIXED = 15
L_W, L_F, L_ND_J, L_NORM_J, L_ND, L_NORM = range(6)
N_LOAN_ROWS = 6
N_RUN = 6
(P_CALL_LEVEL, P_ORIG_POOL, P_OC_PCT, P_OC_ORIGINAL, P_OC_FLOOR, P_OC_STEP_PCT, P_OC_BLOCKER, P_OC_STEPPED,
 P_M1, P_LAG, P_ADV, P_WATERFALL, P_EOD_OC,
 # counts and flags, for the interpreter
 P_N_LOANS, P_N_CLS, P_N_NOTES, P_N_FEES, P_N_ACCT, P_N_TRIG, P_N_STEPS, P_N_MEMBERS, P_N_COV,
 P_POOL_GIVEN, P_HAS_CALL, P_WD_ACCOUNTS, P_PRINCIPAL_PHASE, P_HAS_ACCEL, P_N_HX,
 # the call: open this period (its date reached), and the trigger whose breach opens it (-1: none)
 P_CALL_OPEN, P_CALL_TRIGGER) = range(30)
P_FIXED = 30
WD_POOL, WD_POOL_AND_ACCOUNTS, WD_NONE = range(3)  # P_WD_ACCOUNTS: what note balances are written down to
HX_SWAP, HX_CAP, HX_FACILITY = range(3)  # an instrument's kind: hedges (swap, cap bought), then facilities
N_LOAN_PARAMS = 6  # scheduled fraction, decrement, its growth, gross rate, net rate, maturity

# the interpreter's working rows, first of work_layout's
(W_AVAIL, W_PAIDP, W_NEED, W_GOT, W_REM, W_TOT, W_SEQ, W_IC, W_PC, W_PLOSS, W_PEND, W_PROCEEDS, W_NBSUM, W_NOW,
 W_GRP, W_POOLBEG, W_RESID, W_ACC, W_HREC, W_ON, W_GBEG, W_GBAL, W_GLEFT) = range(23)
W_FIXED = 23

# the period's table columns
TR_BEG, TR_COUPON, TR_DUE, TR_PAID, TR_SHORT, TR_PRIN, TR_WD, TR_END, TR_ACCRETION, TR_NOTIONAL = range(10)
TR_COLS = 10
FEE_DUE, FEE_PAID, FEE_SHORT = range(3)
FEE_COLS = 3
AC_BEG, AC_DEP, AC_DRAW, AC_REL, AC_END, AC_TARGET = range(6)
ACCT_COLS = 6
TG_VALUE, TG_THRESHOLD, TG_BREACHED = range(3)
TRIG_COLS = 3
HX_NOTIONAL, HX_RATE, HX_NET, HX_DUE, HX_PAID, HX_SHORT, HX_RECEIPT, HX_BEG, HX_REPAID, HX_DRAW, HX_END = range(11)
HX_COLS = 11
(C_INTEREST, C_PRINCIPAL, C_CALL, C_LOSS, C_DRAWS, C_RELEASES, C_FEES, C_NOTE_INTEREST, C_NOTE_PRINCIPAL,
 C_DEPOSITS, C_RESIDUAL, C_UNALLOCATED, C_WRITEDOWN, C_NOTES_BEG, C_NOTES_END, C_POOL_BEG, C_POOL_END,
 C_ACCRETION, C_ACCELERATED, C_HEDGE_RECEIPTS, C_HEDGE_PAYMENTS, C_FACILITY_DRAWS, C_FACILITY_INTEREST,
 C_FACILITY_REPAYMENTS) = range(24)
CASH_COLS = 24
# a collection period's sums carried to its payment (CONVENTIONS R2.2): interest and principal
# collections, losses, and the pool balance and its net coupon at the period's start
HELD_IC, HELD_PC, HELD_LOSS, HELD_BEG, HELD_WAC = range(5)
HELD_COLS = 5


@kernel(inline=True)
def layout(n_loans, n_cls, n_notes, n_fees, n_acct, n_trig, n_steps, n_hx):
    """First rows of the per-item blocks of ``S`` and offsets in ``P`` (see the module doc):
    ``(loan, cls, cf, bal, short, coupon, run, arrears, acct, breached, hx_unpaid, hx_drawn, n_rows,
    loan, ios, face, dcf, fee_rate, fee_amount, acct_amount, acct_pct, acct_floor, thr, floor, lock, strike,
    hx_notional, hx_rate, hx_dcf, n_params)``; the coupon rows are the notes', then the
    instruments' (``n_hx``: hedges, then facilities) rates."""
    r_loan = R_FIXED
    r_cls = r_loan + N_LOAN_ROWS * n_loans
    r_cf = r_cls + 2 * n_cls
    r_bal = r_cf + n_notes
    r_short = r_bal + n_notes
    r_coupon = r_short + n_notes
    r_run = r_coupon + n_notes + n_hx
    r_arrears = r_run + N_RUN * n_notes
    r_acct = r_arrears + n_fees
    r_breached = r_acct + n_acct
    r_hxu = r_breached + n_trig
    r_hxb = r_hxu + n_hx
    n_rows = r_hxb + n_hx
    p_loan = P_FIXED
    p_ios = p_loan + N_LOAN_PARAMS * n_loans
    p_face = p_ios + n_notes
    p_dcf = p_face + n_notes
    p_fee_rate = p_dcf + n_notes
    p_fee_amount = p_fee_rate + n_fees
    p_acct_amount = p_fee_amount + n_fees
    p_acct_pct = p_acct_amount + n_acct
    p_acct_floor = p_acct_pct + n_acct
    p_thr = p_acct_floor + n_acct
    p_floor = p_thr + n_trig
    p_lock = p_floor + n_steps
    p_strike = p_lock + n_notes
    p_hx_notional = p_strike + n_notes
    p_hx_rate = p_hx_notional + n_hx
    p_hx_dcf = p_hx_rate + n_hx
    n_params = p_hx_dcf + n_hx
    return (r_loan, r_cls, r_cf, r_bal, r_short, r_coupon, r_run, r_arrears, r_acct, r_breached, r_hxu, r_hxb, n_rows,
            p_loan, p_ios, p_face, p_dcf, p_fee_rate, p_fee_amount, p_acct_amount, p_acct_pct, p_acct_floor, p_thr,
            p_floor, p_lock, p_strike, p_hx_notional, p_hx_rate, p_hx_dcf, n_params)


@kernel(inline=True)
def work_layout(n_rows, n_notes, n_fees, n_acct, n_trig, n_hx):
    """The rows of ``S`` after :func:`layout`'s ``n_rows``: ``(work, nbeg, idue, ileft, accr, fdue, fleft,
    hxdue, hxleft, flow, extra, tranche, fee, account, trigger, instrument, cash, n_total)``: the working rows
    ``W_*``; per note its beginning balance, interest due and unpaid, and its accretion (a Z class
    while it accrues, CONVENTIONS R2.5); per fee its amount due and unpaid; per instrument what it
    is due (a swap's net payment, a facility's interest) and what is unpaid of it; the
    month's pool flows and the flows of loans in foreclosure at cut-off (the columns of
    :mod:`abs_engine.kernels.collateral`); the period's table rows (item ``i``, column ``c`` at
    ``first + i * COLS + c``), then the cash columns."""
    r_work = n_rows
    r_nbeg = r_work + W_FIXED
    r_idue = r_nbeg + n_notes
    r_ileft = r_idue + n_notes
    r_accr = r_ileft + n_notes
    r_fdue = r_accr + n_notes
    r_fleft = r_fdue + n_fees
    r_hxdue = r_fleft + n_fees
    r_hxleft = r_hxdue + n_hx
    r_flow = r_hxleft + n_hx
    r_extra = r_flow + NCOL
    r_tr = r_extra + NCOL
    r_fee = r_tr + TR_COLS * n_notes
    r_ac = r_fee + FEE_COLS * n_fees
    r_tg = r_ac + ACCT_COLS * n_acct
    r_hx = r_tg + TRIG_COLS * n_trig
    r_cash = r_hx + HX_COLS * n_hx
    return (r_work, r_nbeg, r_idue, r_ileft, r_accr, r_fdue, r_fleft, r_hxdue, r_hxleft, r_flow, r_extra, r_tr,
            r_fee, r_ac, r_tg, r_hx, r_cash, r_cash + CASH_COLS)


@kernel(inline=True)
def code_layout(n_params, n_loans, n_notes, n_fees, n_acct, n_trig, n_steps, n_members, n_cov, n_hx):
    """Offsets in ``P`` after :func:`layout`'s ``n_params``: ``(cls, fee_basis, acct_fixed,
    acct_basis, acct_keep, trig_metric, trig_below, trig_curable, op, arg, mem_ptr, members,
    cov_ptr, cov_acct, wd_order, ad_of, is_z, io_ref, step_acc, senior, eod_trig, hx_kind, hx_ref,
    step_when, step_unless, mem_group, n_total)``: the
    structure as numbers (``step_acc``: 1 for a step of the post-acceleration priority; ``senior``:
    1 for a most senior class; ``eod_trig``: 1 for a trigger whose breach is an event of default;
    ``arg``: four per step; ``step_when``/``step_unless``: per step the trigger that must be
    breached / not breached for it to apply (-1: none); ``mem_group``: per member of a principal
    step its bond group (0 for a step without groups); ``ad_of``: per note the Z class whose
    accretion it is directed, or -1; ``is_z``: 1 for a Z class; ``io_ref``: what an interest-only
    class's notional is, -1 the pool, a note's index that note, -2 not an interest-only class;
    ``cov_acct``: per step the accounts that cover it, and ``n_acct +`` the instruments
    (facilities) drawn for it; ``hx_kind``: per instrument ``HX_*``; ``hx_ref``: the note whose
    beginning balance is a hedge's notional, -1 given amounts)."""
    p_cls = n_params
    p_fee_basis = p_cls + n_loans
    p_acct_fixed = p_fee_basis + n_fees
    p_acct_basis = p_acct_fixed + n_acct
    p_acct_keep = p_acct_basis + n_acct
    p_trig_metric = p_acct_keep + n_acct
    p_trig_below = p_trig_metric + n_trig
    p_trig_curable = p_trig_below + n_trig
    p_op = p_trig_curable + n_trig
    p_arg = p_op + n_steps
    p_mem_ptr = p_arg + 4 * n_steps
    p_members = p_mem_ptr + n_steps + 1
    p_cov_ptr = p_members + n_members
    p_cov_acct = p_cov_ptr + n_steps + 1
    p_wd_order = p_cov_acct + n_cov
    p_ad_of = p_wd_order + n_notes
    p_is_z = p_ad_of + n_notes
    p_io_ref = p_is_z + n_notes
    p_step_acc = p_io_ref + n_notes
    p_senior = p_step_acc + n_steps
    p_eod_trig = p_senior + n_notes
    p_hx_kind = p_eod_trig + n_trig
    p_hx_ref = p_hx_kind + n_hx
    p_step_when = p_hx_ref + n_hx
    p_step_unless = p_step_when + n_steps
    p_mem_group = p_step_unless + n_steps
    return (p_cls, p_fee_basis, p_acct_fixed, p_acct_basis, p_acct_keep, p_trig_metric, p_trig_below,
            p_trig_curable, p_op, p_arg, p_mem_ptr, p_members, p_cov_ptr, p_cov_acct, p_wd_order, p_ad_of, p_is_z,
            p_io_ref, p_step_acc, p_senior, p_eod_trig, p_hx_kind, p_hx_ref, p_step_when, p_step_unless, p_mem_group,
            p_mem_group + n_members)


@kernel(inline=True)
def cell(row, l):
    """``row * SB + l`` as an unsigned index: numba then adds no negative-index wraparound,
    which would hide the address pattern from LLVM and keep the loop scalar."""
    return np.uint64(row * SB + l)
