"""The compile boundary: specs -> flat arrays the kernels read. Every check happens here or in
the spec; kernels never see a spec, a dict or a DataFrame."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..dates import add_months
from ..errors import SpecError
from ..io.loans import FORECLOSURE, LoanArrays, deal_loans
from ..io.scenario_set import Draws, RatePaths, ScenarioSet
from ..kernels import collateral as KC
from ..kernels import curves
from ..kernels.collateral import W
from ..spec import Deal, Scenario
from ..spec.collateral import AMORTIZATION, Reinvestment
from ..spec.scenario import ROLL_FIELDS
from .triggers import thresholds

__all__ = ["CollateralProgram", "ScenarioArrays", "compile_collateral", "monthly_vector", "index_rows",
           "scenario_arrays", "vector_rows", "per_scenario"]

_PREPAY = {"cpr": curves.PREPAY_CPR, "smm": curves.PREPAY_SMM, "psa": curves.PREPAY_PSA,
           "abs": curves.PREPAY_ABS}
_DEFAULT = {"cdr": curves.DEFAULT_CDR, "mdr": curves.DEFAULT_MDR, "sda": curves.DEFAULT_SDA}
_BY_LOAN_MONTH = {curves.PREPAY_PSA, curves.PREPAY_ABS}, {curves.DEFAULT_SDA}


def monthly_vector(value: float | Sequence[float], n: int) -> np.ndarray:
    """A number or a monthly vector as ``n`` months; the last value carries forward.

    >>> monthly_vector((0.1, 0.2), 4).tolist()
    [0.1, 0.2, 0.2, 0.2]
    """
    if isinstance(value, int | float):
        return np.full(n, float(value))
    v = np.asarray(value, dtype=np.float64)[:n]
    return np.concatenate([v, np.full(n - v.size, v[-1])]) if v.size < n else v


def vector_rows(values, n: int) -> np.ndarray:
    """``[row, month]``: a column of distinct values (numbers or monthly vectors, or a
    :class:`~abs_engine.io.scenario_set.Draws` column), each as ``n`` months."""
    if isinstance(values, Draws):
        return np.repeat(values.values.astype(np.float64)[:, None], n, axis=1)
    return np.stack([monthly_vector(v, n) for v in values])


def index_rows(deal: Deal, scenarios: ScenarioSet, n: int, index: str, field: str) -> np.ndarray:
    """``[row, period]``: the scenarios' values of rate ``index`` (one row per distinct ``rates``
    value, or per drawn path; the last month carries forward); ``field`` names the spec field
    that asks for it, in the error when a scenario does not provide it."""
    rates, which = scenarios.values["rates"], scenarios.rows["rates"]
    if isinstance(rates, RatePaths) and index in rates.paths:
        rows = rates.paths[index][:, :n]
        if rows.shape[1] < n:  # the last month carries forward
            rows = np.concatenate([rows, np.repeat(rows[:, -1:], n - rows.shape[1], axis=1)], axis=1)
        return rows
    given = [rates.base] if isinstance(rates, RatePaths) else list(rates)
    for j, r in enumerate(given):
        if index not in r:
            first = int(np.flatnonzero(which == j)[0]) if (which == j).any() else 0
            raise SpecError(field, index, f"an index the scenario {scenarios.names[first]!r} provides in rates "
                            f"(it has {sorted(r)})", file=deal._file)
    return np.stack([monthly_vector(r[index], n) for r in given])


def _curves(values, n: int, codes: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Curve codes ``[row]`` and monthly values ``[row, month]`` of a column of prepayment or
    default curves."""
    if isinstance(values, Draws):
        return np.full(len(values), codes[values.kind], dtype=np.int64), vector_rows(values, n)
    return (np.array([codes[v.kind] for v in values], dtype=np.int64),
            np.stack([monthly_vector(v.value, n) for v in values]))


def per_scenario(scenarios: ScenarioSet, field: str, dtype, default=None) -> np.ndarray:
    """A field of plain values (a number or a flag, ``None`` read as ``default``) per scenario."""
    values = scenarios.values[field]
    table = values.values if isinstance(values, Draws) else \
        np.array([default if v is None else v for v in values], dtype=dtype)
    return table.astype(dtype)[scenarios.rows[field]]


