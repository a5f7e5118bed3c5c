"""Run a compiled waterfall (:mod:`abs_engine.compile.waterfall`) on pool flows, projected or
actual, from a :class:`~abs_engine.compile.waterfall.DealState` that it advances."""

from __future__ import annotations

import numpy as np

from ..compile.layout import scatter, scenario_lanes
from ..compile.program import Program
from ..compile.waterfall import DealState, WaterfallProgram
from ..kernels import collateral as KC
from ..kernels import deal as KD
from .collateral import Projection, delinquency_ratio
from .loop import run_loop

__all__ = ["WaterfallFlows", "pool_inputs", "projected_pool", "given_pool", "run_waterfall", "run_period"]


class WaterfallFlows:
    """Kernel outputs as ``[scenario, period, item, column]`` (cash: ``[scenario, period, column]``).

    The loop writes scenario blocks (``[block, period, item, column, lane]``, in the layout
    ``lanes``); each array is put in scenario order the first time it is read, so a caller that
    needs one table pays for one transpose. Tables already in scenario order (chunks of a
    distributed run) are set as attributes, with no blocks and no layout.
    """

    NAMES = ("tranches", "fees", "accounts", "triggers", "instruments", "cash")

    def __init__(self, blocked: dict[str, np.ndarray], n_scenarios: int, lanes: np.ndarray | None = None):
        self.blocked = blocked
        self.n_scenarios = n_scenarios
        self.lanes = lanes  # the layout of :func:`abs_engine.compile.layout.scenario_lanes`

    def _unblock(self, x: np.ndarray) -> np.ndarray:
        return scatter(x, self.lanes, self.n_scenarios)

    def column(self, name: str, col: int) -> np.ndarray:
        """One column of an item table in scenario order, ``[scenario, period, item]``, without
        putting the whole table in scenario order."""
        if name in self.__dict__:
            return self.__dict__[name][..., col]
        return self._unblock(np.ascontiguousarray(self.blocked[name][..., col, :]))

    def rows(self, name: str, rows: np.ndarray) -> np.ndarray:
        """Scenarios ``rows`` (positions) of a table, ``[row, period, ...]``, read where the loop
        wrote them, without putting the whole table in scenario order."""
        if name in self.__dict__ or self.lanes is None:
            return getattr(self, name)[rows]
        if not hasattr(self, "_where"):  # each scenario's (block, lane); a padding lane repeats one
            block, lane = np.nonzero(self.lanes >= 0)
            self._where = np.empty((self.n_scenarios, 2), dtype=np.int64)
            self._where[self.lanes[block, lane]] = np.stack([block, lane], axis=1)
        b, l = self._where[rows, 0], self._where[rows, 1]
        return np.moveaxis(self.blocked[name], -1, 1)[b, l]

    def __getattr__(self, name: str) -> np.ndarray:
        if name not in WaterfallFlows.NAMES or "blocked" not in self.__dict__:
            raise AttributeError(name)
        value = self._unblock(self.blocked[name])
        setattr(self, name, value)
        del self.blocked[name]  # read from the scenario-order copy from now on: one copy of a table, not two
        return value


def pool_inputs(flows: np.ndarray, perf_start: float, fcl_start: float) -> dict[str, np.ndarray]:
    """The waterfall's view of pool flows ``[scenario, period, column]``."""
    end = flows[..., KC.PERF] + flows[..., KC.FCL]
    beg = np.concatenate([np.full((flows.shape[0], 1), perf_start + fcl_start), end[:, :-1]], axis=1)
    return dict(int_coll=flows[..., KC.NET],
                prin_coll=flows[..., KC.SCHED] + flows[..., KC.PREPAY] + flows[..., KC.RECOVERY],
                loss=flows[..., KC.LOSS], pool_beg=beg, pool_end=end,
                net_coupon=realized_coupon(flows[..., KC.NET], beg))


