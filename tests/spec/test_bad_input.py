"""Bad input: one error naming the file, the field path, the value received and what was
expected; exit code 2 from the CLI; nothing written."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
import yaml

import abs_engine as ae
from abs_engine.cli import main

GOOD_LINE = {"balance": 1e6, "wac": 0.06, "net_coupon": 0.055, "wam": 360, "age": 0}


def deal_with(**line):
    return {"name": "bad", "collateral": {"rep_lines": [{**GOOD_LINE, **line}]}}


@pytest.mark.parametrize(("line", "field", "value", "expected"), [
    ({"balance": -5.0}, "collateral.rep_lines[0].balance", "-5.0", "a finite amount >= 0"),
    ({"balance": math.nan}, "collateral.rep_lines[0].balance", "nan", "a finite amount >= 0"),
    ({"wac": 1.5}, "collateral.rep_lines[0].wac", "1.5", "a decimal in [0, 1]"),
    ({"wac": -0.01}, "collateral.rep_lines[0].wac", "-0.01", "a decimal in [0, 1]"),
    ({"wam": 0}, "collateral.rep_lines[0].wam", "0", "a whole number of months >= 1"),
    ({"wam": -12}, "collateral.rep_lines[0].wam", "-12", "a whole number of months >= 1"),
    ({"age": 400, "original_term": 360}, "collateral.rep_lines[0].age", "400", "<= original_term (360)"),
    ({"net_coupon": 0.07}, "collateral.rep_lines[0].net_coupon", "0.07", "<= wac (0.06)"),
    ({"colour": "red"}, "collateral.rep_lines[0].colour", "'red'", "no such key"),
    ({"amortization": "balloon"}, "collateral.rep_lines[0].balloon_month", "None", "loan month"),
])
def test_bad_rep_line(tmp_path, line, field, value, expected):
    path = tmp_path / "deal.yaml"
    path.write_text(yaml.safe_dump(deal_with(**line)))
    with pytest.raises(ae.SpecError) as info:
        ae.load_deal(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: {field}: got {value}, expected"), msg
    assert expected in msg
    assert info.value.file == str(path) and info.value.field == field


@pytest.mark.parametrize(("scenario", "field", "expected"), [
    ({"severity": 1.2}, "severity", "a decimal in [0, 1]"),
    ({"severity": -0.1}, "severity", "a decimal in [0, 1]"),
    ({"prepay": {"cpr": 1.5}}, "prepay.cpr", "a decimal in [0, 1]"),
    ({"prepay": {"cpr": [0.05, float("nan")]}}, "prepay.cpr", "element 1 is nan"),
    ({"prepay": {"psa": [100, -50]}}, "prepay.psa", "element 1 is -50"),
    ({"default": {"cdr": [0.01, -0.02]}}, "default.cdr", "element 1 is -0.02"),
    ({"prepay": {"psa": 100, "cpr": 0.1}}, "prepay", "exactly one of cpr, smm, psa, abs"),
    ({"prepay": {"speed": 100}}, "prepay.speed", "no such key"),
    ({"recovery_lag": -3}, "recovery_lag", "a whole number of months >= 0"),
    ({"severity": []}, "severity", "a non-empty monthly vector"),
    ({"sevrity": 0.3}, "sevrity", "no such key"),
])
def test_bad_scenario(tmp_path, scenario, field, expected):
    path = tmp_path / "scen.yaml"
    path.write_text(yaml.safe_dump(scenario))
    with pytest.raises(ae.SpecError) as info:
        ae.load_scenario(path)
    assert str(info.value).startswith(f"{path}: {field}: got "), str(info.value)
    assert expected in str(info.value)


def write_tape(tmp_path, frame: pd.DataFrame, name="loans.csv"):
    tape = tmp_path / name
    if name.endswith(".parquet"):
        frame.to_parquet(tape)
    else:
        frame.to_csv(tape, index=False)
    deal = tmp_path / "deal.yaml"
    deal.write_text(yaml.safe_dump({"name": "tape", "collateral": {"loan_tape": name}}))
    return deal, tape


def good_tape(n=3) -> pd.DataFrame:
    return pd.DataFrame({"loan_id": [f"L{k}" for k in range(1, n + 1)], "balance": [1e5] * n,
                         "rate": [0.06] * n, "remaining_term": [300] * n, "age": [60] * n})


@pytest.mark.parametrize(("change", "field", "value", "expected"), [
    (lambda t: t.assign(loan_id=["L1", "L2", "L1"]), "row 3 (loan_id L1), loan_id", "'L1'",
     "a loan_id not used by an earlier row"),
    (lambda t: t.drop(columns="rate"), "columns", None, "missing ['rate']"),
    (lambda t: t.iloc[:0], "rows", "0", "at least one loan"),
    (lambda t: t.assign(balance=[1e5, -1.0, 1e5]), "row 2 (loan_id L2), balance", "-1.0", "a finite amount >= 0"),
    (lambda t: t.assign(balance=[1e5, 1e5, math.nan]), "row 3 (loan_id L3), balance", "nan", "a finite amount"),
    (lambda t: t.assign(rate=[0.06, 1.2, 0.06]), "row 2 (loan_id L2), rate", "1.2", "a decimal in [0, 1]"),
    (lambda t: t.assign(remaining_term=[300, 0, 300]), "row 2 (loan_id L2), remaining_term", "0", ">= 1"),
    (lambda t: t.assign(original_term=[360, 30, 360]), "row 2 (loan_id L2), original_term", "30", ">= age"),
    (lambda t: t.assign(status=["current", "lost", "30"]), "row 2 (loan_id L2), status", "'lost'", "one of"),
])
def test_bad_tape(tmp_path, change, field, value, expected):
    deal, tape = write_tape(tmp_path, change(good_tape()))
    with pytest.raises(ae.SpecError) as info:
        ae.load_deal(deal)
    msg = str(info.value)
    assert msg.startswith(f"{tape}: {field}: got"), msg
    if value is not None:
        assert f"got {value}," in msg
    assert expected in msg


def test_bad_parquet_tape(tmp_path):
    deal, tape = write_tape(tmp_path, good_tape().assign(age=[60, -1, 60]), "loans.parquet")
    with pytest.raises(ae.SpecError, match=r"loans.parquet: row 2 \(loan_id L2\), age: got -1, expected"):
        ae.load_deal(deal)


def test_missing_tape_file_names_deal_field(tmp_path):
    deal = tmp_path / "deal.yaml"
    deal.write_text(yaml.safe_dump({"name": "x", "collateral": {"loan_tape": "nowhere.csv"}}))
    with pytest.raises(ae.SpecError, match="nowhere.csv: loan_tape: got .*expected an existing CSV"):
        ae.load_deal(deal)


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_cli_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, fmt):
    deal = tmp_path / "deal.yaml"
    deal.write_text(yaml.safe_dump(deal_with(wac=1.5)))
    scen = tmp_path / "scen.yaml"
    scen.write_text(yaml.safe_dump({"prepay": {"cpr": 0.1}}))
    out = tmp_path / f"out.{ {'table': 'txt'}.get(fmt, fmt)}"
    assert main(["run", str(deal), "--scenario", str(scen), "--format", fmt, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{deal}: collateral.rep_lines[0].wac: got 1.5, expected a decimal in [0, 1]" in err
    assert err.count("\n") == 1  # one error
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deal.yaml", "scen.yaml"]


def test_cli_validate_bad_scenario_exits_2(tmp_path, capsys):
    scen = tmp_path / "scen.json"
    scen.write_text(json.dumps({"prepay": {"cpr": 0.1}, "severity": 2}))
    assert main(["validate", str(scen)]) == 2
    assert "severity: got 2, expected a decimal in [0, 1]" in capsys.readouterr().err


def test_unparsable_yaml(tmp_path, capsys):
    bad = tmp_path / "deal.yaml"
    bad.write_text("name: [unclosed\n")
    assert main(["validate", str(bad)]) == 2
    assert f"{bad}: got 'ParserError'" in capsys.readouterr().err
