"""The collateral kernel: BMA/SIFMA Standard Formulas, loan by loan, aggregated per period.

State per loan, carried month to month by recurrence (no ``pow`` and no division in the
monthly loop):

* the scheduled-balance fraction ``S = E / E0`` with ``E = 1 - (1+r)^-n`` for the ``n``
  payments left; since ``E' = E - r (1+r)^-n``, ``S' = S - d`` and ``d' = d (1+r)`` with
  ``d0 = r (1+r)^-n0 / E0``. A zero rate gives ``d = 1/n0`` (straight line); interest-only
  ``d = 0``; the final (or balloon) month sets ``S`` to 0.
* ``w``: the performing balance divided by ``S`` (the survival from prepayments and
  defaults), so ``PERF = w S`` and ``w' = w (1 - MDR - SMM)``.
* ``F``: loans in foreclosure. With advancing it is held divided by ``S`` (they keep
  amortizing); without advancing it is the plain balance.
* A ring of the last ``L+1`` months' new defaults (plain and divided by ``S`` at default)
  gives each month's liquidation.

Loans are processed in blocks of ``W`` side by side so the innermost loop (over the block's
loans) vectorizes; work items are (scenario, chunk of blocks), run in parallel, each with its
own accumulator, reduced in a fixed order afterwards.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange, types
from numba.extending import overload

from ._jit import kernel

__all__ = [
    "W", "SB", "NCOL", "SCHED", "PREPAY", "DEFAULT", "RECOVERY", "LOSS", "GROSS", "NET", "PERF", "FCL", "AMORTIZED",
    "loan_setup", "schedule_lanes", "load_schedules", "month_step", "advance_scenarios", "accumulators", "fmin", "fmax", "project_blocks",
    "project_scenario_blocks", "project_loans", "AMORT_LEVEL", "AMORT_IO", "AMORT_STRAIGHT",
]

W = 256  # loans per block (loan lanes)
SB = 32  # scenarios per block (scenario lanes: small pools, many scenarios)

# accumulator columns (beginning balances are the previous period's ending balances)
SCHED, PREPAY, DEFAULT, RECOVERY, LOSS, GROSS, NET, PERF, FCL, AMORTIZED = range(10)
NCOL = 10


AMORT_LEVEL, AMORT_IO, AMORT_STRAIGHT = range(3)  # a loan's amortization kind, as loan_setup reads it


@kernel(inline=True)
def loan_setup(monthly_rate, amort_n, amort_kind):
    """``(d0, growth)`` of a loan's scheduled-fraction recurrence ``S' = S - d``, ``d' = d growth``;
    ``amort_kind``: ``AMORT_LEVEL`` (level pay at the rate), ``AMORT_IO`` (no scheduled
    principal) or ``AMORT_STRAIGHT`` (even principal: level pay at a zero rate)."""
    if amort_kind == AMORT_IO:
        return 0.0, 1.0
    if monthly_rate > 0.0 and amort_kind != AMORT_STRAIGHT:
        lr = math.log1p(monthly_rate)
        return monthly_rate * math.exp(-amort_n * lr) / -math.expm1(-amort_n * lr), 1.0 + monthly_rate
    return 1.0 / amort_n, 1.0


@kernel(inline=True)
def fmin(a, b):
    """``min(a, b)`` as a select. No NaN reaches the projection or the waterfall, so it is the same
    number; unlike the builtin it never becomes a call in a large function, which would keep the
    lane loops around it from being vectorized."""
    return a if a < b else b


@kernel(inline=True)
def fmax(a, b):
    """``max(a, b)`` as a select (see :func:`fmin`)."""
    return a if a > b else b


@kernel(inline=True)
def month_step(i, mat, lag, adv, smm, mdr, sev, w, s_prev, d, growth, f, gr, nr, nd_j, norm_j):
    """One loan, projection month ``i``, in the order of CONVENTIONS.md.

    ``nd_j``/``norm_j``: the loan's new defaults of month ``i - lag`` (plain, and divided by the
    scheduled fraction at default); ignored when ``lag == 0``. Returns the new state
    ``(w, s, d, f, nd, norm)`` followed by the flows, in accumulator column order.
    """
    s_new = s_prev - d
    if i >= mat:  # final (or balloon) payment: nothing scheduled remains
        s_new = 0.0
    if i > mat - lag:  # no defaults in the last L months before maturity
        mdr = 0.0
    smm = fmin(smm, 1.0 - mdr)  # prepayment cap: defaults + scheduled + prepaid <= PERF(i-1)

    perf0 = w * s_prev
    nd = perf0 * mdr                 # 1. new defaults
    amortized = w * s_new            # PERF(i-1) x ratio
    after_default = amortized - amortized * mdr
    sched = perf0 - nd - after_default   # 2. scheduled principal of performing loans
    prep = amortized * smm           # 3. voluntary prepayments (not reduced by new defaults)
    perf = after_default - prep
    norm = w * mdr
    if lag == 0:
        nd_j = nd
        norm_j = norm

    if adv:  # defaulted balances keep amortizing; interest on the whole pool
        if i >= mat:  # everything still in foreclosure liquidates by maturity
            liq = (f + norm) * s_prev
            f_new = 0.0
        else:
            liq = norm_j * s_prev
            f_new = fmax(f + norm - norm_j, 0.0)
        fcl = f_new * s_new
        sched += f_new * (s_prev - s_new)
        base = perf0 + f * s_prev
    else:  # defaulted balances freeze; interest on performing loans only
        if i >= mat:
            liq = f + nd
            f_new = 0.0
        else:
            liq = nd_j
            f_new = fmax(f + nd - nd_j, 0.0)
        fcl = f_new
        base = perf0 - nd
    loss = fmin(sev * nd_j, liq)
    return (w * (1.0 - mdr - smm), s_new, d * growth, f_new, nd, norm,
            sched, prep, nd, liq - loss, loss, base * gr, base * nr, perf, fcl, amortized)


@kernel(inline=True)
def schedule_lanes():
    """A block's per-lane schedule arrays ``(s, d, growth, gr, nr, mt, smm)`` (see
    :func:`load_schedules`), allocated once per work item of a loan-blocked kernel."""
    return (np.empty(W), np.empty(W), np.empty(W), np.empty(W), np.empty(W), np.empty(W, dtype=np.int64),
            np.empty(W))


@kernel(inline=True)
def load_schedules(lo, m, gross_m, net_m, amort_n, amort_kind, mat, s, d, growth, gr, nr, mt):
    """A block's ``m`` loans from loan ``lo`` into its lanes: each one's scheduled fraction (1),
    its decrement and growth (:func:`loan_setup`), rates and maturity; returns the block's last
    maturity."""
    last = 0
    for l in range(m):
        k = lo + l
        d[l], growth[l] = loan_setup(gross_m[k], amort_n[k], amort_kind[k])
        s[l] = 1.0
        gr[l] = gross_m[k]
        nr[l] = net_m[k]
        mt[l] = mat[k]
        last = max(last, mat[k])
    return last


def _lane(x, l):
    """``x[l]`` for an array, ``x`` for a scalar (resolved at compile time)."""


@overload(_lane, inline="always")
def _lane_impl(x, l):
    if isinstance(x, types.Array):
        return lambda x, l: x[l]
    return lambda x, l: x


@kernel(inline=True)
def _advance_block(m, i, lag, adv, smm, mdr, sev, w, s, d, growth, f, gr, nr, mt,
                   nd_read, norm_read, nd_write, norm_write, row):
    """Advance a block's ``m`` loans by month ``i`` and add the block's flows to ``row``.
    ``smm``/``mdr`` are per-loan arrays or one number for the whole block."""
    t0 = t1 = t2 = t3 = t4 = t5 = t6 = t7 = t8 = t9 = 0.0
    for l in range(m):
        r = month_step(i, mt[l], lag, adv, _lane(smm, l), _lane(mdr, l), sev, w[l], s[l], d[l],
                       growth[l], f[l], gr[l], nr[l], nd_read[l], norm_read[l])
        w[l] = r[0]
        s[l] = r[1]
        d[l] = r[2]
        f[l] = r[3]
        nd_write[l] = r[4]
        norm_write[l] = r[5]
        t0 += r[6]
        t1 += r[7]
        t2 += r[8]
        t3 += r[9]
        t4 += r[10]
        t5 += r[11]
        t6 += r[12]
        t7 += r[13]
        t8 += r[14]
        t9 += r[15]
    row[0] += t0
    row[1] += t1
    row[2] += t2
    row[3] += t3
    row[4] += t4
    row[5] += t5
    row[6] += t6
    row[7] += t7
    row[8] += t8
    row[9] += t9


@kernel(inline=True)
def _advance_block_as(adv, m, i, lag, smm, mdr, sev, w, s, d, growth, f, gr, nr, mt,
                      nd_read, norm_read, nd_write, norm_write, row):
    """:func:`_advance_block` with ``adv`` passed as a constant, so each copy of the lane loop
    is compiled without the other convention's branches (worth about a third of the time)."""
    if adv:
        _advance_block(m, i, lag, True, smm, mdr, sev, w, s, d, growth, f, gr, nr, mt,
                       nd_read, norm_read, nd_write, norm_write, row)
    else:
        _advance_block(m, i, lag, False, smm, mdr, sev, w, s, d, growth, f, gr, nr, mt,
                       nd_read, norm_read, nd_write, norm_write, row)


