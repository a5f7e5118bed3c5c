"""CMO classes (CONVENTIONS R2.4-R2.6): planned (PAC/TAC) and support classes, lockouts, accrual
(Z) and accretion-directed classes, interest-only and principal-only classes. Hand-calculated
periods (the calculation is in each test), properties at any constant speed, the PAC schedule
against the collateral oracle, and one clear error for each bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import abs_engine as ae
from abs_engine.engine.summaries import summarize
from abs_engine.kernels import summaries as KS
from abs_engine.results.analytics import price_from_yield

from ..oracles import collateral as reference_collateral

AGENCY = {"asset_type": "mortgage", "rep_lines": [
    {"balance": 100_000_000, "wac": 0.07, "net_coupon": 0.065, "wam": 358, "age": 2, "original_term": 360}]}
CMO = "tranches/agency_cmo.yaml"


def _tranche(res, name, column):
    return res.tranches.xs(name, level="tranche")[column].to_numpy()


def _zero_rate_pool(balance=400.0, wam=4):
    """0% loans: each month's scheduled principal is balance / wam, no interest."""
    return {"rep_lines": [{"balance": balance, "wac": 0.0, "wam": wam}]}


# ---------------------------------------------------------------- planned classes (R2.4)

def test_planned_class_hand_calculated():
    # pool 400 at 0%, 4 months: 100 of principal a month. P (200) is paid down to its planned
    # balance 170, 140, 100, 0; then the support S; then P again (R2.4.4):
    # month 1: P takes 200-170 = 30, S the other 70 (S 130);  month 2: P 30 (140), S 70 (60);
    # month 3: P 40 (100), S 60 (0);  month 4: P takes 100-0 = 100 (0).
    deal = {"name": "pac", "collateral": _zero_rate_pool(), "schedules": {"plan": {"balances": [170, 140, 100, 0]}},
            "tranches": [{"name": "P", "balance": 200, "priority": 1}, {"name": "S", "balance": 200, "priority": 2}],
            "waterfall": [{"pay": "principal", "tranches": ["P"], "down_to": "plan"},
                          {"pay": "principal", "tranches": ["S"]}, {"pay": "principal", "tranches": ["P"]}]}
    res = ae.run(deal, {})
    np.testing.assert_allclose(_tranche(res, "P", "principal_paid"), [30, 30, 40, 100], atol=1e-9)
    np.testing.assert_allclose(_tranche(res, "S", "principal_paid"), [70, 70, 60, 0], atol=1e-9)
    planned = res.planned
    np.testing.assert_allclose(planned["planned_balance"], [170, 140, 100, 0])
    assert planned["on_schedule"].all()


def test_a_pac_behind_schedule_is_reported_off_schedule():
    # the same deal at 0% with 50 of principal a month (8 months): month 1 pays P 30 (170), S 20;
    # month 2 P 30 (140), S 20; month 3: P needs 40 but takes the 50 (100), S 10...: on schedule
    # while the support pays; with planned balances falling by 60 a month P falls behind in month 1.
    deal = {"name": "pac", "collateral": _zero_rate_pool(400.0, 8),
            "schedules": {"plan": {"balances": [140, 80, 20, 0]}},
            "tranches": [{"name": "P", "balance": 200, "priority": 1}, {"name": "S", "balance": 200, "priority": 2}],
            "waterfall": [{"pay": "principal", "tranches": ["P"], "down_to": "plan"},
                          {"pay": "principal", "tranches": ["S"]}, {"pay": "principal", "tranches": ["P"]}]}
    planned = ae.run(deal, {}).planned
    # P: 200 - 50 = 150 > 140 planned: off schedule from month 1 (R2.4.7: |balance - planned| > 1e-6)
    assert not planned["on_schedule"].iloc[0]
    np.testing.assert_allclose(planned["balance"].iloc[:4], [150, 100, 50, 0])


