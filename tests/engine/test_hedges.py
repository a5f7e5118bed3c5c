"""Hedges and liquidity facilities (CONVENTIONS R2.8): swaps on a class balance or a given
notional, caps bought by the deal, a liquidity facility drawn for named shortfalls, each period
calculated by hand in the test; their state carried between runs; the default post-acceleration
priority; one clear error for each bad input."""

from __future__ import annotations

import numpy as np
import pytest

import abs_engine as ae
from abs_engine.compile.waterfall import DealState
from abs_engine.engine.waterfall import pool_inputs, run_waterfall

# 400 at 12% (1% a month), level pay over 4 months: payment 400 x 0.01 / (1 - 1.01^-4) = 102.51124
# a month; month 1 interest 4.0, principal 98.51124, balance 301.48876; month 2 interest 3.0148876
PAYMENT = 400 * 0.01 / (1 - 1.01 ** -4)
BAL1 = 400 - (PAYMENT - 4.0)


def _pool(wac=0.12):
    return {"rep_lines": [{"balance": 400.0, "wac": wac, "net_coupon": wac, "wam": 4}]}


def _swap_deal(**swap):
    return {"name": "swap", "collateral": _pool(),
            "tranches": [{"name": "A", "balance": 300.0, "coupon": 0.04, "priority": 1},
                         {"name": "R", "residual": True}],
            "hedges": [{"name": "swap", "type": "swap", "index": "euribor", "fixed": 0.06,
                        "notional": {"tranche": "A"}, **swap}],
            "waterfall": {"interest": [{"pay": "hedge", "hedge": "swap"}, {"pay": "interest", "tranches": ["A"]}],
                          "principal": [{"pay": "principal", "tranches": ["A"]},
                                        {"pay": "residual", "tranche": "R"}]}}


def _hedge(res, name, column):
    return res.hedges.xs(name, level="hedge")[column].to_numpy()


def _facility(res, column):
    return res.facilities.xs("lf", level="facility")[column].to_numpy()


def test_swap_on_a_class_balance_pays_and_receives_the_net_amount():
    # R2.8.2: net = A's beginning balance x (fixed - index) / 12.
    # index 2%: month 1 300 x (0.06 - 0.02) / 12 = 1.0, paid after nothing senior (the swap step
    # is first); A's interest 300 x 0.04 / 12 = 1.0; the residual the other 4 - 1 - 1 = 2.0.
    res = ae.run(_swap_deal(), {"rates": {"euribor": 0.02}})
    np.testing.assert_allclose(_hedge(res, "swap", "notional")[:2], [300.0, 300.0 - (PAYMENT - 4.0)])
    np.testing.assert_allclose(_hedge(res, "swap", "net_amount")[0], 1.0)
    np.testing.assert_allclose(_hedge(res, "swap", "payment_paid")[0], 1.0)
    np.testing.assert_allclose(res.cash["hedge_payments"].iloc[0], 1.0)
    np.testing.assert_allclose(res.cash["residual_paid"].iloc[0], 2.0)
    # index 8%: net 300 x (0.06 - 0.08) / 12 = -0.5, a receipt added to interest funds at the top:
    # the residual gets 4 + 0.5 - 1 = 3.5, nothing is paid to the counterparty
    res = ae.run(_swap_deal(), {"rates": {"euribor": 0.08}})
    np.testing.assert_allclose(_hedge(res, "swap", "net_amount")[0], -0.5)
    np.testing.assert_allclose(_hedge(res, "swap", "receipt")[0], 0.5)
    np.testing.assert_allclose(_hedge(res, "swap", "payment_due")[0], 0.0)
    np.testing.assert_allclose(res.cash["hedge_receipts"].iloc[0], 0.5)
    np.testing.assert_allclose(res.cash["residual_paid"].iloc[0], 3.5)
    assert res.check()["cash"].abs().max() < 1e-9


