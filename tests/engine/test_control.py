"""Control of the priority of payments: steps that apply only ``when`` a trigger is breached or
``unless`` it is, calls at a date, a pool factor or a condition, transfers between accounts, and
bond groups. Each period is calculated by hand in the test; one clear error for each bad input."""

from __future__ import annotations

import numpy as np
import pytest

import abs_engine as ae


def _pool(wac=0.0, balance=400.0, wam=4):
    """At 0%: each month's scheduled principal is balance / wam and there is no interest."""
    return {"rep_lines": [{"balance": balance, "wac": wac, "net_coupon": wac, "wam": wam}]}


def _tranche(res, name, column):
    return res.tranches.xs(name, level="tranche")[column].to_numpy()


def test_interest_deferred_unless_a_trigger_is_breached():
    # 400 at 12% (1% a month) over 4 months; month 1 interest 4.0, principal 98.51.
    # A 300 at 0%, B 100 at 12%: B's interest 1.0 is paid before A's principal unless the loss
    # trigger is breached, then after it (interest deferral). Defaults of 50% CDR at 100% severity
    # breach the trigger (threshold 0) from month 1: B's interest then comes after A's principal.
    deal = {"name": "deferral", "collateral": _pool(wac=0.12),
            "tranches": [{"name": "A", "balance": 300.0, "coupon": 0.0, "priority": 1},
                         {"name": "B", "balance": 100.0, "coupon": 0.12, "priority": 2}],
            "triggers": [{"name": "loss", "metric": "cumulative_loss", "threshold": 0.0}],
            "waterfall": [{"pay": "interest", "tranches": ["B"], "unless": "loss"},
                          {"pay": "principal", "tranches": ["A"], "amount": "available"},
                          {"pay": "interest", "tranches": ["B"]}]}
    # no loss: B's interest first (1.0), A takes the other 4.0 + 98.51 - 1.0
    res = ae.run(deal, {})
    payment = 400 * 0.01 / (1 - 1.01 ** -4)
    np.testing.assert_allclose(_tranche(res, "B", "interest_paid")[0], 1.0)
    np.testing.assert_allclose(_tranche(res, "A", "principal_paid")[0], payment - 1.0)
    # losses: the trigger is breached in month 1, B's interest waits for A's principal; all of the
    # month's cash goes to A (less than A's 300), so B's 1.0 is carried
    res = ae.run(deal, {"default": {"cdr": 0.5}, "severity": 1.0, "recovery_lag": 0, "advancing": False})
    assert res.triggers.xs("loss", level="trigger")["breached"].iloc[0]
    np.testing.assert_allclose(_tranche(res, "B", "interest_paid")[0], 0.0)
    np.testing.assert_allclose(_tranche(res, "B", "interest_shortfall")[0], 1.0)
    np.testing.assert_allclose(_tranche(res, "A", "principal_paid")[0], res.cash["interest_collections"].iloc[0]
                               + res.cash["principal_collections"].iloc[0])


def test_a_turbo_step_applies_only_when_its_trigger_is_breached():
    # A 200 at 0% is paid its share of collections; when the trigger is breached, everything left
    # also goes to A (turbo) instead of the residual. 400 at 12%, no defaults: the OC trigger
    # (ending pool / beginning notes below 2.0) is breached in month 1 (301.49 / 200 = 1.51).
    deal = {"name": "turbo", "collateral": _pool(wac=0.12),
            "tranches": [{"name": "A", "balance": 200.0, "coupon": 0.0, "priority": 1},
                         {"name": "R", "residual": True}],
            "triggers": [{"name": "oc", "metric": "overcollateralization", "threshold": 2.0}],
            "waterfall": [{"pay": "principal", "tranches": ["A"], "amount": "collections"},
                          {"pay": "principal", "tranches": ["A"], "amount": "available", "when": "oc"},
                          {"pay": "residual", "tranche": "R"}]}
    res = ae.run(deal, {})
    payment = 400 * 0.01 / (1 - 1.01 ** -4)
    np.testing.assert_allclose(_tranche(res, "A", "principal_paid")[0], payment)  # collections + interest
    np.testing.assert_allclose(res.cash["residual_paid"].iloc[0], 0.0)
    # with threshold 1.0 (not breached: 1.51 > 1.0) the interest goes to the residual
    deal["triggers"][0]["threshold"] = 1.0
    res = ae.run(deal, {})
    np.testing.assert_allclose(_tranche(res, "A", "principal_paid")[0], payment - 4.0)
    np.testing.assert_allclose(res.cash["residual_paid"].iloc[0], 4.0)


