"""A credit-card master trust series (CONVENTIONS R2.9): the trust's receivables and the series'
invested amount, month by month, through its revolving period, controlled accumulation into a
principal funding account, and early (rapid) amortization when the 3-month average excess
spread falls below 0 (not curable); the finance-charge waterfall of R2.9.4.

The phase a month runs in is decided by the deal's state at its start (the trigger as tested
at the end of the month before): the series' waterfall decides what the trust's collections do,
and the trust's collections decide the trigger. Scenarios run in parallel, each on its own.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from ._jit import kernel
from .collateral import fmax, fmin
from .state import SB, cell
from .summaries import _yields

__all__ = ["run_trust", "TRUST_COLS", "PHASE_REVOLVING", "PHASE_ACCUMULATION", "PHASE_AMORTIZATION",
           "T_RECEIVABLES", "T_PRINCIPAL_COLLECTIONS", "T_FINANCE_CHARGES", "T_CHARGE_OFFS", "T_NEW_RECEIVABLES",
           "T_FLOATING_PCT", "T_FIXED_PCT", "T_INVESTOR_FINANCE_CHARGES", "T_INVESTOR_CHARGE_OFFS",
           "T_INVESTOR_PRINCIPAL", "T_INTEREST_DUE", "T_INTEREST_PAID", "T_INTEREST_SHORTFALL", "T_SERVICING_FEE",
           "T_COVERED", "T_UNCOVERED", "T_EXCESS_SPREAD", "T_EXCESS_SPREAD_RATE", "T_EXCESS_SPREAD_3M",
           "T_PFA_DEPOSIT", "T_PFA_BALANCE", "T_DEFICIT", "T_PRINCIPAL_PAID", "T_TO_SELLER", "T_INVESTED",
           "T_PHASE", "T_EARLY", "C_WAL", "C_FIRST", "C_LAST", "C_INTEREST", "C_PRINCIPAL", "C_WRITEDOWN",
           "C_EARLY", "CARD_STATS"]

PHASE_REVOLVING, PHASE_ACCUMULATION, PHASE_AMORTIZATION = range(3)

(T_RECEIVABLES, T_PRINCIPAL_COLLECTIONS, T_FINANCE_CHARGES, T_CHARGE_OFFS, T_NEW_RECEIVABLES, T_FLOATING_PCT,
 T_FIXED_PCT, T_INVESTOR_FINANCE_CHARGES, T_INVESTOR_CHARGE_OFFS, T_INVESTOR_PRINCIPAL, T_INTEREST_DUE,
 T_INTEREST_PAID, T_INTEREST_SHORTFALL, T_SERVICING_FEE, T_COVERED, T_UNCOVERED, T_EXCESS_SPREAD,
 T_EXCESS_SPREAD_RATE, T_EXCESS_SPREAD_3M, T_PFA_DEPOSIT, T_PFA_BALANCE, T_DEFICIT, T_PRINCIPAL_PAID, T_TO_SELLER,
 T_INVESTED, T_PHASE, T_EARLY) = range(27)
TRUST_COLS = 27

# per scenario: the certificates' summary (cash flows per 100 of face go to the yield search)
C_WAL, C_FIRST, C_LAST, C_INTEREST, C_PRINCIPAL, C_WRITEDOWN, C_EARLY = range(7)
CARD_STATS = 7

TINY = 1e-6  # an amount below this counts as zero (CONVENTIONS R2)

# a block's state, one row of SB lanes per quantity (``st[cell(row, lane)]``): one flat array, so
# that LLVM sees the rows at fixed distances and vectorizes the loop over the lanes
(S_R, S_INV, S_PFA, S_DEFICIT, S_SHORT, S_FIXED, S_EARLY, S_EARLY_MONTH, S_ES1, S_ES2, S_PAID, S_INTEREST,
 S_WD, S_WEIGHTED, S_FIRST, S_LAST, S_CAA, S_MPR, S_YLD, S_CO, S_PR) = range(21)
N_STATE = 21


@kernel(parallel=True)
def run_trust(receivables, invested, coupon, servicing, revolving, accumulation, mpr, yld, co, purchase, rows,
              n_periods, table, stats, yields, durations):
    """Every scenario's months: ``mpr``, ``yld``, ``co``, ``purchase`` ``[row, month]`` tables of
    distinct values (the monthly payment rate, the portfolio yield and the charge-off rate, both
    annual, the purchase rate), scenario ``k`` reading row ``rows[field, k]`` of each;
    ``receivables`` and ``invested`` at cut-off; ``coupon`` and ``servicing`` annual;
    ``revolving`` (Rv) and ``accumulation`` (A) months. Sinks, each ``None`` when not wanted:
    ``table[scenario, month, T_*]``, ``stats[scenario, C_*]``, and ``yields`` and ``durations``
    ``[scenario]``: the certificates' bond-equivalent yield at par and modified duration (BMA
    section G), searched per block (:func:`abs_engine.kernels.summaries._yields`) on their
    interest and principal per 100 of the invested amount at cut-off, kept for the block only.
    Once the invested amount and the PFA are both zero nothing moves (the receivables stand as
    they were); a summary run stops a block there.

    Scenarios run in blocks of ``SB`` lanes, every lane's month in one branch-free loop over the
    block's flat state (``S_*`` rows)."""
    n_scen = rows.shape[1]
    n = n_periods
    n_blocks = (n_scen + SB - 1) // SB
    for b in prange(n_blocks):
        lo = b * SB
        m = min(SB, n_scen - lo)
        st = np.zeros(N_STATE * SB)
        cf = np.zeros(n * m if yields is not None else 0)  # [month, lane] of the block
        months = n  # the months run
        for l in range(SB):
            st[cell(S_R, l)] = receivables
            st[cell(S_INV, l)] = invested
        for t in range(1, n + 1):
            j = t - 1
            for l in range(m):
                k = lo + l
                st[cell(S_MPR, l)] = mpr[rows[0, k], j]
                st[cell(S_YLD, l)] = yld[rows[1, k], j]
                st[cell(S_CO, l)] = co[rows[2, k], j]
                st[cell(S_PR, l)] = purchase[rows[3, k], j]
            in_acc = 1.0 if revolving < t <= revolving + accumulation else 0.0
            last_acc = 1.0 if t == revolving + accumulation else 0.0
            after = 1.0 if t > revolving + accumulation else 0.0
            start_acc = 1.0 if t == revolving + 1 else 0.0
            end_rev = 1.0 if t == revolving else 0.0
            seen = float(min(t, 3))
            tf = float(t)
            if table is None:  # a block whose series are all paid has nothing left to add (cf stays 0)
                alive = False
                for l in range(m):
                    alive = alive or st[cell(S_INV, l)] > 0.0 or st[cell(S_PFA, l)] > 0.0
                if not alive:
                    months = j
                    break
            for l in range(m):
                r0 = st[cell(S_R, l)]
                inv = st[cell(S_INV, l)]
                pfa = st[cell(S_PFA, l)]
                deficit = st[cell(S_DEFICIT, l)]
                early = st[cell(S_EARLY, l)]
                es1 = st[cell(S_ES1, l)]
                live = 1.0 if inv > 0.0 or pfa > 0.0 else 0.0
                amort = fmax(early, after)
                acc = (1.0 - amort) * in_acc
                rev = 1.0 - amort - acc
                caa = start_acc * inv / accumulation + (1.0 - start_acc) * st[cell(S_CAA, l)]  # R2.9.6: I at Rv+1, / A
                floating = inv / r0 if r0 > 0.0 else 0.0             # R2.9.1
                pc = st[cell(S_MPR, l)] * r0                         # R2.9.2, on last month's receivables
                fc = st[cell(S_YLD, l)] / 12.0 * r0
                chg = st[cell(S_CO, l)] / 12.0 * r0
                nr = st[cell(S_PR, l)] * pc
                r_new = r0 - pc - chg + nr
                ifc = floating * fc                                  # R2.9.3
                idr = floating * chg
                ipc = (rev * floating + (1.0 - rev) * st[cell(S_FIXED, l)]) * pc
                current = coupon / 12.0 * inv                        # R2.9.4: the finance-charge waterfall
                due = current + st[cell(S_SHORT, l)]
                int_paid = fmin(ifc, due)
                avail = ifc - int_paid
                sh = due - int_paid
                sh = sh if sh >= TINY else 0.0
                fee = servicing / 12.0 * inv
                fee_paid = fmin(avail, fee)
                avail -= fee_paid
                covered = fmin(avail, idr)
                avail -= covered
                uncovered = idr - covered
                rate = 12.0 * (ifc - idr - current - fee) / inv if inv > 0.0 else 0.0   # R2.9.5
                i1 = inv - uncovered                                 # an investor charge-off
                i1 = i1 if i1 >= TINY else 0.0
                principal = ipc + covered                            # R2.9.6
                # accumulation: deposit towards the controlled amount; at its end the PFA is paid
                want = fmin(caa + deficit, fmax(i1 - pfa, 0.0))
                deposit = acc * fmin(principal, want)
                pfa1 = pfa + deposit
                acc_pay = last_acc * fmin(pfa1, i1)
                am_pay = fmin(principal + pfa, i1)                   # rapid amortization: all to holders
                pay = acc * acc_pay + amort * am_pay
                to_seller = rev * principal + acc * (principal - deposit + last_acc * (pfa1 - acc_pay)) \
                    + amort * (principal + pfa - am_pay)
                pfa1 = acc * (1.0 - last_acc) * pfa1
                d1 = acc * (want - deposit) + (1.0 - acc) * deficit
                i1 -= pay
                i1 = i1 if i1 >= TINY else 0.0
                # R2.9.7: the trigger, tested at the end of a revolving or accumulation month on the
                # average of the last 3 months' excess spread (fewer in months 1-2)
                avg = (st[cell(S_ES2, l)] + es1 + rate) / seen  # (oldest first, as the months came)
                hit = (1.0 - amort) * live * (1.0 if avg < 0.0 else 0.0)
                r_end = live * r_new + (1.0 - live) * r0
                set_f = rev * fmax(hit, end_rev)  # F: at the end of the trigger month, or of month Rv
                f1 = set_f * (i1 / r_end if r_end > 0.0 else 0.0) + (1.0 - set_f) * st[cell(S_FIXED, l)]
                if table is not None:
                    row = table[lo + l, j]
                    row[T_RECEIVABLES] = r_end
                    row[T_PRINCIPAL_COLLECTIONS] = pc * live
                    row[T_FINANCE_CHARGES] = fc * live
                    row[T_CHARGE_OFFS] = chg * live
                    row[T_NEW_RECEIVABLES] = nr * live
                    row[T_FLOATING_PCT] = floating * live
                    row[T_FIXED_PCT] = f1 * live
                    row[T_INVESTOR_FINANCE_CHARGES] = ifc * live
                    row[T_INVESTOR_CHARGE_OFFS] = idr * live
                    row[T_INVESTOR_PRINCIPAL] = ipc * live
                    row[T_INTEREST_DUE] = due * live
                    row[T_INTEREST_PAID] = int_paid * live
                    row[T_INTEREST_SHORTFALL] = sh * live
                    row[T_SERVICING_FEE] = fee_paid * live
                    row[T_COVERED] = covered * live
                    row[T_UNCOVERED] = uncovered * live
                    row[T_EXCESS_SPREAD] = avail * live
                    row[T_EXCESS_SPREAD_RATE] = rate * live
                    row[T_EXCESS_SPREAD_3M] = avg * live
                    row[T_PFA_DEPOSIT] = deposit * live
                    row[T_PFA_BALANCE] = pfa1 * live
                    row[T_DEFICIT] = d1 * live
                    row[T_PRINCIPAL_PAID] = pay * live
                    row[T_TO_SELLER] = to_seller * live
                    row[T_INVESTED] = i1 * live
                    row[T_PHASE] = PHASE_AMORTIZATION if live == 0.0 else (
                        PHASE_AMORTIZATION if amort > 0.0 else PHASE_ACCUMULATION if acc > 0.0 else PHASE_REVOLVING)
                    row[T_EARLY] = fmax(early, hit)
                paid = pay * live
                if yields is not None:
                    cf[j * m + l] = (int_paid * live + paid) * 100.0 / invested
                paying = 1.0 if paid > 0.0 else 0.0
                first = st[cell(S_FIRST, l)]
                keep = 1.0 - live  # (a series paid off: its state stands)
                st[cell(S_INTEREST, l)] += int_paid * live
                st[cell(S_WD, l)] += uncovered * live
                st[cell(S_PAID, l)] += paid
                st[cell(S_WEIGHTED, l)] += tf * paid
                st[cell(S_FIRST, l)] = first + paying * (1.0 if first == 0.0 else 0.0) * tf
                st[cell(S_LAST, l)] = paying * tf + (1.0 - paying) * st[cell(S_LAST, l)]
                st[cell(S_EARLY_MONTH, l)] = hit * tf + (1.0 - hit) * st[cell(S_EARLY_MONTH, l)]
                st[cell(S_R, l)] = r_end
                st[cell(S_INV, l)] = live * i1 + keep * inv
                st[cell(S_PFA, l)] = live * pfa1 + keep * pfa
                st[cell(S_DEFICIT, l)] = live * d1 + keep * deficit
                st[cell(S_SHORT, l)] = live * sh + keep * st[cell(S_SHORT, l)]
                st[cell(S_FIXED, l)] = live * f1 + keep * st[cell(S_FIXED, l)]
                st[cell(S_EARLY, l)] = fmax(early, hit)
                st[cell(S_ES2, l)] = live * es1 + keep * st[cell(S_ES2, l)]
                st[cell(S_ES1, l)] = live * rate + keep * es1
                st[cell(S_CAA, l)] = caa
        if yields is not None:
            y = np.empty(m)
            md = np.empty(m)
            _yields(cf, months, m, np.full(1, 100.0), 0.0, y, md)  # (one price: the block's)
            for l in range(m):
                yields[lo + l] = y[l]
                durations[lo + l] = md[l]
        if stats is not None:
            for l in range(m):
                k = lo + l
                paid = st[cell(S_PAID, l)]
                stats[k, C_WAL] = st[cell(S_WEIGHTED, l)] / (12.0 * paid) if paid > 0.0 else np.nan
                stats[k, C_FIRST] = st[cell(S_FIRST, l)]
                stats[k, C_LAST] = st[cell(S_LAST, l)]
                stats[k, C_INTEREST] = st[cell(S_INTEREST, l)]
                stats[k, C_PRINCIPAL] = paid
                stats[k, C_WRITEDOWN] = st[cell(S_WD, l)]
                stats[k, C_EARLY] = st[cell(S_EARLY_MONTH, l)]