def test_pac_schedule_is_the_minimum_of_the_collar_speeds_principal():
    # R2.4.1-2 with the collateral oracle: P_t(s) = scheduled + prepaid principal at constant PSA s,
    # no defaults; S_t = min(P_t(100), P_t(300)); PAC_0 = sum S_t; PB_t = PAC_0 - cumulative S
    loan = {"balance": 100_000_000.0, "rate": 0.07, "net_rate": 0.065, "remaining_term": 358, "age": 2,
            "amortization": "level", "balloon_month": 0, "status": "current"}
    principal = []
    for psa in (100, 300):
        f = reference_collateral.project_loan(loan, {"prepay": {"psa": psa}, "default": {"cdr": 0.0},
                                                      "severity": 0.0, "recovery_lag": 0, "advancing": True}, 358)
        principal.append(np.asarray(f["scheduled_principal"]) + np.asarray(f["prepayment"]))
    expected = np.minimum(*principal)
    s = ae.pac_schedule(AGENCY, 100, 300)
    np.testing.assert_allclose(s["scheduled_principal"], expected, rtol=1e-10, atol=1e-6)
    assert s.attrs["original_balance"] == pytest.approx(expected.sum(), rel=1e-12)
    np.testing.assert_allclose(s["planned_balance"], np.maximum(expected.sum() - np.cumsum(expected), 0.0),
                               rtol=1e-10, atol=1e-5)


@settings(max_examples=10, deadline=None)
@given(st.lists(st.floats(100.0, 300.0), min_size=1, max_size=6))
def test_pac_on_schedule_at_any_constant_speed_inside_its_collar(speeds):
    # R2.4.5: inside the collar the PACs' balance equals the planned balance every month
    res = ae.run(CMO, [{"name": f"s{k}", "prepay": {"psa": s}} for k, s in enumerate(speeds)], progress=False)
    planned = res.planned
    assert planned["on_schedule"].all()
    err = (planned["balance"] - planned["planned_balance"]).abs().max()
    assert err <= 1e-6


def test_pac_off_schedule_outside_its_collar_and_the_effective_collar():
    res = ae.run(CMO, [{"name": "slow", "prepay": {"psa": 60}}, {"name": "fast", "prepay": {"psa": 600}}])
    off = ~res.planned["on_schedule"]
    assert off.xs("slow", level="scenario").any() and off.xs("fast", level="scenario").any()
    lo, hi = ae.effective_collar(CMO, "pac")
    assert lo <= 100.0 and hi >= 300.0
    at = ae.run(CMO, [{"name": "below", "prepay": {"psa": lo - 1.0}}, {"name": "above", "prepay": {"psa": hi + 1.0}}])
    assert not at.planned["on_schedule"].all()


def test_tac_at_its_speed_follows_its_target():
    # R2.4.3 and R2.4.5: TB_t = TAC_0 x B_t(s) / B_0; at speed s the TAC's balance is TB_t every month
    deal = {"name": "tac", "collateral": AGENCY, "schedules": {"tac": {"tac": 150}},
            "tranches": [{"name": "T", "balance": 60e6, "coupon": 0.06, "priority": 1},
                         {"name": "S", "balance": 40e6, "coupon": 0.065, "priority": 2}],
            "waterfall": {"interest": [{"pay": "interest", "tranches": ["T", "S"]}],
                          "principal": [{"pay": "principal", "tranches": ["T"], "down_to": "tac"},
                                        {"pay": "principal", "tranches": ["S"]},
                                        {"pay": "principal", "tranches": ["T"]}]}}
    res = ae.run(deal, {"prepay": {"psa": 150}})
    pool_end = res.pool["performing_balance"].to_numpy()
    np.testing.assert_allclose(_tranche(res, "T", "ending_balance"), 60e6 * pool_end / 100e6, rtol=1e-10, atol=1e-6)
    assert res.planned["on_schedule"].all()
    assert not ae.run(deal, {"prepay": {"psa": 400}}).planned["on_schedule"].all()


