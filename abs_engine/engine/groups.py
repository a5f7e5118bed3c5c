"""Run a deal with several collateral groups (CONVENTIONS R2.12): each group's pool projected on
its own (:func:`~abs_engine.engine.collateral.project_pool`: the Standard Formulas, or the
delinquency pipeline), then every scenario's months distributed by
:func:`abs_engine.kernels.groups.pay_groups`. The result is a
:class:`~abs_engine.results.tables.RunResult` whose pool table has a ``group`` level; summaries
only run the same in chunks of scenarios, keeping each chunk's summary table."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..compile.program import Program, compile_deal
from ..io.scenario_set import ScenarioSet
from ..kernels import collateral as KC
from ..kernels import groups as KG
from ..kernels import state as KST
from ..kernels.delinquency import DQ_COLS
from ..results.tables import RunResult, SummaryResult
from ..spec import Deal, Scenario
from .collateral import project_pool
from .compiling import announce_if_cold
from .executors import scenario_chunks
from .waterfall import WaterfallFlows, pool_inputs

__all__ = ["run_groups", "run_group_program"]


def run_group_program(program: Program, *, scenario_level: bool = True) -> RunResult:
    """Every per-period table of a compiled deal with collateral groups."""
    projections = [project_pool(c) for c in program.groups]
    flows = np.stack([p.flows for p in projections], axis=2)  # [scenario, period, group, column]
    delinquent = None
    if any(p.delinquent is not None for p in projections):
        delinquent = np.stack([p.delinquent if p.delinquent is not None else np.zeros((*p.flows.shape[:2], DQ_COLS))
                               for p in projections], axis=2)
    s, n = flows.shape[:2]
    waterfall = None
    w = program.waterfall
    if w is not None:
        pool = [pool_inputs(p.flows, *c.start_balances) for p, c in zip(projections, program.groups, strict=True)]
        by_group = {k: np.stack([g[k] for g in pool], axis=2) for k in ("int_coll", "prin_coll", "loss", "pool_beg",
                                                                        "pool_end")}
        a = w.arrays
        notes = len(w.note_names)
        tranches = np.zeros((s, n, notes, KST.TR_COLS))
        cash = np.zeros((s, n, KST.CASH_COLS))
        announce_if_cold(KG.pay_groups)
        KG.pay_groups(by_group["int_coll"], by_group["prin_coll"], by_group["loss"], by_group["pool_beg"],
                      by_group["pool_end"], a["coupon_rows"], a["coupon_row"], a["dcf"], a["face"],
                      a["note_group"], a["seniority"], tranches, cash)
        waterfall = WaterfallFlows({}, s)
        waterfall.tranches, waterfall.cash = tranches, cash
        for name, cols in (("fees", KST.FEE_COLS), ("accounts", KST.ACCT_COLS), ("triggers", KST.TRIG_COLS),
                           ("instruments", KST.HX_COLS)):
            setattr(waterfall, name, np.zeros((s, n, 0, cols)))
    return RunResult(program, flows.sum(axis=2), None, waterfall, scenario_level=scenario_level,
                     delinquent=None if delinquent is None else delinquent.sum(axis=2), group_flows=flows,
                     group_delinquent=delinquent)


def run_groups(deal: Deal, scenarios: Sequence[Scenario], *, summary_only: bool = False, chunk_size: int = 2048,
               scenario_level: bool = True) -> RunResult | SummaryResult:
    """A deal with collateral groups under ``scenarios``: every table, or (``summary_only``) the
    per-scenario summaries, ``chunk_size`` scenarios at a time."""
    scenarios = ScenarioSet.of(scenarios)
    if not summary_only:
        return run_group_program(compile_deal(deal, scenarios), scenario_level=scenario_level)
    import pandas as pd  # deferred: a projection without tables never imports pandas

    parts, losses = [], []
    for chunk in scenario_chunks(scenarios, chunk_size):  # (named as in the whole set)
        res = run_group_program(compile_deal(deal, chunk), scenario_level=True)
        parts.append(res.summary())
        losses.append(res.flows[..., KC.LOSS].sum(axis=1))
    return SummaryResult(deal, scenarios, pd.concat(parts), np.concatenate(losses))
