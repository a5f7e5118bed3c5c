"""Breakevens: for every tranche at once, the highest default level at which it takes no
writedown, and the level at which its yield falls to a given floor.

Vectorized bracketing: each round runs, in one compiled call, ``points`` default levels inside
every tranche's current bracket, then narrows each bracket to the interval between the last
level that passes and the first that fails. A round divides every bracket by ``points + 1``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ..io.display import as_table
from ..io.loading import DealSource, ScenarioSource, load_deal, load_scenario
from ..spec import Scenario
from ..vocabulary import KERNEL_COLUMNS
from .run import run

__all__ = ["breakevens", "with_default_level"]

Kind = Literal["cdr", "sda", "scale"]
_UPPER = {"cdr": 1.0, "sda": 5000.0, "scale": 50.0}


def with_default_level(scenario: Scenario, kind: Kind, level: float, name: str | None = None) -> Scenario:
    """``scenario`` with its defaults replaced by ``cdr: level`` or ``sda: level``, or (``scale``)
    its own default curve or vector multiplied by ``level``."""
    if kind == "scale":
        value = scenario.default.value
        scaled = tuple(level * x for x in value) if isinstance(value, tuple) else level * value
        if scenario.default.kind in ("cdr", "mdr"):
            scaled = tuple(min(x, 1.0) for x in scaled) if isinstance(scaled, tuple) else min(scaled, 1.0)
        default = {scenario.default.kind: scaled}
    else:
        default = {kind: float(level)}
    return Scenario.model_validate({**scenario.model_dump(exclude_unset=True), "default": default,
                                    "name": name or f"{kind}={level:.8g}"})


def _own(values: np.ndarray, n: int, points: int) -> np.ndarray:
    """Scenario ``(t, j)`` ran for tranche t: keep its result for tranche t -> ``[tranche, point]``."""
    return values.reshape(n, points, n)[np.arange(n), :, np.arange(n)]


def _bracket(deal, scenario, kind, upper, passes, tol, points, max_rounds):
    """Per tranche, ``[a, b]`` with ``passes`` true at a and false at b (b = upper if never false),
    narrowed until ``b - a <= tol``. ``passes(result) -> [scenario, tranche]`` booleans."""
    n = len(deal.notes)
    a = np.zeros(n)
    b = np.full(n, upper)
    for _ in range(max_rounds):
        open_ = b - a > tol
        if not open_.any():
            break
        grid = a[:, None] + (b - a)[:, None] * np.arange(1, points + 1)[None, :] / (points + 1)
        scenarios = [with_default_level(scenario, kind, float(x), name=f"t{t}-{j}")
                     for t in range(n) for j, x in enumerate(grid[t])]
        ok = _own(passes(run(deal, scenarios)), n, points)
        for t in np.flatnonzero(open_):
            fails = np.flatnonzero(~ok[t])
            if fails.size:
                b[t] = grid[t, fails[0]]
                if fails[0] > 0:
                    a[t] = grid[t, fails[0] - 1]
            else:
                a[t] = grid[t, -1]
    return a, b


def _no_writedown(res) -> np.ndarray:

    return res.waterfall.tranches[..., KERNEL_COLUMNS["tranches"]["writedown"]].sum(axis=1) <= 1e-6   # [scenario, note]


def breakevens(deal: DealSource, scenario: ScenarioSource, *, kind: Kind = "cdr", yield_floor: float | None = None,
               price: float = 100.0, tol: float | None = None, points: int = 8, max_rounds: int = 40):
    """Per class of notes: the highest default level (``cdr`` decimal, ``sda`` percent, or a
    ``scale`` of the scenario's own defaults) at which it takes no writedown and, with
    ``yield_floor``, the highest at which its yield at ``price`` stays at or above the floor.
    Exact to ``tol`` (default 1e-6 of the searched range: CDR 0-100%, SDA 0-5000, scale 0-50).

    Returns a DataFrame indexed by tranche: ``breakeven_<kind>`` (and ``yield_breakeven_<kind>``),
    each with a boolean ``<column>_beyond_range``. A class that passes even at the top of the
    range has no breakeven in range: its level is missing (NaN), never a number, and its
    ``_beyond_range`` is true (the breakeven is at or above the top, in ``frame.attrs["upper"]``).
    """
    import pandas as pd  # deferred: a projection without tables never imports pandas

    deal = load_deal(deal)
    scenario = load_scenario(scenario)
    names = [t.name for t in deal.notes]
    upper = _UPPER[kind]
    tol = tol if tol is not None else 1e-6 * upper
    top = run(deal, [with_default_level(scenario, kind, upper)])

    a, _ = _bracket(deal, scenario, kind, upper, _no_writedown, tol, points, max_rounds)
    beyond = _no_writedown(top)[0]
    out = {f"breakeven_{kind}": np.where(beyond, np.nan, a), f"breakeven_{kind}_beyond_range": beyond}
    if yield_floor is not None:
        def yield_holds(res):
            y = res.analytics(price=price)["yield"].to_numpy().reshape(len(res.scenarios), len(names))
            return np.nan_to_num(y, nan=-np.inf) >= yield_floor

        ya, _ = _bracket(deal, scenario, kind, upper, yield_holds, tol, points, max_rounds)
        beyond = yield_holds(top)[0]
        out[f"yield_breakeven_{kind}"] = np.where(beyond, np.nan, ya)
        out[f"yield_breakeven_{kind}_beyond_range"] = beyond
    frame = as_table(pd.DataFrame(out, index=pd.Index(names, name="tranche")))
    frame.attrs.update(kind=kind, upper=upper)
    return frame