def test_lockout_hand_calculated_and_never_paid_before_its_period():
    # 0% pool of 400 over 4 months (100 a month); A (200, lockout 3) and B (200) sequential:
    # months 1-2 A is locked out: B takes 100 + 100 (0); months 3-4 A takes 100 + 100
    deal = {"name": "lockout", "collateral": _zero_rate_pool(),
            "tranches": [{"name": "A", "balance": 200, "priority": 1, "lockout": 3},
                         {"name": "B", "balance": 200, "priority": 2}],
            "waterfall": [{"pay": "principal", "tranches": ["A", "B"]}]}
    res = ae.run(deal, {})
    np.testing.assert_allclose(_tranche(res, "A", "principal_paid"), [0, 0, 100, 100], atol=1e-9)
    np.testing.assert_allclose(_tranche(res, "B", "principal_paid"), [100, 100, 0, 0], atol=1e-9)


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 40), st.floats(0.0, 600.0), st.sampled_from(["sequential", "pro_rata"]))
def test_no_principal_to_a_locked_out_class(lockout, psa, allocation):
    deal = {"name": "lockout", "collateral": AGENCY,
            "tranches": [{"name": "A", "balance": 50e6, "coupon": 0.06, "priority": 1, "lockout": lockout},
                         {"name": "B", "balance": 50e6, "coupon": 0.06, "priority": 2}],
            "waterfall": [{"pay": "interest", "tranches": ["A", "B"]},
                          {"pay": "principal", "tranches": ["A", "B"], "allocation": allocation}]}
    res = ae.run(deal, {"prepay": {"psa": psa}})
    assert (_tranche(res, "A", "principal_paid")[: lockout - 1] == 0.0).all()
    assert res.check()[["cash", "principal"]].abs().to_numpy().max() <= 1e-6


# ---------------------------------------------------------------- accrual classes (R2.5)

def _z_deal(extra_steps=()):
    return {"name": "z", "collateral": {"rep_lines": [{"balance": 1_200_000, "wac": 0.12, "wam": 360}]},
            "tranches": [{"name": "A", "balance": 600_000, "coupon": 0.06, "priority": 1},
                         {"name": "Z", "balance": 600_000, "coupon": 0.12, "priority": 2,
                          "accrual": {"directed_to": ["A"]}},
                         {"name": "R", "residual": True}],
            "waterfall": {"interest": [{"pay": "interest", "tranches": ["A", "Z"]},
                                       {"pay": "accretion", "tranche": "Z"}],
                          "principal": [*extra_steps, {"pay": "principal", "tranches": ["A", "Z"]},
                                        {"pay": "residual", "tranche": "R"}]}}


def test_z_class_hand_calculated_first_period():
    # pool 1,200,000 at 12%, 360 months, no prepayment: interest 12,000; level payment
    # P r / (1 - (1 + r)^-n) with r = 0.01, n = 360, so principal = payment - 12,000.
    # A's interest 600,000 x 6%/12 = 3,000; Z accretes 600,000 x 12%/12 = 6,000 (no interest paid);
    # the accretion's cash, 6,000, moves from interest funds to principal funds: A is paid
    # principal + 6,000; the residual gets 12,000 - 3,000 - 6,000 = 3,000; Z ends at 606,000.
    r, n = 0.01, 360
    principal = 1_200_000 * r / (1 - (1 + r) ** -n) - 12_000
    res = ae.run(_z_deal(), {})
    t = res.tranches.loc[1]
    assert t.loc["A", "interest_paid"] == pytest.approx(3_000, abs=1e-9)
    assert t.loc["Z", "interest_due"] == 0.0 and t.loc["Z", "accretion"] == pytest.approx(6_000, abs=1e-9)
    assert t.loc["A", "principal_paid"] == pytest.approx(principal + 6_000, abs=1e-6)
    assert t.loc["Z", "ending_balance"] == pytest.approx(606_000, abs=1e-9)
    assert res.cash.loc[1, "residual_paid"] == pytest.approx(3_000, abs=1e-6)


