"""abs_engine: asset-backed securities cash flows, from the deal on paper to onchain payouts.

>>> import abs_engine as ae
>>> res = ae.run({"name": "pool", "collateral": {"rep_lines": [
...     {"balance": 1_000_000, "wac": 0.06, "net_coupon": 0.055, "wam": 360}]}},
...     {"prepay": {"psa": 100}})
>>> round(float(res.check().abs().max().max()), 6)
0.0
"""

import importlib

from .compile.program import Program, compile_deal
from .engine.run import run
from .engine.schedules import effective_collar, pac_schedule
from .errors import SpecError, SpecWarning
from .io.loading import load_deal, load_deck, load_scenario
from .io.loans import read_tape
from .results.implied import implied_speeds
from .results.tables import RunResult
from .spec import Deal, Scenario

_LAZY = {"Servicer": "servicing.servicer", "PeriodReport": "servicing.reports", "Ledger": "servicing.ledger",
         "LedgerError": "servicing.ledger", "load_collections": "io.collection_reports", "run_bot": "settlement.bot",
         "breakevens": "engine.breakeven", "compare": "engine.compare", "settle": "settlement.instruction",
         "Settlement": "settlement.instruction", "CardResult": "results.card", "SummaryResult": "results.tables"}
_MODULES = {"plots": "results.plots"}


def __getattr__(name: str):
    """Servicing names load on first use, so projections do not pay for their imports."""
    if name in _LAZY or name in _MODULES:
        module = importlib.import_module(f".{_LAZY.get(name) or _MODULES[name]}", __name__)
        value = module if name in _MODULES else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'abs_engine' has no attribute {name!r}")


def __dir__() -> list[str]:
    """What ``import abs_engine as ae`` offers, lazily loaded names included (for tab completion)."""
    return sorted(set(__all__) | {"__version__"})

__all__ = ["run", "compile_deal", "Program", "load_deal", "load_scenario", "load_deck", "RunResult", "Deal", "Scenario",
           "SpecError", "SpecWarning", "read_tape", "pac_schedule", "effective_collar", "Servicer", "PeriodReport",
           "Ledger", "LedgerError", "load_collections", "implied_speeds", "run_bot", "breakevens", "compare", "settle",
           "Settlement", "CardResult", "SummaryResult", "plots"]
__version__ = "0.1.0"
"""The installed version (the project's ``pyproject.toml``)."""
