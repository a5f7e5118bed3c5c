"""A deal month by month: in each block of scenarios, each period runs the pool's month, then the
waterfall's month on it.

Loops go block (parallel) -> period -> (the pool: loan -> scenario lane; then the waterfall
period of :mod:`abs_engine.kernels.waterfall`). Because the pool and the waterfall advance
together, a waterfall step can act on the pool before its next month (buy receivables, call it)
and the pool's month can read the deal's state (revolving or amortizing, trigger states): the
place new structures hook in. Pools of few loans run here with scenarios in the lanes; a pool
projected loan-blocked (:func:`abs_engine.kernels.collateral.project_blocks`) feeds its monthly
totals to the same waterfall period (:func:`abs_engine.kernels.waterfall.run_waterfall`).

Each loan's month is :func:`abs_engine.kernels.collateral.month_step`, and each lane adds its
loans in loan order, so the pool's flows are those of
:func:`~abs_engine.kernels.collateral.project_scenario_blocks`, bit for bit; the waterfall's view of
them is :func:`abs_engine.engine.waterfall.pool_inputs`', operation for operation.
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
    NET,
    PERF,
    PREPAY,
    RECOVERY,
    SCHED,
    accumulators,
    advance_scenarios,
    loan_setup,
)
from .waterfall import SB, W_FIXED, period

__all__ = ["run_deal", "deal_block"]


@kernel(parallel=True)
def run_deal(balance, gross_m, net_m, amort_n, interest_only, mat, cls, smm_b, mdr_b, severity_b, lag_b, advancing_b,
             extra_b, start_b, delinq, exercise_call, coupon, structure,
             bal, short, arrears, acct, breached, cum_loss, called,
             pool_out, int_coll, prin_coll, loss, pool_beg, pool_end, tr_out, fee_out, acct_out, trig_out, cash_out):
    """Every period of every block. Pool: the loans' arrays, rate tables ``[block, month, class,
    lane]`` and severities ``[block, month, lane]``; every lane of a block shares ``lag_b[block]``
    and ``advancing_b[block]``; ``extra_b[block, period, column, lane]`` is added to each month's
    flows (loans in foreclosure at cut-off); ``start_b[block, lane]`` is the pool balance at
    cut-off. Waterfall: delinquency, call elections and coupons in block layout, ``structure``
    (the tuple of :meth:`abs_engine.compile.waterfall.WaterfallProgram.structure`), the deal's
    state ``[block, item, lane]`` (advanced in place). Writes the pool's flows ``pool_out[block,
    period, column, lane]``, the waterfall's view of them (``int_coll`` ... ``pool_end``,
    ``[block, period, lane]``) and the waterfall's tables."""
    for b in prange(smm_b.shape[0]):
        deal_block(np.int64(b), balance, gross_m, net_m, amort_n, interest_only, mat, cls, smm_b, mdr_b, severity_b, lag_b,
                   advancing_b, extra_b, start_b, delinq, exercise_call, coupon, structure,
                   bal, short, arrears, acct, breached, cum_loss, called,
                   pool_out, int_coll, prin_coll, loss, pool_beg, pool_end, tr_out, fee_out, acct_out, trig_out,
                   cash_out)


