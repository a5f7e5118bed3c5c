"""The waterfall's operations, each written once.

Every path that runs a waterfall calls these functions: the step-table interpreter of full
runs and servicing (:func:`abs_engine.kernels.waterfall.interpret`) and the straight-line period
generated per structure for summary runs (:mod:`abs_engine.engine.codegen`). Each works on one
scenario lane's numbers and returns numbers (``inline="always"``: after inlining, the caller's
lane loop is the loop LLVM sees, so the interpreter keeps its vectorized lane loops and the
generated period its vectorized lane body). A new operation, or a change to one, is made here
and nowhere else; the test oracle (``tests/oracles/``) stays an independent plain-Python
implementation of ``CONVENTIONS.md``.

The names of the waterfall's arguments are the conventions': ``avail`` the funds still
available at this point of the priority, ``need`` what a step asks for, ``got`` what it was
paid, ``left`` what an item still has due. ``min``/``max`` are :func:`fmin`/:func:`fmax`
(selects: no NaN reaches the waterfall, and a select never becomes a call that would keep a
lane loop scalar).
"""

from __future__ import annotations

import numpy as np

from ._jit import kernel
from .collateral import fmax, fmin

__all__ = [
    "ZERO", "BASIS_POOL", "BASIS_ORIGINAL", "BASIS_NOTES", "BASIS_INTEREST",
    "METRIC_CUM_LOSS", "METRIC_OC", "METRIC_DELINQ", "METRIC_IC",
    "call_exercised", "transfer_amount", "interest_due", "fee_base", "fee_due", "trigger_value",
    "trigger_breached", "pay", "draw", "settle", "principal_need", "unlocked", "above_plan", "accretion",
    "coupon_paid", "net_coupon", "strip_rate", "gate", "oc_event", "pro_rata_share", "principal_pay",
    "oc_principal", "reserve_target", "reserve_move", "uncovered", "writedown", "carry", "hedge_net", "hedge_due",
    "hedge_receipt",
]

ZERO = 1e-6  # amounts below this count as zero in projections

BASIS_POOL, BASIS_ORIGINAL, BASIS_NOTES, BASIS_INTEREST = range(4)
METRIC_CUM_LOSS, METRIC_OC, METRIC_DELINQ, METRIC_IC = range(4)


@kernel(inline=True)
def call_exercised(called, exercise, pool_end, level, opened):
    """Whether the call is exercised this period: not yet called, elected by the scenario, the
    ending pool balance above zero, and either at most ``level`` (the clean-up percentage times
    the original pool balance; negative: no such condition) or the call ``opened`` otherwise
    (its date reached, its trigger breached)."""
    return (called == 0.0) & (exercise > 0.0) & (pool_end > 0.0) & ((pool_end <= level) | opened)


@kernel(inline=True)
def transfer_amount(source, target, balance, everything):
    """What a transfer moves out of an account holding ``source``: all of it (``everything``), or
    what the receiving account (``balance``) lacks of its ``target``, at most ``source``."""
    return source if everything else fmin(source, fmax(target - balance, 0.0))


@kernel(inline=True)
def interest_due(balance, coupon, dcf, shortfall, ios):
    """A note's interest due: its coupon on its beginning balance for the accrual fraction
    ``dcf``, plus the unpaid shortfall carried forward, which itself accrues at the coupon when
    ``ios`` is 1 (interest on shortfall)."""
    c = coupon * dcf
    return balance * c + shortfall * (1.0 + c * ios)


@kernel(inline=True)
def accretion(balance, coupon, dcf, accruing):
    """A Z class's accretion (CONVENTIONS R2.5.2): while it accrues, its coupon on its beginning
    balance for the accrual fraction, added to its balance; else 0."""
    return balance * (coupon * dcf) if accruing else 0.0


@kernel(inline=True)
def coupon_paid(coupon, accruing):
    """The coupon a class is paid in cash this period: none while a Z class accrues (its coupon
    accretes instead), else its coupon."""
    return 0.0 if accruing else coupon


