"""The command line for a new user: --version, help text and a working example for every command
and argument, '-' for standard input, compare and explain, "did you mean", the warning on a
deal whose notes exceed its pool."""

from __future__ import annotations

import argparse
import io
import json
import shlex
import sys
from pathlib import Path

import pytest
import yaml

import abs_engine as ae
from abs_engine.cli import EXAMPLES, main, parser
from abs_engine.errors import SpecWarning

ROOT = Path(__file__).resolve().parents[1]
AUTO = str(ROOT / "tranches/auto_prime_abs.yaml")
BASE = str(ROOT / "scenarios/auto_base.yaml")
STRESS = str(ROOT / "scenarios/auto_stress.yaml")


def _commands() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"abs-engine {ae.__version__}"
    from importlib.metadata import version

    assert ae.__version__ == version("abs-engine")  # the installed distribution's


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for name in _commands():
        assert f"\n    {name}" in out, name     # in the command list, with its help
        assert name in out.split("positional arguments")[0], name  # and in the grouped overview


@pytest.mark.parametrize("name", sorted(_commands()))
def test_every_command_and_argument_has_help_and_an_example(name, capsys):
    command = _commands()[name]
    for action in command._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help and len(action.help) > 10, (name, action.dest)
    assert command.description, name
    example = EXAMPLES[name]
    assert example.startswith(f"abs-engine {name}")
    args = parser().parse_args(shlex.split(example)[1:])  # the example is valid usage
    assert args.command == name
    with pytest.raises(SystemExit):
        main([name, "--help"])
    out = capsys.readouterr().out
    assert f"example:\n  {example}" in out


def test_the_structurers_examples_run(tmp_path, monkeypatch, capsys):
    """The examples of the commands that need no ledger, as written, from the project's folder
    (writing into a temporary one)."""
    monkeypatch.chdir(ROOT)
    for name in ("validate", "run", "price", "compare", "breakeven", "explain", "grid", "schema"):
        argv = shlex.split(EXAMPLES[name])[1:]
        if "--out" in argv:
            argv[argv.index("--out") + 1] = str(tmp_path / Path(argv[argv.index("--out") + 1]).name)
        if "--diagram" in argv:
            argv[argv.index("--diagram") + 1] = str(tmp_path / "auto.dot")  # (no Graphviz needed for .dot)
        assert main(argv) == 0, (name, capsys.readouterr().err)
    assert (tmp_path / "grid.parquet").exists() and (tmp_path / "auto.dot").read_text().startswith("digraph")