@settings(max_examples=15, deadline=None)
@given(st.floats(0.0, 800.0))
def test_z_accretes_its_coupon_while_accruing_and_classes_sum_to_the_pool(psa):
    res = ae.run(_z_deal(), {"prepay": {"psa": psa}})
    a_beg = _tranche(res, "A", "beginning_balance")
    z_beg = _tranche(res, "Z", "beginning_balance")
    accretion = _tranche(res, "Z", "accretion")
    accruing = a_beg > 0.0
    np.testing.assert_allclose(accretion[accruing], 0.12 / 12 * z_beg[accruing], rtol=1e-14)
    assert (accretion[~accruing] == 0.0).all() and (_tranche(res, "Z", "interest_due")[accruing] == 0.0).all()
    # R2.5.5: no losses, so the classes' balances add up to the pool's every period
    notes = _tranche(res, "A", "ending_balance") + _tranche(res, "Z", "ending_balance")
    np.testing.assert_allclose(notes, res.pool["ending_balance"].to_numpy(), rtol=1e-11, atol=1e-6)
    assert res.check()[["cash", "principal"]].abs().to_numpy().max() <= 1e-6


def test_accretion_directed_class_paid_from_accretion_only():
    # a VADM-style class V (first principal step, amount: accretion) takes the accretion only:
    # period 1 moves 6,000 of accretion, which V takes; A takes the pool's principal
    deal = _z_deal()
    deal["tranches"].insert(0, {"name": "V", "balance": 100_000, "coupon": 0.0, "priority": 1})
    deal["tranches"][1]["balance"] = 500_000
    deal["tranches"][1]["priority"] = 2
    deal["tranches"][2]["priority"] = 3
    deal["tranches"][2]["accrual"] = {"directed_to": ["V", "A"]}
    deal["waterfall"]["principal"] = [{"pay": "principal", "tranches": ["V"], "amount": "accretion"},
                                      {"pay": "principal", "tranches": ["A", "Z"]},
                                      {"pay": "residual", "tranche": "R"}]
    deal["waterfall"]["interest"][0]["tranches"] = ["V", "A", "Z"]
    res = ae.run(deal, {})
    t = res.tranches.loc[1]
    assert t.loc["V", "principal_paid"] == pytest.approx(6_000, abs=1e-9)
    assert t.loc["A", "principal_paid"] == pytest.approx(1_200_000 * 0.01 / (1 - 1.01 ** -360) - 12_000, abs=1e-6)


# ---------------------------------------------------------------- interest-only and principal-only (R2.6)

def test_interest_only_classes_hand_calculated():
    # pool 1,200,000 at 12% net; A (1,200,000, 5%); IO-A 1% on A's notional: 1,200,000 x 1%/12 =
    # 1,000; WAC strip on the pool, strike 10%: (12% - 10%)/12 x 1,200,000 = 2,000
    deal = {"name": "io", "collateral": {"rep_lines": [{"balance": 1_200_000, "wac": 0.12, "wam": 360}]},
            "tranches": [{"name": "A", "balance": 1_200_000, "coupon": 0.05, "priority": 1},
                         {"name": "IO-A", "notional": {"tranche": "A"}, "coupon": 0.01, "priority": 2},
                         {"name": "WAC", "notional": {"pool": True}, "strike": 0.10, "priority": 3}],
            "waterfall": [{"pay": "interest", "tranches": ["A", "IO-A", "WAC"]},
                          {"pay": "principal", "tranches": ["A"]}]}
    res = ae.run(deal, {})
    t = res.tranches.loc[1]
    assert t.loc["IO-A", "interest_paid"] == pytest.approx(1_000, abs=1e-9)
    assert t.loc["IO-A", "notional"] == 1_200_000
    assert t.loc["WAC", "coupon"] == pytest.approx(0.02, abs=1e-15)
    assert t.loc["WAC", "interest_paid"] == pytest.approx(2_000, abs=1e-9)
    # the IO's notional follows A's beginning balance; an IO has no balance
    np.testing.assert_allclose(_tranche(res, "IO-A", "notional"), _tranche(res, "A", "beginning_balance"))
    assert (_tranche(res, "IO-A", "ending_balance") == 0.0).all()


