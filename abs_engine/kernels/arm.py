"""Pools with adjustable- and floating-rate loans: the Standard Formulas month of
:func:`abs_engine.kernels.collateral.month_step`, each loan's rate reset along its scenario's
index path.

A loan with terms (``ARM_*`` columns of :mod:`abs_engine.io.loans`) keeps its rate for its first
``fixed`` loan months; at loan month ``fixed + 1`` and every ``reset`` months after, its gross
rate becomes ``index + margin`` (the index read at that projection month), moved at most the
initial cap (the first reset of the loan's life) or the periodic cap (later ones) from the rate
before, and kept within the lifetime floor and cap. The net rate is the gross rate less the
loan's servicing spread, at least 0. A level-pay loan's payment is recast at each reset: its
scheduled-fraction decrement restarts as a level payment at the new rate over the payments left
(:func:`~abs_engine.kernels.collateral.loan_setup` on the current scheduled fraction), which is
what the BMA formulas' scheduled-balance ratio ``r / ((1 + r)^n - 1)`` gives at the new rate.
Interest-only and straight-line loans only change their coupon.

Scenarios run in parallel, each adding its loans in loan order, so a scenario's flows do not
depend on which other scenarios run with it.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from ._jit import kernel
from .collateral import AMORT_LEVEL, NCOL, fmax, fmin, loan_setup, month_step

__all__ = ["project_arm", "project_arm_loans", "reset_rate"]

# the columns of LoanArrays.arm_terms (abs_engine.io.loans)
_MARGIN, _FIXED, _RESET, _INITIAL_CAP, _PERIODIC_CAP, _LIFETIME_CAP, _LIFETIME_FLOOR = range(7)


@kernel(inline=True)
def reset_rate(previous, index, terms, first):
    """The gross rate after a reset: ``index + margin``, at most the (initial, when ``first``, or
    periodic) cap from ``previous``, within the lifetime floor and cap."""
    cap = terms[_INITIAL_CAP] if first else terms[_PERIODIC_CAP]
    rate = fmin(fmax(index + terms[_MARGIN], previous - cap), previous + cap)
    return fmin(fmax(rate, terms[_LIFETIME_FLOOR]), terms[_LIFETIME_CAP])


@kernel(inline=True)
def _one_loan(k, balance, gross_m, net_m, amort_n, amort_kind, mat, cls, age, arm_id, arm_terms, rates, smm, mdr,
              severity, lag, adv, n_periods, out):
    """Loan ``k`` under one scenario (``rates[month, index]``, ``smm``/``mdr[month, class]``,
    ``severity[month]``), its flows added to ``out[period, column]``."""
    ring_nd = np.zeros(lag + 1)
    ring_norm = np.zeros(lag + 1)
    d, growth = loan_setup(gross_m[k], amort_n[k], amort_kind[k])
    gr = gross_m[k]
    spread = gross_m[k] - net_m[k]
    nr = net_m[k]
    w = balance[k]
    s = 1.0
    f = 0.0
    j = arm_id[k]
    terms = arm_terms[k]
    fixed = int(terms[_FIXED])
    reset = max(int(terms[_RESET]), 1)
    for i in range(1, min(mat[k], n_periods) + 1):
        m = age[k] + i  # loan month
        if j >= 0 and m > fixed and (m - fixed - 1) % reset == 0:
            rate = reset_rate(12.0 * gr, rates[i - 1, j], terms, m == fixed + 1)
            gr = rate / 12.0
            nr = fmax(gr - spread, 0.0)
            if amort_kind[k] == AMORT_LEVEL:  # the payment recast over the payments left
                d0, growth = loan_setup(gr, amort_n[k] - (i - 1), amort_kind[k])
                d = s * d0
        ws = i % (lag + 1)
        rs = (i + 1) % (lag + 1)
        r = month_step(i, mat[k], lag, adv, smm[i - 1, cls[k]], mdr[i - 1, cls[k]], severity[i - 1], w, s, d,
                       growth, f, gr, nr, ring_nd[rs], ring_norm[rs])
        w, s, d, f = r[0], r[1], r[2], r[3]
        ring_nd[ws] = r[4]
        ring_norm[ws] = r[5]
        for c in range(NCOL):
            out[i - 1, c] += r[6 + c]


@kernel(parallel=True)
def project_arm(balance, gross_m, net_m, amort_n, amort_kind, mat, cls, age, arm_id, arm_terms, arm_rates,
                arm_rate_row, smm_tab, mdr_tab, severity, lag, advancing, n_periods):
    """Pool flows ``[scenario, period, column]``: tables ``[scenario, month, class]``, severity
    ``[scenario, month]``, index values ``arm_rates[row, month, index]`` with each scenario's row."""
    n_scen = smm_tab.shape[0]
    out = np.zeros((n_scen, n_periods, NCOL))
    for sc in prange(n_scen):
        rates = arm_rates[arm_rate_row[sc]]
        for k in range(balance.size):
            _one_loan(k, balance, gross_m, net_m, amort_n, amort_kind, mat, cls, age, arm_id, arm_terms, rates,
                      smm_tab[sc], mdr_tab[sc], severity[sc], lag[sc], advancing[sc], n_periods, out[sc])
    return out


@kernel(parallel=True)
def project_arm_loans(balance, gross_m, net_m, amort_n, amort_kind, mat, cls, age, arm_id, arm_terms, rates, smm,
                      mdr, severity, lag, adv, n_periods):
    """Per-loan flows ``[loan, period, column]`` for one scenario (``rates[month, index]``,
    tables ``[month, class]``)."""
    out = np.zeros((balance.size, n_periods, NCOL))
    for k in prange(balance.size):
        _one_loan(k, balance, gross_m, net_m, amort_n, amort_kind, mat, cls, age, arm_id, arm_terms, rates, smm, mdr,
                  severity, lag, adv, n_periods, out[k])
    return out
