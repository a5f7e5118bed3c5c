"""Servicing: actual periods through the same compiled waterfall, on a hash-chained SQLite ledger.

The reference for "correct" is the projection itself: collections generated from a projection
(what its borrowers pay, loan by loan) must be distributed exactly as the projection did.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import abs_engine as ae
from abs_engine.io.collection_reports import collections_from_frame
from abs_engine.servicing.attestation import recover_signer, sign, typed_data
from abs_engine.servicing.servicer import projected_collections

ROOT = Path(__file__).resolve().parents[2]
AUTO = ROOT / "tranches/auto_prime_abs.yaml"
SCENARIO = {"name": "base", "prepay": {"abs": 1.5}, "default": {"cdr": 0.03}, "severity": 0.5, "recovery_lag": 3,
            "rates": {"SOFR": 0.043}, "exercise_call": False}


@pytest.fixture(scope="module")
def projection():
    return ae.run(AUTO, SCENARIO, loan_level=True)


def feed(projection, period, loan_level=True):
    head, tape = projected_collections(projection, period, loan_level=loan_level)
    return collections_from_frame(head, tape) if loan_level else head


def rows(path) -> int:
    with sqlite3.connect(path) as c:
        return c.execute("SELECT COUNT(*) FROM periods").fetchone()[0]


@pytest.mark.parametrize("loan_level", [True, False])
def test_twelve_periods_reproduce_the_projection(projection, tmp_path, loan_level):
    """Same kernel, same numbers: every payment of 12 periods equals the projection's (the only
    differences are the last bits of gross - fee = net interest and of per-loan sums)."""
    servicer = ae.Servicer(AUTO, tmp_path / "ledger.sqlite")
    for p in range(1, 13):
        rep = servicer.distribute(feed(projection, p, loan_level))
        tr = projection.tranches.xs(p, level="period").loc[[t.name for t in projection.deal.notes]]
        cols = ["interest_due", "interest_paid", "interest_shortfall", "principal_paid", "writedown",
                "ending_balance"]
        np.testing.assert_allclose(rep.tranches.loc[tr.index, cols].to_numpy(float), tr[cols].to_numpy(float),
                                   rtol=1e-9, atol=1e-6)
        np.testing.assert_allclose(rep.fees["paid"].to_numpy(float),
                                   projection.fees.xs(p, level="period")["paid"].to_numpy(float), rtol=1e-9)
        np.testing.assert_allclose(rep.accounts["ending_balance"].to_numpy(float),
                                   projection.accounts.xs(p, level="period")["ending_balance"].to_numpy(float),
                                   rtol=1e-9)
        assert rep.cash["residual_paid"] == pytest.approx(projection.cash.loc[p, "residual_paid"], rel=1e-9,
                                                          abs=1e-6)
        assert rep.pool["ending_balance"] == pytest.approx(projection.pool.loc[p, "ending_balance"], rel=1e-12)
        assert np.abs(rep.check.to_numpy()).max() <= 1e-6
    assert servicer.verify().ok
    assert rows(tmp_path / "ledger.sqlite") == 12


@pytest.mark.parametrize(("deal", "lag", "advancing"), [
    (AUTO, 0, False), (AUTO, 3, False), (AUTO, 3, True), (AUTO, 5, True),
    (ROOT / "tranches/nonagency_rmbs.yaml", 2, True), (ROOT / "tranches/nonagency_rmbs.yaml", 4, False),
])
def test_variance_is_zero_in_every_period_when_actuals_follow_the_scenario(tmp_path, deal, lag, advancing):
    """Collections generated from a projection (defaults every month; partial foreclosures on rep
    lines; loans in foreclosure at cut-off, interest-only and balloon loans on the tape), distributed
    for 12 periods: the variance against the same scenario is zero in every period, because the
    comparison starts from the recorded state, foreclosure pipeline included (it once restarted the
    pipeline each period: 1e4-1e6 of phantom variance from period 2 on). The scenario's severity is
    a vector, read at each period's own month."""
    scenario = {**SCENARIO, "prepay": {"abs": 1.5} if deal == AUTO else {"psa": 150}, "default": {"cdr": 0.05},
                "severity": [0.4, 0.45, 0.5, 0.55, 0.6], "recovery_lag": lag, "advancing": advancing}
    projection = ae.run(deal, scenario, loan_level=True)
    servicer = ae.Servicer(deal, tmp_path / "l.sqlite", base_scenario=scenario)
    liquidated = 0.0
    for p in range(1, 13):
        servicer.distribute(feed(projection, p))
        v = servicer.variance(p)
        money = v.drop(index="realised", level="item")["difference"].abs().max()
        assert money <= 1e-6, (p, v[v["difference"].abs() > 1e-6])
        liquidated += v.loc[("pool", "recovery"), "projected"]
    assert liquidated > 0   # liquidations happened in these 12 periods (lag < 12)


