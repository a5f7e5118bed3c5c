"""Run a compiled waterfall (:mod:`abs_engine.compile.waterfall`) on pool flows, projected or
actual, from a :class:`~abs_engine.compile.waterfall.DealState` that it advances."""

from __future__ import annotations

import numpy as np

from ..compile.layout import blocks, scatter, unblock
from ..compile.program import Program
from ..compile.waterfall import DealState, WaterfallProgram
from ..kernels import collateral as KC
from ..kernels import waterfall as KW

__all__ = ["WaterfallFlows", "pool_inputs", "run_waterfall", "run_period"]


class WaterfallFlows:
    """Kernel outputs as ``[scenario, period, item, column]`` (cash: ``[scenario, period, column]``).

    The kernel writes scenario blocks (``[block, period, item, column, lane]``); each array is
    put in scenario order the first time it is read, so a caller that needs one table pays for
    one transpose.
    """

    NAMES = ("tranches", "fees", "accounts", "triggers", "cash")

    def __init__(self, blocked: dict[str, np.ndarray], n_scenarios: int, lanes: np.ndarray | None = None):
        self.blocked = blocked
        self.n_scenarios = n_scenarios
        self.lanes = lanes  # the layout of :func:`abs_engine.compile.layout.scenario_lanes`, or None: blocks()

    def _unblock(self, x: np.ndarray) -> np.ndarray:
        return unblock(x, self.n_scenarios) if self.lanes is None else scatter(x, self.lanes, self.n_scenarios)

    def column(self, name: str, col: int) -> np.ndarray:
        """One column of an item table in scenario order, ``[scenario, period, item]``, without
        putting the whole table in scenario order."""
        if name in self.__dict__:
            return self.__dict__[name][..., col]
        return self._unblock(np.ascontiguousarray(self.blocked[name][..., col, :]))

    def __getattr__(self, name: str) -> np.ndarray:
        if name not in WaterfallFlows.NAMES:
            raise AttributeError(name)
        value = self._unblock(self.blocked[name])
        setattr(self, name, value)
        return value


def pool_inputs(flows: np.ndarray, perf_start: float, fcl_start: float) -> dict[str, np.ndarray]:
    """The waterfall's view of pool flows ``[scenario, period, column]``."""
    end = flows[..., KC.PERF] + flows[..., KC.FCL]
    beg = np.concatenate([np.full((flows.shape[0], 1), perf_start + fcl_start), end[:, :-1]], axis=1)
    return dict(int_coll=flows[..., KC.NET],
                prin_coll=flows[..., KC.SCHED] + flows[..., KC.PREPAY] + flows[..., KC.RECOVERY],
                loss=flows[..., KC.LOSS], pool_beg=beg, pool_end=end)


def run_waterfall(program: WaterfallProgram, pool: dict[str, np.ndarray], state: DealState,
                  periods: int | None = None) -> WaterfallFlows:
    """Run ``periods`` periods (default: to the end) from ``state``, which is advanced in place.

    ``pool`` holds ``[scenario, period]`` arrays over the whole horizon: ``int_coll``,
    ``prin_coll``, ``loss``, ``pool_beg``, ``pool_end``.
    """
    n, s = program.n_periods, program.n_scenarios
    i0 = state.period
    i1 = n if periods is None else min(n, i0 + periods)
    st = {k: blocks(getattr(state, k)) for k in DealState.ARRAYS}
    nb = st["called"].shape[0]
    tr = np.zeros((nb, n, len(program.note_names), KW.TR_COLS, KW.SB))
    fe = np.zeros((nb, n, len(program.fee_names), KW.FEE_COLS, KW.SB))
    ac = np.zeros((nb, n, len(program.account_names), KW.ACCT_COLS, KW.SB))
    tg = np.zeros((nb, n, len(program.trigger_names), KW.TRIG_COLS, KW.SB))
    ca = np.zeros((nb, n, KW.CASH_COLS, KW.SB))
    KW.run_waterfall(
        blocks(pool["int_coll"]), blocks(pool["prin_coll"]), blocks(pool["loss"]), blocks(pool["pool_beg"]),
        blocks(pool["pool_end"]), *program.blocked_paths(), program.structure(),
        st["balance"], st["shortfall"], st["fee_arrears"], st["accounts"], st["breached"],
        st["cumulative_loss"], st["called"], i0, i1, tr, fe, ac, tg, ca)
    for k, v in st.items():
        getattr(state, k)[...] = unblock(v, s)
    state.period = i1
    return WaterfallFlows({"tranches": tr, "fees": fe, "accounts": ac, "triggers": tg, "cash": ca}, s)


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
    return run_waterfall(program.waterfall, pool, state, periods=1)
