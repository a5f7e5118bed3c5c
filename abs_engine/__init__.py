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
from .errors import SpecError
from .io.loading import load_deal, load_deck, load_scenario
from .io.loans import read_tape
from .results.implied import implied_speeds
from .results.tables import RunResult
from .spec import Deal, Scenario

_LAZY = {"Servicer": "servicing.servicer", "PeriodReport": "servicing.reports", "Ledger": "servicing.ledger",
         "LedgerError": "servicing.ledger", "load_collections": "io.collection_reports", "run_bot": "settlement.bot"}


def __getattr__(name: str):
    """Servicing names load on first use, so projections do not pay for their imports."""
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'abs_engine' has no attribute {name!r}")

__all__ = ["run", "compile_deal", "Program", "load_deal", "load_scenario", "load_deck", "RunResult", "Deal", "Scenario",
           "SpecError", "read_tape", "pac_schedule", "effective_collar", "Servicer", "PeriodReport", "Ledger",
           "LedgerError", "load_collections", "implied_speeds", "run_bot"]
__version__ = "0.1.0"
