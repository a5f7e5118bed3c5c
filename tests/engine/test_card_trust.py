"""A credit-card master trust series (CONVENTIONS R2.9): the kernel against the independent
reference in tests/oracles/card.py on random series and scenarios; closed forms for constant
rates (excess spread = yield − charge-offs − base rate, a bullet at the end of accumulation);
the trigger on the 3-month average; summaries equal to the full run; one clear error per bad
input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import abs_engine as ae
from abs_engine.errors import SpecError
from abs_engine.vocabulary import TRUST_COLUMNS

from ..oracles import card as reference
from ..strategies import rates


@st.composite
def card_deals(draw):
    receivables = draw(st.floats(1e6, 1e10))
    revolving = draw(st.integers(1, 36))
    accumulation = draw(st.integers(1, 18))
    series = {"invested_amount": receivables * draw(st.floats(0.05, 1.0)), "coupon": draw(st.floats(0.0, 0.1)),
              "servicing_fee": draw(st.floats(0.0, 0.03)), "revolving_months": revolving,
              "accumulation_months": accumulation,
              "legal_final_months": revolving + accumulation + draw(st.integers(0, 60))}
    scen = {"payment_rate": draw(rates(0.01, 0.4)), "portfolio_yield": draw(rates(0.0, 0.3)),
            "charge_off_rate": draw(rates(0.0, 0.3)), "purchase_rate": draw(rates(0.0, 1.5))}
    return receivables, series, scen


def deal(receivables, series):
    return {"name": "card", "collateral": {"asset_type": "credit_card", "receivables": receivables},
            "series": series}


@given(card_deals())
def test_kernel_matches_reference_card_trust(case):
    receivables, series, scen = case
    ref = reference.run(series, receivables, scen)
    # (a 3-month average of exactly 0 is a knife edge the last bit of rounding decides: the
    # kernel's fused multiply-adds and Python's arithmetic may fall on either side of it)
    assume(all(abs(r["excess_spread_3m"]) > 1e-12 for r in ref if r["phase"] != 2))
    res = ae.run(deal(receivables, series), scen)
    trust = res.trust
    scale = receivables
    for t, row in enumerate(ref, start=1):
        for col, value in row.items():
            got = trust.loc[t, col]
            assert abs(got - value) <= 1e-9 * max(abs(got), abs(value)) + 1e-9 * scale, (t, col, got, value)
    for t in range(len(ref) + 1, res.n_periods + 1):  # after the series is paid: nothing moves
        # (an amount below 1e-6 counts as zero, CONVENTIONS R2: the last cents may fall either side)
        assert trust.loc[t, "principal_paid"] <= 1e-6 and trust.loc[t, "interest_paid"] <= 1e-6
    assert res.check().abs().to_numpy().max() <= 1e-6 * scale
    s = res.summary().iloc[0]
    paid = sum(r["principal_paid"] for r in ref)
    assert s["total_principal"] == pytest.approx(paid, rel=1e-9, abs=1e-6)
    # what was invested is paid back, charged off, or left at the legal final
    assert s["total_principal"] + s["total_writedown"] + (ref[-1]["invested_amount"] if ref else 0.0) == \
        pytest.approx(series["invested_amount"], rel=1e-9)


def test_constant_rates_closed_forms():
    """R2.9.5: with constant rates the annualized excess spread is yield − charge-offs − base rate
    (coupon + servicing) every month; R2.9.6: the controlled accumulation amount I/A deposited A
    times pays the certificates in one bullet at month Rv + A (WAL (Rv + A)/12)."""
    series = {"invested_amount": 6e8, "coupon": 0.05, "servicing_fee": 0.02, "revolving_months": 24,
              "accumulation_months": 6, "legal_final_months": 60}
    res = ae.run(deal(1e9, series), {"payment_rate": 0.2, "portfolio_yield": 0.2, "charge_off_rate": 0.06})
    tr = res.trust
    live = tr["invested_amount"].shift(fill_value=6e8) > 0
    np.testing.assert_allclose(tr.loc[live, "excess_spread_rate"], 0.2 - 0.06 - 0.07, rtol=1e-12)
    np.testing.assert_allclose(tr.loc[25:30, "pfa_deposit"], 1e8, rtol=1e-12)
    assert tr.loc[30, "principal_paid"] == pytest.approx(6e8, rel=1e-12)
    # the fixed percentage is the floating one at the end of month Rv
    assert tr.loc[25, "fixed_pct"] == pytest.approx(tr.loc[24, "invested_amount"] / tr.loc[24, "receivables"],
                                                    rel=1e-15)
    s = res.summary().iloc[0]
    assert s["wal"] == pytest.approx(30 / 12, rel=1e-15) and s["early_amortization_period"] == 0
    # interest: coupon/12 on the invested amount for 30 months; the yield at par is the coupon's BEY
    assert s["total_interest"] == pytest.approx(6e8 * 0.05 / 12 * 30, rel=1e-12)
    assert s["yield"] == pytest.approx(2 * ((1 + 0.05 / 12) ** 6 - 1), rel=1e-9)


def test_the_trigger_reads_the_three_month_average_and_never_cures():
    """Excess spread 0.2 − co − 0.07: charge-offs of 0.10 (+3%), then 0.18 (−5%) for one month
    and 0.10 again: the average of 3%, 3%, −5% is positive, no trigger. Two months of −5%
    after a 3%: average −2.33%: early amortization from the next month, for good."""
    series = {"invested_amount": 5e8, "coupon": 0.05, "servicing_fee": 0.02, "revolving_months": 24,
              "accumulation_months": 6, "legal_final_months": 60}
    base = {"payment_rate": 0.2, "portfolio_yield": 0.2}
    one = ae.run(deal(1e9, series), {**base, "charge_off_rate": [0.1, 0.1, 0.18, 0.1]}).trust
    assert (one["early_amortization"] == 0).all() and one.loc[25, "phase"] == 1
    two = ae.run(deal(1e9, series), {**base, "charge_off_rate": [0.1, 0.1, 0.1, 0.18, 0.18, 0.1]}).trust
    assert two.loc[4, "excess_spread_3m"] == pytest.approx((0.03 + 0.03 - 0.05) / 3, rel=1e-12)
    assert two.loc[5, "excess_spread_3m"] == pytest.approx((0.03 - 0.05 - 0.05) / 3, rel=1e-12)
    assert two.loc[4, "early_amortization"] == 0 and two.loc[5, "early_amortization"] == 1
    assert two.loc[5, "phase"] == 0 and two.loc[6, "phase"] == 2  # rapid amortization from the next month
    assert (two.loc[6:, "phase"] == 2).all()  # never cures, though the spread is positive again
    # F is taken at the end of the trigger month
    assert two.loc[6, "fixed_pct"] == pytest.approx(two.loc[5, "invested_amount"] / two.loc[5, "receivables"],
                                                    rel=1e-15)
    assert two.loc[6, "principal_paid"] == pytest.approx(two.loc[6, "fixed_pct"] * two.loc[6, "principal_collections"]
                                                         + two.loc[6, "charge_offs_covered"], rel=1e-12)


def test_a_grid_and_its_summaries():
    series = {"invested_amount": 5e8, "coupon": 0.045, "revolving_months": 24, "accumulation_months": 12,
              "legal_final_months": 84}
    deck = {"base": {"portfolio_yield": 0.18}, "grid": {"payment_rate": [0.05, 0.15, 0.25],
                                                         "charge_off_rate": [0.03, 0.09, 0.15]}}
    full = ae.run(deal(1e9, series), deck)
    fast = ae.run(deal(1e9, series), deck, summary_only=True)
    np.testing.assert_allclose(fast.summary().to_numpy(float), full.summary().to_numpy(float), rtol=1e-12)
    assert list(full.trust.columns) == ["date", *TRUST_COLUMNS]
    early = full.summary()["early_amortization_period"]
    assert (early.xs("payment_rate=0.05 charge_off_rate=0.15", level="scenario") > 0).all()
    assert (early.xs("payment_rate=0.25 charge_off_rate=0.03", level="scenario") == 0).all()


@pytest.mark.parametrize(("edit", "field"), [
    ({"series": {"revolving_months": 110}}, "revolving_months"),
    ({"series": {"invested_amount": 2e9}}, "invested_amount"),
    ({"collateral": {"receivables": None}}, "series"),
    ({"tranches": [{"name": "A", "balance": 1.0, "coupon": 0.0, "priority": 1}]}, "tranches"),
])
def test_bad_card_deals_are_one_clear_error(edit, field):
    d = deal(1e9, {"invested_amount": 5e8, "coupon": 0.05, "revolving_months": 24, "accumulation_months": 12})
    for k, v in edit.items():
        d[k] = {**d[k], **v} if isinstance(v, dict) and k in d else v
        if k == "collateral" and v.get("receivables") is None:
            d[k] = {"rep_lines": [{"balance": 1e6, "wac": 0.05, "wam": 12}]}
    with pytest.raises(SpecError, match=field):
        ae.load_deal(d)


def test_bad_card_scenarios_are_one_clear_error():
    d = deal(1e9, {"invested_amount": 5e8, "coupon": 0.05, "revolving_months": 24, "accumulation_months": 12})
    with pytest.raises(SpecError, match="purchase_rate"):
        ae.load_scenario({"payment_rate": 0.2, "portfolio_yield": 0.18, "charge_off_rate": 0.05,
                          "purchase_rate": -0.1})
    with pytest.raises(SpecError, match="payment_rate"):
        ae.load_scenario({"payment_rate": 1.2})
    with pytest.raises(SpecError, match="a payment rate in every scenario"):
        ae.run(d, {"portfolio_yield": 0.18, "charge_off_rate": 0.05})


def test_the_vocabulary_names_the_kernels_columns():
    from abs_engine.kernels import card as KC
    from abs_engine.vocabulary import CARD_STAT_COLUMNS

    assert KC.TRUST_COLS == len(TRUST_COLUMNS) and KC.CARD_STATS == len(CARD_STAT_COLUMNS)
    assert [TRUST_COLUMNS[getattr(KC, f"T_{c}")] for c in ("RECEIVABLES", "INVESTED", "PFA_BALANCE", "TO_SELLER",
                                                            "UNCOVERED", "EARLY")] == \
        ["receivables", "invested_amount", "pfa_balance", "principal_to_seller", "investor_charge_off",
         "early_amortization"]
    assert [CARD_STAT_COLUMNS[getattr(KC, f"C_{c}")] for c in ("WAL", "FIRST", "LAST", "WRITEDOWN", "EARLY")] == \
        ["wal", "first_principal_period", "last_principal_period", "total_writedown", "early_amortization_period"]


def test_the_command_line_runs_a_card_grid(tmp_path, capsys):
    from pathlib import Path

    from abs_engine.cli import main

    root = Path(__file__).resolve().parents[2]
    deck = tmp_path / "grid.yaml"
    deck.write_text("base: {portfolio_yield: 0.19}\ngrid:\n  payment_rate: [0.1, 0.2]\n"
                    "  charge_off_rate: [0.03, 0.2]\n")
    out = tmp_path / "grid.csv"
    assert main(["grid", str(root / "tranches/card_trust.yaml"), "--scenarios", str(deck), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Class A certificates" in text and "loss" in text
    assert len(out.read_text().splitlines()) == 1 + 4
    assert main(["price", str(root / "tranches/card_trust.yaml"), "--scenario",
                 str(root / "scenarios/card_base.yaml")]) == 2
    assert "runs with abs-engine run and grid" in capsys.readouterr().err
