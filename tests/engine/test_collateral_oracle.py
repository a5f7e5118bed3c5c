"""The kernel against the independent reference in tests/oracles/collateral.py, on random pools and
scenarios, to 1e-9 relative; and the properties every projection must keep."""

from __future__ import annotations

import calendar
import datetime as dt
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import example, given
from hypothesis import strategies as st

import abs_engine as ae

from ..oracles import collateral as reference
from ..strategies import rep_lines, scenarios


def tape_deal(tape: pd.DataFrame, directory: str) -> ae.Deal:
    """A deal whose collateral is ``tape``, written to a CSV file and read back."""
    path = Path(directory) / "tape.csv"
    tape.to_csv(path, index=False)
    return ae.load_deal({"name": "tape", "collateral": {"loan_tape": str(path)}})


def _deal(lines):
    return {"name": "random", "collateral": {"rep_lines": lines}}


def _as_loans(lines):
    return [{"balance": ln["balance"], "rate": ln["wac"], "net_rate": ln["net_coupon"],
             "remaining_term": ln["wam"], "age": ln["age"], "amortization": ln["amortization"],
             "balloon_month": ln.get("balloon_month", 0)} for ln in lines]


def _plus_months(d: dt.date, k: int) -> dt.date:
    year, month = divmod(d.month - 1 + k, 12)
    year, month = d.year + year, month + 1
    return dt.date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def assert_matches_reference(pool: pd.DataFrame, ref: dict, scale: float) -> None:
    for col in reference.COLS:
        np.testing.assert_allclose(pool[col].to_numpy(), ref[col], rtol=1e-9, atol=1e-9 * scale,
                                   err_msg=col)


@given(rep_lines(), scenarios())
def test_kernel_matches_reference(lines, scen):
    res = ae.run(_deal(lines), scen)
    n = len(res.pool)
    ref = reference.project_pool(_as_loans(lines), scen, n)
    assert_matches_reference(res.pool, ref, max(ln["balance"] for ln in lines))


@given(rep_lines(), scenarios(), st.dates(dt.date(2020, 1, 1), dt.date(2030, 12, 31)))
def test_kernel_matches_reference_over_actual_days(lines, scen, cut_off):
    """CONVENTIONS R2.3: annual rates over each month's actual days from the cut-off date (month k
    from the cut-off plus k - 1 months to plus k, the day clipped to the month's end)."""
    deal = _deal(lines) | {"cut_off_date": cut_off.isoformat(), "period_rates": "actual_days"}
    res = ae.run(deal, scen)
    n = len(res.pool)
    dates = [_plus_months(cut_off, k) for k in range(n + 1)]
    years = [(b - a).days / 365.0 for a, b in zip(dates[:-1], dates[1:], strict=True)]
    ref = reference.project_pool(_as_loans(lines), scen, n, years)
    assert_matches_reference(res.pool, ref, max(ln["balance"] for ln in lines))


@given(rep_lines(), scenarios())
def test_conservation_every_run(lines, scen):
    res = ae.run(_deal(lines), scen)
    original = sum(ln["balance"] for ln in lines)
    assert res.check().abs().to_numpy().max() <= 1e-9 * original
    pool = res.pool
    assert (pool.drop(columns="date") >= -1e-9 * original).all().all(), "no negative flow or balance"
    assert abs(pool["ending_balance"].iloc[-1]) <= 1e-9 * original


@given(rep_lines(3), scenarios(), st.integers(1, 6))
@example(  # paid down ~20x a month to a subnormal balance, where a derived rate would be noise
    lines=[{"balance": 1001.0, "wac": 0.0, "net_coupon": 0.0, "wam": 242, "age": 0, "amortization": "level"}],
    scen={"prepay": {"cpr": 0.9999999999999999}, "default": {"cdr": 0.0}, "severity": 0.0, "recovery_lag": 0,
          "advancing": False}, copies=2)
