"""``run``: deal and scenario in, :class:`RunResult` out, through one compile boundary."""

from __future__ import annotations

import numpy as np

from .compile import CollateralProgram, compile_collateral
from .kernels import collateral as K
from .kernels import curves
from .loading import DealSource, ScenarioSource, load_deal, load_scenario
from .results import RunResult
from .waterfall import compile_waterfall, initial_state, pool_inputs, run_waterfall

__all__ = ["run", "project_collateral", "project_loan_level"]

LOAN_LEVEL_LIMIT = 20_000_000  # loans x periods x columns held for per-loan output


def run(deal: DealSource, scenario: ScenarioSource, *, loan_level: bool = False) -> RunResult:
    """Project the deal's collateral under a scenario.

    Parameters
    ----------
    deal, scenario
        Specs, paths to YAML/JSON files, or dicts.
    loan_level
        Also keep per-loan flows (``result.loans``); for small pools only.

    Examples
    --------
    >>> res = run({"name": "pool", "collateral": {"rep_lines": [
    ...     {"balance": 100.0, "wac": 0.0, "wam": 4}]}}, {"prepay": {"cpr": 0.0}})
    >>> res.pool["scheduled_principal"].tolist()
    [25.0, 25.0, 25.0, 25.0]
    """
    deal = load_deal(deal)
    scenario = load_scenario(scenario)
    program = compile_collateral(deal, [scenario])
    flows = project_collateral(program)
    loans = project_loan_level(program, 0) if loan_level else None
    waterfall = None
    if deal.tranches:
        wprog = compile_waterfall(deal, [scenario], program.n_periods, program.original_balance)
        state = initial_state(deal, 1)
        waterfall = run_waterfall(wprog, pool_inputs(flows, *program.start_balances), state)
    return RunResult(deal, (scenario,), program, flows, loans, waterfall)


def _rate_tables(program: CollateralProgram) -> tuple[np.ndarray, np.ndarray]:
    s = program.scenarios
    return curves.rate_tables(s.prepay_kind, s.prepay, s.default_kind, s.default, program.ages)


def project_collateral(program: CollateralProgram) -> np.ndarray:
    """Pool flows ``[scenario, period, column]`` (columns of :mod:`abs_engine.kernels.collateral`)."""
    s = program.scenarios
    smm, mdr = _rate_tables(program)
    out = K.project_blocks(program.balance, program.gross_m, program.net_m, program.amort_n,
                           program.interest_only, program.mat, program.cls, program.chunk_bounds,
                           smm, mdr, s.severity, s.lag, s.advancing, program.n_periods)
    flows = out.sum(axis=1)
    if program.foreclosed.size:
        flows += _cutoff_foreclosures(program)
    return flows


def project_loan_level(program: CollateralProgram, scenario: int) -> np.ndarray:
    """Per-loan flows ``[loan (tape order), period, column]`` for one scenario."""
    n_loans = len(program.loans)
    if n_loans * program.n_periods * K.NCOL > LOAN_LEVEL_LIMIT:
        from .errors import SpecError

        raise SpecError("loan_level", n_loans, f"at most {LOAN_LEVEL_LIMIT // (program.n_periods * K.NCOL)} "
                        f"loans for per-loan output over {program.n_periods} periods")
    s = program.scenarios
    smm, mdr = _rate_tables(program)
    out = np.zeros((n_loans, program.n_periods, K.NCOL))
    out[program.index] = K.project_loans(
        program.balance, program.gross_m, program.net_m, program.amort_n, program.interest_only,
        program.mat, program.cls, smm[scenario], mdr[scenario], s.severity[scenario],
        int(s.lag[scenario]), bool(s.advancing[scenario]), program.n_periods)
    for k in program.foreclosed:
        out[k] = _foreclosed_flows(program, scenario, np.array([k]))
    return out


def _foreclosed_flows(program: CollateralProgram, scenario: int, which: np.ndarray) -> np.ndarray:
    """Loans in foreclosure at cut-off: they do not amortize, earn (advanced) interest only with
    advancing, and liquidate in month ``max(L, 1)`` with the scenario's severity of that month."""
    s = program.scenarios
    loans = program.loans
    n = program.n_periods
    out = np.zeros((n, K.NCOL))
    bal = float(loans.balance[which].sum())
    t = min(max(int(s.lag[scenario]), 1), n)
    out[: t - 1, K.FCL] = bal
    loss = min(float(s.severity[scenario, t - 1]), 1.0) * bal
    out[t - 1, K.LOSS] = loss
    out[t - 1, K.RECOVERY] = bal - loss
    if s.advancing[scenario]:
        out[:t, K.GROSS] = float((loans.balance[which] * loans.rate[which]).sum()) / 12.0
        out[:t, K.NET] = float((loans.balance[which] * loans.net_rate[which]).sum()) / 12.0
    return out


def _cutoff_foreclosures(program: CollateralProgram) -> np.ndarray:
    n_scen = len(program.scenarios.names)
    return np.stack([_foreclosed_flows(program, j, program.foreclosed) for j in range(n_scen)])

