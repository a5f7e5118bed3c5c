"""Hand-calculated waterfall periods: each expected number is worked out in the comment above it."""

from __future__ import annotations

import json

import numpy as np
import pytest

import abs_engine as ae
from abs_engine.compile.waterfall import DealState, compile_waterfall, initial_state
from abs_engine.engine.waterfall import pool_inputs, run_waterfall
from abs_engine.servicing.state import _State

LEVEL_12 = 1e6 * 0.005 / (1 - 1.005 ** -12)  # level payment, 1,000,000 at 6% over 12 months = 86,066.40


def deal(tranches, waterfall, pool=None, **extra):
    """A dated deal with regular periods (the 15th to the 15th: every 30/360 period is exactly
    1/12, CONVENTIONS R2.1.4), so hand calculations accrue coupon / 12."""
    return {"name": "hand", "closing_date": "2026-01-15", "first_payment_date": "2026-02-15",
            "collateral": {"rep_lines": [pool or {"balance": 1e6, "wac": 0.06, "wam": 12}]},
            "tranches": tranches, "waterfall": waterfall, **extra}


AB = [{"name": "A", "balance": 800_000, "coupon": 0.04, "priority": 1},
      {"name": "B", "balance": 200_000, "coupon": 0.06, "priority": 2},
      {"name": "R", "residual": True}]
AB0 = [{**t, "coupon": 0.0} if not t.get("residual") else t for t in AB]  # zero coupons: principal only
SEQUENTIAL = [{"pay": "fees", "fees": ["trustee"]},
              {"pay": "interest", "tranches": ["A"]}, {"pay": "interest", "tranches": ["B"]},
              {"pay": "principal", "tranches": ["A", "B"]}, {"pay": "residual", "tranche": "R"}]


def test_sequential_period_one_by_hand():
    res = ae.run(deal(AB, SEQUENTIAL, fees=[{"name": "trustee", "amount": 100}]), {})
    t = res.tranches.loc[1]
    # available: interest 1e6 x 6%/12 = 5,000 + scheduled principal 86,066.40 - 5,000 = 81,066.40
    # fee 100; A interest 800,000 x 4%/12 = 2,666.67; B interest 200,000 x 6%/12 = 1,000
    assert t.loc["A", "interest_paid"] == pytest.approx(800_000 * 0.04 / 12)
    assert t.loc["B", "interest_paid"] == pytest.approx(1_000.0)
    # principal: the collections, 81,066.40, all to A (sequential)
    assert t.loc["A", "principal_paid"] == pytest.approx(LEVEL_12 - 5_000)
    assert t.loc["A", "ending_balance"] == pytest.approx(800_000 - (LEVEL_12 - 5_000))
    assert t.loc["B", "principal_paid"] == 0.0
    # residual: 5,000 - 100 - 2,666.67 - 1,000 = 1,233.33
    assert t.loc["R", "residual_paid"] == pytest.approx(5_000 - 100 - 800_000 * 0.04 / 12 - 1_000)
    assert res.fees.loc[(1, "trustee"), "paid"] == 100.0


def test_reserve_covers_interest_then_shortfall_carries():
    # no pool interest (WAC 0): the interest priority has nothing; the reserve (10,000) covers A's interest
    reserve = [{"name": "reserve", "initial": 10_000, "target": 10_000, "covers": ["a-int"]}]
    waterfall = {"interest": [{"id": "a-int", "pay": "interest", "tranches": ["A"]}],
                 "principal": [{"pay": "principal", "tranches": ["A"]}, {"pay": "reserve", "account": "reserve"},
                               {"pay": "residual", "tranche": "R"}]}
    tranches = [{"name": "A", "balance": 1e6, "coupon": 0.06, "priority": 1}, {"name": "R", "residual": True}]
    res = ae.run(deal(tranches, waterfall, pool={"balance": 1e6, "wac": 0.0, "wam": 12}, accounts=reserve), {})
    a, acct = res.tranches.xs("A", level="tranche"), res.accounts.xs("reserve", level="account")
    # period 1: due 1e6 x 0.5% = 5,000, all drawn; principal 1e6/12 = 83,333.33 to A; nothing to refill
    assert acct.loc[1, "draw"] == pytest.approx(5_000)
    assert a.loc[1, "interest_paid"] == pytest.approx(5_000)
    # period 2: due 916,666.67 x 0.5% = 4,583.33, drawn; reserve 416.67 left
    assert acct.loc[2, "draw"] == pytest.approx(4_583.333333)
    # period 3: due 833,333.33 x 0.5% = 4,166.67; 416.67 drawn; 3,750 carried
    assert acct.loc[3, "draw"] == pytest.approx(416.666667)
    assert a.loc[3, "interest_shortfall"] == pytest.approx(3_750)
    # period 4: due 750,000 x 0.5% + 3,750 carried = 7,500; nothing to pay it with
    assert a.loc[4, "interest_due"] == pytest.approx(7_500)
    assert a.loc[4, "interest_shortfall"] == pytest.approx(7_500)


