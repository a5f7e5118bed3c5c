"""The living twin end to end (issue 18): twelve months of the non-agency deal's actual
collections (its 3,000-loan tape, generated month by month from its base projection) arrive one
month at a time. Each month the settlement bot distributes, settles, pays through batch
distributors in the EVM, confirms and reconciles, killed and resumed at random steps. Then the
deal is re-projected from the ledger (equal to the base projection from that month on) and the
investor report is rendered and attested. At the end every holder holds what twelve months paid."""

from __future__ import annotations

import random

import numpy as np
import pytest

import abs_engine as ae
from abs_engine.servicing.investor_report import render_html, report_attestation
from abs_engine.servicing.ledger import keccak_hex
from abs_engine.servicing.servicer import projected_collections
from abs_engine.settlement.bot import EvmBroadcaster, run_bot
from abs_engine.settlement.instruction import settle

from .settlement.test_bot import DEAL, ROOT, Killed, _balances, _holders, deployed

BASE = ROOT / "scenarios/base.yaml"
MONTHS = 12


def _write_month(folder, projection, p: int) -> None:
    """Month ``p``'s servicer report and loan tape, as the servicer would deliver them."""
    import yaml

    head, tape = projected_collections(projection, p)
    tape.to_csv(folder / f"period_{p}.csv", index=False)
    head["loans"] = f"period_{p}.csv"
    (folder / f"period_{p}.yaml").write_text(yaml.safe_dump(head))


def test_twelve_months_of_a_living_twin(tmp_path):
    projection = ae.run(DEAL, BASE, loan_level=True)
    folder, out, ledger = tmp_path / "collections", tmp_path / "out", tmp_path / "l.sqlite"
    folder.mkdir()
    rng = random.Random(17)
    with deployed() as (owner, tokens, dists):
        spec = _holders(tokens, dists)
        broadcaster = EvmBroadcaster(owner)
        kills = 0
        for month in range(1, MONTHS + 1):
            _write_month(folder, projection, month)
            at = rng.randrange(0, 9)  # a step of this month's run (2 + 3 per chain: at most 8) to die at
            seen = []

            def die(step, period, content_id, at=at, seen=seen):
                seen.append(step)
                if len(seen) == at + 1:
                    raise Killed(step)

            try:
                run_bot(ae.Servicer(DEAL, ledger), folder, spec, out, broadcaster, on_step=die)
            except Killed:
                kills += 1
            rows = run_bot(ae.Servicer(DEAL, ledger), folder, spec, out, broadcaster)
            assert {r["status"] for r in rows} == {"reconciled"} and max(r["period"] for r in rows) == month
            servicer = ae.Servicer(DEAL, ledger, base_scenario=BASE)
            # the twin re-projects from where it stands: the base projection from this month on
            re = servicer.project(BASE)
            assert re.first_period == month + 1
            theirs = projection.tranches[projection.tranches.index.get_level_values("period") > month]
            np.testing.assert_allclose(re.tranches["ending_balance"].to_numpy(), theirs["ending_balance"].to_numpy(),
                                       rtol=1e-9, atol=0.05)
            # and publishes the month's report, attested by its page's hash
            content = servicer.investor_report()
            page = render_html(content)
            typed = report_attestation(content, page, chain_id=8453)
            assert content["period"] == month and typed["message"]["documentHash"] == keccak_hex(page.encode())
            assert content["ledger_head"] == servicer.ledger.head()["hash"]
        assert kills >= MONTHS // 2
        paid = {k: v for k, v in _balances(tokens, spec).items() if v}
        want: dict = {}
        for p in range(1, MONTHS + 1):
            for ins in settle(servicer.report(p), spec, ledger=servicer.ledger).instructions:
                for holder, amount in ins.transfers:
                    want[(ins.chain_id, holder)] = want.get((ins.chain_id, holder), 0) + amount
        assert paid == want
    assert servicer.verify().ok
    speeds = servicer.speeds()
    # the base scenario's 150% PSA, measured back from a year of actuals
    assert speeds.loc[(MONTHS, "12m"), "psa"] == pytest.approx(150.0, rel=0.05)