def test_an_unpaid_net_swap_payment_is_carried_forward_without_interest():
    # a pool paying no interest: month 1's net payment 300 x 0.04 / 12 = 1.0 is unpaid; month 2
    # owes its own 200 x 0.04 / 12 = 0.666... (A paid 100 of principal) plus the 1.0, no interest on it
    deal = _swap_deal()
    deal["collateral"] = _pool(wac=0.0)
    res = ae.run(deal, {"rates": {"euribor": 0.02}})
    np.testing.assert_allclose(_hedge(res, "swap", "payment_shortfall")[:2], [1.0, 1.0 + 200 * 0.04 / 12])
    np.testing.assert_allclose(_hedge(res, "swap", "payment_due")[1], 1.0 + 200 * 0.04 / 12)
    np.testing.assert_array_equal(_hedge(res, "swap", "payment_paid")[:3], 0.0)
    # month 4: A was retired in month 3 (100 a month), so the 100 of principal funds reach the
    # residual step, which first pays what is still unpaid, in step order: the swap's
    # (300 + 200 + 100) x 0.04 / 12 = 2.0, then A's interest (the same 2.0); the residual gets 96
    np.testing.assert_allclose(_hedge(res, "swap", "payment_paid")[3], 2.0)
    np.testing.assert_allclose(res.cash["residual_paid"].iloc[3], 96.0)


def test_swap_on_a_given_notional_and_act_360():
    # a notional given period by period, then 0 (the swap has ended); ACT/360 from the closing date
    # 2026-01-10 to the payment dates 2026-02-10 (31 days) and 2026-03-10 (28 days):
    # month 1 100 x (0.06 - 0.02) x 31/360, month 2 50 x 0.04 x 28/360, then nothing
    deal = _swap_deal(notional=[100.0, 50.0], day_count="ACT/360") | {"closing_date": "2026-01-10",
                                                                      "first_payment_date": "2026-02-10"}
    res = ae.run(deal, {"rates": {"euribor": 0.02}})
    np.testing.assert_allclose(_hedge(res, "swap", "net_amount"), [100 * 0.04 * 31 / 360, 50 * 0.04 * 28 / 360, 0, 0])


def test_cap_receipts_on_a_notional_schedule():
    # R2.8.3: notional x max(0, index - strike) / 12, no premium: 100 x 0.03 / 12 = 0.25, then
    # 50 x 0.03 / 12 = 0.125, then 0; a pool at 0% has no interest, so the residual gets exactly them
    deal = {"name": "cap", "collateral": _pool(wac=0.0),
            "tranches": [{"name": "A", "balance": 400.0, "coupon": 0.0, "priority": 1},
                         {"name": "R", "residual": True}],
            "hedges": [{"name": "cap", "type": "cap", "index": "euribor", "strike": 0.03, "notional": [100.0, 50.0]}],
            "waterfall": {"interest": [{"pay": "interest", "tranches": ["A"]}],
                          "principal": [{"pay": "principal", "tranches": ["A"]}, {"pay": "residual", "tranche": "R"}]}}
    res = ae.run(deal, {"rates": {"euribor": 0.06}})
    np.testing.assert_allclose(res.cash["hedge_receipts"], [0.25, 0.125, 0.0, 0.0])
    np.testing.assert_allclose(res.cash["residual_paid"], [0.25, 0.125, 0.0, 0.0])
    np.testing.assert_allclose(_hedge(res, "cap", "net_amount"), [-0.25, -0.125, 0.0, 0.0])
    # below the strike, nothing
    assert ae.run(deal, {"rates": {"euribor": 0.02}}).cash["hedge_receipts"].sum() == 0.0


def _facility_deal(commitment=5.0):
    return {"name": "facility", "collateral": _pool(),
            "tranches": [{"name": "A", "balance": 300.0, "coupon": {"index": "euribor", "spread": 0.0}, "priority": 1},
                         {"name": "R", "residual": True}],
            "facilities": [{"name": "lf", "commitment": commitment, "covers": ["a-int"], "index": "euribor",
                            "margin": 0.12}],
            "waterfall": {"interest": [{"pay": "facility_interest", "facility": "lf"},
                                       {"pay": "facility_repayment", "facility": "lf"},
                                       {"id": "a-int", "pay": "interest", "tranches": ["A"]}],
                          "principal": [{"pay": "principal", "tranches": ["A"]}, {"pay": "residual", "tranche": "R"}]}}


