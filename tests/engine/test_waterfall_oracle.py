"""The waterfall kernel against tests/oracles/waterfall.py on random deals and scenarios
(hypothesis), with triggers, reserve draws, writedowns, calls and both waterfall forms; and the
properties every run keeps."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import abs_engine as ae
from abs_engine.engine.waterfall import pool_inputs
from abs_engine.vocabulary import KERNEL_COLUMNS

from ..oracles import waterfall as reference_waterfall
from ..strategies import scenarios

# random deals put notes of 50-130% of the pool on purpose: the under-collateralized warning is expected
pytestmark = pytest.mark.filterwarnings("ignore::abs_engine.errors.SpecWarning")

POOL = KERNEL_COLUMNS["pool"]

NAMES = ["S1", "S2", "M", "J"]
DAY_COUNTS = ["30/360", "ACT/360", "ACT/365F", "ACT/ACT ISDA"]


@st.composite
def deals(draw):
    pool = draw(st.floats(1e6, 1e8))
    wam = draw(st.integers(6, 48))
    # notes paid every 1, 3 or 6 months from the monthly pool (CONVENTIONS R2.2); the deal's months
    # run to the end of its last collection period
    frequency = draw(st.sampled_from(["monthly", "monthly", "monthly", "quarterly", "semiannual"]))
    step = {"monthly": 1, "quarterly": 3, "semiannual": 6}[frequency]
    months = -(-wam // step) * step
    wac = draw(st.floats(0.02, 0.15))
    n = draw(st.integers(1, 4))
    weights = draw(st.lists(st.floats(0.05, 1.0), min_size=n, max_size=n))
    size = draw(st.floats(0.6, 1.05)) * pool / sum(weights)
    priorities = sorted(draw(st.lists(st.integers(1, n), min_size=n, max_size=n)))
    notes = []
    for k in range(n):
        coupon = draw(st.one_of(
            st.floats(0.0, 0.12),
            st.builds(lambda s, cap, floor: {"index": "SOFR", "spread": s, **cap, **floor}, st.floats(0.0, 0.03),
                      st.sampled_from([{}, {"cap": 0.09}]), st.sampled_from([{}, {"floor": 0.01}]))))
        notes.append({"name": NAMES[k], "balance": weights[k] * size, "coupon": coupon, "priority": priorities[k],
                      "day_count": draw(st.sampled_from(DAY_COUNTS)),
                      "interest_on_shortfall": draw(st.booleans())})
        step_up = draw(st.one_of(  # a step-up from a period or a date (on, before or after a period's start)
            st.none(), st.builds(lambda by, p: {"by": by, "from_period": p}, st.floats(0.0, 0.03), st.integers(1, 60)),
            st.builds(lambda by, d: {"by": by, "from_date": d}, st.floats(0.0, 0.03),
                      st.sampled_from(["2026-01-07", "2026-02-15", "2026-03-16", "2026-07-15", "2027-01-01"]))))
        if step_up is not None:
            notes[-1]["step_up"] = step_up
    if draw(st.booleans()):  # a class locked out of principal for its first periods (CONVENTIONS R2.4.6)
        notes[draw(st.integers(0, n - 1))]["lockout"] = draw(st.integers(1, 24))
    zs = []
    if draw(st.booleans()):  # an accrual (Z) class, most junior, accreting to some of the notes (R2.5)
        directed = draw(st.lists(st.sampled_from([t["name"] for t in notes]), min_size=1, unique=True))
        zs.append({"name": "Z", "balance": draw(st.floats(0.05, 0.5)) * size, "coupon": draw(st.floats(0.0, 0.12)),
                   "priority": n + 1, "accrual": {"directed_to": directed}})
    ios = []
    if draw(st.booleans()):  # an interest-only class on a note's notional or the pool's, or a WAC strip (R2.6)
        kind = draw(st.sampled_from(["tranche", "pool", "strip"]))
        io = {"name": "IO", "priority": n + 2}
        if kind == "tranche":
            io |= {"notional": {"tranche": draw(st.sampled_from([t["name"] for t in notes]))},
                   "coupon": draw(st.floats(0.0, 0.03))}
        elif kind == "pool":
            io |= {"notional": {"pool": True}, "coupon": draw(st.floats(0.0, 0.02))}
        else:
            io |= {"notional": {"pool": True}, "strike": draw(st.floats(0.0, 0.12))}
        ios.append(io)
    residual = draw(st.booleans())
    tranches = notes + zs + ios + ([{"name": "R", "residual": True}] if residual else [])
    fees = [draw(st.one_of(st.builds(lambda r: {"rate": r}, st.floats(0, 0.02)),
                           st.builds(lambda a: {"amount": a}, st.floats(0, pool * 1e-3)),
                           st.builds(lambda s: {"interest_share": s}, st.floats(0, 0.2)),
                           st.builds(lambda sch: {"schedule": sch},  # one-off and scheduled fees
                                     st.dictionaries(st.integers(1, 60), st.floats(0, pool * 1e-2), min_size=1,
                                                     max_size=4)))) | {"name": f"fee{k}"}
            for k in range(draw(st.integers(0, 2)))]
    split = draw(st.booleans())
    per_note = draw(st.booleans())
    paid = notes + zs + ios
    interest_steps = [{"id": "int-all", "pay": "interest", "tranches": [t["name"] for t in paid]}] if not per_note \
        else [{"id": f"int-{t['name']}", "pay": "interest", "tranches": [t["name"]]} for t in paid]
    if zs:
        interest_steps.append({"pay": "accretion", "tranche": "Z"})
    triggers = []
    for k in range(draw(st.integers(0, 2))):
        metric = draw(st.sampled_from(["cumulative_loss", "overcollateralization", "delinquency_60",
                                       "interest_coverage"]))
        lo, hi = {"cumulative_loss": (0.0, 0.1), "overcollateralization": (0.9, 1.2), "delinquency_60": (0.0, 0.1),
                  "interest_coverage": (0.5, 3.0)}[metric]
        threshold = draw(st.one_of(st.floats(lo, hi), st.builds(lambda a, b: {1: a, 7: b}, st.floats(lo, hi),
                                                                  st.floats(lo, hi)),
                                   st.lists(st.floats(lo, hi), min_size=months, max_size=months)))
        triggers.append({"name": f"trig{k}", "metric": metric, "threshold": threshold, "curable": draw(st.booleans())})
    oc = draw(st.one_of(st.none(), st.fixed_dictionaries({
        "pct": st.floats(0.0, 0.1), "basis": st.sampled_from(["pool_balance", "original_pool_balance"]),
        "floor": st.floats(0, pool * 0.01)})))
    if oc is not None and draw(st.booleans()):
        oc["step_down"] = {"period": draw(st.integers(1, wam)), "pct": draw(st.floats(0.0, 0.1)),
                           "unless": draw(st.sampled_from([None] + [t["name"] for t in triggers]))}
    amounts = ["collections", "available"] + (["oc_target"] if oc else []) + (["accretion"] if zs else [])
    names = [t["name"] for t in notes + zs]
    cut = draw(st.integers(1, len(names)))
    groups = [names[:cut], names[cut:]] if cut < len(names) and draw(st.booleans()) else [names]
    principal_steps = [{"pay": "principal", "tranches": g, "amount": draw(st.sampled_from(amounts)),
                        "allocation": draw(st.sampled_from(["sequential", "pro_rata"])),
                        "sequential_if": draw(st.sampled_from([None] + [t["name"] for t in triggers]))}
                       for g in groups]
    if len(names) > 1 and draw(st.booleans()):  # bond groups: pro rata across, sequential inside, or the reverse
        split = draw(st.integers(1, len(names) - 1))
        step = principal_steps[0]
        principal_steps[0] = {k: v for k, v in step.items() if k != "tranches"} | {
            "groups": [names[:split], names[split:]], "within": draw(st.sampled_from(["sequential", "pro_rata"]))}
        principal_steps[1:] = []
    trigger_names = [t["name"] for t in triggers]
    if triggers and draw(st.booleans()):  # a turbo step only while a trigger is breached (control: when)
        principal_steps.append({"pay": "principal", "tranches": names, "amount": "available",
                                "when": draw(st.sampled_from(trigger_names))})
    deferred = []
    if triggers and per_note and draw(st.booleans()):  # a class's interest deferred while a trigger is breached
        step = draw(st.sampled_from(interest_steps[:len(paid)]))
        step["unless"] = draw(st.sampled_from(trigger_names))
        deferred.append({"pay": "interest", "tranches": list(step["tranches"])})
    schedules = {}
    if draw(st.booleans()):  # the first group paid down to a planned balance, then the rest, then it again (R2.4.4)
        first = principal_steps[0].get("tranches") or [n for g in principal_steps[0]["groups"] for n in g]
        start = sum(t["balance"] for t in notes + zs if t["name"] in first)
        drops = draw(st.lists(st.floats(0.0, 0.2), min_size=1, max_size=wam))
        schedules["plan"] = {"balances": [start * max(0.0, 1.0 - sum(drops[: k + 1])) for k in range(len(drops))]}
        principal_steps = [{**principal_steps[0], "down_to": "plan"}] + principal_steps[1:] + \
            [{"pay": "principal", "tranches": first, "amount": draw(st.sampled_from(amounts))}]
    accounts = []
    tail = []
    if draw(st.booleans()):
        target = draw(st.one_of(st.floats(0, pool * 0.03), st.fixed_dictionaries({
            "pct": st.floats(0, 0.05), "basis": st.sampled_from(["pool_balance", "original_pool_balance"]),
            "floor": st.floats(0, pool * 0.005)})))
        ids = [s["id"] for s in interest_steps if "id" in s] + (["fees"] if fees else [])
        accounts.append({"name": "reserve", "initial": draw(st.floats(0, pool * 0.03)), "target": target,
                         "covers": draw(st.lists(st.sampled_from(ids), unique=True)),
                         "keep_after_notes_paid": draw(st.booleans())})
        tail.append({"pay": "reserve", "account": "reserve"})
        if draw(st.booleans()):  # a second account, fed by a transfer from the first
            accounts.append({"name": "second", "initial": draw(st.floats(0, pool * 0.01)),
                             "target": draw(st.floats(0, pool * 0.02))})
            tail.append({"pay": "transfer", "from_account": "reserve", "to_account": "second",
                         "amount": draw(st.sampled_from(["to_target", "all"])),
                         "when": draw(st.sampled_from([None] + trigger_names))})
    if residual:
        tail.append({"pay": "residual", "tranche": "R"})
    head = [{"id": "fees", "pay": "fees", "fees": [f["name"] for f in fees]}] if fees else []
    hedges, facilities = [], []  # CONVENTIONS R2.8: a swap, a cap bought, a liquidity facility
    if draw(st.booleans()):
        notional = draw(st.one_of(st.builds(lambda t: {"tranche": t}, st.sampled_from([t["name"] for t in notes])),
                                  st.floats(0, pool), st.lists(st.floats(0, pool), min_size=1, max_size=wam + 2)))
        hedges.append({"name": "swap", "type": "swap", "index": "SOFR", "fixed": draw(st.floats(0.0, 0.08)),
                       "notional": notional, "day_count": draw(st.sampled_from(DAY_COUNTS))})
        head.append({"pay": "hedge", "hedge": "swap"})
    if draw(st.booleans()):
        hedges.append({"name": "cap", "type": "cap", "index": "SOFR", "strike": draw(st.floats(0.0, 0.08)),
                       "notional": draw(st.floats(0, pool))})
    if draw(st.booleans()):
        ids = [s["id"] for s in interest_steps if "id" in s] + (["fees"] if fees else [])
        facilities.append({"name": "lf", "commitment": draw(st.floats(0, pool * 0.05)),
                           "covers": draw(st.lists(st.sampled_from(ids), min_size=1, unique=True)),
                           "index": draw(st.sampled_from([None, "SOFR"])), "margin": draw(st.floats(0.0, 0.03))})
        head += [{"pay": "facility_interest", "facility": "lf"}, {"pay": "facility_repayment", "facility": "lf"}]
    interest = head + interest_steps
    waterfall = {"interest": interest, "principal": principal_steps + deferred + tail} if split else \
        interest + principal_steps + deferred + tail
    deal = {"name": "random", "closing_date": "2026-01-07", "first_payment_date": "2026-02-15",
            "collateral": {"rep_lines": [{"balance": pool, "wac": wac, "net_coupon": wac * 0.9, "wam": wam}]},
            "tranches": tranches, "fees": fees, "accounts": accounts, "triggers": triggers, "hedges": hedges,
            "facilities": facilities,
            "overcollateralization": oc, "waterfall": waterfall, "schedules": schedules,
            "writedown_to": draw(st.sampled_from(["pool_balance", "pool_balance_plus_accounts", "none"])),
            "payment_frequency": frequency}
    if draw(st.booleans()):  # acceleration after an event of default (CONVENTIONS R2.7.2-4)
        events = {"senior_interest_shortfall": draw(st.booleans())}
        if draw(st.booleans()) or not events["senior_interest_shortfall"]:
            # (off the simple fractions a level-pay pool's ratios land on exactly, where a last bit decides)
            events["oc_below"] = draw(st.floats(0.8, 1.2)) + 3.1e-7
        if triggers and draw(st.booleans()):
            events["triggers"] = [draw(st.sampled_from([t["name"] for t in triggers]))]
        deal["acceleration"] = {"events": events}
        if draw(st.booleans()):  # the deal's own priority: fees, all notes' interest pro rata, then principal
            deal["acceleration"]["priority"] = [{"pay": "fees", "fees": [f["name"] for f in fees]}] * bool(fees) + [
                s for s in head if s["pay"] in ("hedge", "facility_interest", "facility_repayment")] + [
                {"pay": "interest", "tranches": [t["name"] for t in paid]},
                {"pay": "principal", "tranches": names, "amount": "available",
                 "allocation": draw(st.sampled_from(["sequential", "pro_rata"]))}] + (
                [{"pay": "residual", "tranche": "R"}] if residual else [])
    if draw(st.booleans()):  # a call at a pool factor, a date or a trigger's breach, or several
        call = {"pct": draw(st.none() | st.floats(0.02, 0.3)),
                "date": draw(st.none() | st.sampled_from(["2026-04-15", "2026-06-10", "2027-01-15"])),
                "when": draw(st.none() | st.sampled_from(trigger_names)) if triggers else None}
        call = {k: v for k, v in call.items() if v is not None}
        deal["clean_up_call"] = call or {"pct": 0.1}
    return deal


def waterfall_scenarios():
    return st.builds(lambda s, sofr, dq, call: {**s, "rates": {"SOFR": sofr}, "delinquency_60": dq,
                                                  "exercise_call": call},
                     scenarios(), st.one_of(st.floats(0.0, 0.08), st.lists(st.floats(0.0, 0.08), min_size=1,
                                                                            max_size=12)),
                     st.one_of(st.floats(0.0, 0.1), st.lists(st.floats(0.0, 0.1), min_size=1, max_size=12)),
                     st.booleans())


def _close(a, b, what):
    if np.isnan(b):  # (not computed: a reserve's target between payment dates)
        assert np.isnan(a), f"{what}: engine {a!r} vs reference {b!r}"
        return
    assert abs(a - b) <= 1e-9 * max(abs(a), abs(b)) + 1e-6, f"{what}: engine {a!r} vs reference {b!r}"


@given(deals(), waterfall_scenarios())
def test_kernel_matches_reference_waterfall(deal_dict, scen_dict):
    deal, scen = ae.load_deal(deal_dict), ae.load_scenario(scen_dict)
    res = ae.run(deal, scen)
    pool = {k: v[0].tolist() for k, v in pool_inputs(res.flows, *res.program.start_balances).items()}
    # the beginning pool's net coupon (R2.6.2): the one rep line's, while it has a performing balance
    performing = [res.program.start_balances[0]] + res.flows[0, :-1, POOL["performing_balance"]].tolist()
    pool["net_coupon"] = [deal.collateral.rep_lines[0].net_coupon if b > 0 else 0.0 for b in performing]
    planned = {name: [float(x.balances[min(i, len(x.balances) - 1)]) for i in range(res.n_periods)]
               for name, x in deal.schedules.items()}
    ref = reference_waterfall.run(deal, scen, pool, res.n_periods, planned)
    tr, fe, ac, tg, cash, hx, fx = res.tranches, res.fees, res.accounts, res.triggers, res.cash, res.hedges, \
        res.facilities
    for i in range(int(res.last_period[0])):
        p = i + 1
        for name, row in ref[i]["tranches"].items():
            for col, value in row.items():
                _close(tr.loc[(p, name), col], value, f"period {p} {name} {col}")
        for name, row in ref[i]["fees"].items():
            for col, value in row.items():
                _close(fe.loc[(p, name), col], value, f"period {p} fee {name} {col}")
        for name, row in ref[i]["accounts"].items():
            for col, key in (("beginning_balance", "beginning"), ("deposit", "deposit"), ("draw", "draw"),
                             ("release", "release"), ("ending_balance", "ending"), ("target", "target")):
                _close(ac.loc[(p, name), col], row[key], f"period {p} account {name} {col}")
        for name, (value, threshold, breached) in ref[i]["triggers"].items():
            if np.isfinite(value):
                _close(tg.loc[(p, name), "value"], value, f"period {p} trigger {name}")
            assert tg.loc[(p, name), "breached"] == breached, f"period {p} trigger {name}"
            _close(tg.loc[(p, name), "threshold"], threshold, f"period {p} threshold {name}")
        _close(cash.loc[p, "residual_paid"], ref[i]["residual"], f"period {p} residual")
        _close(cash.loc[p, "unallocated"], ref[i]["unallocated"], f"period {p} unallocated")
        _close(cash.loc[p, "call_proceeds"], ref[i]["call_proceeds"], f"period {p} call")
        assert cash.loc[p, "accelerated"] == float(ref[i]["accelerated"]), f"period {p} accelerated"
        for table, frame in (("hedges", hx), ("facilities", fx)):
            for name, row in ref[i][table].items():
                for col, value in row.items():
                    _close(frame.loc[(p, name), col], value, f"period {p} {table} {name} {col}")


@given(deals(), waterfall_scenarios())
def test_properties_on_random_deals(deal_dict, scen_dict):
    res = ae.run(deal_dict, scen_dict)
    # conservation every period: cash and principal
    assert res.check()[["cash", "principal"]].abs().to_numpy().max() <= 1e-6
    tr = res.tranches
    # no negative balance, payment or carried amount anywhere
    assert (tr.drop(columns="coupon") >= -1e-9).all().all()
    assert (res.fees >= -1e-9).all().all()
    assert (res.accounts.fillna(0.0) >= -1e-9).all().all()  # (a target is set on payment dates only: NaN between)
    assert (res.hedges.drop(columns=["index_rate", "net_amount"]) >= -1e-9).all().all()
    assert (res.facilities >= -1e-9).all().all()
    # a facility is drawn only up to its commitment
    assert (res.facilities["ending_balance"] <= res.facilities["commitment"] + 1e-6).all()
    # a non-curable trigger never un-breaches
    for g in res.deal.triggers:
        series = res.triggers.xs(g.name, level="trigger")["breached"].to_numpy()
        if not g.curable:
            assert (np.diff(series.astype(int)) >= 0).all()
    # the residual never receives cash while an interest shortfall or fee arrear is unpaid
    paid_residual = res.cash["residual_paid"] > 1e-9
    short = tr["interest_shortfall"].groupby(level="period").sum()
    for table, col in (("fees", "shortfall"), ("hedges", "payment_shortfall"), ("facilities", "interest_shortfall")):
        if len(getattr(res.deal, table)):  # unpaid fees, net swap payments and facility interest too
            short = short + getattr(res, table)[col].groupby(level="period").sum()
    assert (short[paid_residual.to_numpy()] <= 1e-6).all()


@given(st.lists(st.floats(1e4, 1e6), min_size=2, max_size=4), st.floats(0.0, 0.5), st.integers(6, 36))
def test_pro_rata_shares_proportional_to_beginning_balances(balances, cpr, wam):
    names = NAMES[: len(balances)]
    deal = {"name": "pro-rata", "collateral": {"rep_lines": [{"balance": sum(balances) * 1.1, "wac": 0.05,
                                                               "net_coupon": 0.05, "wam": wam}]},
            "tranches": [{"name": n, "balance": b, "coupon": 0.0, "priority": k + 1}
                         for k, (n, b) in enumerate(zip(names, balances, strict=True))],
            "waterfall": [{"pay": "principal", "tranches": names, "allocation": "pro_rata"}]}
    tr = ae.run(deal, {"prepay": {"cpr": cpr}}).tranches
    for period, rows in tr.groupby(level="period"):
        rows = rows.droplevel("period")
        if (rows["ending_balance"] > 0).all():  # no cap bound: every share exactly proportional
            ratio = rows["principal_paid"] / rows["beginning_balance"]
            assert ratio.max() - ratio.min() <= 1e-12, period


@settings(max_examples=4)  # each random deal is a new structure: its period is generated and compiled (~5-8 s);
# the features are also compared one structure each (test_control.py, test_hedges.py, test_cmo_classes.py)
@given(deals(), st.lists(waterfall_scenarios(), min_size=1, max_size=3))
def test_summary_only_equals_the_full_run_on_random_deals(deal_dict, scen_dicts):
    """The fused summary kernel (collateral, the deal's generated period, running sums) gives the
    full run's summaries on any deal: the generated code and the interpreter agree."""
    from ..results.test_scale_and_plots import assert_same_summaries

    deck = [{**s, "name": f"s{k}"} for k, s in enumerate(scen_dicts)]
    assert_same_summaries(ae.run(deal_dict, deck, summary_only=True, progress=False), ae.run(deal_dict, deck))