@kernel(inline=True)
def net_coupon(weighted, balance):
    """The pool's net coupon: its loans' net rates weighted by their balances (``weighted`` = the
    sum of rate x balance) over the balance; 0 for no balance."""
    return weighted / balance if balance > 0.0 else 0.0


@kernel(inline=True)
def strip_rate(wac, strike):
    """A WAC interest-only strip's rate (CONVENTIONS R2.6.2): ``max(0, pool net coupon - strike)``."""
    return fmax(wac - strike, 0.0)


@kernel(inline=True)
def gate(x, on):
    """``x`` for a lane where a step applies (its priority, before or after acceleration, is the
    lane's), else 0: a step that does not apply asks for nothing and pays nothing."""
    return x if on else 0.0


@kernel(inline=True)
def oc_event(pool_end, notes, threshold):
    """The OC event of default (CONVENTIONS R2.7.2): ending pool / note balances (after the period's
    principal, before writedowns) below ``threshold``; no notes, no event."""
    return notes > 0.0 and pool_end / notes < threshold


@kernel(inline=True)
def hedge_net(cap, notional, rate, index, dcf):
    """A hedge's net amount for the period (CONVENTIONS R2.8.2-3), positive when the deal pays: a
    swap's ``notional x (fixed - index) x accrual`` (``rate``: the fixed rate), or (``cap``) minus a
    cap's receipt ``notional x max(0, index - strike) x accrual`` (``rate``: the strike)."""
    if cap:
        return 0.0 - notional * fmax(index - rate, 0.0) * dcf
    return notional * (rate - index) * dcf


@kernel(inline=True)
def hedge_due(net, unpaid):
    """What the deal owes a swap counterparty this period: a positive net amount plus the unpaid
    net payments carried forward (without interest)."""
    return fmax(net, 0.0) + unpaid


@kernel(inline=True)
def hedge_receipt(net):
    """What a hedge pays the deal this period (a negative net amount), added to interest funds at
    the top of the priority."""
    return fmax(-net, 0.0)


@kernel(inline=True)
def fee_base(basis, pool_beg, orig_pool, notes, interest):
    """The base a fee's rate applies to: the beginning pool balance, the original pool balance,
    the beginning note balance, or (a share of interest collections) 12 x this period's interest
    collections, so that ``rate / 12 x base`` is the share."""
    if basis == BASIS_POOL:
        return pool_beg
    if basis == BASIS_ORIGINAL:
        return orig_pool
    if basis == BASIS_NOTES:
        return notes
    return interest * 12.0


@kernel(inline=True)
def fee_due(rate, base, amount, pool_beg, arrears):
    """A fee's amount due: ``rate/12 x base`` plus this period's fixed or scheduled ``amount``,
    while there is a pool, plus the arrears carried forward (without interest)."""
    alive = 1.0 if pool_beg > 0.0 else 0.0  # fees accrue while there is a pool
    return (rate / 12.0 * base + amount) * alive + arrears


@kernel(inline=True)
def trigger_value(metric, cum_loss, orig_pool, pool_end, notes, delinq, interest, due):
    """A trigger's measured value, on numbers that include this period: cumulative loss / original
    pool, ending pool / beginning notes (OC), the scenario's 60+ delinquency, or interest
    collections / everything due (IC); a ratio over zero is infinite."""
    if metric == METRIC_CUM_LOSS:
        return cum_loss / orig_pool
    if metric == METRIC_OC:
        return pool_end / notes if notes > 0.0 else np.inf
    if metric == METRIC_DELINQ:
        return delinq
    return interest / due if due > 0.0 else np.inf


@kernel(inline=True)
def trigger_breached(value, threshold, below, curable, was):
    """1.0 if the trigger is breached this period, else 0.0: the value is beyond the threshold
    (below it when ``below``), or it was breached before and is not ``curable``."""
    hit = value < threshold if below else value > threshold
    if curable == 0:
        hit = hit | (was > 0.0)
    return 1.0 if hit else 0.0


