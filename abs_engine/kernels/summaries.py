"""Summaries in one pass: collateral, waterfall and per-tranche summaries fused per scenario block.

For runs that keep only summaries, storing the per-period tables is most of the cost: the
waterfall writes about 100 numbers per scenario-period, which at 10,000 scenarios x 360
months is 2.9 GB of memory traffic for tables nobody reads. :func:`project_summaries` projects
each block of ``SB`` scenarios one month at a time (scenarios in the lanes, loans in loan order,
as :func:`abs_engine.kernels.collateral.project_scenario_blocks`), runs the month's waterfall
period (generated for the deal's structure by :mod:`abs_engine.engine.codegen`), and folds it into
running sums. A block keeps only its tranches' cash flows per 100 of face (for the yield); its
waterfall stops once every deal in it has retired, its pool once no later month can add to the
pool loss (:func:`_no_loss_ahead`).

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
from numba import prange, types
from numba.extending import intrinsic

from . import waterfall as KW
from ._jit import kernel
from .collateral import fmax, fmin, loan_setup
from .ops import BASIS_ORIGINAL

__all__ = ["SB", "S_WAL", "S_FIRST", "S_LAST", "S_INTEREST", "S_PRINCIPAL", "S_WRITEDOWN", "S_YIELD", "S_PRICE",
           "S_MOD_DURATION", "N_STATS", "X_RESIDUAL", "X_POOL_LOSS", "N_EXTRA", "layout", "quiet_from",
           "project_summaries"]

SB = KW.SB

# per scenario and note
S_WAL, S_FIRST, S_LAST, S_INTEREST, S_PRINCIPAL, S_WRITEDOWN, S_YIELD, S_PRICE, S_MOD_DURATION = range(9)
N_STATS = 9
# per scenario
X_RESIDUAL, X_POOL_LOSS = range(2)
N_EXTRA = 2

# The flat arrays a generated period works on (abs_engine.engine.codegen). State ``S``: row r of lane l
# at ``S[r * SB + l]``; first these rows (the month's pool flows as the waterfall sees them, what
# the period carries, the month's severity and 60+ delinquency, flags), then per loan its
# performing weight, foreclosure weight, the new defaults of ``lag`` months ago (plain, and
# divided by the scheduled fraction) and this month's (the same two); per rate class this
# month's SMM and MDR; per note its cash flow per 100 of face this period, balance, interest
# shortfall, coupon, six running sums (principal, period-weighted principal, interest,
# writedown, first and last principal period); then fee arrears, account balances and trigger
# states. Parameters ``P`` (the same in every lane): these, then per loan its scheduled fraction,
# its decrement and the decrement's growth, gross and net monthly rates and maturity; per note
# ios, 100 / face and this period's day count fraction; per fee its rate and this period's amount; per account amount,
# pct and floor; per trigger this period's threshold.
(R_EXERCISE, R_IN_END, R_IN_BEG, R_IN_IC, R_IN_PC, R_IN_LOSS, R_CALLED, R_RESIDUAL, R_CUM_LOSS, R_DELINQ,
 R_DONE, R_SEV, R_POOL_LOSS) = range(13)
R_FIXED = 13
L_W, L_F, L_ND_J, L_NORM_J, L_ND, L_NORM = range(6)
N_LOAN_ROWS = 6
N_RUN = 6
(P_CALL_LEVEL, P_ORIG_POOL, P_OC_PCT, P_OC_ORIGINAL, P_OC_FLOOR, P_OC_STEP_PCT, P_OC_BLOCKER, P_OC_STEPPED,
 P_M1, P_LAG, P_ADV, P_WATERFALL) = range(12)
P_FIXED = 12
N_LOAN_PARAMS = 6  # scheduled fraction, decrement, its growth, gross rate, net rate, maturity

YIELD_LO, YIELD_HI = -0.99, 10.0  # as abs_engine.results.analytics
# the monthly discount factor (1 + y/2)^(-1/6) at those bounds
X_AT_LO, X_AT_HI = ((1.0 + y / 2.0) ** (-1.0 / 6.0) for y in (YIELD_LO, YIELD_HI))
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
def _same(at):
    """Whether every lane reads the same row of a table."""
    for l in range(at.size):
        if at[l] != at[0]:
            return False
    return True


@kernel(inline=True)
def _fill(S, row, table, at, one, offset, nl):
    """Row ``row`` of ``S``: each lane's value ``table[at[lane] + offset]``; one load, broadcast,
    when every lane reads the same row."""
    if one:
        x = table[at[0] + offset]
        for l in range(nl):
            S[_ix(row, l)] = x
    else:
        for l in range(nl):
            S[_ix(row, l)] = table[at[l] + offset]


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
def _no_loss_ahead(S, ring, r_loan, n_loans, lag, m1, mat, quiet_at, nl):
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
            if S[_ix(c0 + L_W, l)] != 0.0 and m1 < quiet_at[l]:
                return False
        r0 = k * (lag + 2) * 2
        for slot in range(lag + 2):
            for l in range(nl):
                if ring[_ix(r0 + 2 * slot, l)] != 0.0:
                    return False
    return True


@kernel(parallel=True, reassociate=False)
def project_summaries(period, balance, gross_m, net_m, amort_n, interest_only, mat, cls,
                      smm_rows, mdr_rows, mdr_end, sev_rows, prow, drow, srow, lanes, lag_b, adv_b, pool_start,
                      coupon_rows, crow, delinq_rows, qrow, exercise,
                      dcf, ios, fee_rate, fee_amount, fee_basis, acct_fixed, acct_amount, acct_pct,
                      acct_basis, acct_floor, acct_keep, trig_metric, trig_below, trig_curable,
                      trig_threshold, op, arg, mem_ptr, members, cov_ptr, cov_acct, wd_order,
                      oc_params, call_pct, orig_pool, wd_accounts, principal_phase,
                      bal0, acct0, face, price, delay, stats, extra):
    """Summaries of every scenario of ``lanes`` (``[block, lane]`` scenario indices; a padding lane
    holds ``-1 - index`` of a scenario it repeats and is not written).

    ``period``: the month of the pool and the waterfall, generated for the deal's pool and
    structure (:func:`abs_engine.engine.codegen.summary_period`); it reads them from its code and the
    numbers from ``P``. Collateral: a small pool (its loans in every lane), rate tables ``[row,
    month, class]`` and severities ``[row, month]`` with each scenario's rows
    ``prow``/``drow``/``srow``, and per MDR row the month index from which it is 0 everywhere
    (``mdr_end``, see :func:`quiet_from`); every lane of a block shares ``lag_b[block]`` and
    ``adv_b[block]``. Waterfall: the structure arguments of
    :func:`abs_engine.kernels.waterfall.period`, coupons ``[row, period, note]`` and 60+
    delinquency ``[row, period]`` with rows ``crow``/``qrow``, call elections ``exercise``;
    initial note balances ``bal0`` and account balances ``acct0``. ``face``: each note's original
    balance; ``price``: per note, per 100 of face; ``delay``: payment delay in days.

    Once every lane's deal has retired (pool called or gone, no note or account balance: nothing
    can be collected, paid or written down later) a block projects its pool alone, for the pool
    loss, and stops once no later month can add to it (:func:`_no_loss_ahead`). Writes
    ``stats[S_*, scenario, note]`` and ``extra[scenario, X_*]``.
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
        P[P_OC_ORIGINAL] = 1.0 if oc_params[1] == BASIS_ORIGINAL else 0.0
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
            for k in range(n_loans):
                S[(r_loan + N_LOAN_ROWS * k + L_W) * SB + l] = balance[k]
            for t in range(n_notes):
                S[(r_bal + t) * SB + l] = bal0[t]
            for a in range(n_acct):
                S[(r_acct + a) * SB + l] = acct0[a]
        one_smm = _same(smm_at)
        one_mdr = _same(mdr_at)
        one_sev = _same(sev_at)
        one_cpn = _same(cpn_at)
        one_dq = _same(dq_at)
        ring = np.zeros(n_loans * (lag + 2) * 2 * SB)  # per loan and slot: new defaults, and / scheduled fraction
        cf = np.empty(n_per * n_notes * SB)  # [period, note, lane], flat; periods the waterfall runs are written
        n_run = 0  # periods the waterfall has run
        retired = False
        for i in range(n_per):
            m1 = i + 1
            for c in range(n_cls):  # this month's rates
                mi = np.uint64(i * n_cls + c)
                _fill(S, r_cls + 2 * c, smm_flat, smm_at, one_smm, mi, nl)
                _fill(S, r_cls + 2 * c + 1, mdr_flat, mdr_at, one_mdr, mi, nl)
            _fill(S, R_SEV, sev_flat, sev_at, one_sev, np.uint64(i), nl)
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
                for t in range(n_notes):  # this period's coupons and delinquency
                    _fill(S, r_coupon + t, cpn_flat, cpn_at, one_cpn, mc + np.uint64(t), nl)
                _fill(S, R_DELINQ, dq_flat, dq_at, one_dq, np.uint64(i), nl)
                P[P_OC_STEPPED] = 1.0 if step_period >= 0 and i >= step_period else 0.0
                for t in range(n_notes):
                    P[p_dcf + t] = dcf[i, t]
                for g in range(n_trig):
                    P[p_thr + g] = trig_threshold[i, g]
                for f in range(n_fees):
                    P[p_fee_amount + f] = fee_amount[i, f]
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
            if retired:  # only the pool's own loss is still summed, while a loss can still come
                if _no_loss_ahead(S, ring, r_loan, n_loans, lag, m1, mat, quiet_at, nl):
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
        finish_block(cf, n_run, run, residual, pool_loss, lanes[b], face, price, delay, stats, extra)
