"""An independent, slow reference waterfall: plain Python, one period at a time, reading the deal
spec directly (names and dicts, no step table, no arrays). It follows the waterfall
conventions; nothing is shared with the kernel or its compiler."""

from __future__ import annotations

import calendar
import datetime as dt

from abs_engine.spec.structure import (
    FacilityStep,
    FeeStep,
    FloatingCoupon,
    HedgeNotional,
    HedgeStep,
    InterestStep,
    PrincipalStep,
    ReserveTarget,
    ResidualStep,
    SplitWaterfall,
)

ZERO = 1e-6


def _months_after(d: dt.date, k: int) -> dt.date:
    month = d.month - 1 + k
    year = d.year + month // 12
    month = month % 12 + 1
    return dt.date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def _thirty_360(d1: dt.date, d2: dt.date) -> int:
    """BMA SF E.1: February's last day and the 31st as D1 are the 30th; D2 = 31 is the 30th when D1
    is (then) the 30th."""
    day1 = 30 if d1.day == 31 or (d1.month == 2 and (d1 + dt.timedelta(1)).month == 3) else d1.day
    day2 = 30 if d2.day == 31 and day1 == 30 else d2.day
    return max(360 * (d2.year - d1.year) + 30 * (d2.month - d1.month) + day2 - day1, 0)


def _at(value, i):
    """Period ``i`` (0-based) of a number or a vector whose last value carries forward."""
    if isinstance(value, list | tuple):
        return float(value[min(i, len(value) - 1)])
    return float(value)


def _threshold(th, i):
    if isinstance(th, dict):
        periods = sorted(th)
        current = th[periods[0]]
        for p in periods:
            if p <= i + 1:
                current = th[p]
        return current
    return _at(th, i)


