"""Project a compiled pool: every scenario's pool flows (``[scenario, period, column]``, the
columns of :mod:`abs_engine.kernels.collateral`), or one scenario's flows per loan."""

from __future__ import annotations

import numpy as np

from ..compile.collateral import CollateralProgram
from ..compile.layout import scenario_lanes
from ..errors import SpecError
from ..kernels import collateral as K
from ..kernels import curves
from .compiling import announce_if_cold

__all__ = ["project_collateral", "project_loan_level", "rate_rows", "rate_tables", "cutoff_foreclosures", "SMALL_POOL"]

LOAN_LEVEL_LIMIT = 20_000_000  # loans x periods x columns held for per-loan output


def rate_rows(program: CollateralProgram) -> tuple[np.ndarray, np.ndarray]:
    """SMM and MDR ``[row, month, class]`` for the scenarios' distinct prepayment and default rows."""
    s = program.scenarios
    return curves.rate_tables(s.prepay_kind, s.prepay_rows, s.default_kind, s.default_rows, program.ages,
                              program.per_year)


def rate_tables(program: CollateralProgram) -> tuple[np.ndarray, np.ndarray]:
    """SMM and MDR ``[scenario, month, class]``."""
    smm, mdr = rate_rows(program)
    s = program.scenarios
    return smm[s.prepay_row], mdr[s.default_row]


SMALL_POOL = 64  # at most this many loans: scenarios side by side (else loans side by side)


def project_collateral(program: CollateralProgram) -> np.ndarray:
    """Pool flows ``[scenario, period, column]`` (columns of :mod:`abs_engine.kernels.collateral`).

    Pools of at most ``SMALL_POOL`` loans run with scenarios side by side; larger pools with
    loans side by side, in chunks of a fixed size. Either way a scenario's flows do not depend
    on which other scenarios run with it: a grid's scenario k equals a single run of it."""
    s = program.scenarios
    announce_if_cold(curves.rate_tables, K.project_scenario_blocks if program.balance.size <= SMALL_POOL
                     else K.project_blocks)
    smm, mdr = rate_tables(program)
    if program.balance.size <= SMALL_POOL:
        lanes = scenario_lanes(s.lag, s.advancing)
        take = np.where(lanes >= 0, lanes, -1 - lanes)
        first = take[:, 0]
        out = K.project_scenario_blocks(
            program.balance, program.gross_m, program.net_m, program.amort_n, program.amort_kind, program.mat,
            program.cls, np.ascontiguousarray(np.moveaxis(smm[take], 1, -1)),
            np.ascontiguousarray(np.moveaxis(mdr[take], 1, -1)),
            np.ascontiguousarray(np.moveaxis(s.severity[take], 1, -1)), s.lag[first], s.advancing[first],
            program.n_periods)
        flows = np.empty((len(s.names), program.n_periods, K.NCOL))
        valid = lanes >= 0
        flows[lanes[valid]] = np.moveaxis(out, 3, 1)[valid]
    else:
        out = K.project_blocks(program.balance, program.gross_m, program.net_m, program.amort_n,
                               program.amort_kind, program.mat, program.cls, program.chunk_bounds,
                               smm, mdr, s.severity, s.lag, s.advancing, program.n_periods)
        flows = out.sum(axis=1)
    if program.foreclosed.size:
        flows += cutoff_foreclosures(program)
    return flows


def project_loan_level(program: CollateralProgram, scenario: int) -> np.ndarray:
    """Per-loan flows ``[loan (tape order), period, column]`` for one scenario."""
    n_loans = len(program.loans)
    if n_loans * program.n_periods * K.NCOL > LOAN_LEVEL_LIMIT:
        raise SpecError("loan_level", n_loans, f"at most {LOAN_LEVEL_LIMIT // (program.n_periods * K.NCOL)} "
                        f"loans for per-loan output over {program.n_periods} periods")
    s = program.scenarios
    smm, mdr = rate_tables(program)
    out = np.zeros((n_loans, program.n_periods, K.NCOL))
    out[program.index] = K.project_loans(
        program.balance, program.gross_m, program.net_m, program.amort_n, program.amort_kind,
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


def cutoff_foreclosures(program: CollateralProgram) -> np.ndarray:
    """``[scenario, period, column]``: the flows of the loans in foreclosure at cut-off."""
    n_scen = len(program.scenarios.names)
    return np.stack([_foreclosed_flows(program, j, program.foreclosed) for j in range(n_scen)])