def _call_deal(call):
    return {"name": "call", "closing_date": "2026-01-15", "first_payment_date": "2026-02-15",
            "collateral": _pool(), "clean_up_call": call,
            "tranches": [{"name": "A", "balance": 400.0, "coupon": 0.0, "priority": 1}],
            "triggers": [{"name": "loss", "metric": "cumulative_loss", "threshold": 0.0, "curable": False}],
            "waterfall": [{"pay": "principal", "tranches": ["A"]}]}


@pytest.mark.parametrize("call, scenario, period, proceeds", [
    # 400 at 0% over 4 months: pool after months 1, 2, 3: 300, 200, 100
    ({"pct": 0.6}, {}, 2, 200.0),                      # clean-up: 200 / 400 = 0.5 <= 0.6 in month 2
    ({"date": "2026-04-15"}, {}, 3, 100.0),            # payment dates 02-15, 03-15, 04-15: month 3
    ({"date": "2026-03-20"}, {}, 3, 100.0),            # the first payment date on or after it
    ({"date": "2026-04-15", "pct": 0.8}, {}, 1, 300.0),  # either condition: 300 / 400 = 0.75 in month 1
    # breached in month 1 (a loss): the call is decided before month 2's tests, on month 1's: month 2
    ({"when": "loss"}, {"default": {"cdr": 0.1}, "severity": 1.0, "recovery_lag": 0}, 2, None),
])
def test_calls_at_a_pool_factor_a_date_or_a_condition(call, scenario, period, proceeds):
    res = ae.run(_call_deal(call), scenario)
    paid = res.cash["call_proceeds"].to_numpy()
    assert np.flatnonzero(paid > 0).tolist() == [period - 1]
    if proceeds is not None:
        np.testing.assert_allclose(paid[period - 1], proceeds)
    else:  # the ending pool balance of that month
        np.testing.assert_allclose(paid[period - 1], res.pool["ending_balance"].iloc[period - 1])
    assert ae.run(_call_deal(call), scenario | {"exercise_call": False}).cash["call_proceeds"].sum() == 0.0


def test_transfers_between_accounts():
    # first 100, second 10 with target 30: to_target moves 20 (a draw on the first, a deposit to
    # the second), all moves the 100; nothing else changes the cash (the check stays zero)
    def deal(amount):
        return {"name": "transfer", "collateral": _pool(),
                "tranches": [{"name": "A", "balance": 400.0, "coupon": 0.0, "priority": 1}],
                "accounts": [{"name": "first", "initial": 100.0, "target": 100.0},
                             {"name": "second", "initial": 10.0, "target": 30.0, "keep_after_notes_paid": True}],
                "waterfall": [{"pay": "principal", "tranches": ["A"]},
                              {"pay": "transfer", "from_account": "first", "to_account": "second", "amount": amount}]}
    acc = ae.run(deal("to_target"), {}).accounts.xs(1, level="period")
    np.testing.assert_allclose(acc.loc["first", ["draw", "ending_balance"]], [20.0, 80.0])
    np.testing.assert_allclose(acc.loc["second", ["deposit", "ending_balance"]], [20.0, 30.0])
    res = ae.run(deal("all"), {})
    acc = res.accounts.xs(1, level="period")
    np.testing.assert_allclose(acc["ending_balance"], [0.0, 110.0])
    assert res.check()["cash"].abs().max() < 1e-12


def _groups_deal(allocation, within):
    return {"name": "groups", "collateral": _pool(),
            "tranches": [{"name": "A1", "balance": 100.0, "priority": 1},
                         {"name": "A2", "balance": 100.0, "priority": 2},
                         {"name": "B", "balance": 200.0, "priority": 3}],
            "waterfall": [{"pay": "principal", "groups": [["A1", "A2"], ["B"]], "allocation": allocation,
                           "within": within}]}


