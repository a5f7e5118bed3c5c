"""Bad deal structures: one error naming the file, the field path and the value; nothing written."""

from __future__ import annotations

import pytest
import yaml

import abs_engine as ae
from abs_engine.cli import main


def deal(**over):
    base = {
        "name": "bad", "collateral": {"rep_lines": [{"balance": 1e6, "wac": 0.06, "wam": 24}]},
        "tranches": [{"name": "A", "balance": 8e5, "coupon": 0.05, "priority": 1},
                     {"name": "B", "balance": 2e5, "coupon": 0.07, "priority": 2},
                     {"name": "R", "residual": True}],
        "fees": [{"name": "trustee", "amount": 100}],
        "accounts": [{"name": "reserve", "initial": 1e4, "target": 1e4, "covers": ["a-int"]}],
        "triggers": [{"name": "loss", "metric": "cumulative_loss", "threshold": 0.05}],
        "waterfall": [{"pay": "fees", "fees": ["trustee"]},
                      {"id": "a-int", "pay": "interest", "tranches": ["A"]},
                      {"pay": "interest", "tranches": ["B"]},
                      {"pay": "principal", "tranches": ["A", "B"], "allocation": "pro_rata", "sequential_if": "loss"},
                      {"pay": "reserve", "account": "reserve"},
                      {"pay": "residual", "tranche": "R"}],
    }
    base.update(over)
    return base


def step(k, **changes):
    d = deal()
    d["waterfall"][k] = {**d["waterfall"][k], **changes}
    return d


CASES = [
    (step(2, tranches=["Z"]), "waterfall[2].tranches[0]", "'Z'",
     "a tranche defined in tranches (known: ['A', 'B', 'R'])"),
    (step(0, fees=["audit"]), "waterfall[0].fees[0]", "'audit'", "a fee defined in fees (known: ['trustee'])"),
    (step(4, account="cash"), "waterfall[4].account", "'cash'", "an account defined in accounts (known: ['reserve'])"),
    (step(3, sequential_if="dq"), "waterfall[3].sequential_if", "'dq'", "a trigger defined in triggers"),
    (deal(accounts=[{"name": "reserve", "target": 1, "covers": ["nope"]}]), "accounts[0].covers[0]", "'nope'",
     "the id of a waterfall step (known: ['a-int'])"),
    (step(3, tranches=[]), "waterfall[3].tranches", "[]", "at least one tranche in the group"),
    (deal(tranches=[{"name": "A", "balance": 1, "coupon": 0.05, "priority": 1},
                    {"name": "A", "balance": 1, "coupon": 0.05, "priority": 2}]),
     "tranches[1].name", "'A'", "a name not used by tranches[0]"),
    (deal(fees=[{"name": "trustee", "amount": 1}, {"name": "trustee", "rate": 0.001}]), "fees[1].name", "'trustee'",
     "a name not used by fees[0]"),
    (deal(tranches=[{"name": "A", "balance": 8e5, "coupon": -0.01, "priority": 1}]), "tranches[0].coupon", "-0.01",
     "a fixed coupon in [0, 1]"),
    (deal(tranches=[{"name": "A", "balance": 8e5, "priority": 1,
                     "coupon": {"index": "SOFR", "spread": -0.02, "floor": 0.01}}]),
     "tranches[0].coupon.spread", "-0.02", "a spread >= -floor (-0.01)"),
    (step(5, tranche="A"), "waterfall[5].tranche", "'A'", "the residual class (residual: true)"),
    (step(2, tranches=["R"]), "waterfall[2].tranches[0]", "'R'", "a class of notes"),
    (deal(tranches=[{"name": "A", "balance": 8e5, "coupon": 0.05}]), "tranches[0].priority", "None", "a priority"),
    (step(3, amount="oc_target"), "waterfall[3].amount", "'oc_target'", "a deal-level overcollateralization target"),
]


@pytest.mark.parametrize(("spec", "field", "value", "expected"), CASES, ids=[c[1] for c in CASES])
def test_bad_structure(tmp_path, spec, field, value, expected):
    path = tmp_path / "deal.yaml"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(ae.SpecError) as info:
        ae.load_deal(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: {field}: got {value}, expected"), msg
    assert expected in msg, msg


def test_scheduled_threshold_with_wrong_length(tmp_path):
    # the deal runs 24 periods: a per-period schedule must have 24 values
    path = tmp_path / "deal.yaml"
    path.write_text(yaml.safe_dump(deal(triggers=[{"name": "loss", "metric": "cumulative_loss",
                                                   "threshold": [0.01] * 23}])))
    with pytest.raises(ae.SpecError) as info:
        ae.run(path, {})
    assert str(info.value) == (f"{path}: triggers[0].threshold: got '23 values', "
                               "expected one value per period of the deal (24)")


def test_floating_index_missing_from_scenario(tmp_path, capsys):
    path = tmp_path / "deal.yaml"
    path.write_text(yaml.safe_dump(deal(tranches=[
        {"name": "A", "balance": 8e5, "priority": 1, "coupon": {"index": "SOFR", "spread": 0.01}},
        {"name": "B", "balance": 2e5, "coupon": 0.07, "priority": 2}, {"name": "R", "residual": True}])))
    scen = tmp_path / "scen.yaml"
    scen.write_text(yaml.safe_dump({"rates": {"EURIBOR": 0.03}}))
    out = tmp_path / "out.json"
    assert main(["run", str(path), "--scenario", str(scen), "--format", "json", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert (f"{path}: tranches[0].coupon.index: got 'SOFR', expected an index the scenario 'scen' provides "
            "in rates (it has ['EURIBOR'])") in err
    assert not out.exists()
