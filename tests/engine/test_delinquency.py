"""The delinquency pipeline (CONVENTIONS R2.11): the kernel against the independent reference in
tests/oracles/collateral.py on random pools, roll rates and scenarios; the first months written
out by hand from R2.11.6; delinquency triggers reading the projection's own 60+ ratio; a tape's
delinquent loans starting in their bucket; one clear error for each bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import abs_engine as ae
from abs_engine.errors import SpecError

from ..oracles import collateral as reference
from ..strategies import rates, rep_lines, scenarios
from .test_collateral_oracle import _as_loans, _deal, tape_deal


@st.composite
def roll_rates(draw):
    """Roll rates with the 90+ row summing to 1 each month (R2.11.2)."""
    n = draw(st.integers(1, 30))
    cure = [draw(st.floats(0.0, 1.0)) for _ in range(n)]
    stay = [draw(st.floats(0.0, 1.0)) * (1 - c) for c in cure]
    default = [1.0 - c - s for c, s in zip(cure, stay, strict=True)]
    one = n == 1
    return {"to_30": draw(rates(0.0, 0.3)), "cure_30": draw(rates(0.0, 1.0)), "cure_60": draw(rates(0.0, 1.0)),
            "cure_90": cure[0] if one else cure, "stay_90": stay[0] if one else stay,
            "default_90": default[0] if one else default}


def pipeline_scenarios():
    return st.builds(lambda s, rr: {k: v for k, v in s.items() if k != "default"} | {"roll_rates": rr},
                     scenarios(), roll_rates())


COLS = reference.COLS + reference.DQ_COLS


@given(rep_lines(), pipeline_scenarios())
def test_kernel_matches_reference_pipeline(lines, scen):
    res = ae.run(_deal(lines), scen)
    ref = reference.project_pool(_as_loans(lines), scen, len(res.pool))
    scale = max(ln["balance"] for ln in lines)
    for col in COLS:
        np.testing.assert_allclose(res.pool[col].to_numpy(), ref[col], rtol=1e-9, atol=1e-9 * scale, err_msg=col)
    pool = res.pool
    # the buckets are part of the performing balance, and what a pool is made of is conserved
    current = pool["performing_balance"] - pool[["delinquent_30", "delinquent_60", "delinquent_90"]].sum(axis=1)
    assert (current >= -1e-6 * scale).all()
    assert ((pool["delinquency_60_ratio"] >= -1e-12) & (pool["delinquency_60_ratio"] <= 1 + 1e-12)).all()
    assert res.check().abs().to_numpy().max() <= 1e-6 * scale


def test_the_first_months_by_hand():
    """An interest-only loan (its amortization ratio is 1) at SMM 0, so each month is R2.11.6 on
    the balances alone: a = 2%, c30 = 50%, c60 = 30%, c90 = 10%, s90 = 60%, d90 = 30%, a recovery
    lag of 2 months and 40% severity, no advancing."""
    deal = {"name": "io", "collateral": {"rep_lines": [{"balance": 1e6, "wac": 0.06, "net_coupon": 0.06, "wam": 60,
                                                        "amortization": "interest_only"}]}}
    rr = {"to_30": 0.02, "cure_30": 0.5, "cure_60": 0.3, "cure_90": 0.1, "stay_90": 0.6, "default_90": 0.3}
    pool = ae.run(deal, {"prepay": {"smm": 0.0}, "severity": 0.4, "recovery_lag": 2, "advancing": False,
                         "roll_rates": rr}).pool
    C, D30, D60, D90, fcl, defaults = 1e6, 0.0, 0.0, 0.0, 0.0, []
    for i in range(1, 7):
        paying = 0.98 * C
        assert pool.loc[i, "net_interest"] == pytest.approx(paying * 0.06 / 12, rel=1e-13)
        assert pool.loc[i, "scheduled_principal"] == 0.0
        new = 0.3 * D90
        defaults.append(new)
        C, D30, D60, D90 = paying + 0.5 * D30 + 0.3 * D60 + 0.1 * D90, 0.02 * C, 0.5 * D30, 0.7 * D60 + 0.6 * D90
        liq = defaults[i - 3] if i >= 3 else 0.0
        fcl += new - liq
        assert pool.loc[i, "default"] == pytest.approx(new, rel=1e-13, abs=1e-9)
        assert pool.loc[i, "loss"] == pytest.approx(0.4 * liq, rel=1e-13, abs=1e-9)
        assert pool.loc[i, "recovery"] == pytest.approx(0.6 * liq, rel=1e-13, abs=1e-9)
        for col, x in (("delinquent_30", D30), ("delinquent_60", D60), ("delinquent_90", D90),
                       ("foreclosure_balance", fcl), ("performing_balance", C + D30 + D60 + D90)):
            assert pool.loc[i, col] == pytest.approx(x, rel=1e-13, abs=1e-9), (i, col)
        assert pool.loc[i, "delinquency_60_ratio"] == pytest.approx((D60 + D90 + fcl) / (C + D30 + D60 + D90 + fcl),
                                                                    rel=1e-12, abs=1e-15)


def test_advanced_interest_and_the_trigger_reads_the_projections_own_ratio():
    deal = {"name": "dq", "collateral": {"rep_lines": [{"balance": 1e8, "wac": 0.07, "net_coupon": 0.065,
                                                        "wam": 120}]},
            "tranches": [{"name": "A", "balance": 9e7, "coupon": 0.05, "priority": 1},
                         {"name": "R", "residual": True}],
            "triggers": [{"name": "dq", "metric": "delinquency_60", "threshold": 0.04}],
            "waterfall": [{"pay": "interest", "tranches": ["A"]},
                          {"pay": "principal", "tranches": ["A"], "amount": "available", "when": "dq"},
                          {"pay": "principal", "tranches": ["A"]}, {"pay": "residual", "tranche": "R"}]}
    rr = {"to_30": 0.03, "cure_30": 0.4, "cure_60": 0.2, "cure_90": 0.05, "stay_90": 0.75, "default_90": 0.2}
    scen = {"prepay": {"cpr": 0.05}, "severity": 0.5, "recovery_lag": 6, "advancing": True, "roll_rates": rr,
            "delinquency_60": 0.99}  # (an outside number the trigger must not read)
    res = ae.run(deal, scen)
    ratio = res.pool["delinquency_60_ratio"]
    trig = res.triggers.xs("dq", level="trigger")
    np.testing.assert_allclose(trig["value"], ratio, rtol=1e-15)
    np.testing.assert_array_equal(trig["breached"].to_numpy(), (ratio > 0.04).to_numpy())
    assert trig["breached"].any() and not trig["breached"].all()
    # with advancing, interest on every balance not in foreclosure, the rolling-to-30 share excepted
    pool = res.pool
    beg = pool["performing_balance"].shift(fill_value=1e8)
    d30, d60, d90 = (pool[f"delinquent_{k}"].shift(fill_value=0.0) for k in (30, 60, 90))
    current = beg - d30 - d60 - d90
    np.testing.assert_allclose(pool["gross_interest"], (0.97 * current + d30 + d60 + d90) * 0.07 / 12, rtol=1e-12)
    full = res.summary()
    fast = ae.run(deal, [scen, {**scen, "roll_rates": {**rr, "to_30": 0.06}}], summary_only=True).summary()
    np.testing.assert_allclose(fast.xs("scenario-0")[["wal", "yield", "total_principal"]].to_numpy(float),
                               full[["wal", "yield", "total_principal"]].to_numpy(float), rtol=1e-9)


def test_a_tapes_delinquent_loans_start_in_their_bucket(tmp_path):
    rng = np.random.default_rng(11)
    n = 600  # several blocks of loans
    tape = pd.DataFrame({
        "loan_id": [f"L{k}" for k in range(n)], "balance": rng.uniform(1e4, 5e5, n),
        "rate": rng.uniform(0.01, 0.1, n), "servicing_fee_rate": 0.0025,
        "remaining_term": rng.integers(6, 360, n), "age": rng.integers(0, 60, n),
        "status": rng.choice(["current", "30", "60", "90+", "foreclosure"], n, p=[0.85, 0.05, 0.04, 0.03, 0.03]),
    })
    deal = tape_deal(tape, tmp_path)
    loans = [{"balance": r.balance, "rate": r.rate, "net_rate": r.rate - 0.0025, "remaining_term": r.remaining_term,
              "age": r.age, "status": {"90+": "90"}.get(r.status, r.status)} for r in tape.itertuples()]
    rr = {"to_30": [0.01, 0.02, 0.03], "cure_30": 0.4, "cure_60": 0.25, "cure_90": 0.05, "stay_90": 0.8,
          "default_90": 0.15}
    for scen in ({"prepay": {"psa": 150}, "severity": 0.35, "recovery_lag": 4, "advancing": True, "roll_rates": rr},
                 {"prepay": {"cpr": 0.1}, "severity": [0.3, 0.5], "recovery_lag": 0, "advancing": False,
                  "roll_rates": rr}):
        res = ae.run(deal, scen)
        ref = reference.project_pool(loans, scen, len(res.pool))
        for col in COLS:
            np.testing.assert_allclose(res.pool[col].to_numpy(), ref[col], rtol=1e-9, atol=1e-3, err_msg=col)
        first = tape.groupby("status")["balance"].sum()
        # month 1 starts from the tape's buckets: its 30-day balance rolls to 60 (less cures)
        assert res.pool.loc[1, "delinquent_60"] == pytest.approx(0.6 * first["30"], rel=1e-12)


def test_a_quarterly_deal_on_a_pipeline():
    deal = {"name": "q", "payment_frequency": "quarterly",
            "collateral": {"rep_lines": [{"balance": 1e7, "wac": 0.08, "net_coupon": 0.07, "wam": 36}]},
            "tranches": [{"name": "A", "balance": 9e6, "coupon": 0.05, "priority": 1}],
            "waterfall": [{"pay": "interest", "tranches": ["A"]}, {"pay": "principal", "tranches": ["A"]}]}
    rr = {"to_30": 0.02, "cure_30": 0.5, "cure_60": 0.3, "cure_90": 0.1, "stay_90": 0.6, "default_90": 0.3}
    res = ae.run(deal, {"prepay": {"cpr": 0.1}, "severity": 0.4, "recovery_lag": 3, "roll_rates": rr})
    pool, a = res.pool, res.tranches.xs("A", level="tranche")
    principal = pool["scheduled_principal"] + pool["prepayment"] + pool["recovery"]
    for q in range(1, 5):
        assert a.loc[3 * q, "principal_paid"] == pytest.approx(principal.loc[3 * q - 2:3 * q].sum(), rel=1e-12)
    assert res.check().abs().to_numpy().max() <= 1e-6


@pytest.mark.parametrize(("edit", "field"), [
    ({"to_30": 1.2}, "to_30"),
    ({"cure_90": -0.1}, "cure_90"),
    ({"stay_90": 0.5}, "cure_90 \\+ stay_90 \\+ default_90 = 1"),
    ({"default_90": [0.3, 0.2]}, "month 2"),
])
def test_bad_roll_rates_are_one_clear_error(edit, field):
    rr = {"to_30": 0.02, "cure_30": 0.5, "cure_60": 0.3, "cure_90": 0.1, "stay_90": 0.6, "default_90": 0.3} | edit
    with pytest.raises(SpecError, match=field):
        ae.load_scenario({"prepay": {"cpr": 0.1}, "roll_rates": rr})


def test_roll_rates_and_a_default_curve_or_a_mixed_run_are_refused():
    rr = {"to_30": 0.02, "cure_30": 0.5, "cure_60": 0.3, "cure_90": 0.1, "stay_90": 0.6, "default_90": 0.3}
    with pytest.raises(SpecError, match="no default curve with roll_rates"):
        ae.load_scenario({"default": {"cdr": 0.02}, "roll_rates": rr})
    deal = {"name": "p", "collateral": {"rep_lines": [{"balance": 1e6, "wac": 0.06, "wam": 12}]}}
    with pytest.raises(SpecError, match="roll rates in every scenario of a run or in none"):
        ae.run(deal, [{"roll_rates": rr}, {"prepay": {"cpr": 0.1}}])
