"""The priority of payments of a deal with several collateral groups (CONVENTIONS R2.12).

Each group's pool is projected on its own (the round-1 pool, :mod:`abs_engine.kernels.collateral`)
and :func:`pay_groups` distributes every scenario's months, in parallel over scenarios. Its
classes: each group's senior classes (``note_group[k] = g``), the subordinate classes
cross-collateralized by every group (``-1``), and the residual holder, which receives what is
left of interest and of principal. Within a group, and among the subordinate classes, classes
are paid in seniority order (``seniority``: priority, then listed order); with one senior class
per group and one subordinate class this is R2.12 word for word.

Per month:

1. **Interest** (R2.12.2). Each group's net interest pays its own senior classes' interest due
   (the month's coupon on the beginning balance plus the shortfall carried, without interest
   on it); what is left of every group is pooled, and pays the senior interest still unpaid in
   group order, then the subordinate classes' interest; the rest goes to the residual.
2. **Principal** (R2.12.3), step by step, each step over the groups in group order: group g's
   principal collections (scheduled + prepaid + recovered) retire its own senior classes; then
   the other groups' senior classes in group order; then the subordinate classes; the rest
   goes to the residual. (Our reading of "groups are processed in group order at each step":
   every group's own seniors are paid before any group's principal crosses to another group.)
3. **Losses** (R2.12.4). ``excess = Σ class balances − Σ group pool balances`` at month end; if
   it is above zero the subordinate classes are written down by it, the most junior first;
   once they are all zero, each group's senior classes are written down by what their balance
   exceeds the group's own pool balance (the most junior of them first).
"""

from __future__ import annotations

import numpy as np
from numba import prange

from ._jit import kernel
from .ops import ZERO, carry, interest_due
from .state import (
    C_INTEREST,
    C_LOSS,
    C_NOTE_INTEREST,
    C_NOTE_PRINCIPAL,
    C_NOTES_BEG,
    C_NOTES_END,
    C_POOL_BEG,
    C_POOL_END,
    C_PRINCIPAL,
    C_RESIDUAL,
    C_WRITEDOWN,
    TR_BEG,
    TR_COUPON,
    TR_DUE,
    TR_END,
    TR_PAID,
    TR_PRIN,
    TR_SHORT,
    TR_WD,
)

__all__ = ["pay_groups"]


@kernel(inline=True)
def _pay(amount, need):
    """What ``amount`` pays of ``need``."""
    return min(amount, need) if need > 0.0 else 0.0


@kernel(inline=True)
def _pay_classes(amount, owner, note_group, seniority, need, paid):
    """``amount`` paid to the classes of ``owner`` (a group, or -1: the subordinate classes) in
    seniority order, each up to what it still needs (``need``, reduced; ``paid`` increased); what is left."""
    for q in range(seniority.size):
        k = seniority[q]
        if note_group[k] == owner:
            p = _pay(amount, need[k])
            need[k] -= p
            paid[k] += p
            amount -= p
    return amount


@kernel(inline=True)
def _write_down(excess, owner, note_group, seniority, bal, wd):
    """``excess`` written off the classes of ``owner``, the most junior first; what is written."""
    written = 0.0
    for q in range(seniority.size - 1, -1, -1):
        k = seniority[q]
        if note_group[k] == owner and excess > 0.0:
            w = min(bal[k], excess)
            bal[k] -= w
            wd[k] += w
            excess -= w
            written += w
    return written


