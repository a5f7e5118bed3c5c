"""A feed oracles can publish: per tranche token and period, the NAV per token at a stated
valuation beside its par factor, as integer answers in the shape of a Chainlink
``AggregatorV3Interface`` round, EIP-712-signed when a key is given, for the ``NavFeed`` contract
(``contracts/NavFeed.vy``), which accepts only reports its configured signer signed.

Per token (a tranche's snapshot on one chain, from the settlement inputs):

* **par factor** = the tranche's note balance after the period ÷ the token's supply (in whole
  tokens): the currency per token at par;
* **NAV** = par factor × price ÷ 100, the price per 100 of the note's balance from the analytics
  (BMA section G) of the deal re-projected from the ledger (:meth:`~abs_engine.Servicer.project`)
  under a named pricing scenario at the stated yield (bond-equivalent, a number or per tranche);
  without a pricing scenario the valuation is par (NAV = par factor).

Answers are integers with ``decimals`` decimals, rounded down; ``roundId`` is the period and
``answeredInRound`` too; ``startedAt`` and ``updatedAt`` are the period's payment date at 00:00
UTC (or ``timestamp``). The typed data's domain binds the feed contract and the chain, its
message the token, the round and both answers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from ..errors import SpecError
from ..servicing.attestation import DOMAIN_VERSION, sign
from ..servicing.reports import PeriodReport
from .allocation import load_settlement_spec

__all__ = ["feed_reports", "nav_typed_data", "FEED_DOMAIN_NAME", "NAV_TYPES"]

FEED_DOMAIN_NAME = "abs_engine NAV feed"
NAV_TYPES = {
    "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                     {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}],
    "NavReport": [{"name": "token", "type": "address"}, {"name": "roundId", "type": "uint256"},
                  {"name": "answer", "type": "int256"}, {"name": "parAnswer", "type": "int256"},
                  {"name": "startedAt", "type": "uint256"}, {"name": "updatedAt", "type": "uint256"}],
}


def nav_typed_data(round_: Mapping[str, Any], *, token: str, feed: str, chain_id: int) -> dict:
    """The EIP-712 typed data of one round for the feed contract ``feed`` on ``chain_id``."""
    from eth_utils import to_checksum_address  # deferred: only onchain encodings need eth-utils

    domain = {"name": FEED_DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": str(int(chain_id)),
              "verifyingContract": to_checksum_address(feed)}
    message = {"token": to_checksum_address(token), "roundId": round_["roundId"], "answer": round_["answer"],
               "parAnswer": round_["parAnswer"], "startedAt": round_["startedAt"], "updatedAt": round_["updatedAt"]}
    return {"types": {k: list(v) for k, v in NAV_TYPES.items()}, "primaryType": "NavReport", "domain": domain,
            "message": message}


def _units(x: Decimal, decimals: int) -> int:
    return int(x.scaleb(decimals).to_integral_value(rounding=ROUND_FLOOR))


def feed_reports(servicer, holders, *, period: int | None = None, pricing=None,
                 yield_: float | Mapping[str, float] | None = None, decimals: int = 8,
                 feeds: Mapping[str, str] | None = None, key: str | bytes | None = None,
                 timestamp: int | None = None) -> dict:
    """The feed's reports for a recorded ``period`` (default the latest) of ``servicer``'s ledger:
    one per token of the settlement inputs ``holders`` (see the module doc). ``pricing``: the
    pricing scenario (only for the latest period: the valuation re-projects from it), with
    ``yield_``; ``feeds``: each token's feed contract (by token address), needed for the typed
    data; ``key``: sign the report of each token with a feed with it."""
    if not 0 <= int(decimals) <= 36:
        raise SpecError("decimals", decimals, "a number of decimals in 0..36")
    current = servicer.ledger.current()
    if not current:
        raise SpecError("ledger", "empty", "a ledger with at least one recorded period")
    latest = max(current)
    period = latest if period is None else int(period)
    if period not in current:
        raise SpecError("period", period, f"a recorded period (1..{latest})")
    report = PeriodReport.from_json(current[period].report)
    balance = {t["name"]: t["ending_balance"] for t in report.data["tranches"] if "ending_balance" in t}
    price: dict[str, float] = {}
    valuation: dict[str, Any] = {"basis": "par"}
    if pricing is not None:
        if period != latest:
            raise SpecError("period", period, f"the latest recorded period ({latest}) for a valuation under a "
                            "pricing scenario (it re-projects from the ledger's latest state)")
        res = servicer.project(pricing)
        table = res.analytics(yield_=yield_) if yield_ is not None else res.analytics()
        price = {name: float(table.loc[name, "price"]) for name in table.index}
        valuation = {"basis": "pricing scenario", "scenario": res.scenarios[0].name,
                     "yield": yield_ if not isinstance(yield_, Mapping) else dict(yield_)}
    when = timestamp
    if when is None:
        if report.data.get("payment_date") is None:
            raise SpecError("timestamp", None, "a timestamp (the deal has no payment dates)")
        d = dt.date.fromisoformat(report.data["payment_date"])
        when = int(dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC).timestamp())
    _spec, snapshots, _allowed = load_settlement_spec(holders)
    out = []
    for snap in snapshots:
        if snap.tranche not in balance:
            continue  # the residual: no balance, no NAV
        supply = Decimal(snap.total_supply).scaleb(-snap.decimals)
        par = Decimal(repr(balance[snap.tranche])) / supply if supply else Decimal(0)
        p = price.get(snap.tranche, 100.0)
        nav = par * Decimal(repr(p)) / 100 if p == p else Decimal(0)
        round_ = {"roundId": str(period), "answer": str(_units(nav, decimals)), "parAnswer": str(_units(par, decimals)),
                  "startedAt": str(when), "updatedAt": str(when), "answeredInRound": str(period)}
        row: dict[str, Any] = {"tranche": snap.tranche, "chain_id": snap.chain_id, "token": snap.token,
                               "price": p, "round": round_}
        feed = (feeds or {}).get(snap.token)
        if feed is not None:
            row["feed"] = feed
            row["typed_data"] = nav_typed_data(round_, token=snap.token, feed=feed, chain_id=snap.chain_id)
            if key is not None:
                row["signature"] = sign(row["typed_data"], key)
        out.append(row)
    if key is not None and not any("signature" in r for r in out):
        raise SpecError("feeds", dict(feeds or {}), "the feed contract of a token of the settlement inputs (by token "
                        "address) to sign for")
    return {"deal": report.data["deal"], "deal_id": report.data["deal_id"], "period": period, "decimals": int(decimals),
            "valuation": valuation, "reports": out}
