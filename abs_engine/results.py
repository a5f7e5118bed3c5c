"""``RunResult``: the arrays of a run and tidy pandas views named by the vocabulary."""

from __future__ import annotations

import calendar
import datetime as dt
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from .compile import CollateralProgram
from .kernels import collateral as K
from .loans import FORECLOSURE
from .spec import Deal, Scenario
from .vocabulary import CHECK_COLUMNS, LOAN_COLUMNS, POOL_COLUMNS

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RunResult", "payment_dates", "pool_table"]


def _add_months(d: dt.date, k: int) -> dt.date:
    y, m = divmod(d.month - 1 + k, 12)
    year, month = d.year + y, m + 1
    return dt.date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def payment_dates(first: dt.date | None, n: int) -> pd.DatetimeIndex:
    """Monthly payment dates from ``first`` (same day of month, clipped to the month's end).

    >>> payment_dates(dt.date(2024, 1, 31), 3).strftime("%Y-%m-%d").tolist()
    ['2024-01-31', '2024-02-29', '2024-03-31']
    """
    import pandas as pd

    if first is None:
        return pd.DatetimeIndex([pd.NaT] * n)
    return pd.DatetimeIndex([_add_months(first, k) for k in range(n)])


def _previous(values: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Each period's beginning value: ``start``, then the previous period's ending value."""
    return np.concatenate([np.broadcast_to(start, values.shape[:-1])[..., None], values[..., :-1]], axis=-1)


def _derived(flows: np.ndarray, perf_start, fcl_start) -> dict[str, np.ndarray]:
    """Vocabulary columns from kernel accumulators ``[..., period, column]`` and the balances
    performing and in foreclosure at cut-off."""
    f = flows
    perf0 = _previous(f[..., K.PERF], np.asarray(perf_start, dtype=np.float64))
    fcl0 = _previous(f[..., K.FCL], np.asarray(fcl_start, dtype=np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        smm = np.where(f[..., K.AMORTIZED] > 0, f[..., K.PREPAY] / f[..., K.AMORTIZED], 0.0)
        mdr = np.where(perf0 > 0, f[..., K.DEFAULT] / perf0, 0.0)
    return {
        "beginning_balance": perf0 + fcl0,
        "scheduled_principal": f[..., K.SCHED],
        "prepayment": f[..., K.PREPAY],
        "default": f[..., K.DEFAULT],
        "recovery": f[..., K.RECOVERY],
        "loss": f[..., K.LOSS],
        "gross_interest": f[..., K.GROSS],
        "servicing_fee": f[..., K.GROSS] - f[..., K.NET],
        "net_interest": f[..., K.NET],
        "ending_balance": f[..., K.PERF] + f[..., K.FCL],
        "performing_balance": f[..., K.PERF],
        "foreclosure_balance": f[..., K.FCL],
        "smm": smm,
        "mdr": mdr,
        "cumulative_loss": np.cumsum(f[..., K.LOSS], axis=-1),
    }


def pool_table(flows: np.ndarray, dates: pd.DatetimeIndex, perf_start: float, fcl_start: float) -> pd.DataFrame:
    """The ``pool`` table of one scenario's flows ``[period, column]``."""
    import pandas as pd

    cols = _derived(flows, perf_start, fcl_start)
    cols["date"] = dates
    frame = pd.DataFrame(cols, index=pd.RangeIndex(1, flows.shape[0] + 1, name="period"))
    return frame[list(POOL_COLUMNS)]


class RunResult:
    """What a run produced: arrays, and pandas views whose columns follow the vocabulary.

    Attributes
    ----------
    deal, scenarios
        The specs that were run.
    flows : ndarray ``[scenario, period, column]``
        Pool accumulators (columns of :mod:`abs_engine.kernels.collateral`).
    """

    def __init__(self, deal: Deal, scenarios: tuple[Scenario, ...], program: CollateralProgram,
                 flows: np.ndarray, loan_flows: np.ndarray | None = None):
        self.deal = deal
        self.scenarios = scenarios
        self.program = program
        self.flows = flows
        self._loan_flows = loan_flows

    @property
    def n_periods(self) -> int:
        return self.flows.shape[1]

    @cached_property
    def dates(self) -> pd.DatetimeIndex:
        return payment_dates(self.deal.first_payment_date, self.n_periods)

    @cached_property
    def pool(self) -> pd.DataFrame:
        """The pool table (index ``period``; with several scenarios, ``scenario``, ``period``)."""
        import pandas as pd

        start = self._start
        if len(self.scenarios) == 1:
            return pool_table(self.flows[0], self.dates, *start)
        names = list(self.program.scenarios.names)
        return pd.concat([pool_table(self.flows[j], self.dates, *start) for j in range(len(names))],
                         keys=names, names=["scenario"])

    @property
    def _start(self) -> tuple[float, float]:
        """Pool balance performing and in foreclosure at cut-off."""
        p = self.program
        fcl = float(p.loans.balance[p.foreclosed].sum())
        return p.original_balance - fcl, fcl

    @cached_property
    def loans(self) -> pd.DataFrame:
        """Per-loan flows, index ``loan_id``, ``period`` (run with ``loan_level=True``)."""
        import pandas as pd

        if self._loan_flows is None:
            raise ValueError("per-loan flows were not kept: run(..., loan_level=True)")
        f = self._loan_flows
        n_loans, n = f.shape[:2]
        loans = self.program.loans
        fcl = np.where(loans.status == FORECLOSURE, loans.balance, 0.0)
        cols = _derived(f, loans.balance - fcl, fcl)
        index = pd.MultiIndex.from_product([self.program.loans.loan_id, range(1, n + 1)],
                                           names=["loan_id", "period"])
        return pd.DataFrame({c: cols[c].reshape(-1) for c in LOAN_COLUMNS}, index=index)

    def check(self) -> pd.DataFrame:
        """Conservation residuals per period (zero up to rounding).

        ``pool_roll_forward`` = beginning - (scheduled + prepayment + recovery) - loss - ending;
        ``pool_conservation`` = original - cumulative principal - cumulative loss - ending.
        """
        import pandas as pd

        c = _derived(self.flows, *self._start)
        principal = c["scheduled_principal"] + c["prepayment"] + c["recovery"]
        roll = c["beginning_balance"] - principal - c["loss"] - c["ending_balance"]
        cons = (self.program.original_balance - np.cumsum(principal, axis=-1)
                - np.cumsum(c["loss"], axis=-1) - c["ending_balance"])
        frames = [pd.DataFrame({CHECK_COLUMNS[0]: roll[j], CHECK_COLUMNS[1]: cons[j]},
                               index=pd.RangeIndex(1, self.n_periods + 1, name="period"))
                  for j in range(len(self.scenarios))]
        if len(frames) == 1:
            return frames[0]
        return pd.concat(frames, keys=list(self.program.scenarios.names), names=["scenario"])
