"""``RunResult``: the arrays of a run and tidy pandas views named by the vocabulary."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from ..compile.collateral import monthly_vector
from ..compile.program import Program
from ..compile.schedules import schedule_groups
from ..dates import payment_dates, schedule
from ..errors import SpecError
from ..io.display import Shown, as_table
from ..io.loans import FORECLOSURE
from ..io.tables import Exported
from ..kernels import curves
from ..kernels import delinquency as KDQ
from ..spec import Deal, Scenario
from ..spec.structure import FloatingCoupon
from ..vocabulary import (
    ACCOUNT_COLUMNS,
    ANALYTICS_COLUMNS,
    CASH_COLUMNS,
    CHECK_COLUMNS,
    DELINQUENCY_COLUMNS,
    FACILITY_COLUMNS,
    FEE_COLUMNS,
    HEDGE_COLUMNS,
    KERNEL_COLUMNS,
    LOAN_COLUMNS,
    PLANNED_COLUMNS,
    POOL_COLUMNS,
    SUMMARY_COLUMNS,
    TRANCHE_COLUMNS,
    TRIGGER_COLUMNS,
    cash_residual,
    delinquency_ratio,
    instrument_columns,
)
from .analytics import discount_margin, mortgage_yield, price_from_yield, risk_measures, wal, yield_from_price
from .overview import run_display, summary_display

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RunResult", "SummaryResult", "distribution_of"]

POOL, CASH, TRANCHE = (KERNEL_COLUMNS[k] for k in ("pool", "cash", "tranches"))
def _previous(values: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Each period's beginning value: ``start``, then the previous period's ending value."""
    return np.concatenate([np.broadcast_to(start, values.shape[:-1])[..., None], values[..., :-1]], axis=-1)


def _derived(flows: np.ndarray, perf_start, fcl_start) -> dict[str, np.ndarray]:
    """Vocabulary columns from kernel accumulators ``[..., period, column]`` and the balances
    performing and in foreclosure at cut-off."""
    f = flows
    perf0 = _previous(f[..., POOL["performing_balance"]], np.asarray(perf_start, dtype=np.float64))
    fcl0 = _previous(f[..., POOL["foreclosure_balance"]], np.asarray(fcl_start, dtype=np.float64))
    # a rate is reported where the balance it divides is a normal number: below that (a pool
    # paid down to under 2.2e-308) a float holds too few bits for the ratio to mean anything
    tiny = np.finfo(np.float64).tiny
    with np.errstate(invalid="ignore", divide="ignore"):
        amortized = f[..., POOL["amortized_balance"]]
        smm = np.where(amortized >= tiny, f[..., POOL["prepayment"]] / amortized, 0.0)
        mdr = np.where(perf0 >= tiny, f[..., POOL["default"]] / perf0, 0.0)
    return {
        "beginning_balance": perf0 + fcl0,
        "scheduled_principal": f[..., POOL["scheduled_principal"]],
        "prepayment": f[..., POOL["prepayment"]],
        "default": f[..., POOL["default"]],
        "recovery": f[..., POOL["recovery"]],
        "loss": f[..., POOL["loss"]],
        "gross_interest": f[..., POOL["gross_interest"]],
        "servicing_fee": f[..., POOL["gross_interest"]] - f[..., POOL["net_interest"]],
        "net_interest": f[..., POOL["net_interest"]],
        "ending_balance": f[..., POOL["performing_balance"]] + f[..., POOL["foreclosure_balance"]],
        "performing_balance": f[..., POOL["performing_balance"]],
        "foreclosure_balance": f[..., POOL["foreclosure_balance"]],
        "smm": smm,
        "mdr": mdr,
        "cumulative_loss": np.cumsum(f[..., POOL["loss"]], axis=-1),
    }


def distribution_of(summary: pd.DataFrame, deal: Deal, percentiles=(5, 25, 50, 75, 95)) -> pd.DataFrame:
    """Mean and percentiles, across the ``scenario`` level of a summary, of each note's ``loss``
    (writedowns / original face), ``wal`` and ``yield``. Index (tranche, metric)."""
    import pandas as pd  # deferred: a projection without tables never imports pandas

    face = {t.name: t.balance for t in deal.notes}
    s = summary[summary.index.get_level_values("tranche").isin(list(face))]
    tranche = s.index.get_level_values("tranche")
    metrics = pd.DataFrame({"loss": s["total_writedown"].to_numpy() / tranche.map(face).to_numpy(dtype=float),
                            "wal": s["wal"].to_numpy(), "yield": s["yield"].to_numpy()}, index=tranche)
    rows, index = [], []
    for name in face:
        m = metrics.loc[[name]]
        for metric in ("loss", "wal", "yield"):
            v = m[metric].to_numpy(dtype=float)
            finite = v[np.isfinite(v)]
            stats = {"mean": finite.mean() if finite.size else np.nan}
            stats |= {f"p{p:g}": np.percentile(finite, p) if finite.size else np.nan for p in percentiles}
            rows.append(stats)
            index.append((name, metric))
    return as_table(pd.DataFrame(rows, index=pd.MultiIndex.from_tuples(index, names=["tranche", "metric"])))


