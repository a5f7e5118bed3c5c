"""The NAV feed (issue 18, item 4): par factors and NAVs at a stated valuation from the ledger,
as integer AggregatorV3 rounds, EIP-712-signed; the Vyper NavFeed accepts only its signer's
reports, for its token, rounds moving forward, and serves latestRoundData; the CLI writes it."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import boa
import pytest
from eth_account import Account

import abs_engine as ae
from abs_engine.settlement import renderings as onchain
from abs_engine.settlement.feed import feed_reports

from .test_bot import COLLECTIONS, DEAL, _holders

KEY = "0x" + "42" * 32
OTHER = "0x" + "43" * 32


@pytest.fixture(scope="module")
def servicer(tmp_path_factory):
    s = ae.Servicer(DEAL, tmp_path_factory.mktemp("feed") / "l.sqlite")
    for p in (1, 2, 3):
        s.distribute(COLLECTIONS / f"period_{p}.yaml")
    return s


def test_par_factors_are_balance_per_token_rounded_down(servicer):
    spec = _holders()
    feed = feed_reports(servicer, spec, period=2, decimals=8)
    balance = {t["name"]: t["ending_balance"] for t in servicer.report(2).data["tranches"] if "ending_balance" in t}
    assert feed["period"] == 2 and feed["valuation"] == {"basis": "par"}
    for row in feed["reports"]:
        snap = next(s for t in spec["tranches"] if t["tranche"] == row["tranche"] for s in t["snapshots"]
                    if s["chain_id"] == row["chain_id"])
        supply = Decimal(snap["total_supply"]).scaleb(-snap["decimals"])
        par = int((Decimal(repr(balance[row["tranche"]])) / supply).scaleb(8).to_integral_value(rounding="ROUND_FLOOR"))
        assert row["round"]["parAnswer"] == row["round"]["answer"] == str(par)
        assert row["round"]["roundId"] == row["round"]["answeredInRound"] == "2"
    assert "R" not in {r["tranche"] for r in feed["reports"]}


def test_a_valuation_under_a_pricing_scenario(servicer):
    """At a yield above the coupon the NAV is below par: NAV = par x price / 100, the price per 100
    of the balance from the re-projection's analytics."""
    feed = feed_reports(servicer, _holders(), pricing="scenarios/base.yaml", yield_=0.08)
    assert feed["valuation"]["basis"] == "pricing scenario" and feed["valuation"]["scenario"] == "base"
    price = servicer.project("scenarios/base.yaml").analytics(yield_=0.08)["price"]
    for row in feed["reports"]:
        assert row["price"] == pytest.approx(float(price[row["tranche"]]), rel=1e-12)
        assert int(row["round"]["answer"]) < int(row["round"]["parAnswer"])
        expected = Decimal(row["round"]["parAnswer"]) * Decimal(repr(row["price"])) / 100
        assert abs(int(row["round"]["answer"]) - expected) <= 2  # each rounded down from the exact values
    with pytest.raises(ae.SpecError, match="the latest recorded period"):
        feed_reports(servicer, _holders(), period=1, pricing="scenarios/base.yaml")


@pytest.fixture
def nav_feed(servicer):
    signer = Account.from_key(KEY).address
    row = feed_reports(servicer, _holders())["reports"][0]
    with boa.env.anchor():
        contract = boa.loads(onchain.contract_source("NavFeed"), signer, row["token"], 8, "A-1 NAV per token")
        yield contract, row["token"]


def _submit(contract, row, chain_id, **changes):
    sig = bytes.fromhex(row["signature"][2:])
    r = {**row["round"], **changes}
    old = boa.env.evm.patch.chain_id
    boa.env.evm.patch.chain_id = chain_id
    try:
        contract.submit(int(r["roundId"]), int(r["answer"]), int(r["parAnswer"]), int(r["startedAt"]),
                        int(r["updatedAt"]), sig[64], sig[:32], sig[32:64])
    finally:
        boa.env.evm.patch.chain_id = old


def test_the_feed_contract_accepts_only_its_signers_reports(servicer, nav_feed):
    contract, token = nav_feed
    feed = feed_reports(servicer, _holders(), feeds={token: contract.address}, key=KEY)
    row = next(r for r in feed["reports"] if r["token"] == token)
    assert Account.recover_message(__import__("eth_account").messages.encode_typed_data(full_message=row["typed_data"]),
                                   signature=row["signature"]) == Account.from_key(KEY).address
    with boa.reverts("not signed by the signer"):  # an answer changed after signing
        _submit(contract, row, row["chain_id"], answer=str(int(row["round"]["answer"]) + 1))
    with boa.reverts("not signed by the signer"):  # another chain's domain
        _submit(contract, row, 999)
    forged = feed_reports(servicer, _holders(), feeds={token: contract.address}, key=OTHER)
    with boa.reverts("not signed by the signer"):
        _submit(contract, next(r for r in forged["reports"] if r["token"] == token), row["chain_id"])
    _submit(contract, row, row["chain_id"])
    round_id, answer, started, updated, answered = contract.latestRoundData()
    assert (round_id, answer, started, updated, answered) == (3, int(row["round"]["answer"]),
                                                              int(row["round"]["startedAt"]),
                                                              int(row["round"]["updatedAt"]), 3)
    assert contract.latestParAnswer() == int(row["round"]["parAnswer"]) and contract.decimals() == 8
    with boa.reverts("round already reported"):
        _submit(contract, row, row["chain_id"])
    older = feed_reports(servicer, _holders(), period=2, feeds={token: contract.address}, key=KEY)
    with boa.reverts("round already reported"):
        _submit(contract, next(r for r in older["reports"] if r["token"] == token), row["chain_id"])


def test_the_cli_writes_a_signed_feed(servicer, tmp_path, capsys):
    import yaml

    from abs_engine.cli import main

    holders = tmp_path / "holders.yaml"
    holders.write_text(yaml.safe_dump(_holders()))
    token = feed_reports(servicer, _holders())["reports"][0]["token"]
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(yaml.safe_dump({token: "0x" + "11" * 20}))
    key = tmp_path / "key.txt"
    key.write_text(KEY + "\n")
    out = tmp_path / "feed.json"
    assert main(["feed", str(DEAL), "--ledger", str(servicer.ledger.path), "--holders", str(holders), "--feeds",
                 str(feeds), "--key-file", str(key), "--pricing-scenario", "scenarios/base.yaml", "--yield", "0.06",
                 "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    signed = [r for r in doc["reports"] if "signature" in r]
    assert len(signed) == 1 and signed[0]["token"] == token and doc["valuation"]["yield"] == 0.06
    assert Path(out).stat().st_size > 0
