"""Summaries in one pass: collateral, waterfall and per-tranche summaries fused per scenario block.

For runs that keep only summaries, storing the per-period tables is most of the cost: the
waterfall writes about 100 numbers per scenario-period, which at 10,000 scenarios x 360
months is 2.9 GB of memory traffic for tables nobody reads. :func:`project_summaries` projects
each block of ``SB`` scenarios one month at a time (scenarios in the lanes, loans in loan order,
as :func:`abs_engine.kernels.collateral.project_scenario_blocks`), runs the month's waterfall
period (generated for the deal's structure by :mod:`abs_engine.codegen`), and folds it into
running sums. A block keeps only its tranches' cash flows per 100 of face (for the yield),
and stops once every deal in it has retired and its pool is gone.

The numbers are the ones a full run gives: the same month step, the waterfall's arithmetic in the
same order, the same order of every sum, no re-association; WAL, yield and duration are the
formulas of :mod:`abs_engine.analytics` (BMA section G), evaluated here per lane.

Every lane loop here is written to vectorize: a block's values live in a few flat arrays at
fixed distances (``S``, ``C``), indexed with unsigned integers (numba then adds no
negative-index wraparound, which hides the address pattern from LLVM), over a run-time lane
count (a loop of constant length is unrolled before the vectorizer sees it).
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange, types
from numba.extending import intrinsic

from . import waterfall as KW
from ._jit import kernel
from .collateral import loan_setup

__all__ = ["SB", "S_WAL", "S_FIRST", "S_LAST", "S_INTEREST", "S_PRINCIPAL", "S_WRITEDOWN", "S_YIELD", "S_PRICE",
           "S_MOD_DURATION", "N_STATS", "X_RESIDUAL", "X_POOL_LOSS", "N_EXTRA", "layout", "project_summaries"]

SB = KW.SB

# per scenario and note
S_WAL, S_FIRST, S_LAST, S_INTEREST, S_PRINCIPAL, S_WRITEDOWN, S_YIELD, S_PRICE, S_MOD_DURATION = range(9)
N_STATS = 9
# per scenario
X_RESIDUAL, X_POOL_LOSS = range(2)
N_EXTRA = 2

# The flat arrays a generated period works on (abs_engine.codegen). State ``S``: row r of lane l
# at ``S[r * SB + l]``; first these rows (the month's pool flows as the waterfall sees them, what
# the period carries, the month's severity and 60+ delinquency, flags), then per loan its
# performing weight, foreclosure weight, the new defaults of ``lag`` months ago (plain, and
# divided by the scheduled fraction) and this month's (the same two); per rate class this
# month's SMM and MDR; per note its cash flow per 100 of face this period, balance, interest
# shortfall, coupon, six running sums (principal, period-weighted principal, interest,
# writedown, first and last principal period); then fee arrears, account balances and trigger
# states. Parameters ``P`` (the same in every lane): these, then per loan its scheduled fraction,
# its decrement and the decrement's growth, gross and net monthly rates and maturity; per note
# ios, 100 / face and this period's day count fraction; per fee rate and amount; per account amount,
# pct and floor; per trigger this period's threshold.
(R_EXERCISE, R_IN_END, R_IN_BEG, R_IN_IC, R_IN_PC, R_IN_LOSS, R_CALLED, R_RESIDUAL, R_CUM_LOSS, R_DELINQ,
 R_DONE, R_SEV, R_POOL_LOSS, R_GONE) = range(14)
R_FIXED = 14
L_W, L_F, L_ND_J, L_NORM_J, L_ND, L_NORM = range(6)
N_LOAN_ROWS = 6
N_RUN = 6
(P_CALL_LEVEL, P_ORIG_POOL, P_OC_PCT, P_OC_ORIGINAL, P_OC_FLOOR, P_OC_STEP_PCT, P_OC_BLOCKER, P_OC_STEPPED,
 P_M1, P_LAG, P_ADV, P_WATERFALL) = range(12)
P_FIXED = 12
N_LOAN_PARAMS = 6  # scheduled fraction, decrement, its growth, gross rate, net rate, maturity

YIELD_LO, YIELD_HI = -0.99, 10.0  # as abs_engine.analytics
NEWTON_STEPS = 12
BISECTIONS = 80


@kernel(inline=True)
def layout(n_loans, n_cls, n_notes, n_fees, n_acct, n_trig):
    """First rows of the per-item blocks of ``S`` and offsets in ``P`` (see the constants above):
    ``(loan, cls, cf, bal, short, coupon, run, arrears, acct, breached, n_rows,
    loan, ios, face, dcf, fee_rate, fee_amount, acct_amount, acct_pct, acct_floor, thr, n_params)``."""
    r_loan = R_FIXED
    r_cls = r_loan + N_LOAN_ROWS * n_loans
    r_cf = r_cls + 2 * n_cls
    r_bal = r_cf + n_notes
    r_short = r_bal + n_notes
    r_coupon = r_short + n_notes
    r_run = r_coupon + n_notes
    r_arrears = r_run + N_RUN * n_notes
    r_acct = r_arrears + n_fees
    r_breached = r_acct + n_acct
    n_rows = r_breached + n_trig
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
    n_params = p_thr + n_trig
    return (r_loan, r_cls, r_cf, r_bal, r_short, r_coupon, r_run, r_arrears, r_acct, r_breached, n_rows,
            p_loan, p_ios, p_face, p_dcf, p_fee_rate, p_fee_amount, p_acct_amount, p_acct_pct, p_acct_floor, p_thr,
            n_params)


@intrinsic
def _address(typingctx, arr):
    """The data pointer of a contiguous array, for a C-callable period."""
    def codegen(context, builder, sig, args):
        return context.make_array(sig.args[0])(context, builder, args[0]).data
    return types.CPointer(arr.dtype)(arr), codegen


@kernel(inline=True)
def _ix(row, l):
    """``row * SB + l`` as an unsigned index: numba then adds no negative-index wraparound,
    which would hide the address pattern from LLVM and keep the loop scalar."""
    return np.uint64(row * SB + l)


@kernel(inline=True)
def _pv(cf, n_notes, t, y, delay, times, k0, k1, nl, w):
    """Per lane: ``pv = Σ CF_k (1 + y/2)^(-2 T_k)`` (row 0 of ``w``) and ``dv = Σ T_k CF_k
    (1 + y/2)^(-2 T_k)`` (row 1) over periods ``k0..k1`` (0-based) of note ``t``,
    ``T_k = (30 (k+1) + delay)/360`` (``times[k]``); ``cf[(k n_notes + t) SB + lane]``. Rows 2 and 3 of ``w``
    hold the discount factor's step and running value. Flat arrays, unsigned indices and a
    run-time lane count ``nl``, so both loops vectorize."""
    t0 = (30.0 * (k0 + 1) + delay) / 360.0
    for l in range(nl):
        g = math.log1p(y[np.uint64(l)] / 2.0)
        w[_ix(2, l)] = math.exp(-g / 6.0)
        w[_ix(3, l)] = math.exp(-2.0 * t0 * g)
        w[_ix(0, l)] = 0.0
        w[_ix(1, l)] = 0.0
    for k in range(k0, k1 + 1):
        tk = times[k]  # loaded, not computed here: re-association would divide every lane by 360
        row = k * n_notes + t
        for l in range(nl):
            x = cf[_ix(row, l)] * w[_ix(3, l)]
            w[_ix(0, l)] += x
            w[_ix(1, l)] += tk * x
            w[_ix(3, l)] *= w[_ix(2, l)]


@kernel
def _yields(cf, n_per, n_notes, t, price, delay, nl, out_y, out_md):
    """Bond-equivalent yield at ``price`` and modified duration of note ``t`` in every lane, from
    its cash flows per 100 of face in periods ``0..n_per-1`` of ``cf`` (as :func:`_pv`): Newton
    steps with the exact derivative, bisection for lanes they leave unsettled, NaN where no
    yield in [-99%, 1000%] gives the price (as :func:`abs_engine.analytics.yield_from_price`)."""
    k0 = n_per
    k1 = -1
    paid = np.zeros(SB)  # per lane: the largest cash flow (none is negative)
    for k in range(n_per):
        row = k * n_notes + t
        nz = 0.0
        for l in range(nl):
            x = cf[_ix(row, l)]
            paid[np.uint64(l)] = max(paid[np.uint64(l)], x)
            nz = max(nz, x)
        if nz > 0.0:
            k0 = min(k0, k)
            k1 = k
    if k1 < 0:
        for l in range(SB):
            out_y[l] = np.nan
            out_md[l] = np.nan
        return
    y = np.empty(SB)
    w = np.empty(4 * SB)
    ok = np.empty(SB, dtype=np.bool_)
    times = np.empty(k1 + 1)
    for k in range(k1 + 1):
        times[k] = (30.0 * (k + 1) + delay) / 360.0
    tol = 1e-12 * max(abs(price), 1.0)
    # No cash flow is negative, so the price falls as the yield rises: a lane whose Newton steps
    # reach the price has its one yield in [YIELD_LO, YIELD_HI]. The prices at those bounds (is
    # there a yield at all?) are computed only for a block with a lane the steps leave unsettled.
    for l in range(SB):
        ok[l] = paid[l] > 0.0
    y[:] = 0.05
    settled = False
    for _ in range(NEWTON_STEPS):
        _pv(cf, n_notes, t, y, delay, times, k0, k1, nl, w)
        settled = True
        for l in range(SB):
            settled = settled and (abs(w[l] - price) <= tol or not ok[l])
        if settled:  # every lane's price is within tol at y: pv and dv are y's
            break
        for l in range(SB):
            f = w[l] - price
            slope = -w[SB + l] / (1.0 + y[l] / 2.0)
            y[l] = min(max(y[l] - f / (slope if slope < 0.0 else -1.0), YIELD_LO), YIELD_HI)
    if not settled:  # is there a yield at all? then bisection for the lanes Newton left
        y_newton = y.copy()
        y[:] = YIELD_LO
        _pv(cf, n_notes, t, y, delay, times, k0, k1, nl, w)
        for l in range(SB):
            ok[l] = w[l] >= price
        y[:] = YIELD_HI
        _pv(cf, n_notes, t, y, delay, times, k0, k1, nl, w)
        for l in range(SB):
            ok[l] = ok[l] and w[l] <= price
        y[:] = y_newton
        _pv(cf, n_notes, t, y, delay, times, k0, k1, nl, w)
        for l in range(SB):
            if ok[l] and not abs(w[l] - price) <= tol:  # bisection, this lane alone
                a = YIELD_LO
                b = YIELD_HI
                for _ in range(BISECTIONS):
                    mid = 0.5 * (a + b)
                    g = math.log1p(mid / 2.0)
                    s = 0.0
                    for k in range(k0, k1 + 1):
                        s += cf[(k * n_notes + t) * SB + l] * math.exp(-2.0 * times[k] * g)
                    if s > price:
                        a = mid
                    else:
                        b = mid
                y[l] = 0.5 * (a + b)
        _pv(cf, n_notes, t, y, delay, times, k0, k1, nl, w)
    for l in range(SB):
        if ok[l]:
            out_y[l] = y[l]
            out_md[l] = w[SB + l] / w[l] / (1.0 + y[l] / 2.0)
        else:
            out_y[l] = np.nan
            out_md[l] = np.nan


@kernel
def finish_block(cf, n_per, nl, run, residual, pool_loss, lanes, face, price, delay, stats, extra):
    """Write one block's summaries: ``cf`` (cash flows per 100 of face, ``[period, note, lane]``
    flattened, of which periods ``0..n_per-1`` were run; ``nl`` lanes),
    ``run[note, column, lane]`` (principal, period-weighted principal, interest, writedown, first
    and last principal period), residual and pool loss per lane. ``lanes``: the block's scenario
    indices (negative: padding, not written)."""
    y = np.empty(SB)
    md = np.empty(SB)
    for t in range(run.shape[0]):
        _yields(cf, n_per, run.shape[0], t, price[t], delay, nl, y, md)
        for l in range(SB):
            j = lanes[l]
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
        j = lanes[l]
        if j >= 0:
            extra[j, X_RESIDUAL] = residual[l]
            extra[j, X_POOL_LOSS] = pool_loss[l]


@kernel(parallel=True, reassociate=False)
def project_summaries(period, balance, gross_m, net_m, amort_n, interest_only, mat, cls,
                      smm_rows, mdr_rows, sev_rows, prow, drow, srow, lanes, lag_b, adv_b, pool_start,
                      coupon_rows, crow, delinq_rows, qrow, exercise,
                      dcf, ios, fee_rate, fee_amount, fee_basis, acct_fixed, acct_amount, acct_pct,
                      acct_basis, acct_floor, acct_keep, trig_metric, trig_below, trig_curable,
                      trig_threshold, op, arg, mem_ptr, members, cov_ptr, cov_acct, wd_order,
                      oc_params, call_pct, orig_pool, wd_accounts, principal_phase,
                      bal0, acct0, face, price, delay, stats, extra):
    """Summaries of every scenario of ``lanes`` (``[block, lane]`` scenario indices; a padding lane
    holds ``-1 - index`` of a scenario it repeats and is not written).

    ``period``: the month of the pool and the waterfall, generated for the deal's pool and
    structure (:func:`abs_engine.codegen.summary_period`); it reads them from its code and the
    numbers from ``P``. Collateral: a small pool (its loans in every lane), rate tables ``[row,
    month, class]`` and severities ``[row, month]`` with each scenario's rows
    ``prow``/``drow``/``srow``; every lane of a block shares ``lag_b[block]`` and
    ``adv_b[block]``. Waterfall: the structure arguments of
    :func:`abs_engine.kernels.waterfall.period`, coupons ``[row, period, note]`` and 60+
    delinquency ``[row, period]`` with rows ``crow``/``qrow``, call elections ``exercise``;
    initial note balances ``bal0`` and account balances ``acct0``. ``face``: each note's original
    balance; ``price``: per note, per 100 of face; ``delay``: payment delay in days.

    Once every lane's deal has retired (pool called or gone, no note or account balance: nothing
    can be collected, paid or written down later) a block projects its pool alone, for the pool
    loss, and stops when the pool is gone. Writes ``stats[scenario, note, S_*]`` and
    ``extra[scenario, X_*]``.
    """
    n_loans = balance.size
    n_per = dcf.shape[0]
    n_notes = bal0.size
    n_fees = fee_rate.size
    n_acct = acct0.size
    n_trig = trig_metric.size
    n_cpn = coupon_rows.shape[2]
    n_cls = smm_rows.shape[2]
    (r_loan, r_cls, r_cf, r_bal, r_short, r_coupon, r_run, r_arrears, r_acct, r_breached, n_rows, p_loan, p_ios,
     p_face, p_dcf, p_fee_rate, p_fee_amount, p_acct_amount, p_acct_pct, p_acct_floor, p_thr, n_params) = \
        layout(n_loans, n_cls, n_notes, n_fees, n_acct, n_trig)
    step_period = int(oc_params[3])
    nl = lanes.shape[1]  # = SB, but a run-time number: a loop of constant length is unrolled, not vectorized
    smm_flat = smm_rows.ravel()
    mdr_flat = mdr_rows.ravel()
    cpn_flat = coupon_rows.ravel()
    sev_flat = sev_rows.ravel()
    dq_flat = delinq_rows.ravel()
    for b in prange(lanes.shape[0]):
        lag = lag_b[b]
        S = np.zeros(n_rows * SB)
        P = np.zeros(n_params)
        P[P_CALL_LEVEL] = call_pct * orig_pool
        P[P_ORIG_POOL] = orig_pool
        P[P_OC_PCT] = oc_params[0]
        P[P_OC_ORIGINAL] = 1.0 if oc_params[1] == KW.BASIS_ORIGINAL else 0.0
        P[P_OC_FLOOR] = oc_params[2]
        P[P_OC_STEP_PCT] = oc_params[4]
        P[P_OC_BLOCKER] = oc_params[5]
        P[P_LAG] = lag
        P[P_ADV] = 1.0 if adv_b[b] else 0.0
        for k in range(n_loans):
            q = p_loan + N_LOAN_PARAMS * k
            d0, g0 = loan_setup(gross_m[k], amort_n[k], interest_only[k])
            P[q] = 1.0
            P[q + 1] = d0
            P[q + 2] = g0
            P[q + 3] = gross_m[k]
            P[q + 4] = net_m[k]
            P[q + 5] = mat[k]
        for t in range(n_notes):
            P[p_ios + t] = ios[t]
            P[p_face + t] = 100.0 / face[t] if face[t] > 0.0 else 0.0  # cash flow per 100 of face: a product
        for f in range(n_fees):
            P[p_fee_rate + f] = fee_rate[f]
            P[p_fee_amount + f] = fee_amount[f]
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
        for l in range(SB):
            x = lanes[b, l]
            j = x if x >= 0 else -1 - x
            smm_at[l] = prow[j] * n_per * n_cls
            mdr_at[l] = drow[j] * n_per * n_cls
            sev_at[l] = srow[j] * n_per
            cpn_at[l] = crow[j] * n_per * n_cpn
            dq_at[l] = qrow[j] * n_per
            S[R_EXERCISE * SB + l] = exercise[j]
            S[R_IN_END * SB + l] = pool_start
            for k in range(n_loans):
                S[(r_loan + N_LOAN_ROWS * k + L_W) * SB + l] = balance[k]
            for t in range(n_notes):
                S[(r_bal + t) * SB + l] = bal0[t]
            for a in range(n_acct):
                S[(r_acct + a) * SB + l] = acct0[a]
        one_cpn = True
        one_dq = True
        for l in range(SB):
            one_cpn = one_cpn and cpn_at[l] == cpn_at[0]
            one_dq = one_dq and dq_at[l] == dq_at[0]
        ring = np.zeros(n_loans * (lag + 2) * 2 * SB)  # per loan and slot: new defaults, and / scheduled fraction
        cf = np.zeros(n_per * n_notes * SB)  # [period, note, lane], flat
        n_run = 0  # periods the waterfall has run
        retired = False
        for i in range(n_per):
            m1 = i + 1
            for c in range(n_cls):  # this month's rates
                mi = np.uint64(i * n_cls + c)
                for l in range(nl):
                    S[_ix(r_cls + 2 * c, l)] = smm_flat[smm_at[l] + mi]
                    S[_ix(r_cls + 2 * c + 1, l)] = mdr_flat[mdr_at[l] + mi]
            for l in range(nl):
                S[_ix(R_SEV, l)] = sev_flat[sev_at[l] + np.uint64(i)]
            ws = m1 % (lag + 1)
            rs = (m1 + 1) % (lag + 1) if lag > 0 else lag + 1
            for k in range(n_loans):  # the ring's defaults of lag months ago, into the loan's rows
                c0 = r_loan + N_LOAN_ROWS * k
                r0 = k * (lag + 2) * 2
                for l in range(nl):
                    S[_ix(c0 + L_ND_J, l)] = ring[_ix(r0 + 2 * rs, l)]
                    S[_ix(c0 + L_NORM_J, l)] = ring[_ix(r0 + 2 * rs + 1, l)]
            P[P_M1] = m1
            P[P_WATERFALL] = 0.0 if retired else 1.0
            if not retired:
                mc = np.uint64(i * n_cpn)
                for t in range(n_notes):  # this period's coupons and delinquency (one row: one value)
                    if one_cpn:
                        x = cpn_flat[cpn_at[0] + mc + np.uint64(t)]
                        for l in range(nl):
                            S[_ix(r_coupon + t, l)] = x
                    else:
                        for l in range(nl):
                            S[_ix(r_coupon + t, l)] = cpn_flat[cpn_at[l] + mc + np.uint64(t)]
                if one_dq:
                    x = dq_flat[dq_at[0] + np.uint64(i)]
                    for l in range(nl):
                        S[_ix(R_DELINQ, l)] = x
                else:
                    for l in range(nl):
                        S[_ix(R_DELINQ, l)] = dq_flat[dq_at[l] + np.uint64(i)]
                P[P_OC_STEPPED] = 1.0 if step_period >= 0 and i >= step_period else 0.0
                for t in range(n_notes):
                    P[p_dcf + t] = dcf[i, t]
                for g in range(n_trig):
                    P[p_thr + g] = trig_threshold[i, g]
            period(_address(S), _address(P))
            for k in range(n_loans):
                if m1 <= mat[k]:  # this month's defaults into the ring; the schedule, the same in every lane
                    c0 = r_loan + N_LOAN_ROWS * k
                    r0 = k * (lag + 2) * 2
                    for l in range(nl):
                        ring[_ix(r0 + 2 * ws, l)] = S[_ix(c0 + L_ND, l)]
                        ring[_ix(r0 + 2 * ws + 1, l)] = S[_ix(c0 + L_NORM, l)]
                    q = p_loan + N_LOAN_PARAMS * k
                    P[q] = 0.0 if m1 >= mat[k] else P[q] - P[q + 1]
                    P[q + 1] *= P[q + 2]
            if retired:  # only the pool's own loss is still summed, until the pool is gone
                gone = 1.0
                for l in range(nl):
                    gone = min(gone, S[_ix(R_GONE, l)])
                if gone > 0.0:
                    break
                continue
            n_run = m1
            done = 1.0
            for l in range(nl):
                done = min(done, S[_ix(R_DONE, l)])
            retired = done > 0.0
            for t in range(n_notes):
                row = i * n_notes + t
                for l in range(nl):
                    cf[_ix(row, l)] = S[_ix(r_cf + t, l)]
        run = np.empty((n_notes, N_RUN, SB))
        residual = np.empty(SB)
        pool_loss = np.empty(SB)
        for l in range(SB):
            residual[l] = S[R_RESIDUAL * SB + l]
            pool_loss[l] = S[R_POOL_LOSS * SB + l]
            for t in range(n_notes):
                for c in range(N_RUN):
                    run[t, c, l] = S[(r_run + N_RUN * t + c) * SB + l]
        finish_block(cf, n_run, nl, run, residual, pool_loss, lanes[b], face, price, delay, stats, extra)
