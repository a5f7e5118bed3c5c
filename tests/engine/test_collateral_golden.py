"""Golden numbers for the collateral engine. Every expected value names its source: the
BMA/SIFMA Standard Formulas (SF chapter, sections B and C) as written in CONVENTIONS.md, or a
closed form derived in the test."""

from __future__ import annotations

import math

import numpy as np
import pytest

import abs_engine as ae
from abs_engine.kernels import curves


def pool(lines, scen):
    return ae.run({"name": "golden", "collateral": {"rep_lines": lines}}, scen).pool


def test_level_payment_matches_annuity_formula():
    # P*r/(1-(1+r)**-n) with P=100, r=0.06/12, n=360 gives 0.599550525 (level-payment annuity)
    p = pool([{"balance": 100.0, "wac": 0.06, "wam": 360}], {"prepay": {"cpr": 0.0}})
    payment = p["scheduled_principal"] + p["gross_interest"]
    assert payment.iloc[0] == pytest.approx(0.599550525, abs=1e-9)
    np.testing.assert_allclose(payment, 0.5995505251, rtol=1e-9)  # level every month


@pytest.mark.parametrize(("cpr", "smm"), [
    # SMM = 1 - (1 - CPR)^(1/12) (SF B.1), evaluated to 15 digits with mpmath at 30-digit precision;
    # 6% CPR is the familiar 0.5143% SMM of 100% PSA from month 30
    (0.06, 0.00514301283182295),
    (0.10, 0.00874161095469671),
    (0.50, 0.0561256873183065),
    (1.00, 1.0),
])
def test_cpr_to_smm(cpr, smm):
    assert curves.annual_to_monthly(cpr) == pytest.approx(smm, rel=1e-13)
    assert 1 - (1 - curves.annual_to_monthly(cpr)) ** 12 == pytest.approx(cpr, abs=1e-12)  # and back


@pytest.mark.parametrize(("speed", "m", "cpr"), [
    # PSA: CPR = speed/100 x 0.2% x min(m, 30) (SF B.2): 100% PSA is 0.2% in month 1, 6% from month 30
    (100, 1, 0.002), (100, 15, 0.03), (100, 30, 0.06), (100, 31, 0.06), (100, 360, 0.06),
    (150, 10, 0.03), (50, 30, 0.03), (300, 25, 0.15), (2000, 30, 1.0),
])
def test_psa_curve(speed, m, cpr):
    assert curves.psa_cpr(speed, m) == pytest.approx(cpr, abs=1e-15)


@pytest.mark.parametrize(("speed", "m", "cdr"), [
    # SDA (SF C.1): 0.02% x m to m=30; 0.60% to m=60; -0.0095%/month to 0.03% at m=120; 0.03% after
    (100, 1, 0.0002), (100, 30, 0.006), (100, 45, 0.006), (100, 60, 0.006), (100, 61, 0.005905),
    (100, 90, 0.00315), (100, 120, 0.0003), (100, 121, 0.0003), (100, 360, 0.0003),
    (200, 30, 0.012), (50, 90, 0.001575),
])
def test_sda_curve(speed, m, cdr):
    assert curves.sda_cdr(speed, m) == pytest.approx(cdr, abs=1e-15)


@pytest.mark.parametrize(("speed", "m", "smm"), [
    # ABS: SMM = A / (1 - A (m - 1)), A = speed/100 (SF B.3)
    (1.5, 1, 0.015), (1.5, 10, 0.015 / (1 - 0.015 * 9)), (1.3, 24, 0.013 / (1 - 0.013 * 23)),
    (10.0, 10, 1.0),  # A (m-1) = 0.9 -> SMM 1: the whole balance prepays
])
def test_abs_curve(speed, m, smm):
    assert curves.abs_smm(speed, m) == pytest.approx(smm, abs=1e-15)


def test_pool_reads_psa_and_sda_at_loan_month():
    # a pool of age 10: projection month 1 is loan month 11 -> 150% PSA gives CPR 0.2% x 11 x 1.5 = 3.3%
    p = pool([{"balance": 1e6, "wac": 0.07, "wam": 350, "age": 10}],
             {"prepay": {"psa": 150}, "default": {"sda": 100}})
    assert p["smm"].iloc[0] == pytest.approx(1 - (1 - 0.033) ** (1 / 12), rel=1e-12)
    assert p["mdr"].iloc[0] == pytest.approx(1 - (1 - 0.0022) ** (1 / 12), rel=1e-12)  # 0.02% x 11
    assert p["smm"].iloc[25] == pytest.approx(1 - (1 - 0.09) ** (1 / 12), rel=1e-12)  # m=36: 1.5 x 6%