@dataclass(frozen=True, eq=False)
class ScenarioArrays:
    """Scenarios as arrays. Monthly vectors are stored once per distinct value (a grid of 10,000
    scenarios over 100 prepayment speeds holds 100 prepayment rows): ``*_rows`` are
    ``[row, month]`` tables and ``*_row`` each scenario's row. ``prepay``, ``default`` and
    ``severity`` give the ``[scenario, month]`` arrays."""

    names: tuple[str, ...]
    prepay_kind: np.ndarray       # [row]
    prepay_rows: np.ndarray
    prepay_row: np.ndarray        # [scenario]
    default_kind: np.ndarray      # [row]
    default_rows: np.ndarray
    default_row: np.ndarray
    severity_rows: np.ndarray
    severity_row: np.ndarray
    lag: np.ndarray
    advancing: np.ndarray
    roll_rows: np.ndarray | None = None  # [row, month, ROLL_COLS]: the delinquency roll rates (R2.11), or None
    roll_row: np.ndarray | None = None

    @cached_property
    def prepay(self) -> np.ndarray:
        return self.prepay_rows[self.prepay_row]

    @cached_property
    def default(self) -> np.ndarray:
        return self.default_rows[self.default_row]

    @cached_property
    def severity(self) -> np.ndarray:
        return self.severity_rows[self.severity_row]

    @property
    def by_loan_month(self) -> bool:
        """Whether any curve is read at loan month (PSA, ABS, SDA), so ages matter."""
        return bool(np.isin(self.prepay_kind, list(_BY_LOAN_MONTH[0])).any()
                    or np.isin(self.default_kind, list(_BY_LOAN_MONTH[1])).any())


def scenario_arrays(scenarios: Sequence[Scenario], n: int, advancing_default: bool,
                    offset: int = 0) -> ScenarioArrays:
    """The scenarios' curves as ``[row, month]`` tables, one row per distinct value of each field
    (:class:`~abs_engine.io.scenario_set.ScenarioSet` columns), and each scenario's rows; with an
    ``offset``, each monthly vector read from its month ``offset + 1`` on (a pool projected from a
    later period, its scenarios' months being the deal's)."""
    s = ScenarioSet.of(scenarios)
    m = n + offset
    prepay_kind, prepay_rows = _curves(s.values["prepay"], m, _PREPAY)
    default_kind, default_rows = _curves(s.values["default"], m, _DEFAULT)
    roll = _roll_rates(s, m)
    if "roll_rows" in roll:
        roll["roll_rows"] = np.ascontiguousarray(roll["roll_rows"][:, offset:])
    return ScenarioArrays(
        names=s.names,
        prepay_kind=prepay_kind,
        prepay_rows=np.ascontiguousarray(prepay_rows[:, offset:]),
        prepay_row=s.rows["prepay"],
        default_kind=default_kind,
        default_rows=np.ascontiguousarray(default_rows[:, offset:]),
        default_row=s.rows["default"],
        severity_rows=np.ascontiguousarray(vector_rows(s.values["severity"], m)[:, offset:]),
        severity_row=s.rows["severity"],
        lag=per_scenario(s, "recovery_lag", np.int64),
        advancing=per_scenario(s, "advancing", np.bool_, advancing_default),
        **roll,
    )


def _roll_rates(s: ScenarioSet, n: int) -> dict:
    """``roll_rows[row, month, ROLL_COLS]`` and ``roll_row[scenario]`` of scenarios with a
    delinquency pipeline (CONVENTIONS R2.11); none without. Every scenario of a run has one, or
    none does: the pool is projected one way for all."""
    values = s.values["roll_rates"]
    has = [v is not None for v in values]
    if not any(has):
        return {}
    if not all(has):
        k = int(np.flatnonzero(~np.array(has)[s.rows["roll_rates"]])[0])
        raise SpecError("roll_rates", None, f"roll rates in every scenario of a run or in none (scenario "
                        f"{s.names[k]!r} has none)")
    rows = np.stack([np.stack([monthly_vector(getattr(v, f), n) for f in ROLL_FIELDS], axis=1) for v in values])
    return {"roll_rows": rows, "roll_row": s.rows["roll_rates"]}