def test_variance_of_a_period_projected_by_the_same_scenario_is_zero(projection, tmp_path):
    servicer = ae.Servicer(AUTO, tmp_path / "l.sqlite", base_scenario=SCENARIO)
    servicer.distribute(feed(projection, 1))
    servicer.distribute(feed(projection, 2))
    v = servicer.variance(1)
    money = v.drop(index="realised", level="item")
    assert np.abs(money["difference"].to_numpy()).max() <= 1e-6 * 5e8
    # realised prepayment speed: SMM = prepayment / (beginning - scheduled - default); ABS 1.5 at
    # month 4 of the first rep line etc. is not one number, so compare with the projection's pool
    pool = projection.pool.loc[1]
    smm = pool["prepayment"] / (pool["beginning_balance"] - pool["scheduled_principal"] - pool["recovery"]
                                - pool["loss"])
    assert v.loc[("realised", "smm"), "actual"] == pytest.approx(smm, rel=1e-9)
    assert v.loc[("realised", "cpr"), "actual"] == pytest.approx(1 - (1 - smm) ** 12, rel=1e-9)
    assert set(v.columns) == {"actual", "projected", "difference"}
    assert ("A-1", "principal_paid") in v.index


def test_replay_identical_returns_the_record_and_different_is_refused(projection, tmp_path):
    servicer = ae.Servicer(AUTO, tmp_path / "l.sqlite")
    first = servicer.distribute(feed(projection, 1))
    again = servicer.distribute(feed(projection, 1))
    assert again.to_json() == first.to_json()
    assert rows(tmp_path / "l.sqlite") == 1
    head, tape = projected_collections(projection, 1)
    tape.loc[0, "prepayment"] += 100.0
    tape.loc[0, "ending_balance"] -= 100.0
    with pytest.raises(ae.LedgerError, match="recorded .* with other inputs"):
        servicer.distribute(collections_from_frame(head, tape))
    # the order of the tape's rows is not content: the same inputs
    _, tape = projected_collections(projection, 1)
    assert servicer.distribute(collections_from_frame(head, tape.iloc[::-1])).to_json() == first.to_json()
    assert rows(tmp_path / "l.sqlite") == 1


def test_restatement_appends_versions_and_rederives_later_periods(projection, tmp_path):
    servicer = ae.Servicer(AUTO, tmp_path / "l.sqlite")
    for p in (1, 2, 3):
        servicer.distribute(feed(projection, p))
    before = servicer.report(2)
    head, tape = projected_collections(projection, 2)
    tape.loc[0, "interest_collected"] += 50_000.0  # a late-posted interest payment
    rep = servicer.restate(2, collections_from_frame(head, tape), reason="late-posted interest on new-2026")
    assert rep.cash["interest_collections"] == pytest.approx(before.cash["interest_collections"] + 50_000.0)
    assert servicer.report(2).to_json() == rep.to_json()
    assert rep.cash["residual_paid"] > before.cash["residual_paid"]
    current = servicer.ledger.current()
    assert [current[p].version for p in (1, 2, 3)] == [1, 2, 2]
    assert "late-posted" in current[3].reason
    assert rows(tmp_path / "l.sqlite") == 5
    assert servicer.verify().ok
    with pytest.raises(ae.SpecError, match="reason"):
        servicer.restate(2, collections_from_frame(head, tape), reason=" ")


