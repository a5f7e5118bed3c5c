"""Prepayment speeds implied by pool factors (CONVENTIONS R2.13, BMA SF B.2-B.4): the BMA's worked
examples at their published decimals, the engine's own projections read back at the speed they
were run at (hypothesis), and one clear error for each bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import abs_engine as ae


def test_bma_sf7_one_month_smm_cpr_psa():
    # SF-7/8: a Ginnie Mae I 9.0% (9.5% gross) issued 3/1/88 with 359 months remaining; factors
    # 0.85150625 (6/1/89, 344 months remaining, loans 16 months old) and 0.84732282 (7/1/89):
    # SMM 0.435270%, CPR 5.1000%, and June 1989 is loan month 17: PSA 150.00%
    s = ae.implied_speeds({"factor_start": 0.85150625, "factor_end": 0.84732282, "wac": 0.095,
                           "remaining_term": 344, "age": 16})
    row = s.loc[0]
    assert f"{100 * row['smm']:.6f}" == "0.435270"
    assert f"{100 * row['cpr']:.4f}" == "5.1000"
    assert f"{row['psa']:.2f}" == "150.00"


def test_bma_sf12_average_of_two_pools_over_six_months():
    # SF-12: two Ginnie Mae I 9.0% pools over the first six months of 1989. Pool 1: $1,000,000,
    # 349 months remaining at 1/1/89 (loans 11 months old), factors 0.86925218 and 0.84732282;
    # pool 2: $2,000,000, 359 months remaining (1 month old), factors 0.99950812 and 0.98290230.
    # Actual 2,813,127.42, scheduled 2,859,330.23: SMM 0.271142%, CPR 3.2056%, PSA 212.02%
    pools = [{"name": "pool 1", "face": 1_000_000, "factor_start": 0.86925218, "factor_end": 0.84732282,
              "wac": 0.095, "remaining_term": 349, "age": 11},
             {"name": "pool 2", "face": 2_000_000, "factor_start": 0.99950812, "factor_end": 0.98290230,
              "wac": 0.095, "remaining_term": 359, "age": 1}]
    s = ae.implied_speeds(pools, months=6)
    assert list(s.index) == ["pool 1", "pool 2", "all"]
    row = s.loc["all"]
    assert f"{100 * row['smm']:.6f}" == "0.271142"
    assert f"{100 * row['cpr']:.4f}" == "3.2056"
    assert f"{row['psa']:.2f}" == "212.02"
    assert np.isnan(row["abs"])


def test_bma_sf14_historical_abs():
    # SF-14: 36-month car loans issued 1/1/89 with a 34-month WAM (2 months old), 10% gross WAC;
    # the 10/1/89 factor 0.64140448 (nine months later): 1.7000% ABS
    s = ae.implied_speeds({"factor_start": 1.0, "factor_end": 0.64140448, "wac": 0.10, "remaining_term": 34,
                           "age": 2}, months=9)
    assert f"{s.loc[0, 'abs']:.4f}" == "1.7000"


@settings(max_examples=25, deadline=None)
@given(st.floats(10.0, 800.0), st.integers(0, 40), st.integers(60, 360), st.floats(0.0, 0.12),
       st.integers(1, 24), st.integers(1, 12))
def test_the_engine_s_projection_read_back_at_its_speed(psa, age, wam, wac, start, n):
    """A pool projected by the engine at a constant PSA (no defaults): its factors imply that PSA
    over any n months, and over one month the SMM its pool table reports."""
    deal = {"name": "pool", "collateral": {"rep_lines": [{"balance": 1e6, "wac": wac, "net_coupon": wac,
                                                          "wam": wam, "age": age}]}}
    pool = ae.run(deal, {"prepay": {"psa": psa}}).pool
    end = min(start + n - 1, wam - 1)
    n = end - start + 1
    f1 = pool.loc[start, "beginning_balance"] / 1e6
    f2 = pool.loc[end, "ending_balance"] / 1e6
    s = ae.implied_speeds({"factor_start": f1, "factor_end": f2, "wac": wac, "remaining_term": wam - start + 1,
                           "age": age + start - 1}, months=n)
    assert s.loc[0, "psa"] == pytest.approx(psa, rel=1e-7)
    if n == 1:
        assert s.loc[0, "smm"] == pytest.approx(pool.loc[start, "smm"], rel=1e-9, abs=1e-15)


@settings(max_examples=25, deadline=None)
@given(st.floats(0.2, 2.5), st.integers(0, 12), st.integers(24, 72), st.floats(0.0, 0.2), st.integers(1, 12))
def test_abs_read_back_at_its_speed(speed, age, wam, wac, n):
    """A pool projected at a constant ABS speed from a given loan age: its factors imply that
    speed (the BMA's historical ABS formula is exact for the ABS model)."""
    deal = {"name": "auto", "collateral": {"asset_type": "auto", "rep_lines": [
        {"balance": 1e6, "wac": wac, "net_coupon": wac, "wam": wam, "age": age}]}}
    pool = ae.run(deal, {"prepay": {"abs": speed}}).pool
    n = min(n, int((pool["ending_balance"] > 1e-3).sum()))
    s = ae.implied_speeds({"factor_start": 1.0, "factor_end": pool.loc[n, "ending_balance"] / 1e6, "wac": wac,
                           "remaining_term": wam, "age": age}, months=n)
    assert s.loc[0, "abs"] == pytest.approx(speed, rel=1e-7)


GOOD = {"factor_start": 0.9, "factor_end": 0.89, "wac": 0.06, "remaining_term": 300, "age": 60}


@pytest.mark.parametrize("pools, months, field, expected", [
    ({k: v for k, v in GOOD.items() if k != "age"}, 1, r"pools\[0\]\.age", "required"),
    (GOOD | {"factor_start": float("nan")}, 1, r"pools\[0\]\.factor_start", "a finite number"),
    (GOOD | {"factor_start": 0.0}, 1, r"pools\[0\]\.factor_start", "a factor > 0"),
    (GOOD | {"wac": -0.01}, 1, r"pools\[0\]\.wac", "a gross WAC >= 0"),
    (GOOD | {"remaining_term": 12.5}, 1, r"pools\[0\]\.remaining_term", "a whole number"),
    (GOOD | {"remaining_term": 3}, 6, r"pools\[0\]\.remaining_term", "at least the 6 months"),
    (GOOD | {"wam": 300}, 1, r"pools\[0\]\.wam", "one of"),
    (GOOD | {"face": True}, 1, r"pools\[0\]\.face", "a finite number"),
    ([GOOD | {"name": "a"}, GOOD | {"name": "a"}], 1, r"pools", "different names"),
    ([], 1, r"pools", "at least one pool"),
    (GOOD, 0, r"months", "a whole number of months >= 1"),
])
def test_bad_pools(pools, months, field, expected):
    with pytest.raises(ae.SpecError, match=rf"{field}.*{expected}"):
        ae.implied_speeds(pools, months=months)
