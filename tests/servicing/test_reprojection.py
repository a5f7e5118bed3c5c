"""Re-projection from the ledger (issue 18, item 1): a deal whose actual periods were generated
by a projection, re-projected at period k under the same scenario, gives that projection's
periods k + 1 .. (pool, tranches, cash, triggers, accounts), on random deals and periods; under
a deck, every scenario at once, summaries equal to the full run; from an empty ledger, ae.run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import abs_engine as ae
from abs_engine.io.collection_reports import collections_from_frame
from abs_engine.servicing.servicer import TOLERANCE, projected_collections

AUTO = "tranches/auto_prime_abs.yaml"

LOANS = {"name": "loans", "first_payment_date": "2026-12-25", "closing_date": "2026-11-25",
         "collateral": {"asset_type": "mortgage", "rep_lines": [
             {"name": "a", "balance": 4e6, "wac": 0.07, "net_coupon": 0.065, "wam": 120, "age": 10},
             {"name": "b", "balance": 3e6, "wac": 0.06, "net_coupon": 0.055, "wam": 96, "age": 2},
             {"name": "c", "balance": 2e6, "wac": 0.08, "net_coupon": 0.075, "wam": 60, "age": 0,
              "amortization": "interest_only"}]},
         "tranches": [{"name": "A", "balance": 7e6, "coupon": {"index": "SOFR", "spread": 0.01}, "priority": 1,
                       "day_count": "ACT/360"},
                      {"name": "M", "balance": 1.2e6, "coupon": 0.06, "priority": 2},
                      {"name": "B", "balance": 5e5, "coupon": 0.07, "priority": 3, "interest_on_shortfall": True},
                      {"name": "R", "residual": True}],
         "fees": [{"name": "trustee", "rate": 0.0005}],
         "accounts": [{"name": "reserve", "initial": 90000.0, "target": {"pct": 0.01, "floor": 45000.0},
                       "covers": ["senior"]}],
         "triggers": [{"name": "loss", "metric": "cumulative_loss", "threshold": 0.01, "curable": False}],
         "waterfall": [{"pay": "fees", "fees": ["trustee"]},
                       {"id": "senior", "pay": "interest", "tranches": ["A"]},
                       {"pay": "interest", "tranches": ["M"]}, {"pay": "interest", "tranches": ["B"]},
                       {"pay": "principal", "tranches": ["A", "M", "B"], "allocation": "pro_rata",
                        "sequential_if": "loss"},
                       {"pay": "reserve", "account": "reserve"}, {"pay": "residual", "tranche": "R"}]}


def _record(deal, scen, k: int, tmp_path, loan_level: bool = True):
    """A servicer whose first ``k`` periods are the projection's own, and the projection."""
    projection = ae.run(deal, scen, loan_level=loan_level)
    servicer = ae.Servicer(deal, tmp_path / f"ledger-{k}.sqlite", base_scenario=scen)
    for p in range(1, k + 1):
        head, tape = projected_collections(projection, p, loan_level=loan_level)
        servicer.distribute(head if tape is None else collections_from_frame(head, tape))
    return servicer, projection


def _assert_from(re: ae.RunResult, projection: ae.RunResult, k: int) -> None:
    """Equal to rounding; in amounts, also to the ledger's reconciliation tolerance per loan (a
    foreclosure cohort under a cent is not recorded, so not re-projected)."""
    atol = max(1e-9 * projection.program.original_balance, TOLERANCE * len(projection.program.loans))
    for name in ("pool", "tranches", "cash", "accounts", "triggers", "fees"):
        mine, theirs = getattr(re, name), getattr(projection, name)
        theirs = theirs[theirs.index.get_level_values("period") > k]
        assert list(mine.index) == list(theirs.index), name
        for col in mine.columns:
            a, b = mine[col].to_numpy(), theirs[col].to_numpy()
            if a.dtype.kind == "f":
                np.testing.assert_allclose(a, b, rtol=1e-9, atol=atol, err_msg=f"{name}.{col}")
            else:
                assert (a == b).all() if a.dtype.kind != "M" else (pd.isna(a) == pd.isna(b)).all(), f"{name}.{col}"


@settings(max_examples=6, deadline=None)
@given(k=st.integers(1, 40), psa=st.floats(0, 400), sda=st.floats(0, 1500), lag=st.integers(0, 12),
       advancing=st.booleans(), sofr=st.floats(0.0, 0.08))
