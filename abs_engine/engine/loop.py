"""Run the one loop (:func:`abs_engine.kernels.deal.run_blocks`) for a compiled program: the
arguments it takes, built once here for every caller (full runs, a waterfall on given pool
flows, summaries).

Every path that runs a waterfall comes through :func:`run_loop`: a full run with the table
sink and the interpreter, a servicer's period or a loan-level pool's waterfall with the pool
given, a summary run with the summary sink and the period generated for its structure."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np

from ..compile.collateral import CollateralProgram
from ..compile.layout import constant_from, gather, scatter
from ..compile.waterfall import DealState, WaterfallProgram
from ..kernels import collateral as KC
from ..kernels import deal as KD
from ..kernels import state as KST
from ..kernels.summaries import quiet_from
from ..kernels.waterfall import interpret
from .collateral import rate_rows
from .compiling import announce_if_cold

__all__ = ["Tables", "SummarySink", "run_loop", "pool_arguments"]


@dataclass
class SummarySink:
    """Where a summary run writes: ``stats[S_*, scenario, item]`` (the loop writes the notes'
    items; any after them, as the residual's, are left as they are) and ``extra[scenario, X_*]``,
    for notes of original balance ``face`` priced at ``price`` (per 100 of face, per note) with
    a payment delay of ``delay`` days."""

    face: np.ndarray
    price: np.ndarray
    delay: float
    stats: np.ndarray
    extra: np.ndarray


@dataclass
class Tables:
    """What the table sink wrote, in the block layout ``[block, period, ..., lane]``: the pool's
    flows (columns of :mod:`abs_engine.kernels.collateral`) and the waterfall's tables."""

    pool: np.ndarray
    tables: dict[str, np.ndarray]


_THREADS: list[ThreadPoolExecutor] = []
_THREADS_LOCK = threading.Lock()


def _threads() -> ThreadPoolExecutor:
    """The threads that run blocks side by side, made once per process."""
    with _THREADS_LOCK:
        if not _THREADS:
            _THREADS.append(ThreadPoolExecutor(max_workers=numba.config.NUMBA_NUM_THREADS,
                                               thread_name_prefix="abs_engine-blocks"))
        return _THREADS[0]


def pool_arguments(c: CollateralProgram | None, n_scen: int, n_periods: int) -> tuple:
    """The loop's pool arguments: the loans, rate tables ``[row, month, class]`` and severities
    ``[row, month]`` with each scenario's rows, and each MDR row's quiet month; for a pool given
    to the loop, none. Computed once for a run that calls the loop chunk by chunk."""
    if c is None:
        zero = np.zeros(n_scen, dtype=np.int64)
        one = np.zeros(1, dtype=np.int64)
        return (np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int8),
                np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros((1, n_periods, 1)),
                np.zeros((1, n_periods, 1)), np.zeros(1, dtype=np.int64), np.zeros((1, n_periods)), zero, zero, zero,
                one, one, one)
    s = c.scenarios
    smm, mdr = rate_rows(c)
    return (c.balance, c.gross_m, c.net_m, c.amort_n, c.amort_kind, c.mat, c.cls, smm, mdr, quiet_from(mdr),
            s.severity_rows, s.prepay_row, s.default_row, s.severity_row, constant_from(smm), constant_from(mdr),
            constant_from(s.severity_rows))