def test_wac_strip_reads_the_beginning_pools_net_coupon():
    # two rep lines: 60 at 6.5% net and 40 at 6% net: month 1's net coupon is
    # (60 x 6.5% + 40 x 6%) / 100 = 6.3%; strike 5.5%: the strip's rate is 0.8%
    pool = {"rep_lines": [{"balance": 60e6, "wac": 0.07, "net_coupon": 0.065, "wam": 358},
                          {"balance": 40e6, "wac": 0.065, "net_coupon": 0.06, "wam": 120}]}
    deal = {"name": "strip", "collateral": pool,
            "tranches": [{"name": "A", "balance": 100e6, "coupon": 0.05, "priority": 1},
                         {"name": "X", "notional": {"pool": True}, "strike": 0.055, "priority": 2}],
            "waterfall": [{"pay": "interest", "tranches": ["A", "X"]}, {"pay": "principal", "tranches": ["A"]}]}
    for summary_only in (False, True):
        res = ae.run(deal, [{"name": "a", "prepay": {"psa": 150}}, {"name": "b", "prepay": {"psa": 400}}],
                     summary_only=summary_only, progress=False)
        if not summary_only:
            x = res.tranches.xs("X", level="tranche")
            assert x.loc[("a", 1), "coupon"] == pytest.approx(0.008, abs=1e-15)
            assert x.loc[("a", 1), "interest_paid"] == pytest.approx(0.008 / 12 * 100e6, rel=1e-13)
            full = res.summary()
        else:
            np.testing.assert_allclose(res.summary()["total_interest"], full["total_interest"], rtol=1e-12)


def test_io_yields_reach_deeply_negative():
    # R2.6.4: priced per 100 of initial notional; at a high speed an IO bought at 5 loses most of
    # its price: the yield is far below -99% and the solver finds it (down to -199%)
    deal = {"name": "io", "collateral": AGENCY,
            "tranches": [{"name": "A", "balance": 100e6, "coupon": 0.05, "priority": 1},
                         {"name": "IO", "notional": {"tranche": "A"}, "coupon": 0.015, "priority": 2}],
            "waterfall": [{"pay": "interest", "tranches": ["A", "IO"]}, {"pay": "principal", "tranches": ["A"]}]}
    res = ae.run(deal, {"prepay": {"psa": 3000}})
    a = res.analytics(price={"A": 100.0, "IO": 20.0})
    y = float(a.loc["IO", "yield"])
    assert -1.99 < y < -0.99
    cf = res.tranche_cash_flows()[0, 1]
    assert price_from_yield(cf, y) == pytest.approx(20.0, rel=1e-9)
    # the summary kernel's yield search (abs_engine.kernels.summaries) reaches it too
    stats, _extra = summarize(ae.compile_deal(ae.load_deal(deal), [ae.load_scenario({"prepay": {"psa": 3000}})]),
                              price=20.0)
    assert stats[KS.S_YIELD, 0, 1] == pytest.approx(y, abs=1e-9)


