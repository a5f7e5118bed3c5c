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
    NCOL,
    NET,
    PERF,
    PREPAY,
    RECOVERY,
    SCHED,
    loan_setup,
    month_step,
)
from .waterfall import SB, W_FIXED, period

__all__ = ["run_deal"]


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
    n_blocks = smm_b.shape[0]
    n = balance.size
    n_periods = pool_out.shape[1]
    n_rows = W_FIXED + 3 * bal.shape[1] + 2 * arrears.shape[1]
    for b in prange(n_blocks):
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
        work = np.zeros((n_rows, SB))
        for i in range(1, n_periods + 1):
            j = i - 1
            # ---- the pool's month
            ws = i % (lag + 1)
            rs = (i + 1) % (lag + 1) if lag > 0 else lag + 1
            for k in range(n):
                mk = mat[k]
                if i > mk:
                    continue
                c = cls[k]
                for l in range(SB):
                    r = month_step(i, mk, lag, adv, smm_b[b, j, c, l], mdr_b[b, j, c, l], severity_b[b, j, l],
                                   w[k, l], s[k], d[k], growth[k], f[k, l], gross_m[k], net_m[k], ring_nd[k, rs, l],
                                   ring_norm[k, rs, l])
                    w[k, l] = r[0]
                    f[k, l] = r[3]
                    ring_nd[k, ws, l] = r[4]
                    ring_norm[k, ws, l] = r[5]
                    pool_out[b, j, SCHED, l] += r[6]
                    pool_out[b, j, PREPAY, l] += r[7]
                    pool_out[b, j, DEFAULT, l] += r[8]
                    pool_out[b, j, RECOVERY, l] += r[9]
                    pool_out[b, j, LOSS, l] += r[10]
                    pool_out[b, j, GROSS, l] += r[11]
                    pool_out[b, j, NET, l] += r[12]
                    pool_out[b, j, PERF, l] += r[13]
                    pool_out[b, j, FCL, l] += r[14]
                    pool_out[b, j, AMORTIZED, l] += r[15]
                s[k] = 0.0 if i >= mk else s[k] - d[k]  # the loan's schedule, as month_step advances it
                d[k] *= growth[k]
            for col in range(NCOL):
                for l in range(SB):
                    pool_out[b, j, col, l] += extra_b[b, j, col, l]
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