def summary_frame(deal: Deal, names: Sequence[str], stats: np.ndarray, extra: np.ndarray) -> pd.DataFrame:
    """The summary table (``SUMMARY_COLUMNS``, index scenario, tranche) from the summary sink's
    ``stats[S_*, scenario, item]`` (items: the notes, then the residual class if any) and
    ``extra[scenario, X_*]``; the residual's row holds its cash in ``total_residual``. Each
    column of numbers is a view of a kernel row, not a copy: a million scenarios' table costs
    what the kernel wrote (the two period columns are turned into whole numbers in place, so
    ``stats`` is the table's and not to be read again)."""
    import pandas as pd  # deferred: a projection without tables never imports pandas

    residual = next((t.name for t in deal.tranches if t.residual), None)
    items = [t.name for t in deal.notes] + ([residual] if residual is not None else [])
    n = stats.shape[1]
    if stats.shape[2] != len(items):
        raise ValueError(f"summary stats for {stats.shape[2]} items, the deal has {len(items)}")
    data = {}
    for c in SUMMARY_COLUMNS:
        k = KERNEL_COLUMNS["summary"].get(c)
        if k is None:  # total_residual: the residual's cash; the notes have none
            column = np.zeros((n, len(items)))
            if residual is not None:
                column[:, -1] = extra[:, KERNEL_COLUMNS["summary_extra"]["total_residual"]]
        elif c in _PERIOD_COLUMNS:
            data[c] = principal_periods(_whole_in_place(stats[k]).reshape(-1))
            continue
        else:
            column = stats[k]
        data[c] = column.reshape(-1)
    # names and items are unique: the product index from its levels and codes (no factorizing)
    index = pd.MultiIndex(levels=[names_index(names), pd.Index(items)],
                          codes=[np.repeat(np.arange(n, dtype=np.int32), len(items)),
                                 np.tile(np.arange(len(items), dtype=np.int8), n)],
                          names=["scenario", "tranche"], verify_integrity=False)
    return as_table(pd.DataFrame(data, index=index, copy=False))


_PERIOD_COLUMNS = ("first_principal_period", "last_principal_period")


def principal_periods(periods: np.ndarray):
    """A summary's first or last principal period as whole numbers, missing (``<NA>``) for a
    class paid no principal (the residual class, a class never paid down): the kernel's 0 means
    none. The numbers are the array's own memory (no copy); the mask is one byte a row."""
    import pandas as pd  # deferred: a projection without tables never imports pandas

    values = np.asarray(periods)
    if values.dtype != np.int64:
        values = values.astype(np.int64)
    return pd.arrays.IntegerArray(values, values == 0)


def names_index(names: Sequence[str]) -> pd.Index:
    """Scenario names as a pandas string index, built through one Arrow array (a third faster
    than from a list for a grid's 10,000 names; the same ``str`` dtype)."""
    import pandas as pd  # deferred: a projection without tables never imports pandas
    import pyarrow as pa  # deferred: as pandas

    return pd.Index(pd.array(pa.array(list(names), type=pa.string()), dtype="str"))


class _Lazy:
    """A float column of a table that is computed only when the table copies it, so a table built
    from derived columns holds one of them at a time, not all."""

    dtype = np.dtype(np.float64)

    def __init__(self, compute, name: str, shape: tuple[int, ...]):
        self.compute, self.name, self.shape = compute, name, shape

    def __getitem__(self, key):
        return self.compute(self.name)[key]


def _whole_in_place(x: np.ndarray) -> np.ndarray:
    """``x`` (float64, whole numbers) as int64 in its own memory, a slab at a time (no second
    array of its size): the summary's period columns cost no copy."""
    out = x.view(np.int64)
    flat, whole = x.reshape(-1), out.reshape(-1)
    for lo in range(0, flat.size, 1 << 16):
        whole[lo:lo + (1 << 16)] = flat[lo:lo + (1 << 16)].astype(np.int64)  # a slab's copy, then written back
    return out


class SummaryResult(Shown, Exported):
    """What a summary-only run keeps: per-scenario summaries and pool losses, no per-period tables."""

    def __init__(self, deal: Deal, scenarios: tuple[Scenario, ...], summary: pd.DataFrame, pool_loss: np.ndarray):
        self.deal = deal
        self.scenarios = scenarios
        self._summary = summary
        self.pool_loss = pool_loss  # cumulative pool loss per scenario

    def summary(self) -> pd.DataFrame:
        """Per scenario and tranche, as :meth:`RunResult.summary` (priced at par)."""
        return self._summary

    def distribution(self, percentiles=(5, 25, 50, 75, 95)) -> pd.DataFrame:
        """Across scenarios, per note: mean and percentiles of ``loss``, ``wal`` and ``yield``."""
        return distribution_of(self._summary, self.deal, percentiles)

    def all_tables(self) -> dict[str, pd.DataFrame]:
        """``{"summary": ...}``: the one table a summary-only run keeps."""
        return {"summary": self._summary}

    def _display(self):
        return summary_display(self)