def test_liquidity_facility_drawn_charged_and_repaid():
    # index 24% in month 1, then 0. Month 1: A's interest 300 x 0.24 / 12 = 6.0; interest funds 4.0
    # pay 4.0 and the facility is drawn for the other 2.0 (R2.8.4). Month 2: facility interest on
    # the 2.0 drawn at the start, at index 0 + margin 12%: 2.0 x 0.12 / 12 = 0.02, paid; then the
    # 2.0 repaid from the 3.0148876 of interest; A's interest is 0; 0.9948876 goes on to the residual.
    res = ae.run(_facility_deal(), {"rates": {"euribor": [0.24, 0.0]}})
    np.testing.assert_allclose(_facility(res, "draw")[:2], [2.0, 0.0])
    np.testing.assert_allclose(_facility(res, "beginning_balance")[:2], [0.0, 2.0])
    np.testing.assert_allclose(_facility(res, "rate")[:2], [0.36, 0.12])
    np.testing.assert_allclose(_facility(res, "interest_due")[:2], [0.0, 0.02])
    np.testing.assert_allclose(_facility(res, "interest_paid")[:2], [0.0, 0.02])
    np.testing.assert_allclose(_facility(res, "repayment")[:2], [0.0, 2.0])
    np.testing.assert_allclose(_facility(res, "ending_balance")[:2], [2.0, 0.0])
    tr = res.tranches.xs("A", level="tranche")
    np.testing.assert_allclose(tr["interest_paid"].iloc[0], 6.0)
    np.testing.assert_allclose(res.cash["residual_paid"].iloc[1], BAL1 * 0.01 - 0.02 - 2.0)
    np.testing.assert_allclose(res.cash[["facility_draws", "facility_interest", "facility_repayments"]].iloc[:2],
                               [[2.0, 0.0, 0.0], [0.0, 0.02, 2.0]])
    assert res.check()["cash"].abs().max() < 1e-9


def test_a_facility_is_drawn_up_to_its_commitment():
    # commitment 1.5: month 1 draws 1.5 of the 2.0 short; A carries 0.5 of interest shortfall
    res = ae.run(_facility_deal(commitment=1.5), {"rates": {"euribor": [0.24, 0.0]}})
    np.testing.assert_allclose(_facility(res, "draw")[0], 1.5)
    np.testing.assert_allclose(res.tranches.xs("A", level="tranche")["interest_shortfall"].iloc[0], 0.5)


def test_hedge_and_facility_state_carries_between_runs(tmp_path):
    # two periods, the state saved to disk and loaded, then the rest: the same as one run
    deal = ae.load_deal(_facility_deal())
    scen = ae.load_scenario({"rates": {"euribor": [0.24, 0.24, 0.0]}})
    res = ae.run(deal, scen)
    pool = pool_inputs(res.flows, *res.program.start_balances)
    state = res.program.initial_state()
    first = run_waterfall(res.program.waterfall, pool, state, periods=2)
    state.save(tmp_path / "state.npz")
    loaded = DealState.load(tmp_path / "state.npz")
    assert loaded.facility_balance.shape == (1, 1) and loaded.facility_balance[0, 0] > 0
    rest = run_waterfall(res.program.waterfall, pool, loaded)
    both = np.concatenate([first.instruments[:, :2], rest.instruments[:, 2:]], axis=1)
    np.testing.assert_array_equal(both, res.waterfall.instruments)


def test_the_default_acceleration_priority_pays_hedges_and_facilities_after_the_fees():
    deal = _facility_deal() | {"hedges": _swap_deal()["hedges"], "fees": [{"name": "trustee", "amount": 0.1}]}
    deal["waterfall"]["interest"] = [{"pay": "fees", "fees": ["trustee"]}, {"pay": "hedge", "hedge": "swap"},
                                     *deal["waterfall"]["interest"]]
    deal["acceleration"] = {"events": {"senior_interest_shortfall": True}}
    pays = [s.pay for _p, s in ae.load_deal(deal).acceleration_steps()]
    assert pays == ["fees", "hedge", "facility_interest", "facility_repayment", "interest", "principal", "residual"]


@pytest.mark.parametrize("change, where, expected", [
    (lambda d: d["hedges"][0].update(notional=-5.0), r"hedges\[0\]\.notional", "amount >= 0"),
    (lambda d: d["hedges"][0].update(notional=[100.0, -1.0]), r"hedges\[0\]\.notional", "amount >= 0"),
    (lambda d: d["hedges"][0].pop("fixed"), r"hedges\[0\]\.fixed", "a fixed rate for a swap"),
    (lambda d: d["hedges"][0].update(notional={"tranche": "X"}), r"hedges\[0\]\.notional\.tranche",
     "a class with a balance"),
    (lambda d: d["waterfall"]["interest"].pop(0), r"hedges\[0\]", "net payment has a step"),
    (lambda d: d["waterfall"]["interest"][0].update(hedge="nope"), r"hedge", "a hedge defined in hedges"),
])
def test_bad_hedges(change, where, expected):
    deal = _swap_deal()
    change(deal)
    with pytest.raises(ae.SpecError, match=rf"{where}.*{expected}"):
        ae.load_deal(deal)


