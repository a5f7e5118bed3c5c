"""Dates and day counts (CONVENTIONS R2.1): the 30/360 calendar of BMA SF E.1 on its date pairs,
ACT/ACT ISDA across a leap year, payment dates on a payment day, and dated deals accruing each
period over its real dates (the irregular first period included), with the calculation written
in each test; one clear error for each bad input."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

import abs_engine as ae
from abs_engine.dates import adjust, days_30_360, payment_date, year_fraction
from abs_engine.errors import SpecError

D = dt.date


@pytest.mark.parametrize("d1, d2, days", [
    # BMA SF E.1: D1 the last day of February -> 30; D1 = 31 -> 30; then D2 = 31 -> 30 if D1 is 30
    (D(2023, 2, 28), D(2023, 3, 31), 30),    # non-leap February end: 30 -> 30 (D2 31 -> 30)
    (D(2024, 2, 28), D(2024, 3, 28), 30),    # the 28th in a leap year is not February's end: 28 -> 28
    (D(2024, 2, 29), D(2024, 3, 31), 30),    # leap February end: 30 -> 30
    (D(2024, 2, 29), D(2024, 3, 29), 29),    # 30 -> 29
    (D(2024, 1, 31), D(2024, 2, 29), 29),    # 30 -> 29 (D2 is not changed as D1 would be)
    (D(2024, 1, 31), D(2024, 3, 31), 60),    # 30 -> 30
    (D(2024, 8, 15), D(2024, 8, 31), 16),    # D1 not 30: D2 = 31 stays
    (D(2023, 12, 31), D(2024, 1, 31), 30),
    (D(2026, 11, 25), D(2026, 12, 25), 30),  # the 25th to the 25th: one month, the round-1 1/12
    (D(2026, 11, 18), D(2026, 12, 15), 27),  # an irregular first period
    (D(2024, 3, 31), D(2024, 2, 29), 0),     # backwards: max(..., 0)
])
def test_thirty_360_bma_sf_e1(d1, d2, days):
    assert days_30_360(d1, d2) == days
    assert year_fraction(d1, d2, "30/360") == days / 360


def test_act_act_isda_across_a_leap_year():
    # ISDA 2006 4.16(b): 2027-12-15 to 2028-01-15 has 17 days in 2027 (365) and 14 in 2028 (366);
    # a whole leap year is 1; 2028-02-15 to 2028-03-15: 29 days / 366
    assert year_fraction(D(2027, 12, 15), D(2028, 1, 15), "ACT/ACT ISDA") == pytest.approx(17 / 365 + 14 / 366,
                                                                                           rel=1e-15)
    assert year_fraction(D(2028, 1, 1), D(2029, 1, 1), "ACT/ACT ISDA") == pytest.approx(1.0, rel=1e-15)
    assert year_fraction(D(2028, 2, 15), D(2028, 3, 15), "ACT/ACT ISDA") == pytest.approx(29 / 366, rel=1e-15)
    assert year_fraction(D(2027, 2, 15), D(2027, 3, 15), "ACT/365F") == 28 / 365
    assert year_fraction(D(2028, 2, 15), D(2028, 3, 15), "ACT/360") == 29 / 360


def test_payment_dates_on_a_payment_day():
    # R2.1.1: F = 2024-02-29 with payment day 31: each later date on the 31st or the month's end
    assert [payment_date(D(2024, 2, 29), k, 31) for k in range(4)] == [D(2024, 2, 29), D(2024, 3, 31),
                                                                        D(2024, 4, 30), D(2024, 5, 31)]
    # without a payment day, the first date's day: 29, clipped to February 2025's 28
    assert payment_date(D(2024, 2, 29), 12) == D(2025, 2, 28)
    deal = {"name": "dated", "closing_date": "2024-01-31", "first_payment_date": "2024-02-29", "payment_day": 31,
            "collateral": {"rep_lines": [{"balance": 100.0, "wac": 0.0, "wam": 3}]}}
    assert ae.run(deal, {}).pool["date"].dt.strftime("%Y-%m-%d").tolist() == ["2024-02-29", "2024-03-31",
                                                                              "2024-04-30"]


@pytest.mark.parametrize("day, convention, calendar, moved", [
    (D(2026, 12, 26), "following", "ECB", D(2026, 12, 28)),            # a Saturday, and TARGET2's closed day
    (D(2026, 4, 3), "following", "ECB", D(2026, 4, 7)),                # Good Friday, then Easter Monday
    (D(2026, 4, 3), "preceding", "ECB", D(2026, 4, 2)),
    (D(2027, 1, 31), "following", "ECB", D(2027, 2, 1)),               # a Sunday: into February
    (D(2027, 1, 31), "modified_following", "ECB", D(2027, 1, 29)),     # ... so back to Friday the 29th
    (D(2026, 11, 26), "following", "NYSE", D(2026, 11, 27)),           # Thanksgiving
    (D(2026, 7, 3), "following", "US", D(2026, 7, 6)),                 # Independence Day observed, a weekend
    (D(2026, 12, 15), "modified_following", "NYSE", D(2026, 12, 15)),  # a business day stays
])
def test_business_day_adjustment(day, convention, calendar, moved):
    assert adjust([day], convention, calendar) == [moved]


def test_a_deal_on_business_days_accrues_between_the_adjusted_dates():
    # payment dates on the 20th, modified following on TARGET2: 2026-12-20 is a Sunday -> the 21st;
    # 2027-01-20 a Wednesday; 2027-02-20 a Saturday -> the 22nd. ACT/360 from closing 2026-11-20:
    # 31, 30 and 33 days
    deal = _dated_deal("ACT/360", "2026-11-20", "2026-12-20") | {
        "business_days": {"convention": "modified_following", "calendar": "ECB"}}
    res = ae.run(deal, {})
    assert res.pool["date"].dt.strftime("%Y-%m-%d").tolist()[:3] == ["2026-12-21", "2027-01-20", "2027-02-22"]
    due = res.tranches.xs("A", level="tranche")["interest_due"].to_numpy()
    np.testing.assert_allclose(due[:3], [1200 * 0.06 * 31 / 360, 1150 * 0.06 * 30 / 360, 1100 * 0.06 * 33 / 360],
                               rtol=1e-12)


def _dated_deal(day_count, closing="2026-11-18", first="2026-12-15"):
    return {"name": "dated", "closing_date": closing, "first_payment_date": first,
            "collateral": {"rep_lines": [{"balance": 1200.0, "wac": 0.0, "wam": 24}]},
            "tranches": [{"name": "A", "balance": 1200.0, "coupon": 0.06, "priority": 1, "day_count": day_count}],
            "waterfall": [{"pay": "interest", "tranches": ["A"]}, {"pay": "principal", "tranches": ["A"]}]}


@pytest.mark.parametrize("day_count, first_period, second_period", [
    # closing 2026-11-18, payments on the 15th; A 1,200 at 6%, 50 of principal a month (a 0% pool)
    # period 1 (2026-11-18 to 2026-12-15: 27 days, 27 on 30/360), period 2 (to 2027-01-15: 31, 30)
    ("30/360", 1200 * 0.06 * 27 / 360, 1150 * 0.06 * 30 / 360),
    ("ACT/360", 1200 * 0.06 * 27 / 360, 1150 * 0.06 * 31 / 360),
    ("ACT/365F", 1200 * 0.06 * 27 / 365, 1150 * 0.06 * 31 / 365),
    ("ACT/ACT ISDA", 1200 * 0.06 * 27 / 365, 1150 * 0.06 * (17 / 365 + 14 / 365)),
])
def test_a_dated_deal_accrues_each_period_over_its_dates(day_count, first_period, second_period):
    due = ae.run(_dated_deal(day_count), {}).tranches.xs("A", level="tranche")["interest_due"].to_numpy()
    np.testing.assert_allclose(due[:2], [first_period, second_period], rtol=1e-12)


def test_act_act_isda_in_a_deal_across_a_leap_year():
    # payments on the 15th from 2027-01-15: period 13 runs 2027-12-15 to 2028-01-15 (17/365 + 14/366),
    # period 15 2028-02-15 to 2028-03-15 (29/366); A's balance then 1200 - 50 x 12 and 1200 - 50 x 14
    tr = ae.run(_dated_deal("ACT/ACT ISDA", "2026-12-15", "2027-01-15"), {}).tranches.xs("A", level="tranche")
    due = tr["interest_due"].to_numpy()
    np.testing.assert_allclose(due[12], 600 * 0.06 * (17 / 365 + 14 / 366), rtol=1e-12)
    np.testing.assert_allclose(due[14], 500 * 0.06 * 29 / 366, rtol=1e-12)


def test_an_undated_deal_accrues_a_twelfth():
    deal = _dated_deal("30/360")
    del deal["closing_date"], deal["first_payment_date"]
    due = ae.run(deal, {}).tranches.xs("A", level="tranche")["interest_due"].to_numpy()
    np.testing.assert_allclose(due[:2], [1200 * 0.06 / 12, 1150 * 0.06 / 12], rtol=1e-15)


@pytest.mark.parametrize("change, where, expected", [
    (lambda d: d.update(payment_day=0), r"payment_day", "greater than or equal to 1"),
    (lambda d: d.update(payment_day=32), r"payment_day", "less than or equal to 31"),
    (lambda d: d.pop("first_payment_date") and d.update(payment_day=15), r"payment_day", "a first_payment_date"),
    (lambda d: d["tranches"][0].update(day_count="ACT/366"), r"tranches\[0\]\.day_count", "30/360"),
    (lambda d: d.pop("first_payment_date"), r"tranches\[0\]\.day_count", "a first_payment_date for ACT/365F"),
    (lambda d: d.update(business_days={"convention": "following", "calendar": "MARS"}), r"business_days\.calendar",
     "a calendar of the holidays library"),
    (lambda d: d.update(business_days={"convention": "nearest", "calendar": "NYSE"}),
     r"business_days\.convention", "following"),
    (lambda d: d.pop("first_payment_date") and d["tranches"][0].update(day_count="30/360")
     or d.update(business_days={"convention": "following", "calendar": "NYSE"}), r"business_days",
     "a first_payment_date"),
])
def test_bad_dates(change, where, expected):
    deal = _dated_deal("ACT/365F")
    change(deal)
    with pytest.raises(ae.SpecError, match=rf"{where}.*{expected}"):
        ae.load_deal(deal)


def test_rates_over_actual_days():
    # CONVENTIONS R2.3: a cut-off on 2026-02-01: month 1 is February (28 days), month 2 March (31):
    # SMM = 1 - (1 - 12%)^(28/365), then ^(31/365); scheduled amortization stays monthly (0% WAC
    # over 12 months: 1/12 of a surviving balance, then 1/11)
    deal = {"name": "actual days", "cut_off_date": "2026-02-01", "period_rates": "actual_days",
            "collateral": {"rep_lines": [{"balance": 1200.0, "wac": 0.0, "wam": 12}]}}
    pool = ae.run(deal, {"prepay": {"cpr": 0.12}, "default": {"cdr": 0.05}, "advancing": False}).pool
    np.testing.assert_allclose(pool["smm"].iloc[:2], [1 - 0.88 ** (28 / 365), 1 - 0.88 ** (31 / 365)], rtol=1e-12)
    np.testing.assert_allclose(pool["mdr"].iloc[:2], [1 - 0.95 ** (28 / 365), 1 - 0.95 ** (31 / 365)], rtol=1e-12)
    monthly = ae.run(deal | {"period_rates": "monthly"}, {"prepay": {"cpr": 0.12}}).pool
    assert monthly["smm"].iloc[0] == pytest.approx(1 - 0.88 ** (1 / 12), rel=1e-12)
    with pytest.raises(ae.SpecError, match=r"period_rates.*a cut_off_date"):
        ae.load_deal({k: v for k, v in deal.items() if k != "cut_off_date"})


def test_loans_aged_from_their_origination_dates():
    """Issue 17 item 4: a rep line or tape loan gives its origination date instead of its age; it
    is aged to the deal's cut-off date in whole months (a month counts once its day is reached:
    2024-01-15 to 2026-11-01 is 33 months, 2024-01-01 to 2026-11-01 34), and projects as the same
    loan given that age (a PSA curve read at its loan month)."""
    from abs_engine.io.loans import months_between

    assert months_between(D(2024, 1, 15), D(2026, 11, 1)) == 33
    assert months_between(D(2024, 1, 1), D(2026, 11, 1)) == 34
    assert months_between(D(2026, 1, 31), D(2026, 2, 28)) == 0  # (February has no 31st: not a month yet)
    line = {"balance": 1e6, "wac": 0.06, "wam": 300}
    scen = {"prepay": {"psa": 200}, "default": {"sda": 100}, "severity": 0.4, "recovery_lag": 3}
    dated = ae.run({"name": "d", "cut_off_date": "2026-11-01",
                    "collateral": {"rep_lines": [{**line, "origination_date": "2024-01-15"}]}}, scen).pool
    aged = ae.run({"name": "a", "collateral": {"rep_lines": [{**line, "age": 33}]}}, scen).pool
    np.testing.assert_array_equal(dated["prepayment"].to_numpy(), aged["prepayment"].to_numpy())


def test_a_tape_of_origination_dates(tmp_path):
    import pandas as pd

    tape = pd.DataFrame({"loan_id": ["a", "b", "c"], "balance": [1e5, 2e5, 3e5], "rate": [0.05, 0.06, 0.07],
                         "remaining_term": [300, 200, 100], "origination_date": ["2020-03-10", "2025-12-31",
                                                                               "2026-11-01"]})
    tape.to_csv(tmp_path / "tape.csv", index=False)
    deal = ae.load_deal({"name": "t", "cut_off_date": "2026-11-01",
                         "collateral": {"loan_tape": str(tmp_path / "tape.csv")}})
    from abs_engine.io.loans import deal_loans

    assert deal_loans(deal).age.tolist() == [79, 10, 0]
    ages = tape.drop(columns="origination_date").assign(age=[79, 10, 0])
    ages.to_csv(tmp_path / "aged.csv", index=False)
    scen = {"prepay": {"psa": 150}}
    a = ae.run(deal, scen).pool
    b = ae.run({"name": "t", "collateral": {"loan_tape": str(tmp_path / "aged.csv")}}, scen).pool
    np.testing.assert_array_equal(a["prepayment"].to_numpy(), b["prepayment"].to_numpy())
    # one clear error each: no cut-off date; a date after it; not a date; both columns
    with pytest.raises(SpecError, match="cut_off_date"):
        ae.run({"name": "t", "collateral": {"loan_tape": str(tmp_path / "tape.csv")}}, scen)
    for bad, match in (("2026-12-01", "on or before the cut-off date"), ("March 2020", "an ISO date")):
        tape.assign(origination_date=["2020-03-10", bad, "2026-11-01"]).to_csv(tmp_path / "bad.csv", index=False)
        with pytest.raises(SpecError, match=match):
            ae.run({"name": "t", "cut_off_date": "2026-11-01",
                    "collateral": {"loan_tape": str(tmp_path / "bad.csv")}}, scen)
    tape.assign(age=1).to_csv(tmp_path / "both.csv", index=False)
    with pytest.raises(SpecError, match="age or origination_date, not both"):
        ae.run({"name": "t", "cut_off_date": "2026-11-01", "collateral": {"loan_tape": str(tmp_path / "both.csv")}},
               scen)
    line = {"balance": 1e6, "wac": 0.06, "wam": 300, "origination_date": "2024-01-15"}
    with pytest.raises(SpecError, match="cut_off_date"):
        ae.load_deal({"name": "r", "collateral": {"rep_lines": [line]}})
    with pytest.raises(SpecError, match="age or origination_date"):
        ae.load_deal({"name": "r", "cut_off_date": "2026-11-01", "collateral": {"rep_lines": [{**line, "age": 3}]}})
    with pytest.raises(SpecError, match="on or before the cut_off_date"):
        ae.load_deal({"name": "r", "cut_off_date": "2023-11-01", "collateral": {"rep_lines": [line]}})
