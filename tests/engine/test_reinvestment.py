"""Reinvesting pools (CONVENTIONS R2.10): the kernel against the independent reference in
tests/oracles/collateral.py on random pools, reinvestment terms and scenarios; a closed form by
hand; the rules' properties (pool balance = original − cumulative losses while reinvesting, the
notes paid interest only); summaries equal to the full run; one clear error per bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import abs_engine as ae
from abs_engine.errors import SpecError

from ..oracles import collateral as reference
from ..strategies import rep_lines, scenarios
from .test_collateral_oracle import _as_loans, tape_deal


@st.composite
def reinvesting_pools(draw):
    lines = draw(rep_lines(3))
    life = max(ln["wam"] if ln["amortization"] != "balloon" else ln["balloon_month"] - ln["age"] for ln in lines)
    if life < 2:
        lines[0] = {**{k: v for k, v in lines[0].items() if k != "balloon_month"}, "wam": 24, "amortization": "level"}
        life = max(life, 24)
    wac = draw(st.one_of(st.just(0.0), st.floats(0.0005, 0.2)))  # (a tiny rate: 1 + r == 1 in the reference)
    terms = {"months": draw(st.integers(1, min(life - 1, 24))), "wac": wac,
             "net_coupon": wac * draw(st.floats(0.5, 1.0)), "term": draw(st.integers(1, 60))}
    return lines, terms


@given(reinvesting_pools(), scenarios())
def test_kernel_matches_reference_reinvestment(pool, scen):
    lines, terms = pool
    res = ae.run({"name": "r", "collateral": {"rep_lines": lines, "reinvestment": terms}}, scen)
    ref = reference.project_reinvesting(_as_loans(lines), scen, len(res.pool), terms)
    scale = max(ln["balance"] for ln in lines)
    for col in (*reference.COLS, "purchases"):
        np.testing.assert_allclose(res.pool[col].to_numpy(), ref[col], rtol=1e-9, atol=1e-9 * scale, err_msg=col)
    pool_table = res.pool
    # R2.10.5: losses are not replaced; while reinvesting, the pool is the original less its losses
    months = terms["months"]
    np.testing.assert_allclose(pool_table["ending_balance"].iloc[:months],
                               sum(ln["balance"] for ln in lines) - pool_table["cumulative_loss"].iloc[:months],
                               rtol=1e-9, atol=1e-7 * scale)
    assert res.check().abs().to_numpy().max() <= 1e-6 * scale


def test_two_purchases_by_hand():
    """A 0% pool of 1,200 over 12 months pays 100 a month; for 2 months its principal buys 0%
    loans over 12 months: month 1 buys 100, which pays 100/12 from month 2, so month 2 buys
    100 + 100/12; from month 3 the principal goes to the notes."""
    deal = {"name": "hand", "collateral": {"asset_type": "auto", "rep_lines": [{"balance": 1200.0, "wac": 0.0,
                                                                                 "wam": 12}],
                                           "reinvestment": {"months": 2, "wac": 0.0, "term": 12}},
            "tranches": [{"name": "A", "balance": 1200.0, "coupon": 0.0, "priority": 1}],
            "waterfall": [{"pay": "principal", "tranches": ["A"]}]}
    res = ae.run(deal, {"prepay": {"cpr": 0.0}})
    pool, a = res.pool, res.tranches.xs("A", level="tranche")
    b1, b2 = 100.0, 100.0 + 100.0 / 12
    assert pool.loc[1, "purchases"] == pytest.approx(b1, rel=1e-14)
    assert pool.loc[2, "purchases"] == pytest.approx(b2, rel=1e-14)
    assert pool.loc[3, "purchases"] == 0.0
    assert pool.loc[1, "ending_balance"] == pool.loc[2, "ending_balance"] == pytest.approx(1200.0, rel=1e-14)
    assert a.loc[1, "principal_paid"] == a.loc[2, "principal_paid"] == 0.0
    # month 3: the original line's 100, cohort 1's 100/12 and cohort 2's b2/12
    assert a.loc[3, "principal_paid"] == pytest.approx(100.0 + b1 / 12 + b2 / 12, rel=1e-13)
    assert len(pool) == 14  # the last cohort, bought at the end of month 2, runs 12 months
    assert a["principal_paid"].sum() == pytest.approx(1200.0, rel=1e-13)


def test_a_reinvesting_deal_pays_interest_only_then_amortizes_and_summaries_agree():
    deal = {"name": "private credit", "collateral": {
                "asset_type": "auto", "rep_lines": [{"balance": 5e7, "wac": 0.12, "net_coupon": 0.11, "wam": 36}],
                "reinvestment": {"months": 12, "wac": 0.12, "net_coupon": 0.11, "term": 36}},
            "tranches": [{"name": "S", "balance": 4e7, "coupon": {"index": "SOFR", "spread": 0.03}, "priority": 1},
                         {"name": "J", "balance": 8e6, "coupon": 0.10, "priority": 2}, {"name": "E", "residual": True}],
            "waterfall": [{"pay": "interest", "tranches": ["S"]}, {"pay": "interest", "tranches": ["J"]},
                          {"pay": "principal", "tranches": ["S", "J"]}, {"pay": "residual", "tranche": "E"}]}
    scens = [{"prepay": {"abs": 1.2}, "default": {"cdr": c}, "severity": 0.6, "recovery_lag": 3,
              "rates": {"SOFR": 0.04}} for c in (0.02, 0.08)]
    res = ae.run(deal, scens)
    tr = res.tranches
    assert (tr.xs("S", level="tranche").groupby(level="scenario").head(12)["principal_paid"] == 0.0).all()
    assert (tr.xs("S", level="tranche").groupby(level="scenario").nth(12)["principal_paid"] > 0).all()
    assert res.check().abs().to_numpy().max() <= 1e-6
    full = res.summary()
    fast = ae.run(deal, scens, summary_only=True).summary()
    cols = ["wal", "total_interest", "total_principal", "total_writedown", "yield"]
    np.testing.assert_allclose(fast[cols].to_numpy(float), full[cols].to_numpy(float), rtol=1e-9, atol=1e-6)


def test_a_tape_reinvests_as_rep_lines_do(tmp_path):
    rng = np.random.default_rng(5)
    n = 300  # more than a small pool: projected loan-blocked, then the cohorts
    tape = pd.DataFrame({"loan_id": [f"L{k}" for k in range(n)], "balance": rng.uniform(1e4, 1e5, n),
                         "rate": rng.uniform(0.05, 0.15, n), "servicing_fee_rate": 0.01,
                         "remaining_term": rng.integers(12, 60, n), "age": rng.integers(0, 12, n)})
    deal = tape_deal(tape, tmp_path)
    deal = ae.load_deal({"name": "tape", "collateral": {"loan_tape": str(tmp_path / "tape.csv"),
                                                        "reinvestment": {"months": 9, "wac": 0.11, "term": 48}}})
    scen = {"prepay": {"psa": 200}, "default": {"sda": 300}, "severity": 0.4, "recovery_lag": 4,
            "advancing": True}
    res = ae.run(deal, scen)
    loans = [{"balance": r.balance, "rate": r.rate, "net_rate": r.rate - 0.01, "remaining_term": r.remaining_term,
              "age": r.age} for r in tape.itertuples()]
    ref = reference.project_reinvesting(loans, scen, len(res.pool), {"months": 9, "wac": 0.11, "term": 48})
    for col in (*reference.COLS, "purchases"):
        np.testing.assert_allclose(res.pool[col].to_numpy(), ref[col], rtol=1e-9, atol=1e-4, err_msg=col)


@pytest.mark.parametrize(("terms", "field"), [
    ({"months": 36, "wac": 0.1, "term": 24}, "reinvestment period shorter than the pool's life"),
    ({"months": 6, "wac": 0.1, "net_coupon": 0.2, "term": 24}, "net_coupon"),
    ({"months": 0, "wac": 0.1, "term": 24}, "months"),
    ({"months": 6, "wac": 0.1}, "term"),
])
def test_bad_reinvestment_terms_are_one_clear_error(terms, field):
    deal = {"name": "bad", "collateral": {"rep_lines": [{"balance": 1e6, "wac": 0.06, "wam": 36}],
                                          "reinvestment": terms}}
    with pytest.raises(SpecError, match=field):
        ae.run(deal, {"prepay": {"cpr": 0.1}})


def test_a_servicer_of_a_reinvesting_pool_or_a_pipeline_base_is_refused_before_writing(tmp_path):
    deal = {"name": "r", "collateral": {"rep_lines": [{"balance": 1e6, "wac": 0.06, "wam": 36}],
                                        "reinvestment": {"months": 6, "wac": 0.06, "term": 24}},
            "tranches": [{"name": "A", "balance": 9e5, "coupon": 0.05, "priority": 1}],
            "waterfall": [{"pay": "interest", "tranches": ["A"]}, {"pay": "principal", "tranches": ["A"]}]}
    with pytest.raises(SpecError, match="servicing a reinvesting pool"):
        ae.Servicer(deal, tmp_path / "l.sqlite")
    plain = {**deal, "collateral": {"rep_lines": deal["collateral"]["rep_lines"]}}
    rr = {"to_30": 0.02, "cure_30": 0.5, "cure_60": 0.3, "cure_90": 0.1, "stay_90": 0.6, "default_90": 0.3}
    with pytest.raises(SpecError, match="base scenario without roll rates"):
        ae.Servicer(plain, tmp_path / "l.sqlite", base_scenario={"roll_rates": rr})
    assert not (tmp_path / "l.sqlite").exists()


@given(reinvesting_pools(), scenarios(), st.one_of(st.floats(1e-4, 0.05), st.dictionaries(
    st.integers(1, 30), st.floats(1e-4, 0.05), min_size=1, max_size=3)))
def test_a_loss_trigger_ends_reinvestment_early(pool, scen, threshold):
    """``ends_when``: reinvestment stops for good in the first month the pool's cumulative loss ÷
    its original balance is above the trigger's threshold (that month's principal included); the
    reference stops its purchases there too. (Thresholds from 0.01%: a loss of 1e-42 from a CDR of
    1e-44, which the reference's 1 - (1 - cdr)^(1/12) rounds to 0, is not a breach to argue over.)"""
    lines, terms = pool
    deal = {"name": "r", "collateral": {"rep_lines": lines, "reinvestment": {**terms, "ends_when": "loss"}},
            "tranches": [{"name": "A", "balance": 0.8 * sum(ln["balance"] for ln in lines), "coupon": 0.05,
                          "priority": 1}, {"name": "R", "residual": True}],
            "triggers": [{"name": "loss", "metric": "cumulative_loss", "threshold": threshold, "curable": False}],
            "waterfall": [{"pay": "interest", "tranches": ["A"]}, {"pay": "principal", "tranches": ["A"]},
                          {"pay": "residual", "tranche": "R"}]}
    res = ae.run(deal, scen)
    n = len(res.pool)
    if isinstance(threshold, dict):  # the schedule per month, as the deal reads it
        first = min(threshold)
        until = [threshold[max([p for p in threshold if p <= i] or [first])] for i in range(1, n + 1)]
    else:
        until = [threshold] * n
    ref = reference.project_reinvesting(_as_loans(lines), scen, n, terms, until=until)
    scale = max(ln["balance"] for ln in lines)
    for col in (*reference.COLS, "purchases"):
        np.testing.assert_allclose(res.pool[col].to_numpy(), ref[col], rtol=1e-9, atol=1e-9 * scale, err_msg=col)
    # the waterfall sees the principal of every month that bought nothing
    a = res.tranches.xs("A", level="tranche")
    bought = res.pool["purchases"].to_numpy() > 0
    assert (a["principal_paid"].to_numpy()[bought] == 0.0).all()
    assert res.check().abs().to_numpy().max() <= 1e-6 * scale


def test_the_trigger_that_ends_reinvestment_must_be_a_loss_trigger():
    deal = {"name": "r", "collateral": {"rep_lines": [{"balance": 1e6, "wac": 0.06, "wam": 36}],
                                        "reinvestment": {"months": 6, "wac": 0.06, "term": 24, "ends_when": "oc"}},
            "tranches": [{"name": "A", "balance": 9e5, "coupon": 0.05, "priority": 1}],
            "triggers": [{"name": "oc", "metric": "overcollateralization", "threshold": 1.05}],
            "waterfall": [{"pay": "interest", "tranches": ["A"]}, {"pay": "principal", "tranches": ["A"]}]}
    with pytest.raises(SpecError, match="a cumulative_loss trigger defined in triggers"):
        ae.load_deal(deal)