class RunResult(Shown, Exported):
    """What a run produced: arrays, and pandas views whose columns follow the vocabulary.

    Attributes
    ----------
    deal, scenarios
        The specs that were run.
    program : abs_engine.compile.program.Program
        What was compiled for them (:func:`abs_engine.compile_deal`).
    flows : ndarray ``[scenario, period, column]``
        Pool accumulators (columns of :mod:`abs_engine.kernels.collateral`).
    """

    def __init__(self, program: Program, flows: np.ndarray, loan_flows: np.ndarray | None = None, waterfall=None,
                 scenario_level: bool | None = None, delinquent: np.ndarray | None = None,
                 purchases: np.ndarray | None = None, group_flows: np.ndarray | None = None,
                 group_delinquent: np.ndarray | None = None, first_period: int = 1,
                 start: tuple[float, float] | None = None, face: np.ndarray | None = None, loss_before: float = 0.0):
        # a re-projection from a recorded period (servicing): its first period, the pool balances
        # performing and in foreclosure it starts from, each note's face then (for prices per 100),
        # and the pool's cumulative loss before it
        self.first_period = first_period
        self.loss_before = loss_before
        self._start_balances = start
        self._face = face
        self.deal = program.deal
        self.scenarios = scenarios = program.specs
        self.program = program
        self.flows = flows
        self.delinquent = delinquent  # [scenario, period, DQ_*]: a delinquency pipeline's buckets (R2.11)
        self.purchases = purchases    # [scenario, period]: loans bought by principal collections (R2.10)
        self._loan_flows = loan_flows
        # collateral groups (R2.12): [scenario, period, group, column] and [scenario, period, group, DQ_*];
        # ``flows`` and ``delinquent`` are then their sums over the groups
        self.group_flows = group_flows
        self.group_delinquent = group_delinquent
        self.waterfall = waterfall  # WaterfallFlows, when the deal has tranches
        # tables carry a leading ``scenario`` level for a list or deck of scenarios
        self.scenario_level = len(scenarios) > 1 if scenario_level is None else scenario_level

    @property
    def n_periods(self) -> int:
        return self.flows.shape[1]

    @cached_property
    def dates(self) -> pd.DatetimeIndex:
        """Each period's payment date (CONVENTIONS R2.1.1; NaT for an undated deal)."""
        if self.deal.first_payment_date is None:
            return payment_dates(None, self.n_periods)
        import pandas as pd  # deferred: a projection without tables never imports pandas

        first = self.first_period - 1
        return pd.DatetimeIndex(schedule(self.deal, range(first, first + self.n_periods)))

    def _assumed_rates(self, cols: dict[str, np.ndarray], rows: np.ndarray | None, c=None) -> None:
        """The pool table's ``smm`` and ``mdr``: each month's assumed rate, as the BMA tables
        print them (also in the pool's last month, when nothing is left to prepay), where every
        loan of the pool reads the same rate that month (one rate class, or a rate not read at
        loan month); otherwise the realised rate, the loans' rates weighted by the balances they
        apply to (prepayments / the balance after scheduled principal, defaults / the performing
        balance). A pool rolled through a delinquency pipeline has no default rate to assume: its
        ``mdr`` is realised. ``c``: the compiled pool (default the program's; a collateral group's)."""
        c = self.program.collateral if c is None else c
        s = c.scenarios
        smm, mdr = curves.rate_tables(s.prepay_kind, s.prepay_rows, s.default_kind, s.default_rows, c.ages,
                                      c.per_year)
        which = slice(None) if rows is None else rows
        for name, table, row in (("smm", smm, s.prepay_row), ("mdr", mdr, s.default_row)):
            if name == "mdr" and c.delinquency:
                continue
            t = table[row[which]][:, : cols[name].shape[-1]]  # [scenario, month, class]
            one = (t.max(axis=2) == t.min(axis=2)) if t.shape[2] > 1 else np.ones(t.shape[:2], dtype=bool)
            cols[name] = np.where(one, t[:, :, 0], cols[name])

    @property
    def _start(self) -> tuple[float, float]:
        return self.program.start_balances if self._start_balances is None else self._start_balances

    @property
    def face(self) -> np.ndarray:
        """Each note's face for prices per 100 (CONVENTIONS R2.6.4): its original balance (an IO
        class: its initial notional); in a re-projection, its balance (notional) when it starts."""
        return self.program.waterfall.arrays["face"] if self._face is None else self._face

    @cached_property
    def last_period(self) -> np.ndarray:
        """Each scenario's last period: the clean-up call's, if exercised, else the horizon."""
        last = np.full(len(self.scenarios), self.n_periods)
        if self.waterfall is not None:
            call = self.waterfall.column("cash", CASH["call_proceeds"]) > 0
            last = np.where(call.any(axis=1), call.argmax(axis=1) + 1, last)
        return last

    def _frame(self, columns: dict[str, np.ndarray], items: tuple[str, ...] | None = None,
               item_level: str | None = None, per_period: bool = True, rows: np.ndarray | None = None):
        """One DataFrame from ``[scenario, period, item]`` arrays (``[scenario, item]`` without
        ``per_period``): index (scenario,) (period,) (item), rows after each scenario's last period
        (a clean-up call) left out. Built in one piece: the index from its levels and codes (no
        factorizing), the float columns as one block, each column copied once. ``rows``: the
        scenarios the arrays hold (positions in the run), when not all of them."""
        import pandas as pd  # deferred: a projection without tables never imports pandas

        names = self.program.scenarios.names
        last_period = self.last_period
        if rows is not None:
            names = [names[j] for j in rows]
            last_period = last_period[rows]
        k = len(names) if self.scenario_level else 1
        first = next(iter(columns.values()))
        shape = (min(k, first.shape[0]), *first.shape[1:])  # (scenario, period[, item]) or (scenario, item)
        levels, labels = [], []
        if self.scenario_level:
            levels.append(names_index(names))
            labels.append("scenario")
        if per_period:
            levels.append(pd.RangeIndex(self.first_period, self.first_period + shape[1]))
            labels.append("period")
        if items is not None:
            levels.append(pd.Index(list(items)))
            labels.append(item_level)
        keep = None  # per row of the product: whether it is at or before its scenario's last period
        if per_period and (last_period[:k] < shape[1]).any():
            keep = np.broadcast_to((np.arange(1, shape[1] + 1)[None, :] <= last_period[:k, None]).reshape(
                shape[:2] + (1,) * (len(shape) - 2)), shape)
        axes = ([0] if self.scenario_level else []) + ([1] if per_period else []) + (
            [len(shape) - 1] if items is not None else [])
        codes = []  # per level: each row's position on its axis
        for a in axes:
            c = np.broadcast_to(np.arange(shape[a], dtype=np.int32).reshape((-1,) + (1,) * (len(shape) - 1 - a)),
                                shape)
            codes.append(c[keep] if keep is not None else c.reshape(-1))
        if len(levels) > 1:
            index = pd.MultiIndex(levels=levels, codes=codes, names=labels, verify_integrity=False)
        else:
            index = levels[0][codes[0]].rename(labels[0])
        n = len(codes[0])

        def flat(v):  # one copy, straight from the (possibly strided) view
            v = np.broadcast_to(v[:k], shape)
            return v[keep] if keep is not None else v.reshape(-1)

        floats = [c for c, v in columns.items() if v.dtype == np.float64]
        block = np.empty((len(floats), n))  # row j: column j; its transpose is the frame's one float block
        for j, c in enumerate(floats):
            block[j] = flat(columns[c])
        frame = pd.DataFrame(block.T, index=index, columns=floats, copy=False)
        for loc, (c, v) in enumerate(columns.items()):
            if v.dtype != np.float64:
                frame.insert(loc, c, flat(v))
        return as_table(frame)

    def _need_waterfall(self):
        if self.waterfall is None:
            raise ValueError(f"deal {self.deal.name!r} has no tranches: only the pool table exists")
        return self.waterfall

    TABLES = {"pool": POOL_COLUMNS, "tranches": TRANCHE_COLUMNS, "fees": FEE_COLUMNS, "accounts": ACCOUNT_COLUMNS,
              "triggers": TRIGGER_COLUMNS, "hedges": HEDGE_COLUMNS, "facilities": FACILITY_COLUMNS,
              "cash": CASH_COLUMNS}
    """The per-period tables :meth:`table` builds, and their columns."""

    def table(self, name: str, scenarios: Sequence[str | int] | None = None,
              columns: Sequence[str] | None = None) -> pd.DataFrame:
        """One per-period table (``pool``, ``tranches``, ``fees``, ``accounts``, ``triggers``,
        ``hedges``, ``facilities``, ``cash``), built now for the ``scenarios`` asked (names or
        positions; default all) and the ``columns`` asked (default all, in the vocabulary's
        order): only those rows and columns are copied out of the run's arrays. The properties of
        the same names are this table for everything, built once and kept.

        >>> import abs_engine as ae
        >>> res = ae.run("tranches/auto_prime_abs.yaml", "scenarios/auto_grid.yaml")
        >>> t = res.table("tranches", scenarios=[0, 5], columns=["principal_paid", "writedown"])
        >>> list(t.columns), t.index.get_level_values("scenario").nunique()
        (['principal_paid', 'writedown'], 2)
        """
        if name not in self.TABLES:
            raise SpecError("table", name, f"one of {list(self.TABLES)}")
        known = self.TABLES[name]
        wanted = tuple(known) if columns is None else tuple(columns)
        unknown = [c for c in wanted if c not in known]
        if unknown or not wanted:
            raise SpecError("columns", list(wanted), f"columns of the {name} table: {list(known)}")
        rows = None if scenarios is None else self._scenario_rows(scenarios)
        return self._build(name, rows, wanted)

    def _scenario_rows(self, scenarios: Sequence[str | int]) -> np.ndarray:
        """Positions in the run of ``scenarios`` (names or positions), in the order given."""
        names = self.program.scenarios.names
        n = len(names)
        if isinstance(scenarios, str | int | np.integer):
            scenarios = [scenarios]
        at = None
        out, seen = [], set()
        for x in scenarios:
            if isinstance(x, int | np.integer) and not isinstance(x, bool):
                j = int(x) + n if int(x) < 0 else int(x)
                if not 0 <= j < n:
                    raise SpecError("scenarios", x, f"a scenario position in [-{n}, {n})")
            else:
                if at is None:
                    at = {name: j for j, name in enumerate(names)}
                if x not in at:
                    raise SpecError("scenarios", x, "the name or position of a scenario of this run")
                j = at[x]
            if j in seen:
                raise SpecError("scenarios", x, "each scenario once")
            seen.add(j)
            out.append(j)
        return np.asarray(out, dtype=np.int64)

    def _build(self, name: str, rows: np.ndarray | None, columns: tuple[str, ...]) -> pd.DataFrame:
        """Table ``name`` for scenarios ``rows`` (positions; ``None``: all) and ``columns``."""

        def read(table):  # a waterfall table, for the scenarios asked only
            return getattr(wf, table) if rows is None else wf.rows(table, rows)

        if name == "pool":
            if self.group_flows is None:
                cols = self._pool_columns(self.flows, self.delinquent, self.program.collateral, rows)
                return self._frame({c: cols[c] for c in columns}, rows=rows)
            parts = [self._pool_columns(self.group_flows[:, :, g], None if self.group_delinquent is None
                                        else self.group_delinquent[:, :, g], c, rows)
                     for g, c in enumerate(self.program.groups)]  # [scenario, period, group] per column
            return self._frame({c: np.stack([p[c] for p in parts], axis=2) for c in columns},
                               tuple(g.name for g in self.deal.collateral.groups), "group", rows=rows)
        wf = self._need_waterfall()
        if name == "cash":
            c = read("cash")
            return self._frame({n: c[..., CASH[n]] for n in columns}, rows=rows)
        if name == "tranches":
            notes = read("tranches")  # [scenario, period, note, column], residual_paid not among them
            names = tuple(t.name for t in self.deal.notes)
            residual = next((t.name for t in self.deal.tranches if t.residual), None)
            names = (*names, residual) if residual is not None else names
            paid = read("cash")[:, :, CASH["residual_paid"]] if residual is not None else None

            def column(c):  # [scenario, period, tranche]: the notes' column, then the residual's
                k = TRANCHE[c]
                note = notes[..., k] if k < notes.shape[-1] else np.zeros(notes.shape[:3])
                if residual is None:
                    return note
                return np.concatenate([note, (paid if c == "residual_paid" else np.zeros_like(paid))[..., None]],
                                      axis=2)

            return self._frame({c: _Lazy(column, c, (*notes.shape[:2], len(names))) for c in columns}, names,
                               "tranche", rows=rows)
        if name in ("hedges", "facilities"):  # the kernel's instruments: the hedges, then the facilities
            n_hedges = self.program.waterfall.n_hedges
            values = read("instruments")
            values = values[:, :, :n_hedges] if name == "hedges" else values[:, :, n_hedges:]
            at = instrument_columns(name)
            specs = self.deal.hedges if name == "hedges" else self.deal.facilities
            return self._frame({c: values[..., at[c]] for c in columns}, tuple(x.name for x in specs),
                               name[:-1] if name == "hedges" else "facility", rows=rows)
        items = {"fees": (self.deal.fees, "fee"), "accounts": (self.deal.accounts, "account"),
                 "triggers": (self.deal.triggers, "trigger")}
        specs, level = items[name]
        values = read(name)
        at = KERNEL_COLUMNS[name]
        frame = self._frame({c: values[..., at[c]] for c in columns}, tuple(x.name for x in specs), level,
                            rows=rows)
        return frame.astype({"breached": bool}) if "breached" in frame.columns else frame

    def _pool_columns(self, flows: np.ndarray, delinquent: np.ndarray | None, c, rows: np.ndarray | None) -> dict:
        """The pool table's columns ``[scenario, period]`` of pool flows ``flows`` (the pool of
        compiled collateral ``c``), for scenarios ``rows`` (``None``: all)."""
        if rows is not None:
            flows = flows[rows]
            delinquent = None if delinquent is None else delinquent[rows]
        cols = _derived(flows, *(self._start if c is self.program.collateral else c.start_balances))
        cols["cumulative_loss"] = cols["cumulative_loss"] + self.loss_before
        self._assumed_rates(cols, rows, c)
        cols["date"] = np.broadcast_to(np.asarray(self.dates), cols["beginning_balance"].shape)
        if self.purchases is not None:  # principal collections reinvested, in the ending balance (R2.10)
            cols["purchases"] = self.purchases if rows is None else self.purchases[rows]
        if delinquent is not None:  # the pipeline's buckets at month end, and the 60+ ratio (R2.11.7)
            cols["delinquent_30"], cols["delinquent_60"], cols["delinquent_90"] = np.moveaxis(delinquent, -1, 0)
            cols["delinquency_60_ratio"] = delinquency_ratio(flows[..., POOL["performing_balance"]],
                                                             flows[..., POOL["foreclosure_balance"]],
                                                             delinquent[..., KDQ.DQ_60], delinquent[..., KDQ.DQ_90])
        return cols

    @cached_property
    def pool(self) -> pd.DataFrame:
        """The pool table (index ``period``; with several scenarios, ``scenario``, ``period``; with
        collateral groups (CONVENTIONS R2.12), a last level ``group``: each group's pool)."""
        extra = (DELINQUENCY_COLUMNS if self.delinquent is not None else ()) + (
            ("purchases",) if self.purchases is not None else ())
        return self._build("pool", None, POOL_COLUMNS + extra)

    @cached_property
    def whole_pool(self) -> pd.DataFrame:
        """The pool table of the whole deal: :attr:`pool`, or for a deal with collateral groups
        their sums month by month (``smm`` and ``mdr`` assumed where every loan of every group reads
        the same rate, else realised over the whole pool)."""
        if self.group_flows is None:
            return self.pool
        extra = DELINQUENCY_COLUMNS if self.delinquent is not None else ()
        cols = self._pool_columns(self.flows, self.delinquent, self.program.collateral, None)
        return self._frame({c: cols[c] for c in POOL_COLUMNS + extra})

    @cached_property
    def tranches(self) -> pd.DataFrame:
        """Per period and tranche: ``beginning_balance``, ``coupon``, ``interest_due`` (with carried
        shortfall), ``interest_paid``, ``interest_shortfall`` (carried forward), ``principal_paid``,
        ``writedown``, ``ending_balance``, ``residual_paid`` (the residual class's cash)."""
        return self._build("tranches", None, TRANCHE_COLUMNS)

    @cached_property
    def fees(self) -> pd.DataFrame:
        """Per period and fee: ``due`` (with arrears), ``paid``, ``shortfall`` (carried forward)."""
        return self._build("fees", None, FEE_COLUMNS)

    @cached_property
    def accounts(self) -> pd.DataFrame:
        """Per period and account: ``beginning_balance``, ``deposit``, ``draw``, ``release``,
        ``ending_balance``, ``target``."""
        return self._build("accounts", None, ACCOUNT_COLUMNS)

    @cached_property
    def triggers(self) -> pd.DataFrame:
        """Per period and trigger: tested ``value``, ``threshold``, ``breached``."""
        return self._build("triggers", None, TRIGGER_COLUMNS)

    @cached_property
    def hedges(self) -> pd.DataFrame:
        """Per period and hedge (CONVENTIONS R2.8): ``notional``, ``index_rate``, ``net_amount``
        (positive: the deal pays), ``payment_due`` (with any unpaid before), ``payment_paid``,
        ``payment_shortfall`` (carried forward), ``receipt`` (paid to the deal)."""
        return self._build("hedges", None, HEDGE_COLUMNS)

    @cached_property
    def facilities(self) -> pd.DataFrame:
        """Per period and liquidity facility (CONVENTIONS R2.8.4): ``commitment``, ``rate``,
        ``beginning_balance`` (drawn), ``interest_due``, ``interest_paid``, ``interest_shortfall``,
        ``repayment``, ``draw``, ``ending_balance``."""
        return self._build("facilities", None, FACILITY_COLUMNS)

    @cached_property
    def cash(self) -> pd.DataFrame:
        """The waterfall's period totals (``CASH_COLUMNS``), index ``period``."""
        return self._build("cash", None, CASH_COLUMNS)

    @cached_property
    def planned(self) -> pd.DataFrame:
        """Per period and planned schedule (CONVENTIONS R2.4; one row per principal step that pays
        down to a schedule, named by the schedule): ``planned_balance`` after the period, the
        step's classes' ending ``balance``, and ``on_schedule`` (within 1e-6 of the planned
        balance). The first period off schedule of each scenario is the first row whose
        ``on_schedule`` is false.

        >>> import abs_engine as ae
        >>> res = ae.run("tranches/agency_cmo.yaml", {"prepay": {"psa": 200}})
        >>> bool(res.planned["on_schedule"].all())
        True
        """
        groups = schedule_groups(self.deal)
        return self._frame(self.planned_arrays(), tuple(name for _k, name, _c in groups), "schedule")

    def planned_arrays(self) -> dict[str, np.ndarray]:
        """The :attr:`planned` table's columns as ``[scenario, period, schedule step]`` arrays, every
        period of every scenario (none left out after a clean-up call)."""
        wf = self._need_waterfall()
        groups = schedule_groups(self.deal)
        if not groups:
            raise ValueError(f"deal {self.deal.name!r} has no principal step with down_to: no planned balances")
        note_ix = {n: k for k, n in enumerate(self.program.waterfall.note_names)}
        end = wf.column("tranches", TRANCHE["ending_balance"])  # [scenario, period, note]
        floor = self.program.waterfall.arrays["floor"]
        balance = np.stack([end[:, :, [note_ix[c] for c in classes]].sum(axis=2) for _k, _n, classes in groups],
                           axis=-1)
        planned = np.ascontiguousarray(np.broadcast_to(floor[:, [k for k, _n, _c in groups]], balance.shape))
        return dict(zip(PLANNED_COLUMNS, (planned, balance, np.abs(balance - planned) <= 1e-6), strict=True))

    def tranche_cash_flows(self) -> np.ndarray:
        """Interest + principal per 100 of each note's original face, ``[scenario, note, period]``."""
        wf = self._need_waterfall()
        face = self.face  # original balance (an IO class: its initial notional), or as a re-projection starts
        flows = wf.column("tranches", TRANCHE["interest_paid"]) + wf.column("tranches", TRANCHE["principal_paid"])
        with np.errstate(invalid="ignore", divide="ignore"):
            per100 = np.where(face > 0, flows * 100.0 / face, 0.0)
        return np.moveaxis(per100, 1, 2)

    def _pricing(self, value, name: str) -> np.ndarray | None:
        """A number for every note, or ``{tranche: number}`` -> per-note array (NaN where not given)."""
        if value is None:
            return None
        names = [t.name for t in self.deal.notes]
        if isinstance(value, dict):
            unknown = sorted(set(value) - set(names))
            if unknown:

                raise SpecError(name, unknown, f"tranches of the deal (notes: {names})")
            return np.array([value.get(n, np.nan) for n in names], dtype=np.float64)
        return np.full(len(names), float(value))

    def analytics(self, price=None, yield_=None, delay_days: float = 0.0) -> pd.DataFrame:
        """Per note (BMA section G): WAL, price per 100 of original face, bond-equivalent yield,
        mortgage yield, Macaulay and modified duration, convexity, and discount margin for
        floaters (over the scenario's index path). Give ``price`` (yield from price) or
        ``yield_`` (price from yield), each a number or ``{tranche: value}``; neither prices at par.
        """


        cf = self.tranche_cash_flows()                      # [scenario, note, period]
        wf = self._need_waterfall()
        notes = self.deal.notes
        prices, yields = self._pricing(price, "price"), self._pricing(yield_, "yield")
        if prices is None and yields is None:
            prices = np.full(len(notes), 100.0)
        if yields is None:
            y = yield_from_price(cf, prices[None, :], delay_days)
            p = np.broadcast_to(prices, y.shape)
        else:
            y = np.broadcast_to(yields, cf.shape[:2])
            p = price_from_yield(cf, y, delay_days)
        prin = np.moveaxis(wf.column("tranches", TRANCHE["principal_paid"]), 1, 2)
        dm = np.full(cf.shape[:2], np.nan)
        for k, t in enumerate(notes):  # every scenario at once
            if isinstance(t.coupon, FloatingCoupon):
                index = np.stack([monthly_vector(scen.rates[t.coupon.index], cf.shape[-1]) for scen in self.scenarios])
                dm[:, k] = discount_margin(cf[:, k], p[:, k], index)
        mac, mod, conv = risk_measures(cf, y, delay_days)
        cols = {
            "wal": wal(prin, delay_days), "price": p, "yield": y, "mortgage_yield": mortgage_yield(y),
            "macaulay_duration": mac, "modified_duration": mod, "convexity": conv, "discount_margin": dm,
        }

        return self._frame({c: np.broadcast_to(np.asarray(cols[c], dtype=np.float64), cf.shape[:2])
                            for c in ANALYTICS_COLUMNS}, tuple(t.name for t in notes), "tranche", per_period=False)

    def distribution(self, percentiles=(5, 25, 50, 75, 95), price=None, yield_=None,
                     delay_days: float = 0.0) -> pd.DataFrame:
        """Across scenarios, per note: mean and percentiles of ``loss`` (writedowns as a share of
        original face), ``wal`` and ``yield`` (at par unless priced). Index (tranche, metric)."""
        import pandas as pd  # deferred: a projection without tables never imports pandas

        s = self.summary(price, yield_, delay_days)
        if not self.scenario_level:
            s = pd.concat([s], keys=[self.program.scenarios.names[0]], names=["scenario"])
        return distribution_of(s, self.deal, percentiles)

    def summary(self, price=None, yield_=None, delay_days: float = 0.0) -> pd.DataFrame:
        """Per tranche: WAL in years (principal paid, ``T_k = (30k + delay_days)/360``), first and
        last principal period, total interest, principal, writedown and residual cash; ``yield``,
        ``price`` and ``modified_duration`` from :meth:`analytics` (at par unless ``price`` or
        ``yield_`` says otherwise)."""

        wf = self._need_waterfall()
        names = [t.name for t in self.deal.notes]
        residual = next((t.name for t in self.deal.tranches if t.residual), None)
        priced = self.analytics(price, yield_, delay_days)
        prin = wf.column("tranches", TRANCHE["principal_paid"])  # [scenario, period, note]
        paid = prin > 0
        n = prin.shape[1]
        any_paid = paid.any(axis=1)
        cols = {
            "wal": wal(np.moveaxis(prin, 1, 2), delay_days),
            "first_principal_period": np.where(any_paid, paid.argmax(axis=1) + self.first_period, 0),
            "last_principal_period": np.where(any_paid, n + self.first_period - 1 - paid[:, ::-1].argmax(axis=1), 0),
            "total_interest": wf.column("tranches", TRANCHE["interest_paid"]).sum(axis=1),
            "total_principal": prin.sum(axis=1),
            "total_writedown": wf.column("tranches", TRANCHE["writedown"]).sum(axis=1),
            "total_residual": np.zeros(prin.shape[::2]),
        }
        shape = cols["wal"].shape
        for c in ("yield", "price", "modified_duration"):
            cols[c] = priced[c].to_numpy().reshape(-1, shape[1])
        if residual is not None:  # one more row per scenario: the residual's cash
            extra = {c: np.full((shape[0], 1), np.nan) for c in cols}
            for c in ("first_principal_period", "last_principal_period"):
                extra[c] = np.zeros((shape[0], 1))
            for c in ("total_interest", "total_principal", "total_writedown"):
                extra[c] = np.zeros((shape[0], 1))
            extra["total_residual"] = wf.cash[:, :, CASH["residual_paid"]].sum(axis=1)[:, None]
            cols = {c: np.concatenate([v, extra[c]], axis=1) for c, v in cols.items()}
            names = [*names, residual]
        frame = self._frame({c: cols[c] for c in SUMMARY_COLUMNS}, tuple(names), "tranche", per_period=False)
        for c in _PERIOD_COLUMNS:
            frame[c] = principal_periods(frame[c].to_numpy())
        return frame

    @cached_property
    def loans(self) -> pd.DataFrame:
        """Per-loan flows, index ``loan_id``, ``period`` (run with ``loan_level=True``)."""
        import pandas as pd  # deferred: a projection without tables never imports pandas

        if self._loan_flows is None:
            raise ValueError("per-loan flows were not kept: run(..., loan_level=True)")
        f = self._loan_flows
        n_loans, n = f.shape[:2]
        loans = self.program.loans
        fcl = np.where(loans.status == FORECLOSURE, loans.balance, 0.0)
        cols = _derived(f, loans.balance - fcl, fcl)
        index = pd.MultiIndex.from_product([self.program.loans.loan_id, range(1, n + 1)],
                                           names=["loan_id", "period"])
        return as_table(pd.DataFrame({c: cols[c].reshape(-1) for c in LOAN_COLUMNS}, index=index))

    def all_tables(self) -> dict[str, pd.DataFrame]:
        """Every table of the run, by name: ``summary`` first (a deal with tranches), then
        ``pool``, ``tranches``, ``fees``, ``accounts``, ``triggers``, ``hedges`` and
        ``facilities`` (where the deal has them), ``cash`` and ``check``."""
        tables = {}
        if self.waterfall is not None:
            tables["summary"] = self.summary()
        tables["pool"] = self.pool
        if self.waterfall is not None:
            tables.update(tranches=self.tranches, fees=self.fees, accounts=self.accounts, triggers=self.triggers)
            for name in ("hedges", "facilities"):  # a deal that has them (CONVENTIONS R2.8)
                if getattr(self.deal, name):
                    tables[name] = getattr(self, name)
            tables["cash"] = self.cash
        tables["check"] = self.check()
        return tables

    def _display(self):
        return run_display(self)

    def check(self) -> pd.DataFrame:
        """Conservation residuals per period (zero up to rounding).

        ``pool_roll_forward`` = beginning - (scheduled + prepayment + recovery) - loss - ending;
        ``pool_conservation`` = original - cumulative principal - cumulative loss - ending; with
        reinvestment, principal net of the month's ``purchases``.
        """

        c = _derived(self.flows, *self._start)
        principal = c["scheduled_principal"] + c["prepayment"] + c["recovery"]
        if self.purchases is not None:  # (what principal collections bought is back in the pool, R2.10)
            principal = principal - self.purchases
        cols = {
            "pool_roll_forward": c["beginning_balance"] - principal - c["loss"] - c["ending_balance"],
            "pool_conservation": (sum(self._start) - np.cumsum(principal, axis=-1)
                                  - np.cumsum(c["loss"], axis=-1) - c["ending_balance"]),
        }
        if self.waterfall is not None:
            w = self.waterfall.cash
            def c(name: str) -> np.ndarray:
                return w[..., CASH[name]]

            cols["cash"] = cash_residual(c)
            oc_beg = c("pool_balance_beginning") - c("note_balance_beginning")
            oc_fall = oc_beg - (c("pool_balance_ending") - c("note_balance_ending"))
            cols["principal"] = (c("principal_collections") + c("call_proceeds") + c("loss") + c("accretion")) - (
                c("principal_paid") + c("writedown") + oc_fall)

        return self._frame({k: cols[k] for k in CHECK_COLUMNS if k in cols})
