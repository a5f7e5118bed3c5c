"""Coupon step-ups (CONVENTIONS R2.7.1) and one-off or scheduled fees, by hand; the random-deal
oracle (tests/engine/test_waterfall_oracle.py) draws both too, and checks summaries against full runs."""

from __future__ import annotations

import pytest

import abs_engine as ae
from abs_engine.errors import SpecError

from ..engine.test_waterfall_golden import deal
from ..results.test_scale_and_plots import assert_same_summaries

# a 12-month pool of 1,000,000 at 6%: interest collections 5,000 in period 1, ample for the notes
NOTES = [{"name": "A", "balance": 800_000, "coupon": 0.04, "priority": 1},
         {"name": "F", "balance": 200_000, "coupon": {"index": "SOFR", "spread": 0.01}, "priority": 2},
         {"name": "R", "residual": True}]
PAY = [{"pay": "fees", "fees": ["arranger"]}, {"pay": "interest", "tranches": ["A", "F"]},
       {"pay": "principal", "tranches": ["A", "F"]}, {"pay": "residual", "tranche": "R"}]
SCENARIO = {"rates": {"SOFR": 0.03}}


def _run(notes, fees=({"name": "arranger", "amount": 0.0},), **kw):
    return ae.run(deal(notes, PAY, fees=list(fees)), SCENARIO, **kw)


def test_step_up_from_a_period_raises_the_coupon_from_that_period_on():
    notes = [{**NOTES[0], "step_up": {"by": 0.01, "from_period": 4}}, NOTES[1], NOTES[2]]
    a = _run(notes).tranches.xs("A", level="tranche")
    # periods 1-3: 4%; from period 4: 4% + 1% = 5% (R2.7.1: c in t < k, c + Δ from k on)
    assert a.loc[1:3, "coupon"].tolist() == [0.04] * 3
    assert a.loc[4:, "coupon"].tolist() == pytest.approx([0.05] * 9)
    # interest due is the coupon on the beginning balance: 5%/12 x balance in period 4
    assert a.loc[4, "interest_due"] == pytest.approx(a.loc[4, "beginning_balance"] * 0.05 / 12)
    assert a.loc[3, "interest_due"] == pytest.approx(a.loc[3, "beginning_balance"] * 0.04 / 12)


def test_step_up_of_a_floating_class_adds_to_its_coupon():
    notes = [NOTES[0], {**NOTES[1], "step_up": {"by": 0.005, "from_period": 2}}, NOTES[2]]
    f = _run(notes).tranches.xs("F", level="tranche")
    # SOFR 3% + spread 1% = 4%, then + 0.5% from period 2
    assert f.loc[1, "coupon"] == pytest.approx(0.04)
    assert f.loc[2:, "coupon"].tolist() == pytest.approx([0.045] * 11)


@pytest.mark.parametrize(("date", "first_period"), [
    ("2026-01-15", 1),   # the closing date: period 1's accrual starts on it
    ("2026-02-15", 2),   # the first payment date starts period 2's accrual
    ("2026-03-15", 3),   # on a start: that period
    ("2026-03-16", 4),   # a day after a start: the next period
    ("2027-06-01", None),  # after the deal's last period: never
])
def test_step_up_from_a_date_starts_with_the_first_accrual_period_on_or_after_it(date, first_period):
    notes = [{**NOTES[0], "step_up": {"by": 0.01, "from_date": date}}, NOTES[1], NOTES[2]]
    coupon = _run(notes).tranches.xs("A", level="tranche")["coupon"]
    expected = [0.04 if first_period is None or p < first_period else 0.05 for p in coupon.index]
    assert coupon.tolist() == pytest.approx(expected)


def test_one_off_and_scheduled_fees_are_due_in_their_periods_only():
    fees = [{"name": "arranger", "schedule": {1: 1_000.0}},             # a one-off fee at closing
            {"name": "rating", "schedule": {3: 150.0, 6: 150.0, 9: 150.0}}]  # quarterly, by table
    res = ae.run(deal(NOTES, [{"pay": "fees", "fees": ["arranger", "rating"]}] + PAY[1:], fees=fees), SCENARIO)
    arranger = res.fees.xs("arranger", level="fee")
    rating = res.fees.xs("rating", level="fee")
    assert arranger["due"].tolist() == [1_000.0] + [0.0] * 11
    assert arranger["paid"].tolist() == [1_000.0] + [0.0] * 11
    assert rating["due"].tolist() == [150.0 if p in (3, 6, 9) else 0.0 for p in rating.index]
    # period 1: interest collections 5,000 pay the fee (1,000) and the notes' interest (A 800,000 x
    # 4%/12 = 2,666.67; F 200,000 x (3% + 1%)/12 = 666.67); principal takes the principal
    # collections; the residual is 5,000 - 1,000 - 3,333.33 = 666.67
    t = res.tranches.loc[1]
    assert t.loc["A", "interest_paid"] + t.loc["F", "interest_paid"] == pytest.approx(10_000 / 3)
    assert t.loc["R", "residual_paid"] == pytest.approx(5_000 - 1_000 - 10_000 / 3)


