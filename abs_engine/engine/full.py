"""A full run: every per-period table of every scenario, in one compiled call."""

from __future__ import annotations

from ..compile.collateral import compile_collateral
from ..compile.waterfall import compile_waterfall, initial_state
from ..results.tables import RunResult
from ..spec import Deal, Scenario
from .collateral import project_collateral, project_loan_level
from .waterfall import pool_inputs, run_waterfall

__all__ = ["run_full"]


def run_full(deal: Deal, scenarios: tuple[Scenario, ...], *, loan_level: bool = False,
             scenario_level: bool = True) -> RunResult:
    """Project the pool under every scenario and run the waterfall on its flows; per-loan flows of
    the first scenario too with ``loan_level``."""
    program = compile_collateral(deal, scenarios)
    flows = project_collateral(program)
    loans = project_loan_level(program, 0) if loan_level else None
    waterfall = None
    if deal.tranches:
        wprog = compile_waterfall(deal, scenarios, program.n_periods, program.original_balance)
        state = initial_state(deal, len(scenarios))
        waterfall = run_waterfall(wprog, pool_inputs(flows, *program.start_balances), state)
    return RunResult(deal, scenarios, program, flows, loans, waterfall, scenario_level=scenario_level)
