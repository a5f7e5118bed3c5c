"""Reinvestment (CONVENTIONS R2.10): in each of the first ``R`` months, the month's principal
collections buy new loans at par; each purchase is a cohort, one level-pay loan of the given
coupon and term starting at age 0 the next month, advanced by
:func:`abs_engine.kernels.collateral.month_step` like any loan.

A cohort's purchase depends on every earlier cohort's principal in its month, so each scenario
runs its cohorts in purchase order (cohort ``t`` is complete before month ``t + 1``'s
collections are known); scenarios run in parallel.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from ._jit import kernel
from .collateral import AMORT_LEVEL, LOSS, NCOL, PREPAY, RECOVERY, SCHED, loan_setup, month_step

__all__ = ["project_cohorts"]


@kernel(parallel=True)
def project_cohorts(principal, gross_m, net_m, term, months, smm, mdr, prow, drow, severity, lag, advancing,
                    n_periods, base_loss, until, below, orig):
    """``(flows[scenario, period, column], purchases[scenario, period])`` of the cohorts bought in
    months ``1..months`` with ``principal[scenario, period]``, the principal collections of the
    loans held at cut-off (each month's purchase adds the earlier cohorts' collections of the
    month). ``smm``/``mdr`` ``[row, period, cohort]``: cohort ``t``'s rates by calendar month
    (its own loan month for a curve), scenario ``k``'s rows ``prow[k]``/``drow[k]``;
    ``severity[scenario, period]``. Flows in the columns of
    :mod:`abs_engine.kernels.collateral`, each cohort's from its first month on; a purchase is in
    ``purchases`` (it is part of the month's ending balance, not of these flows).

    ``until[period]`` (or ``None``): the threshold of a trigger on the pool's cumulative loss ÷
    ``orig`` (the loans held at cut-off lose ``base_loss[scenario, period]``, the cohorts what they
    add), breached above it (below it when ``below``): from the first month it is breached, that
    month included, nothing more is bought."""
    n_scen = principal.shape[0]
    out = np.zeros((n_scen, n_periods, NCOL))
    bought = np.zeros((n_scen, n_periods))
    d0, growth = loan_setup(gross_m, term, AMORT_LEVEL)
    for sc in prange(n_scen):
        L = lag[sc]
        adv = advancing[sc]
        acc = out[sc]
        ring_nd = np.zeros(L + 1)
        ring_norm = np.zeros(L + 1)
        lost = 0.0
        for t in range(1, min(months, n_periods) + 1):
            if until is not None:  # the trigger, on the losses through month t (every cohort's are in)
                lost += base_loss[sc, t - 1] + acc[t - 1, LOSS]
                value = lost / orig if orig > 0.0 else 0.0
                if (value < until[t - 1]) if below else (value > until[t - 1]):
                    break
            b = principal[sc, t - 1] + acc[t - 1, SCHED] + acc[t - 1, PREPAY] + acc[t - 1, RECOVERY]
            bought[sc, t - 1] = b
            if b <= 0.0:
                continue
            ring_nd[:] = 0.0
            ring_norm[:] = 0.0
            w = b
            s = 1.0
            d = d0
            f = 0.0
            for k in range(1, term + 1):  # the cohort's month k is calendar month t + k
                i = t + k
                if i > n_periods:
                    break
                ws = k % (L + 1)
                rs = (k + 1) % (L + 1)
                r = month_step(k, term, L, adv, smm[prow[sc], i - 1, t - 1], mdr[drow[sc], i - 1, t - 1],
                               severity[sc, i - 1],
                               w, s, d, growth, f, gross_m, net_m, ring_nd[rs], ring_norm[rs])
                w, s, d, f = r[0], r[1], r[2], r[3]
                ring_nd[ws] = r[4]
                ring_norm[ws] = r[5]
                for j in range(NCOL):
                    acc[i - 1, j] += r[6 + j]
    return out, bought