def run_loop(waterfall: WaterfallProgram, lanes: np.ndarray, state: DealState, *,
             collateral: CollateralProgram | None = None, pool_start: float = 0.0, given: np.ndarray | None = None,
             cutoff: np.ndarray | None = None, periods: int | None = None, tables: bool = True,
             summary: SummarySink | None = None, period=None, pool_args: tuple | None = None,
             write_back: bool = True) -> Tables | None:
    """Run ``periods`` periods (default: to the end) of the scenarios in ``lanes`` (positions in
    ``state``'s scenarios, :func:`~abs_engine.compile.layout.scenario_lanes`) from ``state``,
    which is advanced in place.

    The pool: ``collateral`` month by month from ``pool_start``, with ``cutoff`` (``[scenario,
    period, column]``, loans in foreclosure at cut-off) added to each month's flows; or
    ``given`` (``[scenario, period, GIVEN_*]``, the pool as the waterfall sees it). Sinks: the
    tables (returned, block layout) and/or ``summary``. ``period``: the interpreter (``None``), or a
    period generated for the program's structure (summaries only); ``pool_args``: :func:`pool_arguments`,
    when already computed; ``write_back=False``: ``state`` is only read (it may be a read-only
    broadcast of one scenario's state), as by a summary run, which keeps no state."""
    n, n_scen = waterfall.n_periods, state.balance.shape[0]
    nb = lanes.shape[0]
    i0 = state.period
    i1 = n if periods is None else min(n, i0 + periods)
    st = {k: gather(getattr(state, k), lanes) for k in DealState.ARRAYS}
    if collateral is not None:
        s = collateral.scenarios
        first = np.where(lanes[:, 0] >= 0, lanes[:, 0], -1 - lanes[:, 0])
        lag_b, adv_b = s.lag[first], s.advancing[first]
    else:
        lag_b, adv_b = np.zeros(nb, dtype=np.int64), np.zeros(nb, dtype=np.bool_)
    given_b = None if given is None else gather(given, lanes)
    cutoff_b = None if cutoff is None else gather(cutoff, lanes)
    if tables:
        out = Tables(np.zeros((nb, n, KC.NCOL, KST.SB)), {
            "tranches": np.zeros((nb, n, len(waterfall.note_names), KST.TR_COLS, KST.SB)),
            "fees": np.zeros((nb, n, len(waterfall.fee_names), KST.FEE_COLS, KST.SB)),
            "accounts": np.zeros((nb, n, len(waterfall.account_names), KST.ACCT_COLS, KST.SB)),
            "triggers": np.zeros((nb, n, len(waterfall.trigger_names), KST.TRIG_COLS, KST.SB)),
            "instruments": np.zeros((nb, n, len(waterfall.instrument_names), KST.HX_COLS, KST.SB)),
            "cash": np.zeros((nb, n, KST.CASH_COLS, KST.SB))})
        sinks = (out.pool, *out.tables.values())
    else:
        out = None
        sinks = (None,) * 7  # (a sink not wanted is compiled away)
    if summary is None:
        summary = SummarySink(None, None, 0.0, None, None)
    a = waterfall.arrays
    if pool_args is None:
        pool_args = pool_arguments(collateral, n_scen, n)
    full_state = period is None or tables or cutoff is not None  # rows a generated period does not use
    announce_if_cold(KD.run_blocks)
    if period is None:
        period = interpret()
    args = (period, *pool_args, lanes, lag_b, adv_b, float(pool_start),
            a["coupon_rows"], a["coupon_row"], a["delinq_rows"], a["delinq_row"], a["coupon_from"], a["delinq_from"],
            a["exercise"],
            *waterfall.structure(), st["balance"], st["shortfall"], st["fee_arrears"], st["accounts"],
            st["breached"], st["cumulative_loss"], st["called"], st["accelerated"], st["instrument_unpaid"],
            st["facility_balance"], st["collections_held"], waterfall.payment_step, given_b, cutoff_b, i0, i1, *sinks,
            summary.face, summary.price, float(summary.delay), summary.stats, summary.extra)
    counter = np.zeros(1, dtype=np.int64)  # the next block: each thread takes one when done with the last
    n_threads = min(numba.get_num_threads(), nb)
    others = [_threads().submit(KD.run_blocks, counter, full_state, *args) for _ in range(n_threads - 1)]
    KD.run_blocks(counter, full_state, *args)  # (the kernel releases the GIL: the threads run side by side)
    for f in others:
        f.result()
    if write_back:
        for k, v in st.items():  # the lanes' scenarios only
            scatter(v, lanes, n_scen, out=getattr(state, k))
        state.period = i1
    return out