@kernel(inline=True)
def pay(need, avail):
    """``(got, avail)``: what the available funds pay of ``need``, and the funds left."""
    got = fmin(need, avail)
    return got, avail - got


@kernel(inline=True)
def draw(need, got, balance):
    """What an account covering a step pays of the step's shortfall ``need - got`` (never negative,
    at most the account's ``balance``)."""
    d = fmin(need - got, balance)
    return d if d > 0.0 else 0.0


@kernel(inline=True)
def settle(left, got, need):
    """A group member's dues after the group was paid ``got`` of ``need``: reduced pro rata."""
    return left - (left * (got / need) if need > 0.0 else 0.0)


@kernel(inline=True)
def settle_one(left, got):
    """The dues of a group's only member after the group was paid ``got`` of them: what
    :func:`settle` gives when ``left`` is the group's whole need, without its division."""
    return left - got


@kernel(inline=True)
def principal_need(cap, paid, group):
    """A principal step's amount: its cap (collections, OC target, or unlimited) less the principal
    already paid this period, at most the group's balance."""
    return fmin(fmax(cap - paid, 0.0), group)


@kernel(inline=True)
def unlocked(x, locked):
    """A member's balance as a principal step sees it: 0 while the class is locked out of
    principal (CONVENTIONS R2.4.6), else ``x``."""
    return 0.0 if locked != 0.0 else x


@kernel(inline=True)
def above_plan(group, planned):
    """What a group may be paid in a step that pays it down to its planned balance (CONVENTIONS
    R2.4.4, step 1: ``max(0, balance - planned balance)``; a planned balance of 0 leaves the
    whole group)."""
    return fmax(group - planned, 0.0)


@kernel(inline=True)
def pro_rata_share(got, beginning, total):
    """A member's pro-rata share of ``got`` by beginning balances."""
    return got * beginning / total if total > 0.0 else 0.0


@kernel(inline=True)
def principal_pay(remaining, share, sequential, balance):
    """What a member is paid: the rest of the step's cash (sequential) or its share (pro rata), at
    most its balance and the cash remaining. Call again with ``share = remaining`` and
    ``sequential`` for what the caps left over, in priority order."""
    return fmin(fmin(remaining if sequential else share, balance), remaining)


@kernel(inline=True)
def oc_principal(pct, base, floor, notes, pool_end):
    """The principal distribution amount of an over-collateralisation target
    ``max(pct x base, floor)``: ``max(0, notes - max(0, pool - target))``."""
    target = fmax(pct * base, floor)
    return fmax(0.0, notes - fmax(0.0, pool_end - target))


@kernel(inline=True)
def reserve_target(fixed, amount, pct, base, floor, keep, notes):
    """A reserve account's target: a fixed ``amount``, or ``max(pct x base, floor)``; zero once the
    notes are paid unless ``keep``."""
    target = amount if fixed else fmax(pct * base, floor)
    return 0.0 if notes <= ZERO and keep == 0 else target


@kernel(inline=True)
def reserve_move(balance, target, avail):
    """``(deposit, release)`` that bring an account towards its target: deposit from available
    funds up to the target, release what is above it."""
    dep = fmin(avail, target - balance) if balance < target else 0.0
    rel = balance - target if balance > target else 0.0
    return dep, rel


@kernel(inline=True)
def uncovered(notes, cover):
    """What the note balance exceeds the collateral by (``cover``: the ending pool balance, plus
    the accounts when the deal writes down to both): the amount to write down."""
    return fmax(notes - cover, 0.0)


@kernel(inline=True)
def writedown(remaining, balance):
    """``(writedown, balance, remaining)``: a note written down by what the collateral does not
    cover, in reverse priority; a balance left below ``ZERO`` is written off with it."""
    wd = fmin(remaining, balance)
    remaining -= wd
    x = balance - wd
    if x < ZERO:
        return wd + x, 0.0, remaining
    return wd, x, remaining


@kernel(inline=True)
def carry(left):
    """An unpaid amount carried to the next period (below ``ZERO`` it counts as paid)."""
    return left if left >= ZERO else 0.0