@kernel
def deal_block(b, balance, gross_m, net_m, amort_n, interest_only, mat, cls, smm_b, mdr_b, severity_b, lag_b,
               advancing_b, extra_b, start_b, delinq, exercise_call, coupon, structure,
               bal, short, arrears, acct, breached, cum_loss, called,
               pool_out, int_coll, prin_coll, loss, pool_beg, pool_end, tr_out, fee_out, acct_out, trig_out, cash_out):
    """Every period of block ``b`` (see :func:`run_deal`): a function of its own, so the parallel
    loop's body is one call and compiles as quickly as the waterfall's."""
    n = balance.size
    n_periods = pool_out.shape[1]
    n_rows = W_FIXED + 3 * bal.shape[1] + 2 * arrears.shape[1]
    lag = lag_b[b]
    adv = advancing_b[b]
    w = np.empty((n, SB))            # per loan and lane: performing weight
    f = np.zeros((n, SB))            # foreclosure weight
    ring_nd = np.zeros((n, lag + 2, SB))    # new defaults of the last lag + 1 months
    ring_norm = np.zeros((n, lag + 2, SB))  # the same, per unit of the scheduled fraction
    s = np.ones(n)                   # per loan: scheduled fraction, its decrement and growth
    d = np.empty(n)
    growth = np.empty(n)
    for k in range(n):
        d[k], growth[k] = loan_setup(gross_m[k], amort_n[k], interest_only[k])
        for l in range(SB):
            w[k, l] = balance[k]
    a0, a1, a2, a3, a4, a5, a6, a7, a8, a9 = accumulators(n_periods)  # the months' flows, per column
    work = np.zeros((n_rows, SB))
    for i in range(1, n_periods + 1):
        j = i - 1
        # ---- the pool's month: each loan in every lane, in loan order (the views are of this
        # block's own arrays, so no shared reference count is touched)
        ws = i % (lag + 1)
        rs = (i + 1) % (lag + 1) if lag > 0 else lag + 1
        for k in range(n):
            mk = mat[k]
            if i > mk:
                continue
            if adv:
                advance_scenarios(True, i, mk, lag, smm_b, mdr_b, severity_b, b, cls[k], w[k], s[k], d[k],
                                   growth[k], f[k], gross_m[k], net_m[k], ring_nd[k], ring_norm[k], rs, ws,
                                   a0, a1, a2, a3, a4, a5, a6, a7, a8, a9)
            else:
                advance_scenarios(False, i, mk, lag, smm_b, mdr_b, severity_b, b, cls[k], w[k], s[k], d[k],
                                   growth[k], f[k], gross_m[k], net_m[k], ring_nd[k], ring_norm[k], rs, ws,
                                   a0, a1, a2, a3, a4, a5, a6, a7, a8, a9)
            s[k] = 0.0 if i >= mk else s[k] - d[k]  # the loan's schedule, as month_step advances it
            d[k] *= growth[k]
        for l in range(SB):
            pool_out[b, j, SCHED, l] = a0[j, l] + extra_b[b, j, SCHED, l]
            pool_out[b, j, PREPAY, l] = a1[j, l] + extra_b[b, j, PREPAY, l]
            pool_out[b, j, DEFAULT, l] = a2[j, l] + extra_b[b, j, DEFAULT, l]
            pool_out[b, j, RECOVERY, l] = a3[j, l] + extra_b[b, j, RECOVERY, l]
            pool_out[b, j, LOSS, l] = a4[j, l] + extra_b[b, j, LOSS, l]
            pool_out[b, j, GROSS, l] = a5[j, l] + extra_b[b, j, GROSS, l]
            pool_out[b, j, NET, l] = a6[j, l] + extra_b[b, j, NET, l]
            pool_out[b, j, PERF, l] = a7[j, l] + extra_b[b, j, PERF, l]
            pool_out[b, j, FCL, l] = a8[j, l] + extra_b[b, j, FCL, l]
            pool_out[b, j, AMORTIZED, l] = a9[j, l] + extra_b[b, j, AMORTIZED, l]
        # ---- the waterfall's view of the month (as abs_engine.engine.waterfall.pool_inputs)
        for l in range(SB):
            end = pool_out[b, j, PERF, l] + pool_out[b, j, FCL, l]
            int_coll[b, j, l] = pool_out[b, j, NET, l]
            prin_coll[b, j, l] = pool_out[b, j, SCHED, l] + pool_out[b, j, PREPAY, l] + pool_out[b, j, RECOVERY, l]
            loss[b, j, l] = pool_out[b, j, LOSS, l]
            pool_beg[b, j, l] = start_b[b, l] if j == 0 else pool_end[b, j - 1, l]
            pool_end[b, j, l] = end
        # ---- the waterfall's month
        period(int_coll, prin_coll, loss, pool_beg, pool_end, delinq, exercise_call, coupon, j, i, *structure,
               b, bal, short, arrears, acct, breached, cum_loss, called, work,
               tr_out, fee_out, acct_out, trig_out, cash_out)