def test_bond_groups_pro_rata_across_sequential_inside():
    # 100 a month; groups A (200 at the start) and B (200): 50 each. Inside A, sequentially: A1
    # takes 50, 50 (retired), then A2: month 3 group A has 100 of 200 (beginning 100 vs B's 100):
    # 50 each again
    res = ae.run(_groups_deal("pro_rata", "sequential"), {})
    np.testing.assert_allclose(_tranche(res, "A1", "principal_paid"), [50, 50, 0, 0])
    np.testing.assert_allclose(_tranche(res, "A2", "principal_paid"), [0, 0, 50, 50])
    np.testing.assert_allclose(_tranche(res, "B", "principal_paid"), [50, 50, 50, 50])


def test_bond_groups_sequential_across_pro_rata_inside():
    # group A first: A1 and A2 pro rata (50 each) until retired (months 1-2), then B
    res = ae.run(_groups_deal("sequential", "pro_rata"), {})
    np.testing.assert_allclose(_tranche(res, "A1", "principal_paid"), [50, 50, 0, 0])
    np.testing.assert_allclose(_tranche(res, "A2", "principal_paid"), [50, 50, 0, 0])
    np.testing.assert_allclose(_tranche(res, "B", "principal_paid"), [0, 0, 100, 100])


def test_control_in_a_summary_run_equals_the_full_run():
    """The generated period (summary runs) sequences conditional steps, groups, transfers and
    dated calls as the interpreter does."""
    from ..results.test_scale_and_plots import assert_same_summaries

    deal = _groups_deal("pro_rata", "sequential") | {
        "closing_date": "2026-01-15", "first_payment_date": "2026-02-15", "clean_up_call": {"date": "2026-04-15"},
        "triggers": [{"name": "loss", "metric": "cumulative_loss", "threshold": 0.001}],
        "accounts": [{"name": "first", "initial": 10.0, "target": 10.0}, {"name": "second", "target": 5.0}]}
    deal["waterfall"] += [{"pay": "transfer", "from_account": "first", "to_account": "second", "unless": "loss"},
                          {"pay": "principal", "tranches": ["B"], "amount": "available", "when": "loss"}]
    deck = [{"name": f"cdr{c}", "default": {"cdr": c}, "severity": 0.5, "recovery_lag": 0} for c in (0.0, 0.05, 0.3)]
    assert_same_summaries(ae.run(deal, deck, summary_only=True, progress=False), ae.run(deal, deck))


@pytest.mark.parametrize("change, where, expected", [
    (lambda d: d["waterfall"][0].update(when="nope"), r"waterfall\[0\]\.when", "a trigger defined in triggers"),
    (lambda d: d["waterfall"][0].update(unless="nope"), r"waterfall\[0\]\.unless", "a trigger defined in triggers"),
    (lambda d: d.update(clean_up_call={}), r"clean_up_call", "at least one of pct, date or when"),
    (lambda d: d.update(clean_up_call={"when": "nope"}), r"clean_up_call\.when", "a trigger defined"),
    (lambda d: d.pop("first_payment_date"), r"clean_up_call\.date", "first_payment_date"),
    (lambda d: d["waterfall"].append({"pay": "transfer", "from_account": "x", "to_account": "y"}),
     r"waterfall\[1\]\.from_account", "an account defined in accounts"),
    (lambda d: d["waterfall"].append({"pay": "principal", "groups": [["A"], []]}), r"waterfall\[1\]\.groups",
     "non-empty groups"),
    (lambda d: d["waterfall"].append({"pay": "principal", "tranches": ["A"], "groups": [["A"]], "within": "pro_rata"})
     or d["waterfall"][1].update(tranches=["B"]), r"waterfall\[1\]\.tranches", "either tranches or groups"),
    (lambda d: d["waterfall"].append({"pay": "principal", "tranches": ["A"], "within": "pro_rata"}),
     r"waterfall\[1\]\.within", "groups for an allocation within them"),
])
def test_bad_control(change, where, expected):
    deal = _call_deal({"date": "2026-04-15"})
    change(deal)
    with pytest.raises(ae.SpecError, match=rf"{where}.*{expected}"):
        ae.load_deal(deal)


def test_a_transfer_to_the_same_account_is_refused():
    deal = _call_deal({"pct": 0.1}) | {"accounts": [{"name": "a"}]}
    deal["waterfall"].append({"pay": "transfer", "from_account": "a", "to_account": "a"})
    with pytest.raises(ae.SpecError, match=r"waterfall\[1\]\.to_account.*another account"):
        ae.load_deal(deal)
