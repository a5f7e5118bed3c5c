"""A table for the scenarios and columns asked equals that part of the whole table; bad requests
are one clear error."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import abs_engine as ae
from abs_engine.results.tables import RunResult

ROOT = Path(__file__).resolve().parents[2]
_RUNS: dict[str, ae.RunResult] = {}


def _run(deal: str, scenarios: str) -> ae.RunResult:
    """A run kept for the module (the whole tables are the oracle)."""
    key = deal + scenarios
    if key not in _RUNS:
        _RUNS[key] = ae.run(ROOT / "tranches" / deal, ROOT / "scenarios" / scenarios)
    return _RUNS[key]


@settings(max_examples=40, deadline=None)
@given(data=st.data(), case=st.sampled_from([("auto_prime_abs.yaml", "auto_grid.yaml"),
                                             ("nonagency_rmbs.yaml", "mortgage_grid.yaml")]))
def test_a_table_of_some_scenarios_and_columns_is_that_part_of_the_whole(data, case):
    res = _run(*case)
    name = data.draw(st.sampled_from([t for t in RunResult.TABLES if t == "pool" or getattr(res.deal, t, True)]),
                     label="table")
    whole = getattr(res, name)
    names = res.program.scenarios.names
    picks = data.draw(st.lists(st.integers(0, len(names) - 1), min_size=1, max_size=5, unique=True), label="rows")
    by_name = data.draw(st.booleans(), label="by name")
    columns = data.draw(st.lists(st.sampled_from(list(whole.columns)), min_size=1, unique=True), label="columns")
    part = res.table(name, scenarios=[names[j] if by_name else j for j in picks], columns=columns)
    expected = whole.loc[[names[j] for j in picks], columns]
    pd.testing.assert_frame_equal(part, expected, check_exact=True, check_index_type=False)


def test_every_table_of_every_scenario_is_the_property():
    res = _run("auto_prime_abs.yaml", "auto_grid.yaml")
    for name in RunResult.TABLES:
        pd.testing.assert_frame_equal(res.table(name), getattr(res, name), check_exact=True)


def test_a_single_scenario_run_keeps_its_index():
    res = ae.run(ROOT / "tranches/auto_prime_abs.yaml", ROOT / "scenarios/auto_base.yaml")
    pd.testing.assert_frame_equal(res.table("tranches", scenarios=[0], columns=["ending_balance"]),
                                  res.tranches[["ending_balance"]], check_exact=True)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"name": "tranche"}, "table"),
    ({"name": "pool", "columns": ["balance"]}, "columns"),
    ({"name": "pool", "columns": []}, "columns"),
    ({"name": "pool", "scenarios": ["no such scenario"]}, "scenarios"),
    ({"name": "pool", "scenarios": [10_000]}, "scenarios"),
    ({"name": "pool", "scenarios": [0, 0]}, "scenarios"),
])
def test_a_bad_request_names_what_was_asked(kwargs, field):
    res = _run("auto_prime_abs.yaml", "auto_grid.yaml")
    with pytest.raises(ae.SpecError) as info:
        res.table(**kwargs)
    assert info.value.field == field