@kernel(parallel=True)
def project_blocks(balance, gross_m, net_m, amort_n, amort_kind, mat, cls, chunk_bounds,
                   smm_tab, mdr_tab, severity, lag, advancing, n_periods):
    """Pool flows per (scenario, chunk, period, column); sum over chunks for the pool.

    Loans are arrays of equal length, sorted by rate class ``cls`` (column of the
    ``[scenario, month, class]`` SMM/MDR tables); ``chunk_bounds`` are block indices.
    """
    n = balance.size
    n_scen = smm_tab.shape[0]
    n_chunks = chunk_bounds.size - 1
    out = np.zeros((n_scen, n_chunks, n_periods, NCOL))
    for item in prange(n_scen * n_chunks):
        sc = item // n_chunks
        c = item - sc * n_chunks
        L = lag[sc]
        adv = advancing[sc]
        acc = out[sc, c]
        w = np.empty(W)
        f = np.empty(W)
        s, d, growth, gr, nr, mt, lane_smm = schedule_lanes()
        lane_mdr = np.empty(W)
        # rows 0..L hold the last L+1 months of defaults; row L+1 is never written: the read row
        # at lag 0 (ignored there), so the lane loop never reads and writes one row (aliasing
        # would keep it from vectorizing)
        ring_nd = np.zeros((L + 2, W))
        ring_norm = np.zeros((L + 2, W))
        for b in range(chunk_bounds[c], chunk_bounds[c + 1]):
            lo = b * W
            hi = min(lo + W, n)
            m = hi - lo
            last = load_schedules(lo, m, gross_m, net_m, amort_n, amort_kind, mat, s, d, growth, gr, nr, mt)
            for l in range(m):
                w[l] = balance[lo + l]
                f[l] = 0.0
            ring_nd[:, :] = 0.0
            ring_norm[:, :] = 0.0
            uniform = cls[lo] == cls[hi - 1]
            for i in range(1, min(last, n_periods) + 1):
                ws = i % (L + 1)
                rs = (i + 1) % (L + 1) if L > 0 else L + 1  # slot of month i - L
                sev = severity[sc, i - 1]
                if uniform:
                    _advance_block_as(adv, m, i, L, smm_tab[sc, i - 1, cls[lo]], mdr_tab[sc, i - 1, cls[lo]],
                                      sev, w, s, d, growth, f, gr, nr, mt, ring_nd[rs], ring_norm[rs],
                                      ring_nd[ws], ring_norm[ws], acc[i - 1])
                else:
                    for l in range(m):
                        lane_smm[l] = smm_tab[sc, i - 1, cls[lo + l]]
                        lane_mdr[l] = mdr_tab[sc, i - 1, cls[lo + l]]
                    _advance_block_as(adv, m, i, L, lane_smm, lane_mdr, sev, w, s, d, growth, f, gr, nr, mt,
                                      ring_nd[rs], ring_norm[rs], ring_nd[ws], ring_norm[ws], acc[i - 1])
    return out