def test_an_unpaid_scheduled_fee_carries_forward():
    # a one-off fee larger than everything collected in period 1 (5,000 of interest + 81,066.40 of
    # scheduled principal = 86,066.40, the level payment): the rest is due in period 2, without interest
    level = 1e6 * 0.005 / (1 - 1.005 ** -12)
    fees = [{"name": "arranger", "schedule": {1: 100_000.0}}]
    arranger = _run(NOTES, fees).fees.xs("arranger", level="fee")
    assert arranger.loc[1, "paid"] == pytest.approx(level)
    assert arranger.loc[1, "shortfall"] == pytest.approx(100_000.0 - level)
    assert arranger.loc[2, "due"] == pytest.approx(100_000.0 - level)


def test_summaries_equal_the_full_run_with_step_ups_and_schedules():
    notes = [{**NOTES[0], "step_up": {"by": 0.01, "from_date": "2026-05-15"}},
             {**NOTES[1], "step_up": {"by": 0.002, "from_period": 3}}, NOTES[2]]
    fees = [{"name": "arranger", "schedule": {2: 900.0, 5: 4_000.0}}]
    d = ae.load_deal(deal(notes, PAY, fees=fees))
    scenarios = [ae.Scenario.model_validate({**SCENARIO, "prepay": {"cpr": c}}) for c in (0.0, 0.2, 0.5)]
    assert_same_summaries(ae.run(d, scenarios, summary_only=True, progress=False), ae.run(d, scenarios))


@pytest.mark.parametrize(("change", "field"), [
    ({"step_up": {"by": 0.01}}, "tranches[0].step_up"),
    ({"step_up": {"by": 0.01, "from_period": 3, "from_date": "2026-05-15"}}, "tranches[0].step_up"),
    ({"step_up": {"by": 0.01, "from_period": 0}}, "tranches[0].step_up.from_period"),
    ({"step_up": {"by": -0.01, "from_period": 3}}, "tranches[0].step_up.by"),
])
def test_bad_step_ups_name_the_field(change, field):
    notes = [{**NOTES[0], **change}, NOTES[1], NOTES[2]]
    with pytest.raises(SpecError) as err:
        ae.load_deal(deal(notes, PAY, fees=[{"name": "arranger", "amount": 0.0}]))
    assert field in str(err.value)


def test_a_dated_step_up_needs_payment_dates_and_the_residual_has_none():
    notes = [{**NOTES[0], "step_up": {"by": 0.01, "from_date": "2026-05-15"}}, NOTES[1], NOTES[2]]
    d = deal(notes, PAY, fees=[{"name": "arranger", "amount": 0.0}])
    del d["first_payment_date"]
    with pytest.raises(SpecError, match=r"tranches\[0\]\.step_up\.from_date"):
        ae.load_deal(d)
    residual = [NOTES[0], NOTES[1], {"name": "R", "residual": True, "step_up": {"by": 0.01, "from_period": 2}}]
    with pytest.raises(SpecError, match=r"tranches\[2\]"):
        ae.load_deal(deal(residual, PAY, fees=[{"name": "arranger", "amount": 0.0}]))


@pytest.mark.parametrize(("fee", "says"), [
    ({"schedule": {0: 100.0}}, "periods >= 1"),
    ({"schedule": {}}, "periods >= 1"),
    ({"schedule": {2: -5.0}}, "schedule"),
    ({"schedule": {2: 5.0}, "amount": 5.0}, "exactly one of rate, amount, interest_share or schedule"),
])
def test_bad_fee_schedules_name_the_field(fee, says):
    with pytest.raises(SpecError, match=says):
        ae.load_deal(deal(NOTES, PAY, fees=[{"name": "arranger", **fee}]))
