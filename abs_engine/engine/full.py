"""A full run: every per-period table of every scenario of a compiled :class:`Program`, the
pool projected and the waterfall run on its flows, in one compiled call each."""

from __future__ import annotations

from ..compile.program import Program, compile_deal
from ..results.tables import RunResult
from ..spec import Deal, Scenario
from .collateral import project_collateral, project_loan_level
from .waterfall import pool_inputs, run_waterfall

__all__ = ["run_program", "run_full"]


def run_program(program: Program, *, loan_level: bool = False, scenario_level: bool = True) -> RunResult:
    """Project the program's pool under every scenario and run its waterfall on the pool's flows
    from the deal's initial state; per-loan flows of the first scenario too with ``loan_level``.
    The program is not changed."""
    flows = project_collateral(program.collateral)
    loans = project_loan_level(program.collateral, 0) if loan_level else None
    waterfall = None
    if program.waterfall is not None:
        waterfall = run_waterfall(program.waterfall, pool_inputs(flows, *program.start_balances),
                                  program.initial_state())
    return RunResult(program, flows, loans, waterfall, scenario_level=scenario_level)


def run_full(deal: Deal, scenarios: tuple[Scenario, ...], *, loan_level: bool = False,
             scenario_level: bool = True) -> RunResult:
    """:func:`run_program` of ``compile_deal(deal, scenarios)``."""
    return run_program(compile_deal(deal, scenarios), loan_level=loan_level, scenario_level=scenario_level)