@dataclass(frozen=True, eq=False)
class CollateralProgram:
    """Kernel-ready collateral: performing loans sorted by rate class, and the loans that were
    in foreclosure at cut-off (projected separately, see :mod:`abs_engine.engine.run`)."""

    loans: LoanArrays            # every loan, in tape order
    index: np.ndarray            # tape positions of the kernel's loans, in kernel order
    balance: np.ndarray
    gross_m: np.ndarray          # monthly gross rate
    net_m: np.ndarray
    amort_n: np.ndarray
    amort_kind: np.ndarray
    mat: np.ndarray
    cls: np.ndarray
    ages: np.ndarray             # age of each class
    chunk_bounds: np.ndarray     # in blocks of the kernel
    foreclosed: np.ndarray       # tape positions of loans in foreclosure at cut-off
    scenarios: ScenarioArrays
    n_periods: int
    per_year: np.ndarray         # [month]: 12, or 365 / the month's actual days (CONVENTIONS R2.3)

    @property
    def original_balance(self) -> float:
        return self.loans.original_balance

    reinvestment: Reinvestment | None = None  # principal collections buying new loans (CONVENTIONS R2.10)
    first_month: int = 1                      # the pool month of the program's month 1
    # a reinvestment period ended by a cumulative-loss trigger: its threshold [month] (none: +inf) and
    # whether it is breached below it (else above)
    reinvest_until: np.ndarray | None = None
    reinvest_until_below: bool = False
    # adjustable-rate loans: each kernel loan's index (-1: fixed rate) and terms [loan, ARM_*] of
    # abs_engine.io.loans; the indices' values [row, month, index] and each scenario's row
    arm_id: np.ndarray | None = None
    arm_terms: np.ndarray | None = None
    arm_rates: np.ndarray | None = None
    arm_rate_row: np.ndarray | None = None

    @property
    def adjustable(self) -> bool:
        """Whether some loans' rates reset (adjustable- or floating-rate loans)."""
        return self.arm_id is not None

    @property
    def projected_apart(self) -> bool:
        """Whether the pool is projected by a kernel of its own before its waterfall (a
        delinquency pipeline, reinvestment, rates that reset), not month by month in the loop."""
        return self.delinquency or self.reinvestment is not None or self.adjustable

    @property
    def delinquency(self) -> bool:
        """Whether the scenarios roll the pool through a delinquency pipeline (CONVENTIONS R2.11)."""
        return self.scenarios.roll_rows is not None

    @property
    def bucket(self) -> np.ndarray:
        """Each kernel loan's delinquency bucket at cut-off: 0 current, 1-3 30, 60, 90+ days (its
        tape ``status``; loans in foreclosure are not among the kernel's)."""
        return np.minimum(self.loans.status[self.index], 3).astype(np.int8)

    @property
    def start_balances(self) -> tuple[float, float]:
        """Pool balance performing and in foreclosure at cut-off."""
        fcl = float(self.loans.balance[self.foreclosed].sum())
        return self.original_balance - fcl, fcl


CHUNK_BLOCKS = 16  # blocks of loans per work item (4,096 loans)


def periods_per_year(deal: Deal, n: int, first_month: int = 1) -> np.ndarray:
    """``[month]``: how many of pool month ``k`` make a year for its rates (CONVENTIONS R2.3): 12,
    or with ``period_rates: actual_days`` 365 / the month's actual days, month ``k`` running from
    the cut-off date plus ``k - 1`` months to the cut-off date plus ``k`` (same day, clipped to
    the month's end); the first of the ``n`` is pool month ``first_month``."""
    if deal.period_rates == "monthly":
        return np.full(n, 12.0)
    d = [add_months(deal.cut_off_date, first_month - 1 + k) for k in range(n + 1)]
    return 365.0 / np.array([(b - a).days for a, b in zip(d[:-1], d[1:], strict=True)], dtype=np.float64)