def test_po_class_is_a_zero_coupon_principal_class():
    deal = {"name": "po", "collateral": AGENCY,
            "tranches": [{"name": "PO", "balance": 100e6, "coupon": 0.0, "priority": 1},
                         {"name": "IO", "notional": {"tranche": "PO"}, "coupon": 0.065, "priority": 2}],
            "waterfall": [{"pay": "interest", "tranches": ["IO"]}, {"pay": "principal", "tranches": ["PO"]}]}
    res = ae.run(deal, {"prepay": {"psa": 150}})
    assert (_tranche(res, "PO", "interest_paid") == 0.0).all()
    np.testing.assert_allclose(_tranche(res, "PO", "principal_paid").sum(), 100e6, rtol=1e-12)
    # the IO takes the whole net coupon: IO interest = net interest collected, every period
    np.testing.assert_allclose(_tranche(res, "IO", "interest_paid"), res.pool["net_interest"].to_numpy(),
                               rtol=1e-12, atol=1e-6)


def test_the_agency_cmo_example_summaries_equal_the_full_run():
    from ..results.test_scale_and_plots import assert_same_summaries

    deck = [{"name": f"psa{p}", "prepay": {"psa": p}} for p in (50, 150, 250, 500)]
    assert_same_summaries(ae.run(CMO, deck, summary_only=True, progress=False), ae.run(CMO, deck))


# ---------------------------------------------------------------- bad input: one clear error each

def _base(**changes):
    deal = {"name": "bad", "collateral": _zero_rate_pool(),
            "tranches": [{"name": "A", "balance": 200, "priority": 1}, {"name": "B", "balance": 200, "priority": 2}],
            "waterfall": [{"pay": "interest", "tranches": ["A", "B"]}, {"pay": "principal", "tranches": ["A", "B"]}]}
    deal.update(changes)
    return deal


@pytest.mark.parametrize("changes, field, expected", [
    ({"schedules": {"p": {"pac": {"low": 300, "high": 100}}}}, "schedules.p.pac.low", "below the high speed"),
    ({"schedules": {"p": {"pac": {"low": 100, "high": 100}}}}, "schedules.p.pac.low", "below the high speed"),
    ({"schedules": {"p": {"balances": [100, -1]}}}, "schedules.p.balances[1]", "amount >= 0"),
    ({"schedules": {"p": {"balances": []}}}, "schedules.p.balances", "at least one planned balance"),
    ({"schedules": {"p": {"pac": {"low": 100, "high": 300}, "tac": 150}}}, "schedules.p", "exactly one of"),
])
def test_bad_schedules(changes, field, expected):
    with pytest.raises(ae.SpecError) as e:
        ae.load_deal(_base(**changes))
    assert field in str(e.value) and expected in str(e.value)


def test_a_schedule_longer_than_the_pool_or_bigger_than_its_collar():
    deal = _base(schedules={"p": {"balances": [190, 150, 100, 50, 0]}})
    deal["waterfall"][1]["down_to"] = "p"
    with pytest.raises(ae.SpecError, match=r"schedules\.p\.balances.*at most one planned balance per period"):
        ae.run(deal, {})
    big = {"name": "big", "collateral": AGENCY, "schedules": {"pac": {"pac": {"low": 100, "high": 300}}},
           "tranches": [{"name": "P", "balance": 90e6, "priority": 1}, {"name": "S", "balance": 10e6, "priority": 2}],
           "waterfall": [{"pay": "principal", "tranches": ["P"], "down_to": "pac"},
                         {"pay": "principal", "tranches": ["S", "P"]}]}
    with pytest.raises(ae.SpecError, match=r"schedules\.pac\.pac.*covers the planned classes' original balance"):
        ae.run(big, {})


def _with_z(accrual, steps=({"pay": "accretion", "tranche": "B"},)):
    deal = _base()
    deal["tranches"][1]["accrual"] = accrual
    deal["waterfall"] = [deal["waterfall"][0], *steps, deal["waterfall"][1]]
    return deal