@kernel(parallel=True)
def pay_groups(int_coll, prin_coll, loss, pool_beg, pool_end, coupon_rows, coupon_row, dcf, balance, note_group,
               seniority, tr_out, cash_out):
    """Every scenario's months: pool flows ``[scenario, period, group]`` (net interest, principal
    collections, losses, beginning and ending pool balances), coupons ``[row, period, note]``
    with each scenario's row ``coupon_row``, accrual fractions ``dcf[period, note]``, the notes'
    original ``balance``, ``note_group`` and ``seniority`` (see the module doc). Writes
    ``tr_out[scenario, period, note, TR_*]`` and ``cash_out[scenario, period, C_*]`` (zeroed by
    the caller)."""
    n_scen, n_per, n_grp = int_coll.shape
    n_notes = balance.size
    for j in prange(n_scen):
        bal = balance.copy()
        short = np.zeros(n_notes)
        left = np.zeros(n_notes)  # interest still due this month
        paid = np.zeros(n_notes)
        prin = np.zeros(n_notes)
        wd = np.zeros(n_notes)
        rem = np.zeros(n_grp)
        row = coupon_row[j]
        for t in range(n_per):
            notes_beg = 0.0
            for k in range(n_notes):
                cpn = coupon_rows[row, t, k]
                left[k] = interest_due(bal[k], cpn, dcf[t, k], short[k], 0.0)
                paid[k] = prin[k] = wd[k] = 0.0
                notes_beg += bal[k]
                tr_out[j, t, k, TR_BEG] = bal[k]
                tr_out[j, t, k, TR_COUPON] = cpn
                tr_out[j, t, k, TR_DUE] = left[k]
            # 1. interest: each group's own seniors; the rest pooled pays the seniors still unpaid
            # in group order, then the subordinates; what is left goes to the residual
            pooled = 0.0
            for g in range(n_grp):
                pooled += _pay_classes(int_coll[j, t, g], g, note_group, seniority, left, paid)
            for g in range(n_grp):
                pooled = _pay_classes(pooled, g, note_group, seniority, left, paid)
            residual = _pay_classes(pooled, -1, note_group, seniority, left, paid)
            # 2. principal, step by step, each step over the groups in group order
            for g in range(n_grp):
                rem[g] = _pay_classes(prin_coll[j, t, g], g, note_group, seniority, bal, prin)
            for g in range(n_grp):
                for h in range(n_grp):
                    if h != g:
                        rem[g] = _pay_classes(rem[g], h, note_group, seniority, bal, prin)
            for g in range(n_grp):
                residual += _pay_classes(rem[g], -1, note_group, seniority, bal, prin)
            # 3. losses: the subordinates by the excess of notes over pools; once they are zero,
            # each group's seniors by what they exceed their own pool
            pool_total = 0.0
            for g in range(n_grp):
                pool_total += pool_end[j, t, g]
            excess = -pool_total
            subordinate = 0.0
            for k in range(n_notes):
                excess += bal[k]
            writedown = _write_down(excess, -1, note_group, seniority, bal, wd) if excess > ZERO else 0.0
            for k in range(n_notes):
                if note_group[k] == -1:
                    subordinate += bal[k]
            if subordinate < ZERO:
                for g in range(n_grp):
                    over = -pool_end[j, t, g]
                    for k in range(n_notes):
                        if note_group[k] == g:
                            over += bal[k]
                    if over > ZERO:
                        writedown += _write_down(over, g, note_group, seniority, bal, wd)
            notes_end = note_interest = note_principal = 0.0
            for k in range(n_notes):
                short[k] = carry(left[k])
                tr_out[j, t, k, TR_PAID] = paid[k]
                tr_out[j, t, k, TR_SHORT] = short[k]
                tr_out[j, t, k, TR_PRIN] = prin[k]
                tr_out[j, t, k, TR_WD] = wd[k]
                tr_out[j, t, k, TR_END] = bal[k]
                notes_end += bal[k]
                note_interest += paid[k]
                note_principal += prin[k]
            ic = pc = lost = beg = 0.0
            for g in range(n_grp):
                ic += int_coll[j, t, g]
                pc += prin_coll[j, t, g]
                lost += loss[j, t, g]
                beg += pool_beg[j, t, g]
            cash_out[j, t, C_INTEREST] = ic
            cash_out[j, t, C_PRINCIPAL] = pc
            cash_out[j, t, C_LOSS] = lost
            cash_out[j, t, C_NOTE_INTEREST] = note_interest
            cash_out[j, t, C_NOTE_PRINCIPAL] = note_principal
            cash_out[j, t, C_RESIDUAL] = residual
            cash_out[j, t, C_WRITEDOWN] = writedown
            cash_out[j, t, C_NOTES_BEG] = notes_beg
            cash_out[j, t, C_NOTES_END] = notes_end
            cash_out[j, t, C_POOL_BEG] = beg
            cash_out[j, t, C_POOL_END] = pool_total
