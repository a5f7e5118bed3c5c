"""One compile step: a deal and its scenarios become a frozen, validated :class:`Program`.

In the manner of QuantLib's instrument -> arguments -> ``validate()`` -> engine: the
:class:`Program` holds everything the engine reads (collateral arrays, scenario arrays, the
waterfall's step table and parameters, accrual fractions, the block layout) and the deal's
initial state; the engine, the results, summaries, executors and servicing receive it and never
read a spec field for the engine themselves. A program is compiled once and run as often as
needed; running it never changes it (each run starts from a fresh copy of its initial state).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..errors import SpecError
from ..io.loans import LoanArrays, group_loans
from ..io.scenario_set import ScenarioSet
from ..kernels import state as KST
from ..kernels import waterfall as KW
from ..spec import Deal, Scenario
from .collateral import CollateralProgram, ScenarioArrays, compile_collateral
from .layout import scenario_lanes
from .waterfall import DealState, WaterfallProgram, compile_waterfall, initial_state

__all__ = ["Program", "compile_deal"]


@dataclass(frozen=True, eq=False)
class Program:
    """A deal compiled for its scenarios: ``deal`` and ``specs`` (the scenarios, as a
    :class:`~abs_engine.io.scenario_set.ScenarioSet`) are what was compiled; ``collateral``
    holds the kernel-ready loans and scenario arrays (:mod:`abs_engine.compile.collateral`);
    ``waterfall`` the step table, its parameters and the per-scenario coupons, delinquency and
    call elections (:mod:`abs_engine.compile.waterfall`), or ``None`` for a deal that is only a
    pool."""

    deal: Deal
    specs: ScenarioSet
    collateral: CollateralProgram
    waterfall: WaterfallProgram | None
    groups: tuple[CollateralProgram, ...] = ()  # each collateral group's own (CONVENTIONS R2.12), in group order

    @property
    def scenarios(self) -> ScenarioArrays:
        """The scenarios as arrays (``names``, rate rows, lags...)."""
        return self.collateral.scenarios

    @property
    def names(self) -> tuple[str, ...]:
        """Scenario names, unique."""
        return self.collateral.scenarios.names

    @property
    def n_scenarios(self) -> int:
        return len(self.specs)

    @property
    def n_periods(self) -> int:
        return self.collateral.n_periods

    @property
    def loans(self) -> LoanArrays | None:
        return self.collateral.loans

    @property
    def original_balance(self) -> float:
        return self.collateral.original_balance

    @property
    def start_balances(self) -> tuple[float, float]:
        """Pool balance performing and in foreclosure at cut-off."""
        return self.collateral.start_balances

    @cached_property
    def lanes(self) -> np.ndarray:
        """The block layout ``[block, lane]`` of a run month by month (scenarios grouped by recovery
        lag and advancing, :func:`~abs_engine.compile.layout.scenario_lanes`)."""
        s = self.collateral.scenarios
        return scenario_lanes(s.lag, s.advancing)

    def initial_state(self, n_scenarios: int | None = None) -> DealState:
        """A fresh copy of the deal's state before period 1, for every scenario (or for
        ``n_scenarios`` of them: each starts the same)."""
        return initial_state(self.deal, self.n_scenarios if n_scenarios is None else n_scenarios)

    def validate(self) -> Program:
        """Check every array against the others once, so a kernel never meets an inconsistent
        shape or an unknown index; returns the program. :func:`compile_deal` calls it."""
        c, n, s = self.collateral, self.n_periods, self.n_scenarios
        sa = c.scenarios
        _expect(len(sa.names) == s and sa.prepay_row.shape == (s,) and sa.default_row.shape == (s,)
                and sa.severity_row.shape == (s,), "one prepayment, default and severity row per scenario")
        for rows, which in ((sa.prepay_rows, sa.prepay_row), (sa.default_rows, sa.default_row),
                            (sa.severity_rows, sa.severity_row)):
            _expect(rows.shape[1] == n and which.size and 0 <= which.min() and which.max() < rows.shape[0],
                    "scenario rows inside their tables, one value per month")
        _expect(c.index.size == c.balance.size == c.mat.size == c.cls.size, "one entry per loan in every loan array")
        _expect(c.cls.size == 0 or c.cls.max() < c.ages.size, "every loan's rate class among the classes")
        _expect(bool(np.isfinite(c.balance).all()) and c.n_periods >= 1, "finite balances over at least one month")
        w = self.waterfall
        if w is None:
            _expect(not self.deal.tranches, "a compiled waterfall for a deal with tranches")
            return self
        a = w.arrays
        notes, fees, accts, trigs = (len(w.note_names), len(w.fee_names), len(w.account_names),
                                     len(w.trigger_names))
        _expect(w.n_periods == n and w.n_scenarios == s, "the waterfall compiled for the same periods and scenarios")
        hx = len(w.instrument_names)
        _expect(a["coupon_rows"].shape[1:] == (n, notes + hx) and a["coupon_row"].shape == (s,)
                and a["coupon_row"].max() < a["coupon_rows"].shape[0],
                "coupons and instrument rates [row, period, note or instrument], a row each")
        _expect(a["hx_kind"].shape == a["hx_ref"].shape == (hx,) and a["hx_ref"].max(initial=-1) < notes
                and a["hx_notional"].shape == a["hx_rate"].shape == a["hx_dcf"].shape == (n, hx),
                "instrument kinds, notional classes and per-period terms [period, instrument]")
        _expect(a["delinq_rows"].shape[1] == n and a["delinq_row"].max() < a["delinq_rows"].shape[0],
                "60+ delinquency [row, period], a row each")
        _expect(a["dcf"].shape == (n, notes) and a["fee_amount"].shape == (n, fees)
                and a["trig_threshold"].shape == (n, trigs) and a["floor"].shape == (n, a["op"].size)
                and a["locked"].shape == (n, notes), "per-period parameters [period, item]")
        op, mem_ptr, members = a["op"], a["mem_ptr"], a["members"]
        _expect(mem_ptr.size == op.size + 1 and mem_ptr[-1] == members.size, "a member range per step")
        for k, o in enumerate(op):
            items = members[mem_ptr[k]:mem_ptr[k + 1]]
            bound = fees if o == KW.OP_FEES else hx if o in _INSTRUMENT_OPS else notes
            _expect(o in (KW.OP_RESERVE, KW.OP_RESIDUAL, KW.OP_ACCRETION, KW.OP_TRANSFER)
                    or (items.size and items.max() < bound), f"step {k}'s members among its items")
            if o == KW.OP_TRANSFER:
                _expect(0 <= a["arg"][k, 0] < accts and 0 <= a["arg"][k, 1] < accts, f"step {k}'s accounts")
            if o in _INSTRUMENT_OPS:
                kind = a["hx_kind"][items[0]]
                _expect(items.size == 1 and (kind == KST.HX_SWAP) == (o == KW.OP_HEDGE)
                        and (kind == KST.HX_FACILITY) == (o != KW.OP_HEDGE), f"step {k}'s one swap or facility")
            if o == KW.OP_RESERVE:
                _expect(0 <= a["arg"][k, 0] < accts, f"step {k}'s account among the accounts")
            if o == KW.OP_ACCRETION:
                _expect(0 <= a["arg"][k, 0] < notes and a["is_z"][a["arg"][k, 0]] == 1, f"step {k}'s Z class")
        _expect(a["arg"].shape == (op.size, 4) and a["step_when"].shape == a["step_unless"].shape == (op.size,)
                and max(a["step_when"].max(initial=-1), a["step_unless"].max(initial=-1)) < trigs
                and a["mem_group"].shape == members.shape and a["call_open"].shape == (n,)
                and a["call_trigger"] < trigs, "step arguments, conditions, bond groups and the call's terms")
        _expect(a["ad_of"].shape == (notes,) and a["is_z"].shape == (notes,)
                and all(z < 0 or a["is_z"][z] == 1 for z in a["ad_of"]), "accretion directed to Z classes")
        cov = a["cov_acct"]
        _expect(cov.size == 0 or (cov.max() < accts + hx and all(a["hx_kind"][j - accts] == KST.HX_FACILITY
                                                                 for j in cov if j >= accts)),
                "what covers a step: accounts, then facilities")
        return self


_INSTRUMENT_OPS = (KW.OP_HEDGE, KW.OP_FAC_INTEREST, KW.OP_FAC_REPAY)


def _expect(ok: bool, what: str) -> None:
    if not ok:
        raise SpecError("program", "inconsistent compiled arrays", what)


def compile_deal(deal: Deal, scenarios: Sequence[Scenario], *, loans: LoanArrays | None = None,
            accruals: Mapping[int, tuple] | None = None) -> Program:
    """Compile ``deal`` for ``scenarios`` into a validated :class:`Program`.

    Parameters
    ----------
    loans
        The pool as it stands (for instance at a later period, in servicing); default: the
        deal's rep lines or tape.
    accruals
        ``{period index: (start date, end date)}``: accrual periods that differ from the
        schedule (a servicer's actual payment dates), for ACT/360 notes.

    Examples
    --------
    >>> import abs_engine as ae
    >>> deal = ae.load_deal({"name": "pool", "collateral": {"rep_lines": [
    ...     {"balance": 100.0, "wac": 0.0, "wam": 4}]}})
    >>> program = ae.compile_deal(deal, [ae.Scenario()])
    >>> program.n_periods, program.n_scenarios
    (4, 1)
    """
    scenarios = ScenarioSet.of(scenarios)
    collateral = compile_collateral(deal, scenarios, loans=loans)
    groups = ()
    if deal.collateral.groups is not None:  # each group over the whole pool's horizon (CONVENTIONS R2.12)
        if loans is not None:
            raise SpecError("loans", len(loans), "the deal's own groups (a pool as it stands is not split by group)")
        groups = tuple(compile_collateral(deal, scenarios, loans=part, horizon=collateral.n_periods)
                       for part in group_loans(deal))
    waterfall = None
    if deal.tranches:
        waterfall = compile_waterfall(deal, scenarios, collateral.n_periods, collateral.original_balance,
                                      accruals=accruals)
    return Program(deal, scenarios, collateral, waterfall, groups).validate()