def compile_collateral(deal: Deal, scenarios: Sequence[Scenario], loans: LoanArrays | None = None,
                       first_month: int = 1, horizon: int | None = None,
                       vectors_from: int = 1) -> CollateralProgram:
    """Compile the deal's collateral (or ``loans``, e.g. the pool as it stands at a later
    period, its first month then pool month ``first_month``) and the scenarios into kernel
    arrays, over the pool's life or ``horizon`` months if longer (a collateral group projected
    over the deal's life). ``vectors_from``: the month of the scenarios' monthly vectors the
    program's month 1 reads (a re-projection from a later period: ``first_month``)."""
    if not scenarios:
        raise SpecError("scenarios", [], "at least one scenario")
    loans = deal_loans(deal) if loans is None else loans
    n = max(int(loans.maturity.max()), horizon or 0)
    reinvest = deal.collateral.reinvestment
    if reinvest is not None:  # (within the pool's life; the last cohort runs its term)
        if reinvest.months >= n + first_month - 1:
            raise SpecError("collateral.reinvestment.months", reinvest.months,
                            f"a reinvestment period shorter than the pool's life ({n} months)", file=deal._file)
        n = max(n, reinvest.months - first_month + 1 + reinvest.term)
    step, before = deal.payment_step, first_month - 1
    n = -(-(before + n) // step) * step - before  # to the end of a collection period (R2.2)
    scen = scenario_arrays(scenarios, n, deal.collateral.advancing_default, vectors_from - 1)

    foreclosed = loans.status == FORECLOSURE
    performing = np.flatnonzero(~foreclosed) if foreclosed.any() else np.arange(len(loans))
    if scen.by_loan_month and performing.size:  # one rate class per age; loans sorted by class so blocks share it
        age = loans.age[performing]
        ages = np.flatnonzero(np.bincount(age))
        lookup = np.zeros(ages[-1] + 1, dtype=np.int16 if ages.size < 2**15 else np.int64)
        lookup[ages] = np.arange(ages.size)
        cls = lookup[age]
        order = np.argsort(cls, kind="stable")  # radix sort for small integers
        index, cls = performing[order], cls[order]
    else:
        ages, index, cls = np.zeros(1, dtype=np.int64), performing, np.zeros(performing.size, dtype=np.int64)

    n_blocks = -(-index.size // W)
    # chunks of a fixed size, so the order of every sum is the same whatever the number of scenarios
    bounds = np.append(np.arange(0, n_blocks, CHUNK_BLOCKS), n_blocks).astype(np.int64)
    arm = _adjustable(deal, scenarios, loans, index, n) if loans.arm_index is not None else {}
    if arm and scen.roll_rows is not None:
        raise SpecError("roll_rates", "given", "a pool of fixed-rate loans (a delinquency pipeline of adjustable-"
                        "rate loans is not built)", file=deal._file)
    kinds = np.zeros(len(AMORTIZATION), dtype=np.int8)  # AMORTIZATION's index -> the kernels' AMORT_*
    kinds[AMORTIZATION.index("interest_only")] = KC.AMORT_IO
    kinds[AMORTIZATION.index("straight_line")] = KC.AMORT_STRAIGHT
    return CollateralProgram(
        loans=loans,
        index=index,
        balance=np.ascontiguousarray(loans.balance[index]),
        gross_m=loans.rate[index] / 12.0,
        net_m=loans.net_rate[index] / 12.0,
        amort_n=np.ascontiguousarray(loans.remaining_term[index]),
        amort_kind=kinds[loans.amortization[index]],
        mat=np.ascontiguousarray(loans.maturity[index]),
        cls=np.ascontiguousarray(cls.astype(np.int64)),
        ages=ages.astype(np.int64),
        chunk_bounds=bounds,
        foreclosed=np.flatnonzero(foreclosed),
        scenarios=scen,
        n_periods=n,
        per_year=periods_per_year(deal, n, first_month),
        reinvestment=reinvest,
        first_month=first_month,
        **_reinvestment_end(deal, reinvest, n, first_month),
        **arm,
    )


def _reinvestment_end(deal: Deal, reinvest: Reinvestment | None, n: int, first_month: int) -> dict:
    """The threshold per month of the trigger that ends reinvestment (CONVENTIONS R2.10, an
    early-amortization event), for the program's months."""
    if reinvest is None or reinvest.ends_when is None:
        return {}
    k = [t.name for t in deal.triggers].index(reinvest.ends_when)
    before = first_month - 1
    column = thresholds(deal, before + n)[before:, k]
    return {"reinvest_until": np.ascontiguousarray(column),
            "reinvest_until_below": deal.triggers[k].direction == "below"}


def _adjustable(deal: Deal, scenarios: ScenarioSet, loans: LoanArrays, index: np.ndarray, n: int) -> dict:
    """The adjustable-rate arrays of :class:`CollateralProgram` for the kernel's loans ``index``:
    every index a loan resets on must be among each scenario's ``rates``."""
    names = sorted({x for x in loans.arm_index if x})
    where = {}  # each index's first line, for the error
    for path, lines in _line_paths(deal):
        for k, ln in enumerate(lines):
            if ln.arm is not None:
                where.setdefault(ln.arm.index, f"{path}[{k}].arm.index")
    n_rows = len(scenarios.values["rates"])
    rates = np.empty((n_rows, n, len(names)))
    for j, name in enumerate(names):
        rates[:, :, j] = index_rows(deal, scenarios, n, name, where.get(name, "loan_tape.arm_index"))
    lookup = {name: j for j, name in enumerate(names)}
    return {"arm_id": np.array([lookup.get(x, -1) if x else -1 for x in loans.arm_index[index]], dtype=np.int64),
            "arm_terms": np.ascontiguousarray(loans.arm_terms[index]), "arm_rates": rates,
            "arm_rate_row": scenarios.rows["rates"].astype(np.int64)}


def _line_paths(deal: Deal) -> list[tuple[str, tuple]]:
    """The deal's rep lines with their field paths (a group's, with collateral groups)."""
    coll = deal.collateral
    if coll.groups is not None:
        return [(f"collateral.groups[{j}].rep_lines", g.rep_lines or ()) for j, g in enumerate(coll.groups)]
    return [("collateral.rep_lines", coll.rep_lines or ())]