@pytest.mark.parametrize("change, where, expected", [
    (lambda d: d["facilities"][0].update(covers=[]), r"facilities\[0\]\.covers", "draw condition"),
    (lambda d: d["facilities"][0].pop("covers"), r"facilities\[0\]\.covers", "draw condition"),
    (lambda d: d["facilities"][0].update(covers=["nope"]), r"facilities\[0\]\.covers\[0\]", "the id of a waterfall"),
    (lambda d: d["waterfall"]["interest"][0].update(id="own") or d["facilities"][0].update(covers=["own"]),
     r"facilities\[0\]\.covers\[0\]", "other than the facility's own"),
    (lambda d: d["waterfall"]["interest"].pop(1), r"facilities\[0\]", "facility_repayment step"),
    (lambda d: d["facilities"][0].update(commitment=float("nan")), r"facilities\[0\]\.commitment", "finite"),
])
def test_bad_facilities(change, where, expected):
    deal = _facility_deal()
    change(deal)
    with pytest.raises(ae.SpecError, match=rf"{where}.*{expected}"):
        ae.load_deal(deal)


def test_a_hedge_step_for_a_cap_is_refused():
    deal = _swap_deal(type="cap", strike=0.05, fixed=None)
    del deal["hedges"][0]["fixed"]
    with pytest.raises(ae.SpecError, match=r"waterfall\.interest\[0\]\.hedge.*a swap"):
        ae.load_deal(deal)


def test_a_servicer_distributes_hedges_and_facilities_as_projected(tmp_path):
    """The European RMBS example's actual periods, generated from its projection (with each
    period's Euribor fixing), are distributed with the same swap payments and facility flows."""
    from abs_engine.servicing.servicer import projected_collections

    deal = "tranches/euro_rmbs.yaml"
    projection = ae.run(deal, "scenarios/euro_base.yaml")
    servicer = ae.Servicer(deal, tmp_path / "ledger.sqlite")
    for p in range(1, 7):
        head, _tape = projected_collections(projection, p, loan_level=False)
        data = servicer.distribute(head).data
        for table, rows in (("hedges", data["hedges"]), ("facilities", data["facilities"])):
            expected = getattr(projection, table).xs(p, level="period")
            for row in rows:
                for col, value in row.items():
                    if col != "name":
                        np.testing.assert_allclose(value, expected.loc[row["name"], col], rtol=1e-9, atol=1e-6)
        assert abs(data["check"]["cash"]) < 1e-6
    # a period whose collections lack a fixing of an index a hedge reads is refused, by name
    head, _tape = projected_collections(projection, 7, loan_level=False)
    head["rates"] = {}
    with pytest.raises(ae.SpecError, match=r"rates.*a fixing of EURIBOR3M"):
        servicer.distribute(head)


def test_the_european_example_in_a_summary_run_equals_the_full_run():
    """The generated period (summary runs) pays swaps, caps and facilities as the interpreter does:
    the European example under rates that make the swap pay and receive, with a cap added, and
    defaults that draw the facility."""
    from pathlib import Path

    import yaml

    from ..results.test_scale_and_plots import assert_same_summaries

    deal = yaml.safe_load(Path("tranches/euro_rmbs.yaml").read_text())
    deal["hedges"].append({"name": "cap", "type": "cap", "index": "EURIBOR3M", "strike": 0.03,
                           "notional": [300_000_000.0] * 24})
    deck = [{"name": f"r{k}", "prepay": {"cpr": 0.06}, "default": {"cdr": cdr}, "severity": 0.6, "recovery_lag": 6,
             "advancing": False, "rates": {"EURIBOR3M": rate}}
            for k, (cdr, rate) in enumerate([(0.0, 0.01), (0.2, [0.02, 0.05]), (0.5, 0.06)])]
    full = ae.run(deal, deck)
    assert full.cash["facility_draws"].sum() > 0 and full.cash["hedge_payments"].sum() > 0
    assert full.cash["hedge_receipts"].sum() > 0
    assert_same_summaries(ae.run(deal, deck, summary_only=True, progress=False), full)