@kernel(parallel=True)
def project_loans(balance, gross_m, net_m, amort_n, amort_kind, mat, cls, smm_tab, mdr_tab,
                  severity, lag, adv, n_periods):
    """Per-loan flows ``[loan, period, column]`` for one scenario (tables ``[month, class]``)."""
    n = balance.size
    out = np.zeros((n, n_periods, NCOL))
    for k in prange(n):
        ring_nd = np.zeros(lag + 1)
        ring_norm = np.zeros(lag + 1)
        d, growth = loan_setup(gross_m[k], amort_n[k], amort_kind[k])
        w = balance[k]
        s = 1.0
        f = 0.0
        for i in range(1, min(mat[k], n_periods) + 1):
            ws = i % (lag + 1)
            rs = (i + 1) % (lag + 1)
            r = month_step(i, mat[k], lag, adv, smm_tab[i - 1, cls[k]], mdr_tab[i - 1, cls[k]],
                           severity[i - 1], w, s, d, growth, f, gross_m[k], net_m[k],
                           ring_nd[rs], ring_norm[rs])
            w, s, d, f = r[0], r[1], r[2], r[3]
            ring_nd[ws] = r[4]
            ring_norm[ws] = r[5]
            for j in range(NCOL):
                out[k, i - 1, j] = r[6 + j]
    return out


