"""Adjustable- and floating-rate loans (issue 17, item 4): the kernel against the independent
reference in tests/oracles/collateral.py on random pools, reset terms and index paths; a 5/1 ARM
and a floating-rate loan by hand (the annuity formula after each recast); per-loan flows; a deal
on an ARM pool, summaries equal to the full run; one clear error for each bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import abs_engine as ae
from abs_engine.errors import SpecError

from ..oracles import collateral as reference
from ..strategies import rates, rep_lines, scenarios
from .test_collateral_oracle import _as_loans


@st.composite
def arm_terms(draw):
    terms = {"index": draw(st.sampled_from(["SOFR", "CMT1Y"])), "margin": draw(st.floats(0.0, 0.05)),
             "initial_fixed_months": draw(st.integers(0, 84)), "reset_months": draw(st.sampled_from([1, 6, 12]))}
    for cap in ("initial_cap", "periodic_cap"):
        if draw(st.booleans()):
            terms[cap] = draw(st.floats(0.0, 0.05))
    if draw(st.booleans()):
        terms["lifetime_floor"] = draw(st.floats(0.0, 0.03))
    return terms


@st.composite
def arm_pools(draw):
    lines = draw(rep_lines(3))
    for ln in lines:
        if draw(st.booleans()):
            terms = draw(arm_terms())
            floor = terms.get("lifetime_floor", 0.0)
            ln["wac"] = max(ln["wac"], floor)
            ln["net_coupon"] = min(ln["net_coupon"], ln["wac"])
            if draw(st.booleans()):
                terms["lifetime_cap"] = ln["wac"] + draw(st.floats(0.0, 0.08))
            ln["arm"] = terms
    if not any("arm" in ln for ln in lines):
        lines[0]["arm"] = {"index": "SOFR", "margin": 0.02, "reset_months": 1}
    return lines


def _loans(lines):
    return [{**loan, **({"arm": ln["arm"]} if "arm" in ln else {})} for loan, ln in zip(_as_loans(lines), lines,
                                                                                        strict=True)]


@given(arm_pools(), scenarios(), rates(0.0, 0.12), rates(0.0, 0.12))
def test_kernel_matches_reference(lines, scen, sofr, cmt):
    scen = {**scen, "rates": {"SOFR": sofr, "CMT1Y": cmt}}
    res = ae.run({"name": "arm", "collateral": {"rep_lines": lines}}, scen)
    ref = reference.project_pool(_loans(lines), scen, len(res.pool))
    scale = max(ln["balance"] for ln in lines)
    for col in reference.COLS:
        np.testing.assert_allclose(res.pool[col].to_numpy(), ref[col], rtol=1e-9, atol=1e-9 * scale, err_msg=col)
    assert res.check().abs().to_numpy().max() <= 1e-6 * scale


FIVE_ONE = {"balance": 1e6, "wac": 0.05, "net_coupon": 0.045, "wam": 360,
            "arm": {"index": "SOFR", "margin": 0.0275, "initial_fixed_months": 60, "reset_months": 12,
                    "initial_cap": 0.02, "periodic_cap": 0.01, "lifetime_cap": 0.10}}


def _annuity(balance, rate, months):
    r = rate / 12.0
    return balance * r / (1.0 - (1.0 + r) ** -months)


def test_a_five_one_arm_by_hand():
    """5% for 60 months, then SOFR 6% + 2.75% = 8.75%: 7% at month 61 (2% initial cap), 8% at 73
    (1% periodic cap), 8.75% from 85. Each reset recasts the level payment over the months left:
    payment = B r / (1 - (1 + r)^-n); the net rate keeps the 0.5% servicing spread."""
    pool = ae.run({"name": "5/1", "collateral": {"rep_lines": [FIVE_ONE]}},
                  {"prepay": {"cpr": 0.0}, "rates": {"SOFR": 0.06}}).pool
    rate = pool["gross_interest"] / pool["beginning_balance"] * 12
    np.testing.assert_allclose(rate.loc[[1, 60, 61, 72, 73, 84, 85, 360]], [0.05, 0.05, 0.07, 0.07, 0.08, 0.08,
                                                                            0.0875, 0.0875], rtol=1e-12)
    net = pool["net_interest"] / pool["beginning_balance"] * 12
    np.testing.assert_allclose(net.loc[[1, 61, 85]], [0.045, 0.065, 0.0825], rtol=1e-12)
    payment = pool["scheduled_principal"] + pool["gross_interest"]
    for month, r in ((1, 0.05), (61, 0.07), (73, 0.08), (85, 0.0875)):
        assert payment.loc[month] == pytest.approx(_annuity(pool.loc[month, "beginning_balance"], r, 361 - month),
                                                   rel=1e-12)
        assert payment.loc[month + 5] == pytest.approx(payment.loc[month], rel=1e-12)  # level between resets
    assert pool["ending_balance"].iloc[-1] == pytest.approx(0.0, abs=1e-6)


def test_a_floating_rate_interest_only_loan_by_hand():
    """SOFR + 3%, reset monthly from the first month, interest only: interest = (SOFR_i + 3%) / 12 x
    balance, following the path (its last value carrying forward); a lifetime floor of 5% holds
    when SOFR falls."""
    line = {"balance": 1e7, "wac": 0.08, "wam": 36, "amortization": "interest_only",
            "arm": {"index": "SOFR", "margin": 0.03, "reset_months": 1, "lifetime_floor": 0.05}}
    path = [0.05, 0.045, 0.04, 0.01]
    pool = ae.run({"name": "floater", "collateral": {"asset_type": "private_credit", "rep_lines": [line]}},
                  {"prepay": {"cpr": 0.0}, "rates": {"SOFR": path}}).pool
    expected = np.array([0.08, 0.075, 0.07] + [0.05] * 33) / 12 * 1e7
    np.testing.assert_allclose(pool["gross_interest"].to_numpy(), expected, rtol=1e-13)
    assert pool["scheduled_principal"].iloc[-1] == pytest.approx(1e7)


def test_per_loan_flows_add_up_to_the_pool():
    fixed = {"name": "fixed", "balance": 5e5, "wac": 0.06, "wam": 240}
    deal = {"name": "two", "collateral": {"rep_lines": [FIVE_ONE | {"name": "arm"}, fixed]}}
    scen = {"prepay": {"psa": 150}, "default": {"sda": 200}, "severity": 0.4, "recovery_lag": 6,
            "rates": {"SOFR": [0.04, 0.05, 0.06]}}
    res = ae.run(deal, scen, loan_level=True)
    total = res.loans.groupby(level="period")[["scheduled_principal", "gross_interest", "loss"]].sum()
    np.testing.assert_allclose(total.to_numpy(), res.pool[total.columns].to_numpy(), rtol=1e-12, atol=1e-7)


def test_a_deal_on_an_arm_pool_and_its_summaries():
    deal = ae.load_deal(Path(__file__).resolve().parents[2] / "tranches/arm_pool.yaml")
    deck = [{"prepay": {"cpr": c}, "rates": {"SOFR": s, "CMT1Y": s}} for c in (0.06, 0.15) for s in (0.02, 0.06)]
    full = ae.run(deal, deck)
    assert full.check().abs().to_numpy().max() < 1e-12 * full.program.original_balance
    pd.testing.assert_frame_equal(ae.run(deal, deck, summary_only=True).summary(), full.summary(), rtol=1e-9)
    # higher index paths pay more interest to the pool
    interest = full.pool["gross_interest"].groupby(level="scenario").sum().to_numpy()
    assert interest[1] > interest[0] and interest[3] > interest[2]


@pytest.mark.parametrize(("arm", "scen", "field", "says"), [
    ({"index": "SOFR", "margin": 0.02}, {"rates": {"EURIBOR3M": 0.03}}, "collateral.rep_lines[0].arm.index",
     "an index the scenario"),
    ({"index": "SOFR", "margin": 0.02, "lifetime_cap": 0.01, "lifetime_floor": 0.02}, {}, "lifetime_cap",
     "a cap >= lifetime_floor"),
    ({"index": "SOFR", "margin": 0.02, "lifetime_cap": 0.04}, {}, "arm.lifetime_cap", "lifetime bounds"),
    ({"index": "SOFR", "margin": 0.02, "reset_months": 0}, {}, "reset_months", ">= 1"),
    ({"index": "SOFR", "margin": -0.01}, {}, "margin", ""),
])
def test_bad_inputs(arm, scen, field, says):
    deal = {"name": "bad", "collateral": {"rep_lines": [{"balance": 1e6, "wac": 0.05, "wam": 360, "arm": arm}]}}
    with pytest.raises(SpecError) as err:
        ae.run(deal, {"rates": {"SOFR": 0.03}} | scen)
    assert field in err.value.field and says in str(err.value)


def test_what_is_not_built_says_so():
    deal = {"name": "arm", "collateral": {"rep_lines": [FIVE_ONE]},
            "tranches": [{"name": "A", "balance": 1e6, "coupon": 0.04, "priority": 1}],
            "waterfall": [{"pay": "interest", "tranches": ["A"]}, {"pay": "principal", "tranches": ["A"]}]}
    with pytest.raises(SpecError, match="servicing adjustable-rate loans"):
        ae.Servicer(deal, ":memory:")
    roll = {"to_30": 0.02, "cure_30": 0.3, "cure_60": 0.2, "cure_90": 0.1, "stay_90": 0.6, "default_90": 0.3}
    with pytest.raises(SpecError, match="a delinquency pipeline of adjustable-rate loans"):
        ae.run(deal, {"rates": {"SOFR": 0.03}, "roll_rates": roll})


def test_a_tape_of_adjustable_rate_loans_equals_its_rep_lines(tmp_path):
    """The tape's arm_* columns are a rep line's ``arm`` terms; an empty initial cap is the
    periodic cap, an empty cap none, an empty arm_index a fixed-rate loan."""
    tape = pd.DataFrame({"loan_id": ["a", "b", "c"], "balance": [1e6, 2e6, 5e5], "rate": [0.05, 0.06, 0.07],
                         "remaining_term": [360, 300, 240], "age": [0, 50, 10],
                         "arm_index": ["SOFR", "SOFR", None], "arm_margin": [0.0275, 0.03, None],
                         "arm_initial_fixed_months": [60, 60, None], "arm_reset_months": [12, 6, None],
                         "arm_initial_cap": [0.02, None, None], "arm_periodic_cap": [0.01, 0.01, None],
                         "arm_lifetime_cap": [0.10, None, None]})
    tape.to_csv(tmp_path / "arm.csv", index=False)
    lines = [FIVE_ONE | {"net_coupon": 0.05},
             {"balance": 2e6, "wac": 0.06, "wam": 300, "age": 50,
              "arm": {"index": "SOFR", "margin": 0.03, "initial_fixed_months": 60, "reset_months": 6,
                      "periodic_cap": 0.01}},
             {"balance": 5e5, "wac": 0.07, "wam": 240, "age": 10}]
    scen = {"prepay": {"psa": 200}, "rates": {"SOFR": [0.03, 0.05, 0.07]}}
    on_tape = ae.run({"name": "tape", "collateral": {"loan_tape": str(tmp_path / "arm.csv")}}, scen).pool
    as_lines = ae.run({"name": "lines", "collateral": {"rep_lines": lines}}, scen).pool
    pd.testing.assert_frame_equal(on_tape, as_lines, rtol=1e-12)


@pytest.mark.parametrize(("column", "value", "says"), [
    ("arm_margin", None, "a decimal in [0, 1] for a loan with an arm_index"),
    ("arm_reset_months", 0, "a whole number of months >= 1"),
    ("arm_lifetime_cap", 0.01, "a decimal in [rate, 1]"),
    ("arm_periodic_cap", "two", "a decimal in [0, 1], or empty for none"),
])
def test_bad_tape_columns(tmp_path, column, value, says):
    tape = pd.DataFrame({"loan_id": ["a"], "balance": [1e6], "rate": [0.05], "remaining_term": [360], "age": [0],
                         "arm_index": ["SOFR"], "arm_margin": [0.02]})
    tape[column] = [value]
    tape.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(SpecError) as err:
        ae.read_tape(tmp_path / "bad.csv")
    assert err.value.field == f"row 1 (loan_id a), {column}" and says in str(err.value)