def test_losses_write_down_in_reverse_priority():
    # pool 1e6, WAC 0, 10 months; MDR 10% in month 1 at severity 100%, lag 0: loss 100,000.
    # scheduled principal (1e6 - 100,000)/10 = 90,000 -> A. Pool ends at 810,000; notes 710,000 + 200,000
    # = 910,000: the 100,000 above the pool is written off B, the junior. (Zero coupons: in a combined
    # waterfall note interest would otherwise be paid out of these principal collections first.)
    res = ae.run(deal(AB0, SEQUENTIAL[1:], pool={"balance": 1e6, "wac": 0.0, "wam": 10}),
                 {"default": {"mdr": [0.1, 0.0]}, "severity": 1.0, "advancing": False})
    t = res.tranches.loc[1]
    assert t.loc["A", "principal_paid"] == pytest.approx(90_000)
    assert t.loc["B", "writedown"] == pytest.approx(100_000)
    assert t.loc["A", "writedown"] == 0.0
    assert t.loc["B", "ending_balance"] == pytest.approx(100_000)


def test_pro_rata_until_the_loss_trigger_then_sequential():
    waterfall = [{"pay": "interest", "tranches": ["A", "B"]},
                 {"pay": "principal", "tranches": ["A", "B"], "allocation": "pro_rata", "sequential_if": "loss"},
                 {"pay": "residual", "tranche": "R"}]
    trig = [{"name": "loss", "metric": "cumulative_loss", "threshold": 0.05, "curable": False}]
    pool = {"balance": 1e6, "wac": 0.0, "wam": 10}
    # no losses: 100,000 principal shared 80/20 by beginning balances
    calm = ae.run(deal(AB0, waterfall, pool=pool, triggers=trig), {}).tranches.loc[1]
    assert calm.loc["A", "principal_paid"] == pytest.approx(80_000)
    assert calm.loc["B", "principal_paid"] == pytest.approx(20_000)
    # 10% loss in month 1 > 5%: breached in that same period, so principal 90,000 all goes to A
    hit = ae.run(deal(AB0, waterfall, pool=pool, triggers=trig),
                 {"default": {"mdr": [0.1, 0.0]}, "severity": 1.0, "advancing": False})
    assert hit.triggers.loc[(1, "loss"), "value"] == pytest.approx(0.1)
    assert bool(hit.triggers.loc[(1, "loss"), "breached"])
    assert hit.tranches.loc[(1, "A"), "principal_paid"] == pytest.approx(90_000)
    assert hit.tranches.loc[(1, "B"), "principal_paid"] == 0.0
    assert hit.triggers.xs("loss", level="trigger")["breached"].all()  # not curable


def test_oc_target_principal_distribution_amount():
    # pool 1e6 at 6% over 12 months; notes 950,000 at 5%; OC target 10% of the current pool.
    # pool ends at 1e6 - 81,066.40 = 918,933.60; target 91,893.36; PDA = 950,000 - (918,933.60 - 91,893.36)
    # = 122,959.76; available 86,066.40 - interest 950,000 x 5%/12 = 3,958.33 -> 82,108.07 paid (capped)
    tranches = [{"name": "A", "balance": 950_000, "coupon": 0.05, "priority": 1}, {"name": "R", "residual": True}]
    waterfall = [{"pay": "interest", "tranches": ["A"]},
                 {"pay": "principal", "tranches": ["A"], "amount": "oc_target"}, {"pay": "residual", "tranche": "R"}]
    res = ae.run(deal(tranches, waterfall, overcollateralization={"pct": 0.10, "basis": "pool_balance"}), {})
    assert res.tranches.loc[(1, "A"), "principal_paid"] == pytest.approx(LEVEL_12 - 950_000 * 0.05 / 12)
    assert res.cash.loc[1, "residual_paid"] == 0.0
    # once the OC is built the PDA is what keeps it at target: notes = 90% of the pool afterwards
    late = res.tranches.xs("A", level="tranche")
    pool = res.pool["ending_balance"]
    built = late["ending_balance"] <= 0.9 * pool + 1e-6
    assert built.iloc[-3:].all()


def test_act360_and_floating_coupon_by_hand():
    # closing 2026-01-07 -> first payment 2026-02-15: 39 days; then 28 days to 2026-03-15
    # SOFR 5%, 10%, 0% + 1% spread, cap 8%, floor 2% -> coupons 6%, 8%, 2%
    tranches = [{"name": "F", "balance": 500_000, "priority": 1, "day_count": "ACT/360",
                 "coupon": {"index": "SOFR", "spread": 0.01, "cap": 0.08, "floor": 0.02}},
                {"name": "R", "residual": True}]
    waterfall = [{"pay": "interest", "tranches": ["F"]}, {"pay": "principal", "tranches": ["F"]},
                 {"pay": "residual", "tranche": "R"}]
    res = ae.run(deal(tranches, waterfall, closing_date="2026-01-07"), {"rates": {"SOFR": [0.05, 0.10, 0.0]}})
    f = res.tranches.xs("F", level="tranche")
    assert f["coupon"].iloc[:4].tolist() == pytest.approx([0.06, 0.08, 0.02, 0.02])
    assert f.loc[1, "interest_due"] == pytest.approx(500_000 * 0.06 * 39 / 360)
    assert f.loc[2, "interest_due"] == pytest.approx(f.loc[2, "beginning_balance"] * 0.08 * 28 / 360)