@pytest.mark.parametrize("deal, field, expected", [
    (_base(waterfall=[{"pay": "principal", "tranches": ["A"], "down_to": "nope"}]), "waterfall[0].down_to",
     "a schedule defined in schedules"),
    (_with_z({"directed_to": []}), "tranches[1].accrual.directed_to", "at least one accretion-directed class"),
    (_with_z({"directed_to": ["B"]}), "tranches[1].accrual.directed_to[0]", "cannot direct its accretion to itself"),
    (_with_z({"directed_to": ["C"]}), "tranches[1].accrual.directed_to[0]", "a class of notes defined in tranches"),
    (_with_z({"directed_to": ["A"]}, steps=()), "tranches[1].accrual", "a Z class with an accretion step"),
    (_base(waterfall=[{"pay": "accretion", "tranche": "A"}]), "waterfall[0].tranche", "an accrual (Z) class"),
    (_base(tranches=[{"name": "A", "balance": 200, "priority": 1, "accrual": {"directed_to": ["B"]}},
                     {"name": "B", "balance": 200, "priority": 2, "accrual": {"directed_to": ["A"]}}],
           waterfall=[{"pay": "accretion", "tranche": "A"}, {"pay": "accretion", "tranche": "B"}]),
     "tranches", "accretion directions without a cycle"),
    (_base(tranches=[{"name": "A", "balance": 200, "priority": 1},
                     {"name": "X", "notional": {"tranche": "Q"}, "coupon": 0.01, "priority": 2}],
           waterfall=[{"pay": "interest", "tranches": ["X"]}]), "tranches[1].notional.tranche",
     "another class with a balance"),
    (_base(tranches=[{"name": "X", "notional": {"tranche": "A"}, "balance": 5, "priority": 1}]),
     "tranches[0].balance", "0 for an interest-only class"),
    (_base(tranches=[{"name": "X", "strike": 0.05, "priority": 1}]), "tranches[0].strike", "WAC strip only"),
    (_base(tranches=[{"name": "A", "balance": 200, "priority": 1},
                     {"name": "X", "notional": {"tranche": "A"}, "coupon": 0.01, "priority": 2}],
           waterfall=[{"pay": "principal", "tranches": ["A", "X"]}]), "waterfall[0].tranches[1]",
     "an interest-only class has none"),
    (_base(waterfall=[{"pay": "principal", "tranches": ["A"], "amount": "accretion"}]), "waterfall[0].amount",
     "an accrual (Z) class in the deal"),
])
def test_bad_cmo_classes(deal, field, expected):
    with pytest.raises(ae.SpecError) as e:
        ae.load_deal(deal)
    assert field in str(e.value) and expected in str(e.value), str(e.value)


# ---------------------------------------------------------------- acceleration and no writedowns (R2.7.2-5)

def _accelerating(**changes):
    deal = {"name": "acc", "collateral": {"rep_lines": [{"balance": 100e6, "wac": 0.06, "net_coupon": 0.055,
                                                         "wam": 120}]},
            "fees": [{"name": "trustee", "rate": 0.001}],
            "triggers": [{"name": "cnl", "metric": "cumulative_loss", "threshold": 0.05, "curable": False}],
            "tranches": [{"name": "A", "balance": 70e6, "coupon": 0.04, "priority": 1},
                         {"name": "B", "balance": 20e6, "coupon": 0.07, "priority": 2},
                         {"name": "C", "balance": 10e6, "coupon": 0.09, "priority": 3},
                         {"name": "R", "residual": True}],
            "acceleration": {"events": {"oc_below": 1.0}},
            "waterfall": {"interest": [{"pay": "fees", "fees": ["trustee"]},
                                       {"pay": "interest", "tranches": ["A"]}, {"pay": "interest", "tranches": ["B"]},
                                       {"pay": "interest", "tranches": ["C"]}],
                          "principal": [{"pay": "principal", "tranches": ["A", "B", "C"], "allocation": "pro_rata"},
                                        {"pay": "residual", "tranche": "R"}]}}
    deal.update(changes)
    return deal