def test_the_pool_table_reports_the_assumed_rates_also_in_the_last_month():
    """Issue 17 item 7: ``smm`` and ``mdr`` are the month's assumed rates, as the BMA tables print
    them: in the pool's last month (nothing left to prepay after its final payment) the SMM of its
    loan month, and in the last L months before maturity (no new defaults, CONVENTIONS) the MDR of
    the curve; a pool whose loans read different rates (two ages under PSA) reports the realised
    rate, prepayments over the balance after scheduled principal."""
    p = pool([{"balance": 1e6, "wac": 0.07, "wam": 24, "age": 10}],
             {"prepay": {"psa": 150}, "default": {"sda": 100}, "recovery_lag": 3})
    assert p["prepayment"].iloc[-1] == 0.0 and p["default"].iloc[-1] == 0.0
    m = 10 + 24  # the last month's loan month
    assert p["smm"].iloc[-1] == pytest.approx(1 - (1 - min(0.002 * 30, 1) * 1.5) ** (1 / 12), rel=1e-12)
    assert p["mdr"].iloc[-1] == pytest.approx(1 - (1 - 0.006) ** (1 / 12), rel=1e-12)  # SDA: 0.6% at m = 34
    assert m == 34
    two = pool([{"balance": 1e6, "wac": 0.07, "wam": 24, "age": 10}, {"balance": 1e6, "wac": 0.07, "wam": 24}],
               {"prepay": {"psa": 150}})
    realised = two["prepayment"] / (two["beginning_balance"] - two["scheduled_principal"])
    np.testing.assert_allclose(two["smm"].iloc[:-1], realised.iloc[:-1], rtol=1e-9)


def test_constant_cpr_balance_closed_form():
    # no defaults: B_k = B0 x [1-(1+r)^-(n-k)] / [1-(1+r)^-n] x (1-SMM)^k  (SF B: survival x scheduled)
    b0, r, n, cpr = 1e8, 0.075 / 12, 360, 0.08
    smm = 1 - (1 - cpr) ** (1 / 12)
    p = pool([{"balance": b0, "wac": 0.075, "net_coupon": 0.07, "wam": n}], {"prepay": {"cpr": cpr}})
    k = np.arange(1, n + 1)
    expected = b0 * (1 - (1 + r) ** -(n - k)) / (1 - (1 + r) ** -n) * (1 - smm) ** k
    np.testing.assert_allclose(p["ending_balance"], expected, rtol=1e-10, atol=1e-6)
    # net interest at the net coupon on the beginning balance; the difference is the servicing fee
    np.testing.assert_allclose(p["net_interest"], p["beginning_balance"] * 0.07 / 12, rtol=1e-12)
    np.testing.assert_allclose(p["servicing_fee"], p["beginning_balance"] * 0.005 / 12, rtol=1e-9)


def test_one_default_month_without_advancing():
    # MDR 1% in month 1 only, lag 3, severity 40%, no prepayment, no advancing:
    # D = 1% x B0 sits in foreclosure (not amortizing) months 1-3, liquidates in month 4:
    # loss = 0.4 D, recovery = 0.6 D; interest is paid on PERF(i-1) - NEW_DEF only.
    b0, r = 1e6, 0.06 / 12
    p = pool([{"balance": b0, "wac": 0.06, "wam": 120}],
             {"prepay": {"cpr": 0.0}, "default": {"mdr": [0.01, 0.0]}, "severity": 0.4,
              "recovery_lag": 3, "advancing": False})
    d = 0.01 * b0
    assert p["default"].iloc[0] == pytest.approx(d)
    np.testing.assert_allclose(p["foreclosure_balance"].iloc[:3], d)
    assert p["loss"].iloc[3] == pytest.approx(0.4 * d)
    assert p["recovery"].iloc[3] == pytest.approx(0.6 * d)
    assert p["gross_interest"].iloc[0] == pytest.approx((b0 - d) * r)
    assert p["loss"].drop(4).abs().max() == 0.0


def test_one_default_month_with_advancing():
    # With advancing the defaulted balance keeps amortizing until liquidation:
    # liquidated = D x SCH(3)/SCH(0) = D x [1-(1+r)^-(n-3)]/[1-(1+r)^-n]; loss = min(0.4 D, liquidated)
    b0, r, n = 1e6, 0.06 / 12, 120
    p = pool([{"balance": b0, "wac": 0.06, "wam": n}],
             {"prepay": {"cpr": 0.0}, "default": {"mdr": [0.01, 0.0]}, "severity": 0.4,
              "recovery_lag": 3, "advancing": True})
    d = 0.01 * b0
    liquidated = d * (1 - (1 + r) ** -(n - 3)) / (1 - (1 + r) ** -n)
    assert p["loss"].iloc[3] == pytest.approx(0.4 * d, rel=1e-12)
    assert p["recovery"].iloc[3] == pytest.approx(liquidated - 0.4 * d, rel=1e-12)
    # interest on the whole pool (performing + foreclosure): month 1 on B0
    assert p["gross_interest"].iloc[0] == pytest.approx(b0 * r, rel=1e-12)
    # no default is lost: scheduled principal equals the loan's schedule (performing + advanced)
    level = b0 * r / (1 - (1 + r) ** -n)
    assert (p["scheduled_principal"] + p["gross_interest"]).iloc[0] == pytest.approx(level, rel=1e-12)


