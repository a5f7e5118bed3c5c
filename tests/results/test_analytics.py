"""Analytics by BMA section G: golden closed forms, an independent slow reference, properties."""

from __future__ import annotations

import datetime

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import abs_engine as ae
from abs_engine.results import analytics as A


def slow_price(cf, y, delay=0.0):
    """Reference: one cash flow at a time."""
    return sum(c * (1 + y / 2) ** (-2 * (30 * k + delay) / 360) for k, c in enumerate(cf, start=1))


def slow_yield(cf, price, delay=0.0):
    """Reference: secant iterations from 5% and 6%."""
    a, b = 0.05, 0.06
    fa, fb = slow_price(cf, a, delay) - price, slow_price(cf, b, delay) - price
    for _ in range(100):
        if fb == fa:
            break
        a, b = b, b - fb * (b - a) / (fb - fa)
        fa, fb = fb, slow_price(cf, b, delay) - price
    return b


def test_zero_coupon_closed_form():
    # 10-year zero, 100 at month 120, y = 5%: P = 100 (1.025)^-20 = 61.0270942859; Macaulay duration = T = 10
    cf = np.zeros(120)
    cf[-1] = 100.0
    assert A.price_from_yield(cf, 0.05) == pytest.approx(100 * 1.025 ** -20, rel=1e-14)
    assert A.macaulay_duration(cf, 0.05) == pytest.approx(10.0, rel=1e-14)
    assert A.modified_duration(cf, 0.05) == pytest.approx(10.0 / 1.025, rel=1e-14)
    assert A.convexity(cf, 0.05) == pytest.approx(10.0 * 10.5 / 1.025 ** 2, rel=1e-14)
    assert A.yield_from_price(cf, 100 * 1.025 ** -20) == pytest.approx(0.05, abs=1e-12)


@pytest.mark.parametrize("coupon", [0.0, 0.03, 0.06, 0.12])
def test_monthly_pay_bond_at_par_yields_its_coupon_bond_equivalent(coupon):
    # monthly coupon c/12 at par: (1 + y/2)^(1/6) = 1 + c/12  ->  y = 2 [(1 + c/12)^6 - 1]; mortgage yield = c
    cf = np.full(240, 100 * coupon / 12)
    cf[-1] += 100
    y = A.yield_from_price(cf, 100.0)
    assert y == pytest.approx(2 * ((1 + coupon / 12) ** 6 - 1), abs=1e-12)
    assert A.mortgage_yield(y) == pytest.approx(coupon, abs=1e-12)


def test_payment_delay_shifts_every_cash_flow():
    # T_k = (30k + delay)/360: a 24-day delay on a one-month bill discounts over 54/360 years
    assert A.price_from_yield([100.0], 0.06, delay_days=24) == pytest.approx(100 * 1.03 ** (-2 * 54 / 360))
    assert A.wal([0.0, 100.0], delay_days=24) == pytest.approx((60 + 24) / 360)


@given(st.lists(st.one_of(st.just(0.0), st.floats(0.01, 50.0)), min_size=1, max_size=60), st.floats(0.0, 0.2),
       st.floats(0, 30))
def test_matches_slow_reference(cf, y, delay):
    if sum(cf) < 0.01:  # no cash flow, no yield
        return
    p = A.price_from_yield(cf, y, delay)
    assert p == pytest.approx(slow_price(cf, y, delay), rel=1e-12)
    assert A.yield_from_price(cf, p, delay) == pytest.approx(slow_yield(cf, p, delay), abs=1e-9)


@given(st.lists(st.floats(0.01, 50.0), min_size=1, max_size=60), st.floats(-0.05, 0.3), st.floats(0.001, 0.1))
def test_price_decreases_with_yield_and_durations_are_derivatives(cf, y, dy):
    p0, p1 = A.price_from_yield(cf, y), A.price_from_yield(cf, y + dy)
    assert p1 < p0
    # modified duration = -P'/P and convexity = P''/P (central differences)
    h = 1e-5
    up, dn = A.price_from_yield(cf, y + h), A.price_from_yield(cf, y - h)
    assert A.modified_duration(cf, y) == pytest.approx(-(up - dn) / (2 * h) / p0, rel=1e-6, abs=1e-9)
    assert A.convexity(cf, y) == pytest.approx((up + dn - 2 * p0) / h ** 2 / p0, rel=1e-3, abs=1e-6)


def test_vectorized_over_many_bonds():
    rng = np.random.default_rng(0)
    cf = rng.uniform(0, 10, (5, 7, 36))
    y = rng.uniform(0.0, 0.1, (5, 7))
    p = A.price_from_yield(cf, y)
    np.testing.assert_allclose(A.yield_from_price(cf, p), y, atol=1e-12)
    assert p.shape == (5, 7)


def test_floater_discount_margin():
    # index 4% flat, floater pays index + 50 bp monthly for 24 months: at par the DM is 50 bp;
    # priced at 99 the DM is wider
    cf = np.full(24, 100 * 0.045 / 12)
    cf[-1] += 100
    assert A.discount_margin(cf, 100.0, np.full(24, 0.04)) == pytest.approx(0.005, abs=1e-12)
    assert A.discount_margin(cf, 99.0, np.full(24, 0.04)) > 0.005


def test_tranche_yields_at_par_equal_their_coupons():
    # no losses, 30/360, no delay: a fixed-rate tranche at par yields its coupon's bond equivalent,
    # whatever its principal schedule, when every period accrues a month (the deal's own closing on
    # the 18th makes a 27-day first period, CONVENTIONS R2.1.4: here it closes on the 15th)
    res = ae.run(ae.load_deal("tranches/auto_prime_abs.yaml").model_copy(
        update={"closing_date": datetime.date(2026, 11, 15)}), "scenarios/auto_base.yaml")
    s = res.summary()
    for name, coupon in (("A-2a", 0.0441), ("A-3", 0.0438), ("B", 0.0489)):
        assert s.loc[name, "yield"] == pytest.approx(2 * ((1 + coupon / 12) ** 6 - 1), abs=1e-11)
        assert s.loc[name, "price"] == 100.0
    priced = res.analytics(yield_={"A-3": 0.05})
    assert priced.loc["A-3", "price"] < 100.0
    assert np.isnan(priced.loc["A-2a", "price"])
    # the floater accrues ACT/360 (about 365/360 of a 30/360 month) but is discounted monthly, so its
    # DM at par sits a little above its 45 bp spread; pricing at that DM gives par back
    dm = res.analytics().loc["A-2b", "discount_margin"]
    assert 0.0045 < dm < 0.0055
    k = [t.name for t in res.deal.notes].index("A-2b")
    cf = res.tranche_cash_flows()[0, k]
    assert A.price_from_discount_margin(cf, np.full(cf.size, 0.043), dm) == pytest.approx(100.0, abs=1e-9)


def test_risk_measures_equal_the_separate_functions():
    rng = np.random.default_rng(2)
    cf = rng.uniform(0, 5, (4, 3, 30))
    y = rng.uniform(0.0, 0.1, (4, 3))
    mac, mod, conv = A.risk_measures(cf, y, 14)
    np.testing.assert_allclose(mac, A.macaulay_duration(cf, y, 14), rtol=1e-13)
    np.testing.assert_allclose(mod, A.modified_duration(cf, y, 14), rtol=1e-13)
    np.testing.assert_allclose(conv, A.convexity(cf, y, 14), rtol=1e-13)
