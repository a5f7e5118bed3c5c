"""Project a compiled pool: every scenario's pool flows (``[scenario, period, column]``, the
columns of :mod:`abs_engine.kernels.collateral`), or one scenario's flows per loan."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..compile.collateral import CollateralProgram
from ..compile.layout import scenario_lanes
from ..errors import SpecError
from ..kernels import arm as KA
from ..kernels import collateral as K
from ..kernels import curves
from ..kernels import delinquency as KD
from ..kernels import reinvestment as KR
from ..vocabulary import delinquency_ratio as ratio_60
from .compiling import announce_if_cold

__all__ = ["Projection", "project_pool", "reinvest", "project_collateral", "project_delinquency", "delinquency_ratio",
           "project_loan_level", "rate_rows", "rate_tables", "cutoff_foreclosures", "SMALL_POOL"]

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
    if program.adjustable:  # rates reset along each scenario's index path: a schedule per scenario
        announce_if_cold(curves.rate_tables, KA.project_arm)
        smm, mdr = rate_tables(program)
        flows = KA.project_arm(*_arm_loans(program), program.arm_rates, program.arm_rate_row, smm, mdr, s.severity,
                               s.lag, s.advancing, program.n_periods)
        if program.foreclosed.size:
            flows += cutoff_foreclosures(program)
        return flows
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


def _arm_loans(program: CollateralProgram) -> tuple:
    """The kernel loans' arrays :mod:`abs_engine.kernels.arm` reads, in its argument order up to
    the terms."""
    return (program.balance, program.gross_m, program.net_m, program.amort_n, program.amort_kind, program.mat,
            program.cls, np.ascontiguousarray(program.loans.age[program.index]), program.arm_id, program.arm_terms)


def project_delinquency(program: CollateralProgram) -> tuple[np.ndarray, np.ndarray]:
    """``(flows[scenario, period, column], delinquent[scenario, period, DQ_*])`` of a pool rolled
    through the scenarios' delinquency pipeline (CONVENTIONS R2.11,
    :func:`abs_engine.kernels.delinquency.project_delinquent`), loans side by side in chunks of a
    fixed size, loans in foreclosure at cut-off added as always."""
    s = program.scenarios
    announce_if_cold(curves.rate_tables, KD.project_delinquent)
    smm, _ = rate_tables(program)
    out, dq = KD.project_delinquent(program.balance, program.bucket, program.gross_m, program.net_m,
                                    program.amort_n, program.amort_kind, program.mat, program.cls,
                                    program.chunk_bounds, smm, np.ascontiguousarray(s.roll_rows[s.roll_row]),
                                    s.severity, s.lag, s.advancing, program.n_periods)
    flows = out.sum(axis=1)
    if program.foreclosed.size:
        flows += cutoff_foreclosures(program)
    return flows, dq.sum(axis=1)


@dataclass
class Projection:
    """A pool projected before its waterfall: ``flows[scenario, period, column]`` (columns of
    :mod:`abs_engine.kernels.collateral`), and where the pool has them the delinquency buckets
    ``delinquent[scenario, period, DQ_*]`` (R2.11) and the reinvestment ``purchases[scenario,
    period]`` (R2.10, part of each month's ending balance); the waterfall sees it through
    :func:`abs_engine.engine.waterfall.projected_pool`."""

    flows: np.ndarray
    delinquent: np.ndarray | None = None
    purchases: np.ndarray | None = None


def project_pool(program: CollateralProgram) -> Projection:
    """The pool projected apart from its waterfall, by whichever kernel its scenarios and deal
    need: the delinquency pipeline (:func:`project_delinquency`) or the Standard Formulas
    (:func:`project_collateral`), then any reinvestment (:func:`reinvest`)."""
    if program.delinquency:
        out = Projection(*project_delinquency(program))
    else:
        out = Projection(project_collateral(program))
    if program.reinvestment is not None:
        out.flows, out.purchases = reinvest(program, out.flows)
    return out


def reinvest(program: CollateralProgram, flows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(flows, purchases)``: the pool's ``flows`` with the cohorts its principal collections
    buy in the reinvestment period (CONVENTIONS R2.10,
    :func:`abs_engine.kernels.reinvestment.project_cohorts`); each purchase is added to its
    month's ending (performing) balance."""
    r, s = program.reinvestment, program.scenarios
    months = r.months - (program.first_month - 1)  # (a program starting later: the months left)
    ages = -np.arange(1, max(months, 0) + 1, dtype=np.int64)  # cohort t is at loan month i - t in month i
    if not ages.size:
        return flows, np.zeros(flows.shape[:2])
    announce_if_cold(KR.project_cohorts)
    smm, mdr = curves.rate_tables(s.prepay_kind, s.prepay_rows, s.default_kind, s.default_rows, ages,
                                  program.per_year)
    principal = flows[..., K.SCHED] + flows[..., K.PREPAY] + flows[..., K.RECOVERY]
    cohorts, bought = KR.project_cohorts(np.ascontiguousarray(principal), r.wac / 12.0, r.net / 12.0, r.term,
                                         months, smm, mdr, s.prepay_row, s.default_row, s.severity, s.lag,
                                         s.advancing, program.n_periods, np.ascontiguousarray(flows[..., K.LOSS]),
                                         program.reinvest_until, program.reinvest_until_below,
                                         program.original_balance)
    out = flows + cohorts
    out[..., K.PERF] += bought
    return out, bought


def delinquency_ratio(flows: np.ndarray, delinquent: np.ndarray) -> np.ndarray:
    """``[scenario, period]``: the 60+ delinquency ratio at month end of a pipeline's flows and
    buckets (:func:`abs_engine.vocabulary.delinquency_ratio`)."""
    return ratio_60(flows[..., K.PERF], flows[..., K.FCL], delinquent[..., KD.DQ_60], delinquent[..., KD.DQ_90])


def project_loan_level(program: CollateralProgram, scenario: int) -> np.ndarray:
    """Per-loan flows ``[loan (tape order), period, column]`` for one scenario."""
    n_loans = len(program.loans)
    if program.delinquency:
        raise SpecError("loan_level", True, "a pool without roll rates (per-loan output of a delinquency pipeline "
                        "is not built)")
    if n_loans * program.n_periods * K.NCOL > LOAN_LEVEL_LIMIT:
        raise SpecError("loan_level", n_loans, f"at most {LOAN_LEVEL_LIMIT // (program.n_periods * K.NCOL)} "
                        f"loans for per-loan output over {program.n_periods} periods")
    s = program.scenarios
    smm, mdr = rate_tables(program)
    out = np.zeros((n_loans, program.n_periods, K.NCOL))
    if program.adjustable:
        out[program.index] = KA.project_arm_loans(
            *_arm_loans(program), program.arm_rates[program.arm_rate_row[scenario]], smm[scenario], mdr[scenario],
            s.severity[scenario], int(s.lag[scenario]), bool(s.advancing[scenario]), program.n_periods)
    else:
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
