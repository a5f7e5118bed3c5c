"""Breakevens: at the breakeven level a tranche takes no writedown, a little above it does; the
distribution across a deck; the CLI commands."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import abs_engine as ae
from abs_engine.cli import main
from abs_engine.engine.breakeven import breakevens, with_default_level
from abs_engine.kernels.waterfall import TR_WD

ROOT = Path(__file__).resolve().parents[2]
AUTO = ROOT / "tranches/auto_prime_abs.yaml"
BASE = ROOT / "scenarios/auto_base.yaml"


def writedowns(level, kind="cdr", deal=AUTO, scenario=BASE):
    s = with_default_level(ae.load_scenario(scenario), kind, level)
    return ae.run(deal, s).waterfall.tranches[0, :, :, TR_WD].sum(axis=0)


def test_breakeven_has_no_writedown_and_a_worse_level_has_one():
    table = breakevens(AUTO, BASE, yield_floor=0.04)
    names = list(table.index)
    for k, name in enumerate(names):
        level = table.loc[name, "breakeven_cdr"]
        if table.loc[name, "breakeven_cdr_beyond_range"]:  # no writedown even at 100% CDR: no number
            assert np.isnan(level) and writedowns(1.0)[k] <= 1e-6, name
            continue
        assert writedowns(level)[k] <= 1e-6, name
        assert writedowns(min(level + 1e-5, 1.0))[k] > 0, name
    # the two senior-most classes survive 100% CDR here (the search's top): reported as beyond it
    assert table["breakeven_cdr_beyond_range"].tolist()[:2] == [True, True]
    assert table.attrs["upper"] == 1.0
    # seniors survive more defaults than juniors; the yield floor (below the coupons) is crossed
    # only once principal is lost
    be = table["breakeven_cdr"].to_numpy()
    assert (np.diff(be[2:]) <= 0).all()
    both = ~table["yield_breakeven_cdr_beyond_range"].to_numpy()
    assert (table["yield_breakeven_cdr"][both] >= table["breakeven_cdr"][both] - 1e-6).all()


def test_scale_breakeven_of_the_scenarios_own_curve():
    table = breakevens(ROOT / "tranches/nonagency_rmbs.yaml", ROOT / "scenarios/stress.yaml", kind="scale",
                       tol=1e-4)
    assert table.loc["A-1", "breakeven_scale"] > table.loc["M-1", "breakeven_scale"]


def test_distribution_across_a_deck():
    res = ae.run(AUTO, ROOT / "scenarios/auto_grid.yaml")
    dist = res.distribution()
    assert dist.index.names == ["tranche", "metric"]
    d_loss = dist.loc[("D", "loss")]
    losses = res.summary().xs("D", level="tranche")["total_writedown"] / 6_000_000
    assert d_loss["mean"] == pytest.approx(losses.mean())
    assert d_loss["p95"] == pytest.approx(np.percentile(losses, 95))
    assert dist.loc[("A-1", "loss"), "p95"] == 0.0


def test_grid_and_breakeven_commands(tmp_path, capsys):
    out = tmp_path / "grid.parquet"
    assert main(["grid", str(AUTO), "--scenarios", str(ROOT / "scenarios/auto_grid.yaml"), "--out", str(out)]) == 0
    table = pd.read_parquet(out)
    assert len(table) == 24 * 9 and {"scenario", "tranche", "wal", "yield"} <= set(table.columns)
    assert "across scenarios" in capsys.readouterr().out
    assert main(["breakeven", str(AUTO), "--scenario", str(BASE), "--out", str(tmp_path / "b.txt")]) == 0
    printed = (tmp_path / "b.txt").read_text()
    assert "breakeven_cdr" in printed
    # a level beyond the search is said so, never printed as the top of the range; levels in percent
    assert ">= 100.0000% (no breakeven in range)" in printed
    assert "1.000000" not in printed and "%" in printed
