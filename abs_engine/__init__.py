"""abs_engine: asset-backed securities cash flows, from the deal on paper to onchain payouts.

>>> import abs_engine as ae
>>> res = ae.run({"name": "pool", "collateral": {"rep_lines": [
...     {"balance": 1_000_000, "wac": 0.06, "net_coupon": 0.055, "wam": 360}]}},
...     {"prepay": {"psa": 100}})
>>> round(float(res.check().abs().max().max()), 6)
0.0
"""

from .collections import load_collections
from .engine import run
from .errors import SpecError
from .ledger import Ledger, LedgerError
from .loading import load_deal, load_deck, load_scenario
from .results import RunResult
from .servicing import PeriodReport, Servicer
from .spec import Deal, Scenario

__all__ = ["run", "load_deal", "load_scenario", "load_deck", "RunResult", "Deal", "Scenario", "SpecError",
           "Servicer", "PeriodReport", "Ledger", "LedgerError", "load_collections"]
__version__ = "0.1.0"