def test_acceleration_from_the_period_after_the_event_hand_calculated():
    # A 0% pool of 300 over 3 months; A 150 and B 150 paid pro rata; no interest. The OC event is
    # tested after the period's principal, before writedowns; the post-acceleration priority (A
    # first, until retired) applies from the next month; the deal writes nothing down.
    deal = {"name": "acc", "collateral": {"rep_lines": [{"balance": 300.0, "wac": 0.0, "wam": 3}]},
            "tranches": [{"name": "A", "balance": 150, "priority": 1}, {"name": "B", "balance": 150, "priority": 2}],
            "acceleration": {"events": {"oc_below": 1.0}},
            "writedown_to": "none",
            "waterfall": [{"pay": "principal", "tranches": ["A", "B"], "allocation": "pro_rata"}]}
    # month 1 at 10% MDR, severity 100%, no lag: defaults 30 (lost), the rest (270) pays 90 of
    # scheduled principal: A and B get 45 each (105 left each); pool 180 < notes 210: the event.
    # Month 2 (accelerated, one pot, A first until retired): principal 90 of the 180 left: A 90 (15
    # left); month 3: ... no writedowns, so unpaid principal stays outstanding (R2.7.5).
    res = ae.run(deal, {"default": {"mdr": 0.1}, "severity": 1.0, "recovery_lag": 0})
    np.testing.assert_allclose(res.cash["accelerated"], [0.0, 1.0, 1.0])
    a, b = _tranche(res, "A", "principal_paid"), _tranche(res, "B", "principal_paid")
    np.testing.assert_allclose([a[0], b[0]], [45.0, 45.0], atol=1e-9)
    month2 = res.pool.loc[2, ["scheduled_principal", "prepayment", "recovery"]].sum()
    assert a[1] == pytest.approx(month2, abs=1e-9) and b[1] == 0.0
    assert (_tranche(res, "A", "writedown") == 0.0).all() and (_tranche(res, "B", "writedown") == 0.0).all()
    assert _tranche(res, "B", "ending_balance")[-1] > 0.0  # never written down: outstanding at the end


@settings(max_examples=20, deadline=None)
@given(st.floats(0.0, 0.3), st.floats(0.0, 0.3), st.sampled_from([{"oc_below": 1.0},
                                                                    {"senior_interest_shortfall": True},
                                                                    {"triggers": ["cnl"]}]))
def test_after_an_event_of_default_no_junior_principal_while_a_senior_class_is_outstanding(cpr, cdr, events):
    res = ae.run(_accelerating(acceleration={"events": events}),
                 {"prepay": {"cpr": cpr}, "default": {"cdr": cdr}, "severity": 0.5, "recovery_lag": 0})
    acc = res.cash["accelerated"].to_numpy()
    assert (np.diff(acc) >= 0).all()  # not curable: once accelerated, for good
    beg = {n: _tranche(res, n, "beginning_balance") for n in "ABC"}
    prin = {n: _tranche(res, n, "principal_paid") for n in "ABC"}
    for senior, junior in (("A", "B"), ("A", "C"), ("B", "C")):
        # in an accelerated period, a junior class is paid principal only once the senior is retired
        end_senior = beg[senior] - prin[senior]
        assert (prin[junior][(acc > 0) & (end_senior > 1e-6)] == 0.0).all()
    assert res.check()[["cash", "principal"]].abs().to_numpy().max() <= 1e-6


def test_bad_acceleration():
    with pytest.raises(ae.SpecError, match=r"acceleration\.events\.triggers\[0\].*a trigger defined in triggers"):
        ae.load_deal(_accelerating(acceleration={"events": {"triggers": ["nope"]}}))
    with pytest.raises(ae.SpecError, match=r"acceleration\.events.*at least one of"):
        ae.load_deal(_accelerating(acceleration={"events": {}}))
    with pytest.raises(ae.SpecError, match=r"writedown_to.*none"):
        ae.load_deal(_accelerating(writedown_to="never"))
