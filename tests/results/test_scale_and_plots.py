"""Summary-only runs (fused per scenario block, or in chunks for large pools) equal full runs;
plots return figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import abs_engine as ae
from abs_engine.results import plots

ROOT = Path(__file__).resolve().parents[2]


def assert_same_summaries(streamed, full):
    """Pool and tranche flows are computed identically (the same month step and period function);
    sums over periods (numpy's pairwise sums there, running sums here) and the yield search may
    differ in the last bits only."""
    a, b = streamed.summary(), full.summary()
    if not full.scenario_level:  # a summary-only run always has a scenario level
        b = pd.concat([b], keys=list(full.program.scenarios.names), names=["scenario"])
    assert a.index.equals(b.index)
    exact = ["first_principal_period", "last_principal_period", "price"]
    pd.testing.assert_frame_equal(a[exact], b[exact], check_exact=True)
    pd.testing.assert_frame_equal(a, b, rtol=1e-11, atol=1e-9)
    np.testing.assert_allclose(streamed.pool_loss, full.flows[..., 4].sum(axis=1), rtol=1e-12)


@pytest.mark.parametrize("deal, deck", [
    ("auto_prime_abs.yaml", "auto_grid.yaml"),         # floating coupons, reserve, OC, clean-up call
    ("auto_prime_abs.yaml", "ramps.yaml"),
    ("onchain_private_credit.yaml", "auto_stress.yaml"),
    ("nonagency_rmbs.yaml", "mortgage_grid.yaml"),     # shifting interest, triggers, advancing
])
def test_summary_only_equals_the_full_run(deal, deck):
    deal, deck = ROOT / "tranches" / deal, ROOT / "scenarios" / deck
    full = ae.run(deal, deck)
    streamed = ae.run(deal, deck, summary_only=True, chunk_size=64, progress=False)
    assert_same_summaries(streamed, full)
    pd.testing.assert_frame_equal(streamed.distribution(), full.distribution(), rtol=1e-10)


def test_summary_only_for_a_large_pool_runs_in_chunks():
    """More loans than SMALL_POOL: loans side by side, chunks of scenarios, the same summaries."""
    from abs_engine.engine.collateral import SMALL_POOL

    rng = np.random.default_rng(3)
    lines = [{"balance": float(b), "wac": float(r), "wam": int(m)}
             for b, r, m in zip(rng.uniform(1e5, 1e6, SMALL_POOL + 6), rng.uniform(0.03, 0.09, SMALL_POOL + 6),
                                rng.integers(12, 60, SMALL_POOL + 6), strict=True)]
    total = sum(x["balance"] for x in lines)
    deal = {"name": "large", "collateral": {"rep_lines": lines},
            "tranches": [{"name": "A", "balance": 0.8 * total, "coupon": 0.04, "priority": 1},
                         {"name": "B", "balance": 0.15 * total, "coupon": 0.07, "priority": 2},
                         {"name": "R", "residual": True}],
            "waterfall": [{"pay": "interest", "tranches": ["A", "B"]},
                          {"pay": "principal", "tranches": ["A", "B"], "amount": "collections"},
                          {"pay": "residual", "tranche": "R"}]}
    deck = [{"name": f"s{k}", "prepay": {"cpr": 0.05 * k}, "default": {"cdr": 0.02 * k}, "severity": 0.4,
             "recovery_lag": k % 3} for k in range(7)]
    full = ae.run(deal, deck)
    streamed = ae.run(deal, deck, summary_only=True, chunk_size=3, progress=False)
    assert_same_summaries(streamed, full)


def test_plots_return_figures(tmp_path):
    from matplotlib.figure import Figure

    res = ae.run(ROOT / "tranches/auto_prime_abs.yaml", ROOT / "scenarios/auto_base.yaml")
    grid = ae.run(ROOT / "tranches/auto_prime_abs.yaml", ROOT / "scenarios/auto_grid.yaml")
    for fig in (plots.pool_flows(res), plots.tranche_balances(res), plots.loss_distribution(grid),
                plots.pool_flows(grid, scenario="abs=1.5 cdr=0.02 severity=0.6")):
        assert isinstance(fig, Figure) and fig.axes
        fig.savefig(tmp_path / "plot.png")
        assert (tmp_path / "plot.png").stat().st_size > 10_000