def test_standard_input_for_a_deal_a_scenario_and_a_validation(monkeypatch, capsys):
    def stdin(path):
        monkeypatch.setattr(sys, "stdin", io.StringIO(Path(path).read_text()))

    stdin(BASE)
    assert main(["run", AUTO, "--scenario", "-", "--format", "json"]) == 0
    from_stdin = json.loads(capsys.readouterr().out)
    assert main(["run", AUTO, "--scenario", BASE, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["summary"] == from_stdin["summary"]
    stdin(AUTO)
    assert main(["explain", "-"]) == 0
    assert capsys.readouterr().out.startswith("Prime Auto Owner Trust 2026-A\n")
    monkeypatch.setattr(sys, "stdin", io.StringIO('{"prepay": {"psa": 100}, "severty": 0.3}'))  # JSON too
    assert main(["validate", "-"]) == 2
    assert capsys.readouterr().err.strip() == (
        "abs-engine: error: <stdin>: severty: got 0.3, expected no such key (unknown keys are not allowed); "
        "did you mean 'severity'?")
    assert main(["run", "-", "--scenario", "-"]) == 2
    assert "standard input for one file only" in capsys.readouterr().err


def test_compare_command(tmp_path, capsys):
    assert main(["compare", AUTO, "--scenario", BASE, "--scenario", STRESS]) == 0
    out = capsys.readouterr().out
    table = ae.compare([BASE, STRESS], deal=AUTO)
    assert "auto_base" in out and "auto_stress" in out
    assert f"{table.loc[('D', 'loss'), 'auto_stress']:.4%}" in out
    assert main(["compare", AUTO, "--scenario", BASE, "--scenario", STRESS, "--out", str(tmp_path / "c.csv")]) == 0
    import pandas as pd

    back = pd.read_csv(tmp_path / "c.csv", index_col=[0, 1])
    assert back.loc[("A-1", "wal"), "auto_stress"] == pytest.approx(table.loc[("A-1", "wal"), "auto_stress"])
    # a deck adds each of its scenarios as a column
    assert main(["compare", AUTO, "--scenario", BASE, "--scenario", str(ROOT / "scenarios/auto_grid.yaml"),
                 "--out", str(tmp_path / "g.json")]) == 0
    rows = json.loads((tmp_path / "g.json").read_text())
    assert len(rows[0]) == 2 + 1 + 24  # tranche, metric, the base and the grid's 24 scenarios


def test_explain_prints_the_tree_and_draws_the_diagram(tmp_path, capsys):
    assert main(["explain", AUTO, "--diagram", str(tmp_path / "d.mmd")]) == 0
    out = capsys.readouterr().out
    assert out.startswith(ae.load_deal(AUTO).describe())
    assert (tmp_path / "d.mmd").read_text().startswith("flowchart TB")
    assert main(["explain", AUTO, "--diagram", str(tmp_path / "d.pdf")]) == 2
    assert "a file ending in .dot" in capsys.readouterr().err and not (tmp_path / "d.pdf").exists()


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["waterfall"][1].update(tranches=["A-1", "A-2a", "A-2b", "A3", "A-4"]), "did you mean 'A-3'?"),
    (lambda d: d.update(overcolateralization=d.pop("overcollateralization")), "did you mean 'overcollateralization'?"),
    (lambda d: d["accounts"][0].update(covers=["senior-fee"]), "did you mean 'senior-fees'?"),
    (lambda d: d["tranches"][0].update(cupon=d["tranches"][0].pop("coupon")), "did you mean 'coupon'?"),
])
def test_mistyped_keys_and_names_get_a_suggestion(tmp_path, capsys, change, message):
    deal = yaml.safe_load(Path(AUTO).read_text())
    change(deal)
    path = tmp_path / "deal.yaml"
    path.write_text(yaml.safe_dump(deal))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"abs-engine: error: {path}: ") and err.strip().endswith(message)


def test_a_deal_whose_notes_exceed_its_pool_warns_and_runs(tmp_path, capsys):
    deal = yaml.safe_load(Path(AUTO).read_text())
    deal["tranches"][0]["balance"] = 130_000_000  # notes 505,000,000 on a pool of 500,000,000
    path = tmp_path / "deal.yaml"
    path.write_text(yaml.safe_dump(deal))
    assert ae.SpecWarning is SpecWarning  # users filter it by ae.SpecWarning
    with pytest.warns(SpecWarning, match="under-collateralized") as caught:
        ae.load_deal(path)
    assert "505,000,000.00" in str(caught[0].message) and "500,000,000.00" in str(caught[0].message)
    assert main(["run", str(path), "--scenario", BASE, "--out", str(tmp_path / "r.json")]) == 0
    err = capsys.readouterr().err
    assert err.startswith(f"abs-engine: warning: {path}: the notes' balance at closing (505,000,000.00) exceeds")
    # the shipped examples are all collateralized: no warning
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for example in sorted((ROOT / "tranches").glob("*.yaml")):
            ae.load_deal(example)


def test_py_typed_ships():
    assert (Path(ae.__file__).parent / "py.typed").exists()
    assert '"py.typed"' in (ROOT / "pyproject.toml").read_text()


def test_dir_offers_the_whole_api():
    names = dir(ae)
    for name in ("Servicer", "settle", "breakevens", "compare", "plots", "SummaryResult", "run_bot"):
        assert name in names and getattr(ae, name) is not None
