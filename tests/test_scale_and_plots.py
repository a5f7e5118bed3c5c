"""Summary-only runs in chunks equal full runs; plots return figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import abs_engine as ae
from abs_engine import plots

ROOT = Path(__file__).resolve().parents[1]


def test_summary_only_in_chunks_equals_the_full_run():
    deal, deck = ROOT / "tranches/auto_prime_abs.yaml", ROOT / "scenarios/auto_grid.yaml"
    full = ae.run(deal, deck)
    streamed = ae.run(deal, deck, summary_only=True, chunk_size=5, progress=False)
    pd.testing.assert_frame_equal(streamed.summary(), full.summary())
    pd.testing.assert_frame_equal(streamed.distribution(), full.distribution())
    np.testing.assert_array_equal(streamed.pool_loss, full.flows[..., 4].sum(axis=1))


def test_plots_return_figures(tmp_path):
    from matplotlib.figure import Figure

    res = ae.run(ROOT / "tranches/auto_prime_abs.yaml", ROOT / "scenarios/auto_base.yaml")
    grid = ae.run(ROOT / "tranches/auto_prime_abs.yaml", ROOT / "scenarios/auto_grid.yaml")
    for fig in (plots.pool_flows(res), plots.tranche_balances(res), plots.loss_distribution(grid),
                plots.pool_flows(grid, scenario="abs=1.5 cdr=0.02 severity=0.6")):
        assert isinstance(fig, Figure) and fig.axes
        fig.savefig(tmp_path / "plot.png")
        assert (tmp_path / "plot.png").stat().st_size > 10_000