def test_an_exception_before_commit_leaves_the_previous_period(projection, tmp_path, monkeypatch):
    path = tmp_path / "l.sqlite"
    servicer = ae.Servicer(AUTO, path)
    servicer.distribute(feed(projection, 1))

    def boom():
        raise RuntimeError("power cut")

    monkeypatch.setattr(servicer.ledger, "_before_commit", boom)
    with pytest.raises(RuntimeError, match="power cut"):
        servicer.distribute(feed(projection, 2))
    monkeypatch.undo()
    assert rows(path) == 1
    servicer.distribute(feed(projection, 2))
    assert sorted(servicer.ledger.current()) == [1, 2] and rows(path) == 2
    assert servicer.verify().ok


def test_a_killed_process_leaves_the_previous_period(projection, tmp_path):
    """A real process kill (os._exit) between the inserts and COMMIT: SQLite rolls back."""
    path = tmp_path / "l.sqlite"
    servicer = ae.Servicer(AUTO, path)
    servicer.distribute(feed(projection, 1))
    head, tape = projected_collections(projection, 2)
    tape_path = tmp_path / "p2.csv"
    tape.to_csv(tape_path, index=False)
    (tmp_path / "p2.json").write_text(json.dumps({**head, "loans": "p2.csv"}))
    script = textwrap.dedent(f"""
        import os, abs_engine as ae
        s = ae.Servicer({str(AUTO)!r}, {str(path)!r})
        s.ledger._before_commit = lambda: os._exit(9)
        s.distribute({str(tmp_path / "p2.json")!r})
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert proc.returncode == 9, proc.stderr.decode()
    assert rows(path) == 1
    servicer = ae.Servicer(AUTO, path)
    servicer.distribute(tmp_path / "p2.json")
    assert rows(path) == 2 and servicer.verify().ok


def _tamper(path, sql, *args):
    with sqlite3.connect(path) as c:
        c.execute("DROP TRIGGER periods_append_only_u")
        c.execute(sql, args)


def test_tampering_is_detected(projection, tmp_path):
    path = tmp_path / "l.sqlite"
    servicer = ae.Servicer(AUTO, path)
    for p in (1, 2, 3):
        servicer.distribute(feed(projection, p))
    with sqlite3.connect(path) as c, pytest.raises(sqlite3.DatabaseError, match="append-only"):
        c.execute("UPDATE periods SET hash = 'x' WHERE period = 1")
    # an amount in a stored report
    report = json.loads(servicer.ledger.current()[2].report)
    report["tranches"][0]["principal_paid"] += 1.0
    _tamper(path, "UPDATE periods SET report = ? WHERE period = 2", json.dumps(report))
    v = ae.Servicer(AUTO, path).verify()
    assert not v.ok and v.period == 2 and "report" in v.problem


def test_tampering_with_a_hash_or_a_rehashed_row_is_detected(projection, tmp_path):
    from abs_engine.servicing.ledger import canonical_json, keccak_hex

    path = tmp_path / "l.sqlite"
    servicer = ae.Servicer(AUTO, path)
    for p in (1, 2, 3):
        servicer.distribute(feed(projection, p))
    _tamper(path, "UPDATE periods SET hash = ? WHERE period = 1", "0x" + "00" * 32)
    v = servicer.verify()
    assert not v.ok and v.period == 1 and "hash" in v.problem
    # a forger who rewrites a report and every hash of its row still breaks the recomputation
    path2 = tmp_path / "l2.sqlite"
    s2 = ae.Servicer(AUTO, path2)
    for p in (1, 2):
        s2.distribute(feed(projection, p))
    row = s2.ledger.current()[2]
    report = json.loads(row.report)
    report["tranches"][0]["interest_paid"] += 1.0
    text = canonical_json(report)
    forged = s2.ledger.build_row(row.seq, 2, 1, None, row.inputs, row.state, text, row.prev_hash)
    _tamper(path2, "UPDATE periods SET report = ?, report_hash = ?, hash = ? WHERE seq = ?", text,
            keccak_hex(text), forged.hash, row.seq)
    v = s2.verify()
    assert not v.ok and v.period == 2 and "recomputed" in v.problem


def _bad(tmp_path, projection, edits, period=1):
    head, tape = projected_collections(projection, period)
    for (row, col), value in edits.items():
        tape.loc[row, col] = value
    tape.to_csv(tmp_path / "bad.csv", index=False)
    (tmp_path / "bad.yaml").write_text(json.dumps({**head, "loans": "bad.csv"}))
    return tmp_path / "bad.yaml"


@pytest.mark.parametrize("edit, message", [
    ({(1, "loan_id"): "NOT-A-LOAN"}, r"bad.csv: row 2 \(loan_id NOT-A-LOAN\), loan_id: got 'NOT-A-LOAN'"),
    ({(0, "prepayment"): -5.0}, r"row 1 \(loan_id .*\), prepayment: got -5.0, expected a finite amount >= 0"),
    ({(2, "recovery"): float("nan")}, r"row 3 .*recovery: got nan, expected a finite amount"),
    ({(0, "ending_balance"): 1.0, (0, "foreclosure_balance"): 0.0},
     r"row 1 .*ending_balance: got 1.0, expected beginning balance"),
    ({(0, "foreclosure_balance"): 1e9}, r"row 1 .*foreclosure_balance: got 1000000000.0, expected at most the loan's "
                                        r"ending_balance"),
    ({(0, "delinquency_status"): "late"}, r"delinquency_status: got 'late', expected one of"),
])
def test_bad_tapes_are_refused_and_nothing_is_recorded(projection, tmp_path, edit, message):
    path = tmp_path / "l.sqlite"
    servicer = ae.Servicer(AUTO, path)
    with pytest.raises(ae.SpecError, match=message):
        servicer.distribute(_bad(tmp_path, projection, edit))
    assert rows(path) == 0


def test_bad_headers_are_refused_and_nothing_is_recorded(projection, tmp_path):
    path = tmp_path / "l.sqlite"
    servicer = ae.Servicer(AUTO, path)
    servicer.distribute(feed(projection, 1))
    head, tape = projected_collections(projection, 3)
    with pytest.raises(ae.SpecError, match="period: got 3, expected the next period, 2"):
        servicer.distribute(collections_from_frame(head, tape))
    head, tape = projected_collections(projection, 2)
    with pytest.raises(ae.SpecError, match="period_end: got '2026-11-30', expected a date after"):
        servicer.distribute(collections_from_frame({**head, "period_end": "2026-11-30",
                                                    "payment_date": "2027-01-15"}, tape))
    with pytest.raises(ae.SpecError, match=r"rates: got \{\}, expected a fixing of SOFR"):
        servicer.distribute(collections_from_frame({**head, "rates": {}}, tape))
    with pytest.raises(ae.SpecError, match=r"loans: got \['new-2026'\], expected a row for every loan with a balance "
                                                   r"\(1 missing\)"):
        servicer.distribute(collections_from_frame(head, tape.iloc[1:]))
    with pytest.raises(ae.SpecError, match="payment_date: got '2026-12-01', expected a date on or after"):
        servicer.distribute(collections_from_frame({**head, "payment_date": "2026-12-01"}, tape))
    with pytest.raises(ae.SpecError, match=r"columns: .*missing \['recovery'\]"):
        servicer.distribute(collections_from_frame(head, tape.drop(columns="recovery")))
    assert rows(path) == 1


def test_a_ledger_of_another_deal_is_refused(projection, tmp_path):
    path = tmp_path / "l.sqlite"
    ae.Servicer(AUTO, path).distribute(feed(projection, 1))
    with pytest.raises(ae.LedgerError, match="belongs to deal id"):
        ae.Servicer(ROOT / "tranches/onchain_private_credit.yaml", path)


def test_attestation_signs_and_recovers(projection, tmp_path):
    from eth_account import Account

    servicer = ae.Servicer(AUTO, tmp_path / "l.sqlite")
    rep = servicer.distribute(feed(projection, 1))
    typed = typed_data(rep, chain_id=8453)
    assert typed["message"]["reportHash"] == rep.hash
    assert typed["message"]["dealId"] == servicer.deal_id
    paid = rep.tranches.loc["A-1"]
    assert typed["message"]["payments"][0] == {"tranche": "A-1", "interest": str(int(paid["interest_paid"] * 1e6)),
                                               "principal": str(int(paid["principal_paid"] * 1e6))}
    key = "0x" + "42" * 32
    signature = sign(typed, key)
    assert recover_signer(typed, signature) == Account.from_key(key).address
    typed["message"]["payments"][0]["principal"] = str(int(typed["message"]["payments"][0]["principal"]) + 1)
    assert recover_signer(typed, signature) != Account.from_key(key).address


def test_cli_distribute_and_ledger(projection, tmp_path):
    from abs_engine.cli import main

    for p in (1, 2):
        head, tape = projected_collections(projection, p)
        tape.to_csv(tmp_path / f"p{p}.csv", index=False)
        (tmp_path / f"p{p}.yaml").write_text(json.dumps({**head, "loans": f"p{p}.csv"}))
        assert main(["distribute", str(AUTO), "--collections", str(tmp_path / f"p{p}.yaml"),
                     "--ledger", str(tmp_path / "l.sqlite")]) == 0
    assert main(["ledger", "show", str(tmp_path / "l.sqlite")]) == 0
    assert main(["ledger", "verify", str(tmp_path / "l.sqlite"), "--deal", str(AUTO)]) == 0
    (tmp_path / "p3.yaml").write_text(json.dumps({**head, "period": 3, "loans": "missing.csv"}))
    assert main(["distribute", str(AUTO), "--collections", str(tmp_path / "p3.yaml"),
                 "--ledger", str(tmp_path / "l.sqlite")]) == 2
    assert rows(tmp_path / "l.sqlite") == 2


def test_the_example_servicer_reports_distribute_and_verify(tmp_path):
    """The README's walk-through: three months of the non-agency deal from the example tapes."""
    deal = ROOT / "tranches/nonagency_rmbs.yaml"
    servicer = ae.Servicer(deal, tmp_path / "l.sqlite", base_scenario=ROOT / "scenarios/base.yaml")
    for p in (1, 2, 3):
        rep = servicer.distribute(ROOT / f"tranches/data/servicing/nonagency_rmbs/period_{p}.yaml")
        assert np.abs(rep.check.to_numpy()).max() <= 1e-6
        notes = rep.tranches.loc[[t.name for t in servicer.deal.notes]]
        # principal collections reach the notes pro rata while the loss trigger is not breached
        paid = notes["principal_paid"].sum() + rep.cash["unallocated"]
        assert paid == pytest.approx(rep.cash["principal_collections"], rel=1e-12)
    assert servicer.verify().ok
    v = servicer.variance(3)
    assert v.loc[("pool", "ending_balance"), "actual"] == pytest.approx(servicer.report(3).pool["ending_balance"])
    assert 0.0 < v.loc[("realised", "cpr"), "actual"] < 1.0


# ---------------------------------------------------------------- plausibility


def test_interest_far_above_balance_times_rate_needs_a_recorded_override(projection, tmp_path):
    """``interest_collected: 1e308`` on one loan, or just more than a year of interest: refused, one
    line, nothing recorded; with ``override_reason`` the figure is accepted and the reason is part
    of the recorded (hashed) inputs."""
    from abs_engine.servicing.actuals import INTEREST_TOLERANCE_MONTHS

    path = tmp_path / "l.sqlite"
    servicer = ae.Servicer(AUTO, path)
    head, tape = projected_collections(projection, 1)
    loan = tape.iloc[0]["loan_id"]
    loans = projection.program.loans
    rate = float(loans.rate[list(loans.loan_id).index(loan)])
    cap = float(projection.loans.xs(1, level="period").loc[loan, "beginning_balance"]) * rate \
        * INTEREST_TOLERANCE_MONTHS / 12
    for value in (1e308, cap * 1.01 + 1.0):
        bad = tape.copy()
        bad.loc[0, "interest_collected"] = value
        with pytest.raises(ae.SpecError, match=r"row 1 \(loan_id .*\), interest_collected: got .*(finite|"
                                                 r"months of interest)"):
            servicer.distribute(collections_from_frame(head, bad))
    assert rows(path) == 0
    bad = tape.copy()
    bad.loc[0, "interest_collected"] = cap * 1.01 + 1.0
    rep = servicer.distribute(collections_from_frame({**head, "override_reason": "arrears paid at payoff"}, bad))
    assert rows(path) == 1 and rep.pool["gross_interest"] > tape["interest_collected"].sum()
    stored = json.loads(servicer.ledger.current()[1].inputs)
    assert stored["report"]["override_reason"] == "arrears paid at payoff"
    assert servicer.verify().ok


def test_pool_totals_are_checked_the_same_way(projection, tmp_path):
    path = tmp_path / "l.sqlite"
    servicer = ae.Servicer(AUTO, path)
    head, _ = projected_collections(projection, 1, loan_level=False)
    big = {**head, "pool": {**head["pool"], "interest_collected": head["pool"]["interest_collected"] * 20}}
    with pytest.raises(ae.SpecError, match="pool.interest_collected: got .* months of interest"):
        servicer.distribute(big)
    with pytest.raises(ae.SpecError, match=r"pool.interest_collected: got 1e\+308, expected a finite amount >= 0"):
        servicer.distribute({**head, "pool": {**head["pool"], "interest_collected": 1e308}})
    orphan = {**head, "pool": {**head["pool"], "recovery": head["pool"]["default"] + 1000.0}}
    with pytest.raises(ae.SpecError, match="pool.recovery: got .*, expected recoveries of at most the balance "
                                           "charged off and not yet recovered"):
        servicer.distribute(orphan)
    assert rows(path) == 0


def test_a_recovery_needs_a_charged_off_balance(projection, tmp_path):
    path = tmp_path / "l.sqlite"
    servicer = ae.Servicer(AUTO, path)
    head, tape = projected_collections(projection, 1)
    bad = tape.copy()
    bad.loc[0, "recovery"] = 500.0          # a performing loan with a balance and no charge-off
    with pytest.raises(ae.SpecError, match=r"row 1 .*recovery: got 500.0, expected a recovery on a charged-off"):
        servicer.distribute(collections_from_frame(head, bad))
    assert rows(path) == 0


def test_new_loans_must_name_tape_rows(projection, tmp_path):
    servicer = ae.Servicer(AUTO, tmp_path / "l.sqlite")
    head, tape = projected_collections(projection, 1)
    with pytest.raises(ae.SpecError, match=r"new_loans: got \['GHOST'\], expected loan ids that have a row"):
        servicer.distribute(collections_from_frame({**head, "new_loans": ["GHOST"]}, tape))


def test_settlement_refuses_amounts_outside_the_token_and_the_tranche():
    from abs_engine.settlement.allocation import PeriodAmounts
    from abs_engine.settlement.instruction import settle

    def pa(principal=10.0, interest=1.0, ending=90.0, original=100.0):
        return PeriodAmounts("d", "0x" + "ab" * 32, 1, "2026-12-15", {"A": {"interest": interest,
                             "principal": principal}}, {"A": ending}, {"A": original}, 1e9, 0.0)

    from eth_utils import keccak, to_checksum_address

    a = to_checksum_address(keccak(text="a")[-20:])
    spec = {"payment_token": {"symbol": "T", "decimals": 36, "addresses": {1: to_checksum_address(
        keccak(text="t")[-20:])}}, "source": {1: to_checksum_address(keccak(text="s")[-20:])},
            "tranches": [{"tranche": "A", "snapshots": [{"chain_id": 1, "token": to_checksum_address(
                keccak(text="A")[-20:]), "decimals": 18, "record_block": 1, "total_supply": "5",
                "holders": [[a, "5"]]}]}]}
    with pytest.raises(ae.SpecError, match=r"tranches.A.interest: got nan, expected a finite amount >= 0"):
        settle(pa(interest=float("nan")), spec)
    with pytest.raises(ae.SpecError, match=r"tranches.A.interest: got 1e\+60, expected an amount below 2\*\*256"):
        settle(pa(interest=1e60), spec)
    with pytest.raises(ae.SpecError, match=r"tranches.A.principal: got 50.0, expected principal of at most the face"):
        settle(pa(principal=50.0), spec)
    assert settle(pa(), spec).check() == {"tranches": True, "chains": True}
