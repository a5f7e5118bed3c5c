"""A full run: every per-period table of every scenario of a compiled :class:`~abs_engine.compile.program.Program`.

A pool of few loans runs month by month with its waterfall (:func:`run_deal`: in each block of
scenarios, each period the pool's month, then the waterfall's); a larger pool is projected
loan-blocked first and its monthly totals are given to the same loop
(:func:`abs_engine.engine.waterfall.run_waterfall`)."""

from __future__ import annotations

import numpy as np

from ..compile.layout import scatter
from ..compile.program import Program, compile_deal
from ..results.tables import RunResult
from ..spec import Deal, Scenario
from .collateral import SMALL_POOL, cutoff_foreclosures, project_loan_level, project_pool
from .loop import run_loop
from .waterfall import WaterfallFlows, projected_pool, run_waterfall

__all__ = ["run_program", "run_full", "run_deal"]


def run_deal(program: Program) -> tuple[np.ndarray, WaterfallFlows]:
    """Pool flows ``[scenario, period, column]`` and the waterfall's tables of a program whose pool
    has at most ``SMALL_POOL`` loans, the pool and the waterfall advanced together, period by
    period, from the deal's initial state: the one loop with the table sink
    (:func:`~abs_engine.engine.loop.run_loop`)."""
    c = program.collateral
    lanes = program.lanes
    # loans in foreclosure at cut-off: their flows added to each month's
    cutoff = cutoff_foreclosures(c) if c.foreclosed.size else None
    out = run_loop(program.waterfall, lanes, program.initial_state(), collateral=c,
                   pool_start=sum(c.start_balances), cutoff=cutoff)
    return scatter(out.pool, lanes, program.n_scenarios), WaterfallFlows(out.tables, program.n_scenarios, lanes)


def run_program(program: Program, *, loan_level: bool = False, scenario_level: bool = True) -> RunResult:
    """Every per-period table of the program's scenarios, from the deal's initial state: the pool
    and the waterfall together (:func:`run_deal`) for a pool of few loans, else (a large pool, one
    rolled through a delinquency pipeline, a reinvesting one) the pool projected first and the waterfall run on
    its flows; per-loan flows of the first scenario too
    with ``loan_level``. The program is not changed."""
    c = program.collateral
    loans = project_loan_level(c, 0) if loan_level else None
    if program.waterfall is not None and c.balance.size <= SMALL_POOL and not c.projected_apart:
        flows, waterfall = run_deal(program)
        return RunResult(program, flows, loans, waterfall, scenario_level=scenario_level)
    # projected apart (a large pool, a delinquency pipeline, reinvestment, resets), its months given to the loop
    proj = project_pool(c)
    waterfall = None
    if program.waterfall is not None:
        waterfall = run_waterfall(program.waterfall, projected_pool(proj, *program.start_balances),
                                  program.initial_state())
    return RunResult(program, proj.flows, loans, waterfall, scenario_level=scenario_level,
                     delinquent=proj.delinquent, purchases=proj.purchases)


def run_full(deal: Deal, scenarios: tuple[Scenario, ...], *, loan_level: bool = False,
             scenario_level: bool = True) -> RunResult:
    """:func:`run_program` of ``compile_deal(deal, scenarios)``."""
    return run_program(compile_deal(deal, scenarios), loan_level=loan_level, scenario_level=scenario_level)
