"""A full run: every per-period table of every scenario of a compiled :class:`~abs_engine.compile.program.Program`.

A pool of few loans runs month by month with its waterfall (:func:`run_deal`: in each block of
scenarios, each period the pool's month, then the waterfall's); a larger pool is projected
loan-blocked first and its monthly totals feed the same waterfall period
(:func:`abs_engine.engine.waterfall.run_waterfall`)."""

from __future__ import annotations

import numpy as np

from ..compile.layout import gather, scatter
from ..compile.program import Program, compile_deal
from ..compile.waterfall import DealState
from ..kernels import collateral as KC
from ..kernels import waterfall as KW
from ..kernels.deal import run_deal as _run_deal
from ..results.tables import RunResult
from ..spec import Deal, Scenario
from .collateral import SMALL_POOL, cutoff_foreclosures, project_collateral, project_loan_level, rate_rows
from .waterfall import WaterfallFlows, pool_inputs, run_waterfall

__all__ = ["run_program", "run_full", "run_deal"]


def run_deal(program: Program) -> tuple[np.ndarray, WaterfallFlows]:
    """Pool flows ``[scenario, period, column]`` and the waterfall's tables of a program whose pool
    has at most ``SMALL_POOL`` loans, the pool and the waterfall advanced together, period by
    period (:func:`abs_engine.kernels.deal.run_deal`), from the deal's initial state."""
    c, w = program.collateral, program.waterfall
    s = c.scenarios
    n, n_scen = c.n_periods, program.n_scenarios
    lanes = program.lanes
    first = np.where(lanes[:, 0] >= 0, lanes[:, 0], -1 - lanes[:, 0])
    nb = lanes.shape[0]
    smm, mdr = rate_rows(c)  # [row, month, class]: each scenario's rows gathered into its lane
    state = program.initial_state()
    st = {k: gather(getattr(state, k), lanes) for k in DealState.ARRAYS}
    out = {name: np.zeros((nb, n, KC.NCOL, KW.SB)) if name == "pool" else np.zeros((nb, n, KW.SB))
           for name in ("pool", "int_coll", "prin_coll", "loss", "pool_beg", "pool_end")}
    tables = {"tranches": np.zeros((nb, n, len(w.note_names), KW.TR_COLS, KW.SB)),
              "fees": np.zeros((nb, n, len(w.fee_names), KW.FEE_COLS, KW.SB)),
              "accounts": np.zeros((nb, n, len(w.account_names), KW.ACCT_COLS, KW.SB)),
              "triggers": np.zeros((nb, n, len(w.trigger_names), KW.TRIG_COLS, KW.SB)),
              "cash": np.zeros((nb, n, KW.CASH_COLS, KW.SB))}
    start = np.full(1, sum(c.start_balances))
    zero = np.zeros(n_scen, dtype=np.int64)
    # loans in foreclosure at cut-off: their flows added to each month's (zeros, never written, without them)
    extra = gather(cutoff_foreclosures(c), lanes) if c.foreclosed.size else np.zeros((nb, n, KC.NCOL, KW.SB))
    _run_deal(c.balance, c.gross_m, c.net_m, c.amort_n, c.interest_only, c.mat, c.cls,
              gather(smm, lanes, s.prepay_row), gather(mdr, lanes, s.default_row),
              gather(s.severity_rows, lanes, s.severity_row), s.lag[first], s.advancing[first], extra,
              gather(start, lanes, zero), *(gather(x, lanes, rows) for x, rows in w.path_rows()), w.structure(),
              st["balance"], st["shortfall"], st["fee_arrears"], st["accounts"], st["breached"],
              st["cumulative_loss"], st["called"], out["pool"], out["int_coll"], out["prin_coll"], out["loss"],
              out["pool_beg"], out["pool_end"], tables["tranches"], tables["fees"], tables["accounts"],
              tables["triggers"], tables["cash"])
    return scatter(out["pool"], lanes, n_scen), WaterfallFlows(tables, n_scen, lanes)


def run_program(program: Program, *, loan_level: bool = False, scenario_level: bool = True) -> RunResult:
    """Every per-period table of the program's scenarios, from the deal's initial state: the pool
    and the waterfall together (:func:`run_deal`) for a pool of few loans, else the pool
    projected first and the waterfall run on its flows; per-loan flows of the first scenario too
    with ``loan_level``. The program is not changed."""
    c = program.collateral
    loans = project_loan_level(c, 0) if loan_level else None
    if program.waterfall is not None and c.balance.size <= SMALL_POOL:
        flows, waterfall = run_deal(program)
        return RunResult(program, flows, loans, waterfall, scenario_level=scenario_level)
    flows = project_collateral(c)
    waterfall = None
    if program.waterfall is not None:
        waterfall = run_waterfall(program.waterfall, pool_inputs(flows, *program.start_balances),
                                  program.initial_state())
    return RunResult(program, flows, loans, waterfall, scenario_level=scenario_level)


def run_full(deal: Deal, scenarios: tuple[Scenario, ...], *, loan_level: bool = False,
             scenario_level: bool = True) -> RunResult:
    """:func:`run_program` of ``compile_deal(deal, scenarios)``."""
    return run_program(compile_deal(deal, scenarios), loan_level=loan_level, scenario_level=scenario_level)