@kernel(inline=True)
def advance_scenarios(adv, i, mat, lag, smm_b, mdr_b, severity_b, b, c, w, s_prev, d, growth, f, gr, nr,
                       ring_nd, ring_norm, rs, ws, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9):
    """One loan, month ``i``, in every scenario lane of block ``b``; flows added to ``a0..a9[i-1, lane]``
    (one array per column). Arrays are indexed, never sliced: a view of a shared array would
    touch its reference count from every thread."""
    j = i - 1
    for l in range(w.size):
        r = month_step(i, mat, lag, adv, smm_b[b, j, c, l], mdr_b[b, j, c, l], severity_b[b, j, l], w[l], s_prev, d,
                       growth, f[l], gr, nr, ring_nd[rs, l], ring_norm[rs, l])
        w[l] = r[0]
        f[l] = r[3]
        ring_nd[ws, l] = r[4]
        ring_norm[ws, l] = r[5]
        a0[j, l] += r[6]
        a1[j, l] += r[7]
        a2[j, l] += r[8]
        a3[j, l] += r[9]
        a4[j, l] += r[10]
        a5[j, l] += r[11]
        a6[j, l] += r[12]
        a7[j, l] += r[13]
        a8[j, l] += r[14]
        a9[j, l] += r[15]


@kernel(inline=True)
def accumulators(n_periods):
    """A block's monthly flows, one ``[month, lane]`` array per column (:func:`advance_scenarios`
    adds to them): ten arrays rather than one, so each lane loop writes one contiguous row."""
    return (np.zeros((n_periods, SB)), np.zeros((n_periods, SB)), np.zeros((n_periods, SB)),
            np.zeros((n_periods, SB)), np.zeros((n_periods, SB)), np.zeros((n_periods, SB)),
            np.zeros((n_periods, SB)), np.zeros((n_periods, SB)), np.zeros((n_periods, SB)),
            np.zeros((n_periods, SB)))


@kernel(parallel=True)
def project_scenario_blocks(balance, gross_m, net_m, amort_n, amort_kind, mat, cls, smm_b, mdr_b, severity_b,
                            lag_b, advancing_b, n_periods):
    """Few loans under many scenarios: lanes are scenarios. Tables ``[block, month, class, lane]``,
    severity ``[block, month, lane]``; every lane of a block shares ``lag_b[block]`` and
    ``advancing_b[block]``. Returns ``[block, period, column, lane]``; each lane adds its loans
    in loan order, so a scenario's flows do not depend on its neighbours."""
    n_blocks = smm_b.shape[0]
    n = balance.size
    out = np.zeros((n_blocks, n_periods, NCOL, SB))
    for b in prange(n_blocks):
        L = lag_b[b]
        adv = advancing_b[b]
        w = np.empty(SB)
        f = np.empty(SB)
        ring_nd = np.zeros((L + 2, SB))
        ring_norm = np.zeros((L + 2, SB))
        a0, a1, a2, a3, a4, a5, a6, a7, a8, a9 = accumulators(n_periods)
        for k in range(n):
            d, growth = loan_setup(gross_m[k], amort_n[k], amort_kind[k])
            s = 1.0
            w[:] = balance[k]
            f[:] = 0.0
            ring_nd[:, :] = 0.0
            ring_norm[:, :] = 0.0
            c = cls[k]
            mk = mat[k]
            for i in range(1, min(mk, n_periods) + 1):
                ws = i % (L + 1)
                rs = (i + 1) % (L + 1) if L > 0 else L + 1
                if adv:
                    advance_scenarios(True, i, mk, L, smm_b, mdr_b, severity_b, b, c, w, s, d, growth, f, gross_m[k],
                                       net_m[k], ring_nd, ring_norm, rs, ws, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9)
                else:
                    advance_scenarios(False, i, mk, L, smm_b, mdr_b, severity_b, b, c, w, s, d, growth, f,
                                       gross_m[k], net_m[k], ring_nd, ring_norm, rs, ws, a0, a1, a2, a3, a4, a5, a6,
                                       a7, a8, a9)
                s = 0.0 if i >= mk else s - d  # the loan's schedule, as month_step advances it
                d *= growth
        for j in range(n_periods):
            for l in range(SB):
                out[b, j, 0, l] = a0[j, l]
                out[b, j, 1, l] = a1[j, l]
                out[b, j, 2, l] = a2[j, l]
                out[b, j, 3, l] = a3[j, l]
                out[b, j, 4, l] = a4[j, l]
                out[b, j, 5, l] = a5[j, l]
                out[b, j, 6, l] = a6[j, l]
                out[b, j, 7, l] = a7[j, l]
                out[b, j, 8, l] = a8[j, l]
                out[b, j, 9, l] = a9[j, l]
    return out