def run(deal, scenario, pool, n, planned=None):
    """``pool``: dict of per-period lists ``int_coll``, ``prin_coll``, ``loss``, ``pool_beg``,
    ``pool_end`` and (for WAC interest-only strips) ``net_coupon``, the beginning pool's net
    coupon. ``planned``: ``{schedule name: planned balance after each period}`` for principal
    steps with ``down_to`` (CONVENTIONS R2.4). Returns a list of per-period dicts."""
    notes = [t for t in deal.tranches if not t.residual]
    orig = pool["pool_beg"][0]
    bal = {t.name: t.balance for t in notes}
    short = {t.name: 0.0 for t in notes}
    arrears = {f.name: 0.0 for f in deal.fees}
    acct = {a.name: a.initial for a in deal.accounts}
    breached = {g.name: False for g in deal.triggers}
    priority = {t.name: t.priority for t in notes}
    tranche_of = {t.name: t for t in notes}
    listed = {t.name: k for k, t in enumerate(notes)}
    cum_loss = 0.0
    called = False
    accelerated = False
    acc = deal.acceleration
    if acc is not None and acc.priority is not None:
        acc_steps = list(acc.priority)
    elif acc is not None:  # R2.7.4: fees; each class in seniority order, interest then principal; the residual
        acc_steps = [FeeStep(pay="fees", fees=[f.name for f in deal.fees])] if deal.fees else []
        # then (R2.8.5's order) each swap's net payment and each facility's interest and repayment
        acc_steps += [HedgeStep(pay="hedge", hedge=h.name) for h in deal.hedges if h.type == "swap"]
        for f in deal.facilities:
            acc_steps += [FacilityStep(pay="facility_interest", facility=f.name),
                          FacilityStep(pay="facility_repayment", facility=f.name)]
        for t in sorted(notes, key=lambda t: t.priority):
            acc_steps.append(InterestStep(pay="interest", tranches=[t.name]))
            if t.notional is None:
                acc_steps.append(PrincipalStep(pay="principal", tranches=[t.name], amount="available"))
        acc_steps += [ResidualStep(pay="residual", tranche=t.name) for t in deal.tranches if t.residual]
    if isinstance(deal.waterfall, SplitWaterfall):
        steps = list(deal.waterfall.interest) + list(deal.waterfall.principal)
        principal_phase = len(deal.waterfall.interest)
    else:
        steps = list(deal.waterfall)
        principal_phase = None
    covers = {}
    for a in deal.accounts:
        for step_id in a.covers:
            covers.setdefault(step_id, []).append(a.name)
    facility_for = {}  # R2.8.4: the facilities drawn for a step, after its accounts
    for f in deal.facilities:
        for step_id in f.covers:
            facility_for.setdefault(step_id, []).append(f.name)
    hedge_unpaid = {h.name: 0.0 for h in deal.hedges}
    fac_unpaid = {f.name: 0.0 for f in deal.facilities}
    drawn = {f.name: 0.0 for f in deal.facilities}

    every = {"monthly": 1, "quarterly": 3, "semiannual": 6}[deal.payment_frequency]

    def date(i):
        """R2.1.1/R2.2: month ``i``'s date; payment date q is month every x q's."""
        return _months_after(deal.first_payment_date, i - every + 1)

    def accrual_start(i):
        """Where the accrual ending in month ``i`` starts: the previous payment date (``every`` months
        back) or, for the first payment, the closing date (or one payment before the first)."""
        if i - every < 0:
            return deal.closing_date or date(i - every)
        return date(i - every)

    def day_fraction(t, i):
        """CONVENTIONS R2.1.3-4: on a dated deal the period's year fraction by the day count."""
        if deal.first_payment_date is None:
            return every / 12.0
        start, end = accrual_start(i), date(i)
        if t.day_count == "30/360":
            return _thirty_360(start, end) / 360.0
        days = (end - start).days
        if t.day_count == "ACT/ACT ISDA":  # each day over its own year's length
            return sum(1.0 / (366.0 if calendar.isleap((start + dt.timedelta(k)).year) else 365.0)
                       for k in range(days))
        return days / (365.0 if t.day_count == "ACT/365F" else 360.0)

    def step_up(t, i):
        """CONVENTIONS R2.7.1: + by from period k (or the first period whose accrual starts on or
        after the date)."""
        up = t.step_up
        if up is None:
            return 0.0
        first = i - every + 1  # the payment's rate is set in its first month
        on = first + 1 >= up.from_period if up.from_period is not None else accrual_start(i) >= up.from_date
        return up.by if on else 0.0

    def index(name, i):
        """The index for the payment of month ``i``: the first month of its period's (R2.2)."""
        return _at(scenario.rates[name], i // every * every)

    def coupon(t, i):
        c = t.coupon
        if isinstance(c, FloatingCoupon):
            rate = index(c.index, i) + c.spread
            rate = max(rate, c.floor if c.floor is not None else 0.0)
            rate = min(rate, c.cap) if c.cap is not None else rate
            return rate + step_up(t, i)
        return c + step_up(t, i)

    out = []
    held = {}
    for i in range(n):
        live = 0.0 if called else 1.0
        if i % every == 0:  # R2.2: a collection period starts: its sums, and its beginning pool balance
            held = {"ic": 0.0, "pc": 0.0, "loss": 0.0, "beg": pool["pool_beg"][i] * live,
                    "net_coupon": pool["net_coupon"][i]}
        held["ic"] += pool["int_coll"][i] * live
        held["pc"] += pool["prin_coll"][i] * live
        held["loss"] += pool["loss"][i] * live
        if (i + 1) % every and i != n - 1:  # no payment: balances as they stand, nothing paid
            out.append({
                "tranches": {t.name: {"beginning_balance": bal[t.name],
                                      "coupon": coupon(t, i // every * every + every - 1)
                                      if t.strike is None else 0.0,
                                      "interest_due": 0.0, "accretion": 0.0, "notional": 0.0, "interest_paid": 0.0,
                                      "interest_shortfall": short[t.name], "principal_paid": 0.0, "writedown": 0.0,
                                      "ending_balance": bal[t.name]} for t in notes},
                "fees": {f.name: {"due": 0.0, "paid": 0.0, "shortfall": arrears[f.name]} for f in deal.fees},
                "accounts": {a.name: {"beginning": acct[a.name], "deposit": 0.0, "draw": 0.0, "release": 0.0,
                                      "target": float("nan"), "ending": acct[a.name]} for a in deal.accounts},
                "triggers": {g.name: (float("nan"), _threshold(g.threshold, i), breached[g.name])
                             for g in deal.triggers},
                "hedges": {h.name: {"payment_shortfall": hedge_unpaid[h.name]} for h in deal.hedges},
                "facilities": {f.name: {"commitment": f.commitment, "beginning_balance": drawn[f.name],
                                        "ending_balance": drawn[f.name],
                                        "interest_shortfall": fac_unpaid[f.name]} for f in deal.facilities},
                "residual": 0.0, "unallocated": 0.0, "call_proceeds": 0.0, "accelerated": accelerated})
            continue
        ic, pc, loss, pbeg = held["ic"], held["pc"], held["loss"], held["beg"]
        pend = pool["pool_end"][i] * live
        cum_loss += loss
        proceeds = 0.0
        call = deal.clean_up_call
        if call and scenario.exercise_call and not called and pend > 0:
            # any of: the clean-up level, the payment date on or after the call date, the trigger as
            # last tested (the previous period's: this period's tests come after the call)
            if (call.pct is not None and pend <= call.pct * orig) or (
                    call.date is not None and date(i) >= call.date) or (
                    call.when is not None and breached[call.when]):
                proceeds, pend, called = pend, 0.0, True
        rec = {"tranches": {}, "fees": {}, "accounts": {}, "triggers": {}}
        notes_beg = dict(bal)
        int_due, int_left, accreted, notional, rate = {}, {}, {}, {}, {}
        for t in notes:
            # R2.6: an IO class's coupon (a WAC strip: max(0, net coupon - strike)) on its notional
            if t.strike is not None:
                rate[t.name] = max(0.0, held["net_coupon"] - t.strike)
            else:
                rate[t.name] = coupon(t, i)
            if t.notional is None:
                notional[t.name] = 0.0
                base = notes_beg[t.name]
            else:
                base = pbeg if t.notional.pool else notes_beg[t.notional.tranche]
                notional[t.name] = base
            # R2.5: a Z class accrues while any class it directs its accretion to is outstanding
            accruing = t.accrual is not None and any(notes_beg[a] > 0 for a in t.accrual.directed_to)
            c = rate[t.name] * day_fraction(t, i)
            accreted[t.name] = notes_beg[t.name] * c if accruing else 0.0
            paid_c = 0.0 if accruing else c
            int_due[t.name] = base * paid_c + short[t.name] * (1 + (paid_c if t.interest_on_shortfall else 0.0))
            int_left[t.name] = int_due[t.name]
            bal[t.name] += accreted[t.name]
        moved = 0.0  # accretion cash moved to principal funds
        fee_due, fee_left = {}, {}
        for f in deal.fees:
            if f.interest_share is not None:
                current = f.interest_share * ic
            elif f.amount is not None:
                current = f.amount
            elif f.schedule is not None:
                current = f.schedule.get(i + 1, 0.0)
            else:
                base = {"pool_balance": pbeg, "original_pool_balance": orig,
                        "note_balance": sum(notes_beg.values())}[f.basis]
                current = f.rate * every / 12 * base
            fee_due[f.name] = (current if pbeg > 0 else 0.0) + arrears[f.name]
            fee_left[f.name] = fee_due[f.name]
        total_due = sum(int_due.values()) + sum(fee_due.values())
        # R2.8: hedges (while there is a pool) and facilities
        hedge_rec, fac_rec, receipts = {}, {}, 0.0
        swap_left, fac_left = {}, {}
        for h in deal.hedges:
            rate_now = index(h.index, i)
            if isinstance(h.notional, HedgeNotional):
                n_t = notes_beg[h.notional.tranche]
            elif isinstance(h.notional, tuple):
                n_t = float(h.notional[i]) if i < len(h.notional) else 0.0
            else:
                n_t = h.notional
            frac = day_fraction(h, i)
            if pbeg <= 0:
                net = 0.0
            elif h.type == "swap":
                net = n_t * (h.fixed - rate_now) * frac
            else:
                net = -n_t * max(0.0, rate_now - h.strike) * frac
            receipt = max(-net, 0.0)
            receipts += receipt
            swap_left[h.name] = max(net, 0.0) + hedge_unpaid[h.name]
            hedge_rec[h.name] = {"notional": n_t, "index_rate": rate_now, "net_amount": net,
                                 "payment_due": swap_left[h.name], "receipt": receipt}
        for f in deal.facilities:
            f_rate = max((index(f.index, i) if f.index else 0.0) + f.margin, 0.0)
            fac_left[f.name] = drawn[f.name] * f_rate * day_fraction(f, i) + fac_unpaid[f.name]
            fac_rec[f.name] = {"commitment": f.commitment, "rate": f_rate, "beginning_balance": drawn[f.name],
                               "interest_due": fac_left[f.name], "repayment": 0.0, "draw": 0.0}
        for g in deal.triggers:
            if g.metric == "cumulative_loss":
                v = cum_loss / orig
            elif g.metric == "overcollateralization":
                nb = sum(notes_beg.values())
                v = pend / nb if nb > 0 else float("inf")
            elif g.metric == "delinquency_60":
                v = _at(scenario.delinquency_60, i)
            else:
                v = ic / total_due if total_due > 0 else float("inf")
            thr = _threshold(g.threshold, i)
            hit = v < thr if g.direction == "below" else v > thr
            breached[g.name] = hit or (breached[g.name] and not g.curable)
            rec["triggers"][g.name] = (v, thr, breached[g.name])
        acct_rec = {a.name: {"beginning": acct[a.name], "deposit": 0.0, "draw": 0.0, "release": 0.0, "target": 0.0}
                    for a in deal.accounts}
        prin = {t.name: 0.0 for t in notes}
        # after an event of default (an earlier period): one pot, the post-acceleration priority (R2.7.3-4)
        acc_now = accelerated
        run_steps, phase = (acc_steps, None) if acc_now else (steps, principal_phase)
        avail = ic + receipts + (0.0 if phase is not None else pc + proceeds)
        paid_principal = 0.0
        residual = 0.0

        def draw(step, need, got, acct_rec=acct_rec, fac_rec=fac_rec):
            for name in covers.get(step.id, []):
                d = max(min(need - got, acct[name]), 0.0)
                acct[name] -= d
                acct_rec[name]["draw"] += d
                got += d
            for name in facility_for.get(step.id, []):
                commitment = next(f.commitment for f in deal.facilities if f.name == name)
                d = max(min(need - got, commitment - drawn[name]), 0.0)
                drawn[name] += d
                fac_rec[name]["draw"] += d
                got += d
            return got

        def dues(step, fee_left=fee_left, int_left=int_left, swap_left=swap_left, fac_left=fac_left):
            """The amounts a step pays that carry forward when unpaid, by name (fees, interest, a
            swap's net payment, a facility's interest)."""
            if step.pay == "fees":
                return fee_left, step.fees
            if step.pay == "interest":
                return int_left, step.tranches
            if step.pay == "hedge":
                return swap_left, [step.hedge]
            return fac_left, [step.facility]

        def target_of(a, pend=pend, bal=bal):
            if isinstance(a.target, ReserveTarget):
                base = pend if a.target.basis == "pool_balance" else orig
                target = max(a.target.pct * base, a.target.floor)
            else:
                target = a.target
            return 0.0 if sum(bal.values()) <= ZERO and not a.keep_after_notes_paid else target

        for k, step in enumerate(run_steps):
            if k == phase:
                avail += pc + proceeds + moved
            if (step.when is not None and not breached[step.when]) or (step.unless is not None
                                                                       and breached[step.unless]):
                continue  # the step does not apply this period
            if step.pay == "transfer":
                x = acct[step.from_account]
                if step.amount == "to_target":
                    to = next(a for a in deal.accounts if a.name == step.to_account)
                    x = min(x, max(target_of(to) - acct[step.to_account], 0.0))
                acct[step.from_account] -= x
                acct[step.to_account] += x
                acct_rec[step.from_account]["draw"] += x
                acct_rec[step.to_account]["deposit"] += x
            elif step.pay == "facility_repayment":
                got = min(drawn[step.facility], avail)
                avail -= got
                drawn[step.facility] -= got
                fac_rec[step.facility]["repayment"] += got
            elif step.pay in ("fees", "interest", "hedge", "facility_interest"):
                left, names = dues(step)
                need = sum(left[m] for m in names)
                got = min(need, avail)
                avail -= got
                got = draw(step, need, got)
                for m in names:
                    left[m] -= left[m] * (got / need) if need > 0 else 0.0
            elif step.pay == "accretion":
                got = min(accreted[step.tranche], avail)
                avail -= got
                moved += got
                if phase is None or k >= phase:
                    avail += got
            elif step.pay == "principal":
                group = sorted(step.tranches, key=lambda m: priority[m])
                # R2.4.6: a class locked out (period < lockout) takes no part in the step
                locked = {m for m in group if (lk := tranche_of[m].lockout) is not None and i + 1 < lk}
                if step.amount == "collections":
                    cap = pc + proceeds + moved
                elif step.amount == "accretion":
                    cap = moved
                elif step.amount == "available":
                    cap = float("inf")
                else:
                    oc = deal.overcollateralization
                    pct = oc.pct
                    sd = oc.step_down
                    if sd and i + 1 >= sd.period and not (sd.unless and breached[sd.unless]):
                        pct = sd.pct
                    target = max(pct * (orig if oc.basis == "original_pool_balance" else pend), oc.floor)
                    cap = max(0.0, sum(notes_beg.values()) - max(0.0, pend - target))
                open_ = [m for m in group if m not in locked]
                payable = sum(bal[m] for m in open_)
                if step.down_to is not None:  # R2.4.4: only down to the planned balance
                    payable = max(0.0, payable - planned[step.down_to][i])
                need = min(max(cap - paid_principal, 0.0), payable)
                got = min(need, avail)
                avail -= got
                got = draw(step, need, got)
                paid_principal += got
                sequential = step.allocation == "sequential" or (step.sequential_if and breached[step.sequential_if])
                weight = sum(notes_beg[m] for m in open_)
                rem = got
                if step.groups is not None:  # bond groups: each group's allotment, then inside it
                    open_ = []
                    for g in step.groups:
                        members = [m for m in sorted(g, key=lambda m: priority[m]) if m not in locked]
                        open_ += members
                        g_beg = sum(notes_beg[m] for m in members)
                        share = rem if sequential else (got * g_beg / weight if weight > 0 else 0.0)
                        a = min(share, sum(bal[m] for m in members), rem)
                        rem -= a
                        left = a
                        for m in members:
                            if step.within == "sequential":
                                share = left
                            else:
                                share = a * notes_beg[m] / g_beg if g_beg > 0 else 0.0
                            p = min(share, bal[m], left)
                            bal[m] -= p
                            prin[m] += p
                            left -= p
                        for m in members if step.within == "pro_rata" else []:
                            p = min(left, bal[m])
                            bal[m] -= p
                            prin[m] += p
                            left -= p
                        rem += left
                for m in open_ if step.groups is None else []:
                    share = rem if sequential else (got * notes_beg[m] / weight if weight > 0 else 0.0)
                    p = min(share, bal[m], rem)
                    bal[m] -= p
                    prin[m] += p
                    rem -= p
                for m in open_:
                    p = min(rem, bal[m])
                    bal[m] -= p
                    prin[m] += p
                    rem -= p
            elif step.pay == "reserve":
                a = next(x for x in deal.accounts if x.name == step.account)
                target = target_of(a)
                x = acct[a.name]
                dep = min(avail, target - x) if x < target else 0.0
                rel = x - target if x > target else 0.0
                acct[a.name] = x + dep - rel
                avail += rel - dep
                acct_rec[a.name]["deposit"] += dep
                acct_rec[a.name]["release"] += rel
                acct_rec[a.name]["target"] = target
            else:  # the residual is paid only after every fee and interest still unpaid, in step order
                for earlier in run_steps[:k]:
                    if earlier.pay in ("fees", "interest", "hedge", "facility_interest"):
                        left, names = dues(earlier)
                        need = sum(left[m] for m in names)
                        got = min(need, avail)
                        avail -= got
                        for m in names:
                            left[m] -= left[m] * (got / need) if need > 0 else 0.0
                residual += avail
                avail = 0.0
        if acc is not None and not accelerated:  # events of default, before writedowns (R2.7.2)
            top = min(t.priority for t in notes)
            events = acc.events
            if events.senior_interest_shortfall and any(int_left[t.name] >= ZERO for t in notes if t.priority == top):
                accelerated = True
            now = sum(bal.values())
            if events.oc_below is not None and now > 0 and pend / now < events.oc_below:
                accelerated = True
            if any(breached[g] for g in events.triggers):
                accelerated = True
        cover = pend + (sum(acct.values()) if deal.writedown_to == "pool_balance_plus_accounts" else 0.0)
        rem = max(sum(bal.values()) - cover, 0.0) if deal.writedown_to != "none" else 0.0
        writedown = {}
        for t in sorted(notes, key=lambda t: (-t.priority, -listed[t.name])):
            w = min(rem, bal[t.name])
            rem -= w
            x = bal[t.name] - w
            if x < ZERO:
                w += x
                x = 0.0
            bal[t.name] = x
            writedown[t.name] = w
        for t in notes:
            short[t.name] = int_left[t.name] if int_left[t.name] >= ZERO else 0.0
            rec["tranches"][t.name] = {
                "beginning_balance": notes_beg[t.name], "coupon": rate[t.name], "interest_due": int_due[t.name],
                "accretion": accreted[t.name], "notional": notional[t.name],
                "interest_paid": int_due[t.name] - int_left[t.name], "interest_shortfall": short[t.name],
                "principal_paid": prin[t.name], "writedown": writedown[t.name], "ending_balance": bal[t.name]}
        for f in deal.fees:
            arrears[f.name] = fee_left[f.name] if fee_left[f.name] >= ZERO else 0.0
            rec["fees"][f.name] = {"due": fee_due[f.name], "paid": fee_due[f.name] - fee_left[f.name],
                                   "shortfall": arrears[f.name]}
        for a in deal.accounts:
            rec["accounts"][a.name] = {**acct_rec[a.name], "ending": acct[a.name]}
        rec["hedges"], rec["facilities"] = {}, {}
        for h in deal.hedges:
            hedge_unpaid[h.name] = swap_left[h.name] if swap_left[h.name] >= ZERO else 0.0
            due = hedge_rec[h.name]["payment_due"]
            rec["hedges"][h.name] = {**hedge_rec[h.name], "payment_paid": due - swap_left[h.name],
                                     "payment_shortfall": hedge_unpaid[h.name]}
        for f in deal.facilities:
            fac_unpaid[f.name] = fac_left[f.name] if fac_left[f.name] >= ZERO else 0.0
            due = fac_rec[f.name]["interest_due"]
            rec["facilities"][f.name] = {**fac_rec[f.name], "interest_paid": due - fac_left[f.name],
                                         "interest_shortfall": fac_unpaid[f.name], "ending_balance": drawn[f.name]}
        rec["residual"] = residual
        rec["unallocated"] = avail
        rec["call_proceeds"] = proceeds
        rec["accelerated"] = acc_now
        out.append(rec)
    return out