def projected_pool(proj: Projection, perf_start: float, fcl_start: float) -> dict[str, np.ndarray]:
    """A pool projected apart (:class:`~abs_engine.engine.collateral.Projection`) as the waterfall
    sees it (:func:`pool_inputs`): principal collections less what they bought (none in a
    reinvestment month), and the pool's own 60+ delinquency ratio when it has a pipeline."""
    pool = pool_inputs(proj.flows, perf_start, fcl_start)
    if proj.delinquent is not None:
        pool["delinquency_60"] = delinquency_ratio(proj.flows, proj.delinquent)
    if proj.purchases is not None:  # every collection of a reinvestment month buys loans: none to pay
        pool["prin_coll"] = np.where(proj.purchases > 0.0, 0.0, pool["prin_coll"])
    return pool


def realized_coupon(net_interest: np.ndarray, beginning: np.ndarray) -> np.ndarray:
    """The net coupon a WAC interest-only strip reads from a pool the loop is given (loan-level
    tapes, actual collections), whose loans it does not see: net interest x 12 / beginning pool
    balance (0 for no balance). The loop computes it from the loans when it has them."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(beginning > 0.0, 12.0 * net_interest / np.where(beginning > 0.0, beginning, 1.0), 0.0)


def run_waterfall(program: WaterfallProgram, pool: dict[str, np.ndarray], state: DealState,
                  periods: int | None = None) -> WaterfallFlows:
    """Run ``periods`` periods (default: to the end) from ``state``, which is advanced in place:
    the one loop (:func:`~abs_engine.engine.loop.run_loop`) with the pool given.

    ``pool`` holds ``[scenario, period]`` arrays over the whole horizon: ``int_coll``,
    ``prin_coll``, ``loss``, ``pool_beg``, ``pool_end``, ``net_coupon``, and optionally
    ``delinquency_60`` (the projection's own 60+ ratio, which delinquency triggers then read).
    """
    s = program.n_scenarios
    lanes = scenario_lanes(np.zeros(s, dtype=np.int64), np.zeros(s, dtype=np.bool_))  # scenario k: block k // SB
    out = run_loop(program, lanes, state, given=given_pool(pool), periods=periods)
    return WaterfallFlows(out.tables, s, lanes)


def given_pool(pool: dict[str, np.ndarray]) -> np.ndarray:
    """The waterfall's view of pool flows (:func:`pool_inputs`) as the loop takes a given pool:
    ``[scenario, period, GIVEN_*]``."""
    nan = np.full(pool["int_coll"].shape, np.nan)  # (no ratio of its own: the scenario's delinquency_60)
    return np.stack([pool.get(_GIVEN[c], nan) for c in range(KD.GIVEN_COLS)], axis=-1)


_GIVEN = {KD.GIVEN_IC: "int_coll", KD.GIVEN_PC: "prin_coll", KD.GIVEN_LOSS: "loss", KD.GIVEN_BEG: "pool_beg",
          KD.GIVEN_END: "pool_end", KD.GIVEN_WAC: "net_coupon", KD.GIVEN_DQ: "delinquency_60"}


def run_period(program: Program, flows: np.ndarray, beginning: np.ndarray, state: DealState) -> WaterfallFlows:
    """The waterfall's next period (``state.period + 1``) on the pool's actual flows of that
    period, from ``state`` (advanced in place): how servicing distributes a period.

    ``flows``: ``[scenario, column]`` in the columns of :mod:`abs_engine.kernels.collateral` (the
    ending balance in ``PERF`` and ``FCL``); ``beginning``: the pool balance at the start of the
    period, per scenario. The waterfall sees them as it sees a projection's
    (:func:`pool_inputs`)."""
    i = state.period
    whole = np.zeros((program.n_scenarios, program.n_periods, KC.NCOL))
    whole[:, i] = flows
    pool = pool_inputs(whole, 0.0, 0.0)
    pool["pool_beg"][:, i] = beginning
    pool["net_coupon"][:, i] = realized_coupon(flows[:, KC.NET], beginning)
    return run_waterfall(program.waterfall, pool, state, periods=1)
