"""The CLI and the example deals and scenarios, as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import abs_engine as ae
from abs_engine.cli import main
from abs_engine.io.loading import is_deck

ROOT = Path(__file__).resolve().parents[1]
DEALS = sorted((ROOT / "tranches").glob("*.yaml"))
ALL_SCENARIO_FILES = sorted((ROOT / "scenarios").glob("*.yaml"))
SCENARIOS = [p for p in ALL_SCENARIO_FILES if not is_deck(p)]  # single scenarios
DECKS = [p for p in ALL_SCENARIO_FILES if is_deck(p)]


CARD_DEALS = [p for p in DEALS if ae.load_deal(p).series is not None]  # credit-card trust series (R2.9)
CARD_SCENARIOS = [p for p in SCENARIOS if ae.load_scenario(p).payment_rate is not None]
LOAN_DEALS = [p for p in DEALS if p not in CARD_DEALS]
LOAN_SCENARIOS = [p for p in SCENARIOS if p not in CARD_SCENARIOS]


def test_there_are_examples():
    assert len(DEALS) >= 3 and len(SCENARIOS) >= 3 and CARD_DEALS and CARD_SCENARIOS


@pytest.mark.parametrize("deal", CARD_DEALS, ids=lambda p: p.stem)
@pytest.mark.parametrize("scenario", CARD_SCENARIOS, ids=lambda p: p.stem)
def test_every_card_example_runs_and_conserves(deal, scenario, capsys):
    res = ae.run(deal, scenario)
    assert res.check().abs().to_numpy().max() <= 1e-6
    summary = res.summary()
    face = res.deal.series.invested_amount
    assert summary["total_principal"].iloc[0] + summary["total_writedown"].iloc[0] == pytest.approx(face, rel=1e-9)
    assert main(["run", str(deal), "--scenario", str(scenario)]) == 0
    assert "certificates" in capsys.readouterr().out


def test_the_card_stress_deck_hits_early_amortization_and_the_base_case_is_a_bullet():
    deal = ROOT / "tranches/card_trust.yaml"
    stress = ae.run(deal, ROOT / "scenarios/card_stress.yaml").summary().iloc[0]
    base = ae.run(deal, ROOT / "scenarios/card_base.yaml")
    assert stress["early_amortization_period"] > 0 and stress["last_principal_period"] < 60
    s = base.summary().iloc[0]
    assert s["early_amortization_period"] == 0 and s["first_principal_period"] == s["last_principal_period"] == 60
    assert s["wal"] == pytest.approx(5.0, rel=1e-12)  # one bullet at month 60: T = 60/12


@pytest.mark.parametrize("deal", LOAN_DEALS, ids=lambda p: p.stem)
@pytest.mark.parametrize("scenario", LOAN_SCENARIOS, ids=lambda p: p.stem)
def test_every_example_runs_and_conserves(deal, scenario):
    if ae.load_deal(deal).collateral.adjustable and ae.load_scenario(scenario).roll_rates is not None:
        with pytest.raises(ae.SpecError, match="a delinquency pipeline of adjustable-rate loans is not built"):
            ae.run(deal, scenario)
        return
    res = ae.run(deal, scenario)
    original = res.program.original_balance
    assert res.check().abs().to_numpy().max() < 1e-9 * original
    pool = res.whole_pool  # (collateral groups, R2.12: their sums; res.pool has a group level)
    if res.deal.collateral.groups is not None:
        by_group = res.pool.drop(columns="date").groupby(level="period").sum()
        np.testing.assert_allclose(by_group["ending_balance"], pool["ending_balance"], rtol=1e-12, atol=1e-6)
    assert list(pool.columns)[:3] == ["date", "beginning_balance", "scheduled_principal"]
    assert pool["beginning_balance"].iloc[0] == pytest.approx(original)
    called = res.waterfall is not None and res.cash["call_proceeds"].iloc[-1] > 0
    # the pool runs off, or the clean-up call buys what is left in its last period
    expected_end = res.cash["call_proceeds"].iloc[-1] if called else 0.0
    assert pool["ending_balance"].iloc[-1] == pytest.approx(expected_end, abs=1e-6)
    assert pool["date"].notna().all()
    if res.waterfall is not None:
        checks = res.check()
        assert checks[["cash", "principal"]].abs().to_numpy().max() <= 1e-6
        summary = res.summary()
        notes = [t.name for t in res.deal.notes]
        paid = summary.loc[notes, "total_principal"] + summary.loc[notes, "total_writedown"]
        # every class's face is repaid or written down, a Z class's accretion with it (CONVENTIONS R2.5.5)
        accreted = res.tranches["accretion"].groupby(level="tranche").sum().loc[notes]
        np.testing.assert_allclose(paid, np.array([t.balance for t in res.deal.notes]) + accreted, rtol=1e-9)


def test_validate_all_examples(capsys):
    assert main(["validate", *map(str, DEALS + ALL_SCENARIO_FILES)]) == 0
    out = capsys.readouterr().out
    assert out.count("valid deal") == len(DEALS)
    assert out.count("valid scenario") == len(SCENARIOS) and out.count("valid deck") == len(DECKS)


def test_run_formats_agree(tmp_path):
    deal, scen = str(ROOT / "tranches/agency_30y.yaml"), str(ROOT / "scenarios/base.yaml")
    assert main(["run", deal, "--scenario", scen, "--format", "csv", "--out", str(tmp_path / "p.csv")]) == 0
    assert main(["run", deal, "--scenario", scen, "--format", "json", "--out", str(tmp_path / "p.json")]) == 0
    assert main(["run", deal, "--scenario", scen, "--out", str(tmp_path / "p.txt")]) == 0
    csv = pd.read_csv(tmp_path / "p.csv", index_col="period")
    js = json.loads((tmp_path / "p.json").read_text())
    expected = ae.run(deal, scen).pool
    pd.testing.assert_series_equal(csv["ending_balance"], expected["ending_balance"], rtol=1e-12)
    assert [r["prepayment"] for r in js["pool"]] == pytest.approx(expected["prepayment"].tolist(), rel=1e-12)
    assert js["check"]["pool_conservation"] < 1e-6
    table = (tmp_path / "p.txt").read_text()
    assert "pool flows  WAL" in table and "Agency 30-year pool" in table and "2026-12-25" in table
    assert "checks      ok (max residual" in table


def test_schema_exports_both_specs(capsys):
    assert main(["schema", "deal"]) == 0
    deal = json.loads(capsys.readouterr().out)
    assert "collateral" in deal["properties"] and deal["additionalProperties"] is False
    assert main(["schema", "scenario"]) == 0
    scen = json.loads(capsys.readouterr().out)
    assert {"prepay", "default", "severity", "recovery_lag", "advancing"} <= set(scen["properties"])


def test_console_script_runs_in_a_fresh_process():
    proc = subprocess.run([sys.executable, "-m", "abs_engine", "run", str(ROOT / "tranches/auto_60m.yaml"),
                           "--scenario", str(ROOT / "scenarios/auto_base.yaml"), "--format", "csv"],
                          capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("period,date,beginning_balance")


def test_loan_level_output_for_small_tape():
    res = ae.run(ROOT / "tranches/nonagency_seasoned.yaml", ROOT / "scenarios/base.yaml", loan_level=True)
    loans = res.loans
    assert loans.index.names == ["loan_id", "period"]
    total = loans.groupby(level="period").sum()
    pd.testing.assert_series_equal(total["ending_balance"], res.pool["ending_balance"], rtol=1e-9,
                                   check_names=False)
    one = loans.loc["NA000001"]
    assert one["beginning_balance"].iloc[0] == pytest.approx(220206.58)


def test_parquet_tape_equals_csv_tape(tmp_path):
    import yaml

    frame = pd.read_csv(ROOT / "tranches/data/nonagency_seasoned.csv", dtype={"loan_id": str})
    frame.to_parquet(tmp_path / "tape.parquet")
    (tmp_path / "deal.yaml").write_text(yaml.safe_dump(
        {"name": "pq", "collateral": {"loan_tape": "tape.parquet", "servicing_fee_rate": 0.0025}}))
    a = ae.run(tmp_path / "deal.yaml", ROOT / "scenarios/stress.yaml").pool.drop(columns="date")
    b = ae.run(ROOT / "tranches/nonagency_seasoned.yaml", ROOT / "scenarios/stress.yaml").pool.drop(columns="date")
    pd.testing.assert_frame_equal(a, b, rtol=1e-12)


def test_price_command(tmp_path, capsys):
    deal, scen = str(ROOT / "tranches/auto_prime_abs.yaml"), str(ROOT / "scenarios/auto_base.yaml")
    assert main(["price", deal, "--scenario", scen, "--tranche", "A-3", "--price", "99.5"]) == 0
    out = capsys.readouterr().out
    row = out.splitlines()[-1].split()
    assert row[0] == "A-3" and float(row[2]) == 99.5
    expected = ae.run(deal, scen).analytics(price={"A-3": 99.5}).loc["A-3", "yield"]
    assert row[3].endswith("%") and float(row[3][:-1]) / 100 == pytest.approx(expected, abs=1e-6)  # printed in percent
    assert main(["price", deal, "--scenario", scen, "--yield", "0.05", "--out", str(tmp_path / "p.txt")]) == 0
    assert "A-1" in (tmp_path / "p.txt").read_text()
    assert main(["price", deal, "--scenario", scen, "--tranche", "Z"]) == 2
    assert "--tranche: got 'Z'" in capsys.readouterr().err