def test_a_reprojection_under_the_generating_scenario_is_the_projection(tmp_path_factory, k, psa, sda, lag,
                                                                         advancing, sofr):
    scen = {"prepay": {"psa": psa}, "default": {"sda": sda}, "severity": [0.3, 0.4, 0.5], "recovery_lag": lag,
            "advancing": advancing, "rates": {"SOFR": [sofr, sofr + 0.01, sofr / 2]}}
    servicer, projection = _record(LOANS, scen, k, tmp_path_factory.mktemp("re"))
    re = servicer.project(scen)
    assert re.first_period == k + 1
    _assert_from(re, projection, k)
    assert re.check().abs().to_numpy().max() < 1e-6


def test_a_deck_at_once_and_its_summaries(tmp_path):
    scen = ae.load_scenario("scenarios/auto_base.yaml")
    servicer, projection = _record(AUTO, scen, 6, tmp_path)
    deck = {"grid": {"prepay": [{"abs": 1.0}, {"abs": 1.8}], "default": [{"cdr": 0.01}, {"cdr": 0.05}]},
            "base": {"severity": 0.5, "recovery_lag": 3, "rates": {"SOFR": 0.043}}}
    re = servicer.project(deck)
    assert re.tranches.index.names == ["scenario", "period", "tranche"]
    assert re.tranches.index.get_level_values("period").min() == 7
    summary = servicer.project(deck, summary_only=True, chunk_size=3).summary()
    pd.testing.assert_frame_equal(summary, re.summary())
    # WAL from now, prices per 100 of each class's balance at period 6: at par, the yield is the coupon's
    one = servicer.project(scen).summary()
    a2 = one.loc["A-2a"]
    assert a2["yield"] == pytest.approx(2 * ((1 + 0.0441 / 12) ** 6 - 1), rel=1e-6)
    assert 0 < a2["wal"] < projection.summary().loc["A-2a", "wal"]
    # more defaults: less for the residual
    residual = re.summary().xs("Certificates", level="tranche")["total_residual"]
    assert residual.iloc[1] < residual.iloc[0]


def test_from_an_empty_ledger_it_is_the_projection(tmp_path):
    scen = ae.load_scenario("scenarios/auto_base.yaml")
    servicer = ae.Servicer(AUTO, tmp_path / "empty.sqlite")
    _assert_from(servicer.project(scen), ae.run(AUTO, scen), 0)


@pytest.mark.filterwarnings("ignore::abs_engine.errors.SpecWarning")  # the scaled pool is smaller than its notes
def test_a_ledger_of_pool_totals_reprojects_the_scaled_pool(tmp_path):
    """Without loan-level collections the pool is the cut-off loans scaled to the recorded balance:
    with one rep line and no defaults, exactly the projection."""
    deal = {**LOANS, "collateral": {"rep_lines": [LOANS["collateral"]["rep_lines"][0]]}}
    scen = {"prepay": {"cpr": 0.08}, "rates": {"SOFR": 0.04}}
    servicer, projection = _record(deal, scen, 12, tmp_path, loan_level=False)
    _assert_from(servicer.project(scen), projection, 12)


def test_the_cli_reprojects_a_ledger(tmp_path, capsys):
    from abs_engine.cli import main

    ledger = tmp_path / "l.sqlite"
    servicer = ae.Servicer("tranches/nonagency_rmbs.yaml", ledger)
    for p in (1, 2, 3):
        servicer.distribute(f"tranches/data/servicing/nonagency_rmbs/period_{p}.yaml")
    assert main(["project", "tranches/nonagency_rmbs.yaml", "--ledger", str(ledger), "--scenario",
                 "scenarios/base.yaml"]) == 0
    out = capsys.readouterr().out
    assert "periods 4 to" in out and "A-1" in out
    assert main(["project", "tranches/nonagency_rmbs.yaml", "--ledger", str(ledger), "--scenario",
                 "scenarios/mortgage_grid.yaml", "--summary-only", "--out", str(tmp_path / "s.csv")]) == 0
    summary = pd.read_csv(tmp_path / "s.csv", index_col=[0, 1])
    expected = servicer.project("scenarios/mortgage_grid.yaml", summary_only=True).summary()
    np.testing.assert_allclose(summary["wal"].to_numpy(), expected["wal"].to_numpy(), rtol=1e-12)
