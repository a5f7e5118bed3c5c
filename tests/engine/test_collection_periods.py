"""Notes paid quarterly or semiannually from a monthly pool (CONVENTIONS R2.1.1, R2.2): payment
dates every ``step`` months, each payment distributing the sums of its collection period, its
interest accrued over its own dates; written out by hand from the rules, then the same deal
through every path (summaries, a loan tape given to the loop, a servicer month by month)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

import abs_engine as ae
from abs_engine.dates import days_30_360
from abs_engine.errors import SpecError
from abs_engine.servicing.servicer import projected_collections

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = {"prepay": {"cpr": 0.12}, "default": {"cdr": 0.03}, "severity": 0.4, "recovery_lag": 0,
            "rates": {"SOFR": 0.04}}


def deal(frequency="quarterly", **extra):
    return {"name": "collection periods", "closing_date": "2026-01-07", "first_payment_date": "2026-04-15",
            "payment_frequency": frequency,
            "collateral": {"rep_lines": [{"balance": 1e8, "wac": 0.07, "net_coupon": 0.065, "wam": 40}]},
            "tranches": [{"name": "A", "balance": 8e7, "coupon": 0.05, "priority": 1},
                         {"name": "B", "balance": 1.5e7, "coupon": {"index": "SOFR", "spread": 0.02},
                          "day_count": "ACT/360", "priority": 2},
                         {"name": "R", "residual": True}],
            "fees": [{"name": "trustee", "rate": 0.002}],
            "waterfall": {"interest": [{"pay": "fees", "fees": ["trustee"]},
                                       {"pay": "interest", "tranches": ["A"]},
                                       {"pay": "interest", "tranches": ["B"]}],
                          "principal": [{"pay": "principal", "tranches": ["A", "B"]},
                                        {"pay": "residual", "tranche": "R"}]},
            **extra}


@pytest.mark.parametrize(("frequency", "step"), [("quarterly", 3), ("semiannual", 6)])
def test_each_payment_distributes_its_collection_period(frequency, step):
    res = ae.run(deal(frequency), SCENARIO)
    pool, tr, fees = res.pool, res.tranches, res.fees
    n = res.n_periods
    assert n == -(-40 // step) * step  # the months run to the end of the last collection period
    dates = res.dates
    first = dt.date(2026, 4, 15)
    for q in range(1, n // step + 1):
        m = step * q  # the payment month (R2.2.2): months step(q-1)+1 .. step q
        months = range(m - step + 1, m + 1)
        pay = dates[m - 1].date()
        assert pay == ae.dates.payment_date(first, step * (q - 1))  # payment date q (R2.1.1)
        start = dt.date(2026, 1, 7) if q == 1 else dates[m - step - 1].date()
        interest = sum(pool.loc[k, "net_interest"] for k in months)
        principal = sum(pool.loc[k, "scheduled_principal"] + pool.loc[k, "prepayment"] + pool.loc[k, "recovery"]
                        for k in months)
        pool_beg = pool.loc[m - step + 1, "beginning_balance"]
        a, b = tr.loc[(m, "A")], tr.loc[(m, "B")]
        # R2.2.4: interest over the accrual period's real dates on the balance after the last payment
        assert a["interest_due"] == pytest.approx(a["beginning_balance"] * 0.05 * days_30_360(start, pay) / 360,
                                                  rel=1e-12)
        carried = tr.loc[(m - 1, "B"), "interest_shortfall"]  # (shown between payment dates as it stands)
        assert b["interest_due"] - carried == pytest.approx(b["beginning_balance"] * 0.06 * (pay - start).days / 360,
                                                            rel=1e-12)
        fee = fees.loc[(m, "trustee"), "due"]
        assert fee == pytest.approx(0.002 * step / 12 * pool_beg, rel=1e-12)  # a rate over the period's months
        # R2.2.3: interest funds are the period's summed net interest; principal funds its principal
        assert res.cash.loc[m, "interest_collections"] == pytest.approx(interest, rel=1e-12)
        assert res.cash.loc[m, "principal_collections"] == pytest.approx(principal, rel=1e-12)
        notes = a["beginning_balance"] + b["beginning_balance"]
        assert a["principal_paid"] + b["principal_paid"] == pytest.approx(min(principal, notes), rel=1e-9)
        out = fees.loc[(m, "trustee"), "paid"] + a["interest_paid"] + b["interest_paid"] + a["principal_paid"] \
            + b["principal_paid"] + res.cash.loc[m, "residual_paid"]
        assert out == pytest.approx(interest + principal, rel=1e-12)
        for k in months[:-1]:  # nothing is paid between payment dates; balances stand
            row = tr.loc[(k, "A")]
            assert row["interest_paid"] == row["principal_paid"] == fees.loc[(k, "trustee"), "paid"] == 0.0
            assert row["beginning_balance"] == row["ending_balance"] == a["beginning_balance"]
    assert np.abs(res.check().to_numpy()).max() <= 1e-6
    assert tr.xs("A", level="tranche")["principal_paid"].sum() + \
        tr.xs("B", level="tranche")["principal_paid"].sum() + tr.xs("B", level="tranche")["writedown"].sum() \
        == pytest.approx(9.5e7, rel=1e-12)


def test_a_floating_coupon_is_set_at_the_start_of_its_period_and_analytics_time_each_payment():
    # SOFR rising monthly: payment q's coupon is the index of its first month (set in advance)
    sofr = [0.01 + 0.001 * k for k in range(48)]
    res = ae.run(deal(), {**SCENARIO, "rates": {"SOFR": sofr}})
    tr = res.tranches
    for q in range(1, 5):
        assert tr.loc[(3 * q, "B"), "coupon"] == pytest.approx(sofr[3 * (q - 1)] + 0.02, rel=1e-15)
    # WAL (BMA G): each payment at its month, T = 30 m / 360
    a = tr.xs("A", level="tranche")
    wal = float((a.index.to_numpy() / 12 * a["principal_paid"]).sum() / a["principal_paid"].sum())
    assert res.summary().loc["A", "wal"] == pytest.approx(wal, rel=1e-12)


def test_summaries_equal_the_full_run():
    scenarios = [SCENARIO, {**SCENARIO, "prepay": {"cpr": 0.3}, "default": {"cdr": 0.1}, "severity": 0.6}]
    for frequency in ("quarterly", "semiannual"):
        d = deal(frequency)
        full = ae.run(d, scenarios).summary()
        fast = ae.run(d, scenarios, summary_only=True).summary()
        cols = ["wal", "total_interest", "total_principal", "total_writedown", "yield"]
        np.testing.assert_allclose(fast[cols].to_numpy(float), full[cols].to_numpy(float), rtol=1e-9, atol=1e-6)
        assert (fast["first_principal_period"].to_numpy() % (3 if frequency == "quarterly" else 6))[:2].tolist() \
            == [0, 0]


def test_a_tape_given_to_the_loop_pays_as_the_pool_in_the_loop():
    """The loan-level path projects the tape apart and gives the loop its months: the collection
    periods are summed the same way."""
    d = ae.load_deal(ROOT / "tranches/nonagency_rmbs.yaml")
    q = ae.load_deal({**d.model_dump(mode="json", exclude_none=True), "payment_frequency": "quarterly",
                      "collateral": {**d.collateral.model_dump(mode="json", exclude_none=True),
                                                     "loan_tape": str(ROOT / "tranches/data/nonagency_seasoned.csv")}})
    scen = {**SCENARIO, "prepay": {"psa": 150}, "recovery_lag": 3, "advancing": True}
    inloop, given = ae.run(q, scen), ae.run(q, scen, loan_level=True)
    cols = ["interest_paid", "principal_paid", "writedown", "ending_balance"]
    np.testing.assert_allclose(given.tranches[cols].to_numpy(float), inloop.tranches[cols].to_numpy(float),
                               rtol=1e-9, atol=1e-5)
    assert (inloop.tranches.xs(1, level="period")["principal_paid"] == 0).all()


def test_a_servicer_month_by_month_reproduces_the_projection(tmp_path):
    """Actual collections each month; the collections of months between payment dates are held in
    the deal's state (saved in the ledger) and paid on the payment date."""
    scen = {**SCENARIO, "exercise_call": False}
    projection = ae.run(deal(), scen)
    servicer = ae.Servicer(deal(), tmp_path / "ledger.sqlite")
    for p in range(1, 10):
        head, _ = projected_collections(projection, p, loan_level=False)
        if p == 5:  # a new process in the middle of a collection period: the held sums come from the ledger
            servicer = ae.Servicer(deal(), tmp_path / "ledger.sqlite")
        rep = servicer.distribute(head)
        tr = projection.tranches.xs(p, level="period").loc[["A", "B"]]
        cols = ["interest_due", "interest_paid", "principal_paid", "ending_balance"]
        np.testing.assert_allclose(rep.tranches.loc[["A", "B"], cols].to_numpy(float), tr[cols].to_numpy(float),
                                   rtol=1e-9, atol=1e-6)
    assert servicer.verify().ok


@pytest.mark.parametrize(("edit", "field"), [
    ({"payment_frequency": "weekly"}, "payment_frequency"),
    ({"payment_frequency": "quarterly", "triggers": [{"name": "loss", "metric": "cumulative_loss",
                                                      "threshold": [0.1] * 40}]}, "threshold"),
])
def test_bad_frequencies_and_month_vectors_are_one_clear_error(edit, field):
    with pytest.raises(SpecError, match=field):
        ae.run(deal(**edit), SCENARIO)