def test_interest_on_shortfall_and_fee_share():
    # WAC 0 pool: nothing for interest; split waterfall so principal cannot pay it.
    # A: 1e6 at 12%: month 1 due 10,000, unpaid; month 2 due = (1e6 - 83,333.33) x 1% + 10,000 x (1 + 1%)
    tranches = [{"name": "A", "balance": 1e6, "coupon": 0.12, "priority": 1, "interest_on_shortfall": True}]
    waterfall = {"interest": [{"pay": "fees", "fees": ["protocol"]}, {"pay": "interest", "tranches": ["A"]}],
                 "principal": [{"pay": "principal", "tranches": ["A"]}]}
    res = ae.run(deal(tranches, waterfall, pool={"balance": 1e6, "wac": 0.0, "wam": 12},
                      fees=[{"name": "protocol", "interest_share": 0.1}]), {})
    a = res.tranches.xs("A", level="tranche")
    assert a.loc[1, "interest_shortfall"] == pytest.approx(10_000)
    assert a.loc[2, "interest_due"] == pytest.approx((1e6 - 1e6 / 12) * 0.01 + 10_000 * 1.01)
    assert res.fees["due"].max() == 0.0  # 10% of no interest


def test_clean_up_call_pays_off_the_notes():
    # 10% call: the first month the pool is at or below 100,000, it is bought at its balance
    tranches = [{"name": "A", "balance": 1e6, "coupon": 0.0, "priority": 1}]
    waterfall = [{"pay": "principal", "tranches": ["A"]}]
    res = ae.run(deal(tranches, waterfall, pool={"balance": 1e6, "wac": 0.0, "wam": 20},
                      clean_up_call={"pct": 0.10}), {})
    # straight line 50,000 a month: month 18 ends at 100,000 -> called then
    assert int(res.last_period[0]) == 18
    assert res.cash.loc[18, "call_proceeds"] == pytest.approx(100_000)
    assert res.tranches.loc[(18, "A"), "ending_balance"] == 0.0
    assert len(res.pool) == 18
    never = ae.run(deal(tranches, waterfall, pool={"balance": 1e6, "wac": 0.0, "wam": 20},
                        clean_up_call={"pct": 0.10}), {"exercise_call": False})
    assert int(never.last_period[0]) == 20


def test_state_saved_after_any_period_resumes_to_the_same_result(tmp_path):
    d = ae.load_deal("tranches/auto_prime_abs.yaml")
    scen = ae.load_scenario("scenarios/auto_stress.yaml")
    whole = ae.run(d, scen)
    program = whole.program
    pool = pool_inputs(whole.flows, *program.start_balances)
    wprog = compile_waterfall(d, [scen], program.n_periods, program.original_balance)
    for k in (1, 7, 20):
        state = initial_state(d, 1)
        first = run_waterfall(wprog, pool, state, periods=k)
        state.save(tmp_path / "state.npz")
        resumed = DealState.load(tmp_path / "state.npz")
        assert resumed.period == k
        rest = run_waterfall(wprog, pool, resumed)
        joined = np.concatenate([first.tranches[:, :k], rest.tranches[:, k:]], axis=1)
        np.testing.assert_array_equal(joined, whole.waterfall.tranches)
        np.testing.assert_array_equal(rest.cash[:, k:], whole.waterfall.cash[:, k:])


def test_a_state_saved_before_acceleration_existed_loads_as_never_accelerated(tmp_path):
    # a state file (npz) and a servicer's recorded state (JSON) written before DealState had
    # ``accelerated`` load with the deal never accelerated, every other array as saved
    state = initial_state(ae.load_deal("tranches/auto_prime_abs.yaml"), 1)
    state.cumulative_loss[:] = 123.0
    np.savez(tmp_path / "old.npz", period=4, **{f: getattr(state, f) for f in DealState.ARRAYS if f != "accelerated"})
    old = DealState.load(tmp_path / "old.npz")
    assert old.period == 4 and old.accelerated.tolist() == [0.0] and old.cumulative_loss.tolist() == [123.0]
    recorded = _State(4, state, None, None, None, None, 1.0, 0.0, None, None)
    written = json.loads(recorded.to_json())
    del written["deal_state"]["accelerated"]
    back = _State.from_json(json.dumps(written))
    assert back.deal.accelerated.tolist() == [0.0] and back.deal.cumulative_loss.tolist() == [123.0]