def test_severity_capped_by_liquidated_balance():
    # severity 100% on the balance at default, liquidated after it amortized: loss = liquidated balance
    p = pool([{"balance": 1e6, "wac": 0.09, "wam": 24}],
             {"default": {"mdr": [0.02, 0.0]}, "severity": 1.0, "recovery_lag": 12, "advancing": True})
    assert p["recovery"].sum() == pytest.approx(0.0, abs=1e-9)
    assert p["loss"].iloc[12] < 0.02 * 1e6


def test_no_defaults_in_last_lag_months():
    # "Defaults are set to zero in the last L months before the pool's maturity" (SF C)
    p = pool([{"balance": 1e6, "wac": 0.05, "wam": 24}],
             {"default": {"cdr": 0.2}, "severity": 0.5, "recovery_lag": 6})
    assert (p["default"].iloc[:18] > 0).all()
    assert (p["default"].iloc[18:] == 0).all()
    assert p["foreclosure_balance"].iloc[-1] == 0.0


def test_prepayments_capped_by_performing_balance():
    # SMM 100% and MDR 30%: defaults come first, prepayments take the rest of the amortized balance
    p = pool([{"balance": 1e6, "wac": 0.0, "wam": 10}],
             {"prepay": {"smm": 1.0}, "default": {"mdr": 0.3}, "severity": 0.0})
    assert p["default"].iloc[0] == pytest.approx(3e5)
    assert p["scheduled_principal"].iloc[0] == pytest.approx(7e5 / 10)
    assert p["prepayment"].iloc[0] == pytest.approx(7e5 * 0.9)
    assert p["performing_balance"].iloc[0] == pytest.approx(0.0, abs=1e-9)


def test_balloon_pays_remaining_balance():
    # 30/7 balloon: level pay over 360 months, balance due at loan month 84:
    # balloon = B0 x [1-(1+r)^-(360-83)] / [1-(1+r)^-360] (balance after 83 payments)
    b0, r = 1e6, 0.065 / 12
    p = pool([{"balance": b0, "wac": 0.065, "wam": 360, "amortization": "balloon", "balloon_month": 84}],
             {"prepay": {"cpr": 0.0}})
    assert len(p) == 84
    remaining = b0 * (1 - (1 + r) ** -(360 - 83)) / (1 - (1 + r) ** -360)
    level = b0 * r / (1 - (1 + r) ** -360)
    assert p["scheduled_principal"].iloc[83] == pytest.approx(remaining, rel=1e-10)
    assert (p["scheduled_principal"] + p["gross_interest"]).iloc[82] == pytest.approx(level, rel=1e-10)
    assert p["ending_balance"].iloc[-1] == 0.0


def test_interest_only_pays_principal_at_maturity():
    p = pool([{"balance": 5e5, "wac": 0.04, "wam": 60, "amortization": "interest_only"}], {})
    assert (p["scheduled_principal"].iloc[:59] == 0).all()
    assert p["scheduled_principal"].iloc[59] == pytest.approx(5e5)
    np.testing.assert_allclose(p["gross_interest"], 5e5 * 0.04 / 12, rtol=1e-12)


def test_straight_line_pays_even_principal():
    # even principal: 1,200 over 12 months repays 100 a month, with interest at 6% (0.5% a month) on
    # the balance: month k pays 100 + (1200 - 100 (k - 1)) x 0.005
    p = pool([{"balance": 1200.0, "wac": 0.06, "wam": 12, "amortization": "straight_line"}], {})
    np.testing.assert_allclose(p["scheduled_principal"], 100.0, rtol=1e-12)
    np.testing.assert_allclose(p["gross_interest"], (1200.0 - 100.0 * np.arange(12)) * 0.005, rtol=1e-12)
    # with prepayments each surviving loan still repays 1/k of its balance with k months left:
    # month 1 at 12% CPR: scheduled 1200 / 12 = 100, prepaid (1200 - 100) x SMM
    q = pool([{"balance": 1200.0, "wac": 0.06, "wam": 12, "amortization": "straight_line"}],
             {"prepay": {"cpr": 0.12}})
    smm = 1 - 0.88 ** (1 / 12)
    assert q["scheduled_principal"].iloc[0] == pytest.approx(100.0, rel=1e-12)
    assert q["prepayment"].iloc[0] == pytest.approx(1100.0 * smm, rel=1e-12)
    assert q["scheduled_principal"].iloc[1] == pytest.approx(1100.0 * (1 - smm) / 11, rel=1e-12)


def test_seasoned_pool_amortizes_over_remaining_term():
    # age does not change the schedule, only where the curves are read: wam is what is left
    a = pool([{"balance": 1e6, "wac": 0.07, "wam": 300, "age": 60}], {"prepay": {"cpr": 0.05}})
    b = pool([{"balance": 1e6, "wac": 0.07, "wam": 300, "age": 0}], {"prepay": {"cpr": 0.05}})
    np.testing.assert_allclose(a["ending_balance"], b["ending_balance"], rtol=1e-12)
    assert math.isclose(a["smm"].iloc[0], 1 - 0.95 ** (1 / 12), rel_tol=1e-12)
