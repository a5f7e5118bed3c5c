"""The one loop (kernels/deal.run_blocks) with its two periods and two sinks: the interpreter and
the period generated for a structure give the same summaries; summaries through the summary sink
equal those of the tables, for every kind of pool (month by month, with loans in foreclosure at
cut-off, projected loan-blocked and given); the state a run ends in is its last period's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import abs_engine as ae
from abs_engine.engine.collateral import SMALL_POOL
from abs_engine.engine.loop import run_loop
from abs_engine.engine.summaries import summarize
from abs_engine.engine.waterfall import WaterfallFlows
from abs_engine.kernels import collateral as KC
from abs_engine.kernels import summaries as KS
from abs_engine.kernels import waterfall as KW

from ..results.test_scale_and_plots import assert_same_summaries

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = [("auto_prime_abs.yaml", "auto_grid.yaml"), ("auto_prime_abs.yaml", "ramps.yaml"),
            ("onchain_private_credit.yaml", "auto_stress.yaml"), ("nonagency_rmbs.yaml", "mortgage_grid.yaml")]


@pytest.mark.parametrize(("deal", "deck"), EXAMPLES)
def test_the_interpreter_and_the_generated_period_give_the_same_summaries(deal, deck):
    """Both sequence the same operations in the same order, compiled with the same flags: every
    statistic is equal bit for bit. The residual paid may differ in its last bits in a clean-up
    call's period (LLVM contracts a product and a sum into one fused multiply-add in one of the
    two shapes of code and not in the other)."""
    program = ae.compile_deal(ae.load_deal(ROOT / "tranches" / deal), ae.load_deck(ROOT / "scenarios" / deck))
    stats, extra = summarize(program, chunk_size=64)
    stats_i, extra_i = summarize(program, chunk_size=64, generated=False)
    assert np.isfinite(stats[KS.S_PRINCIPAL]).all() and (stats[KS.S_PRINCIPAL] > 0).any()
    np.testing.assert_array_equal(stats_i, stats)
    np.testing.assert_array_equal(extra_i[:, KS.X_POOL_LOSS], extra[:, KS.X_POOL_LOSS])
    np.testing.assert_allclose(extra_i[:, KS.X_RESIDUAL], extra[:, KS.X_RESIDUAL], rtol=1e-14)


def _seasoned(tmp_path: Path, rows: slice) -> Path:
    """The non-agency deal on some rows of its tape, four of them in foreclosure at cut-off, its
    notes scaled to that pool."""
    tape = pd.read_csv(ROOT / "tranches/data/nonagency_seasoned.csv", dtype={"loan_id": str})
    part = pd.concat([tape.iloc[rows], tape[tape.status == "foreclosure"].head(4)])
    part.to_csv(tmp_path / "tape.csv", index=False)
    deal = yaml.safe_load((ROOT / "tranches/nonagency_rmbs.yaml").read_text())
    deal["collateral"]["loan_tape"] = str(tmp_path / "tape.csv")
    scale = part.balance.sum() / tape.balance.sum()
    for t in deal["tranches"]:
        if "balance" in t:
            t["balance"] = round(float(t["balance"] * scale), 2)
    (tmp_path / "deal.yaml").write_text(yaml.safe_dump(deal))
    return tmp_path / "deal.yaml"


@pytest.mark.parametrize("n_loans", [SMALL_POOL - 8, SMALL_POOL + 40])
def test_the_summary_sink_equals_the_tables_with_loans_in_foreclosure_at_cut_off(tmp_path, n_loans):
    """A small pool runs month by month with the flows of its loans in foreclosure added (the
    interpreter); a large one is projected loan-blocked and given to the loop. Either way the
    summaries equal those of a full run, and memory never holds periods x scenarios tables."""
    deal = _seasoned(tmp_path, slice(0, n_loans - 4))
    deck = ROOT / "scenarios/mortgage_grid.yaml"
    full = ae.run(deal, deck)
    assert full.flows[..., KC.FCL].max() > 0  # balances in foreclosure
    streamed = ae.run(deal, deck, summary_only=True, chunk_size=5, progress=False)
    assert_same_summaries(streamed, full)


def test_a_full_run_ends_in_the_state_of_its_last_period():
    """The loop writes the state back: after a full run, every note's balance and shortfall, every
    account, trigger, the cumulative loss and the call flag are the last period's table values."""
    program = ae.compile_deal(ae.load_deal(ROOT / "tranches/nonagency_rmbs.yaml"),
                              ae.load_deck(ROOT / "scenarios/mortgage_grid.yaml"))
    state = program.initial_state()
    out = run_loop(program.waterfall, program.lanes, state, collateral=program.collateral,
                   pool_start=sum(program.collateral.start_balances))
    tables = WaterfallFlows(out.tables, program.n_scenarios, program.lanes)
    last = tables.tranches[:, -1]
    assert state.period == program.n_periods
    np.testing.assert_array_equal(state.balance, last[:, :, KW.TR_END])
    np.testing.assert_array_equal(state.shortfall, last[:, :, KW.TR_SHORT])
    np.testing.assert_array_equal(state.accounts, tables.accounts[:, -1, :, KW.AC_END])
    np.testing.assert_array_equal(state.breached, tables.triggers[:, -1, :, KW.TG_BREACHED])
    np.testing.assert_array_equal(state.cumulative_loss, tables.cash[:, :, KW.C_LOSS].cumsum(axis=1)[:, -1])
    assert state.breached.any() and (state.cumulative_loss > 0).any()