def test_tape_of_identical_loans_equals_rep_line(lines, scen, copies):
    line = lines[0]
    tape = pd.DataFrame({
        "loan_id": [f"L{k}" for k in range(copies)],
        "balance": [line["balance"] / copies] * copies,
        "rate": [line["wac"]] * copies,
        "servicing_fee_rate": [line["wac"] - line["net_coupon"]] * copies,
        "remaining_term": [line["wam"]] * copies,
        "age": [line["age"]] * copies,
        "amortization": [line["amortization"]] * copies,
        "balloon_month": [line.get("balloon_month")] * copies,
    })
    a = ae.run(_deal([line]), scen).pool.drop(columns="date")
    with tempfile.TemporaryDirectory() as tmp:
        b = ae.run(tape_deal(tape, tmp), scen).pool.drop(columns="date")
    np.testing.assert_allclose(b.to_numpy(), a.to_numpy(), rtol=1e-9, atol=1e-9 * line["balance"])


def _pool_wal(pool: pd.DataFrame) -> float:
    principal = pool["scheduled_principal"] + pool["prepayment"] + pool["recovery"]
    return float((principal.index.to_numpy() * principal).sum() / principal.sum() / 12.0)


@given(rep_lines(3), st.floats(0.0, 0.6), st.floats(0.0, 0.4), st.floats(0.0, 0.2),
       st.integers(0, 12), st.booleans())
def test_faster_prepayment_never_lengthens_wal(lines, cpr, extra, cdr, lag, adv):
    base = {"default": {"cdr": cdr}, "severity": 0.4, "recovery_lag": lag, "advancing": adv}
    slow = ae.run(_deal(lines), {**base, "prepay": {"cpr": cpr}}).pool
    fast = ae.run(_deal(lines), {**base, "prepay": {"cpr": min(cpr + extra, 1.0)}}).pool
    assert _pool_wal(fast) <= _pool_wal(slow) + 1e-9


@given(st.floats(1e3, 1e8), st.integers(1, 480), st.integers(0, 60))
def test_zero_rate_pays_straight_line(balance, wam, age):
    pool = ae.run(_deal([{"balance": balance, "wac": 0.0, "wam": wam, "age": age}]),
                  {"prepay": {"cpr": 0.0}}).pool
    np.testing.assert_allclose(pool["scheduled_principal"], balance / wam, rtol=1e-9)
    assert (pool["gross_interest"] == 0).all()


def test_tape_with_mixed_ages_and_foreclosures_matches_reference(tmp_path):
    rng = np.random.default_rng(7)
    n = 700  # several blocks, mixed ages within blocks
    tape = pd.DataFrame({
        "loan_id": [f"L{k}" for k in range(n)],
        "balance": rng.uniform(1e4, 5e5, n),
        "rate": rng.uniform(0.0, 0.12, n),
        "servicing_fee_rate": 0.0025,
        "remaining_term": rng.integers(12, 360, n),
        "age": rng.integers(0, 80, n),
        "status": rng.choice(["current", "30", "60", "foreclosure"], n, p=[0.9, 0.04, 0.03, 0.03]),
    })
    tape["rate"] = tape["rate"].clip(lower=0.0025)
    deal = tape_deal(tape, tmp_path)
    loans = [{"balance": r.balance, "rate": r.rate, "net_rate": r.rate - 0.0025,
              "remaining_term": r.remaining_term, "age": r.age, "status": r.status}
             for r in tape.itertuples()]
    for scen in ({"prepay": {"psa": 175}, "default": {"sda": 250}, "severity": 0.4, "recovery_lag": 9,
                  "advancing": True},
                 {"prepay": {"abs": 1.4}, "default": {"cdr": [0.01, 0.03, 0.05]}, "severity": [0.3, 0.5],
                  "recovery_lag": 0, "advancing": False}):
        res = ae.run(deal, scen, loan_level=True)
        ref = reference.project_pool(loans, scen, len(res.pool))
        assert_matches_reference(res.pool, ref, 5e5)
        # per-loan output adds up to the pool
        per_loan = res.loans.groupby(level="period").sum()
        np.testing.assert_allclose(per_loan["ending_balance"], res.pool["ending_balance"], rtol=1e-9)
        assert res.check().abs().to_numpy().max() < 1e-6
