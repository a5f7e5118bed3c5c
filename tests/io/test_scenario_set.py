"""Scenario sets: a deck as columns behaves as the tuple of scenarios it stands for, and a large
grid costs arrays, not objects."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

import abs_engine as ae
from abs_engine.io.scenario_set import ScenarioSet, unique_names
from abs_engine.spec.base import validate_spec

ROOT = Path(__file__).resolve().parents[2]
GRID = {"base": {"severity": 0.4, "recovery_lag": 2, "rates": {"SOFR": 0.04}},
        "grid": {"prepay": [{"cpr": 0.05}, {"abs": 1.5}, {"psa": 150}],
                 "default": [{"cdr": 0.01}, {"sda": 100}],
                 "rates": [{"SOFR": 0.03}, {"SOFR": [0.02, 0.05]}]}}


def _by_hand(deck: dict) -> list[ae.Scenario]:
    """The grid's scenarios one by one: base, then each axis value, the first axis slowest."""
    g = deck["grid"]
    return [validate_spec(ae.Scenario, {**deck["base"], "prepay": p, "default": d, "rates": r})
            for p in g["prepay"] for d in g["default"] for r in g["rates"]]


def test_a_grid_set_holds_the_same_scenarios_as_building_them_one_by_one():
    s = ae.load_deck(GRID)
    assert isinstance(s, ScenarioSet) and len(s) == 12
    expected = _by_hand(GRID)
    for k, scen in enumerate(s):
        for field in ("prepay", "default", "severity", "recovery_lag", "advancing", "rates", "delinquency_60",
                      "exercise_call"):
            assert getattr(scen, field) == getattr(expected[k], field), (k, field)
    assert len(s.values["prepay"]) == 3 and len(s.values["severity"]) == 1  # distinct values, kept once
    assert s.names[0] == "cpr=0.05 cdr=0.01 SOFR=0.03" and s.names[1] == "cpr=0.05 cdr=0.01 SOFR[1]" and len(set(s.names)) == 12


def test_a_grid_axis_that_repeats_a_value_still_gives_unique_names():
    # a grid's names are only taken as unique when every axis's labels are distinct
    s = ae.load_deck({"grid": {"severity": [0.3, 0.3], "recovery_lag": [1, 2]}})
    assert s.names == ("severity=0.3 recovery_lag=1-0", "severity=0.3 recovery_lag=2-1",
                       "severity=0.3 recovery_lag=1-2", "severity=0.3 recovery_lag=2-3")
    assert s[1:3].names == s.names[1:3]
    assert s[[0, 0]].names == (s.names[0] + "-0", s.names[0] + "-1")  # positions may repeat a scenario


def test_slices_and_positions_are_sets_that_share_the_values():
    s = ae.load_deck(GRID)
    part = s[3:9:2]
    assert isinstance(part, ScenarioSet) and len(part) == 3
    assert [x.name for x in part] == [s[3].name, s[5].name, s[7].name]
    assert part.values is s.values
    assert s[np.array([11, 0])].names == (s.names[11], s.names[0])
    assert s[-1] == s[11]
    with pytest.raises(IndexError):
        s[12]


def test_a_set_of_given_scenarios_round_trips_and_repeated_names_are_made_unique():
    given = [ae.Scenario(name="a"), ae.Scenario(name="a", severity=0.3), ae.Scenario()]
    s = ScenarioSet.of(given)
    assert s.names == ("a-0", "a-1", "scenario-2")  # as a run names them: unique within the set
    assert s == [g.model_copy(update={"name": n}) for g, n in zip(given, s.names, strict=True)]
    assert unique_names(["x", "y"]) == ("x", "y")


def test_a_run_on_a_set_equals_a_run_on_its_scenarios():
    deal = ROOT / "tranches/auto_prime_abs.yaml"
    s = ae.load_deck({**GRID, "base": {**GRID["base"], "rates": {"SOFR": 0.04}}})
    a = ae.run(deal, s)
    b = ae.run(deal, list(s))
    np.testing.assert_array_equal(a.flows, b.flows)
    np.testing.assert_array_equal(a.waterfall.tranches, b.waterfall.tranches)


def test_a_million_scenario_grid_is_arrays_not_objects():
    deck = {"grid": {"prepay": [{"cpr": x / 1000} for x in range(1000)],
                     "default": [{"cdr": x / 10000} for x in range(1000)]}}
    t = time.perf_counter()
    s = ae.load_deck(deck)
    elapsed = time.perf_counter() - t
    assert len(s) == 1_000_000
    assert s.rows["prepay"].nbytes == 8_000_000 and len(s.values["prepay"]) == 1000
    assert elapsed < 5.0  # 2,000 axis values validated; 10^6 scenario objects would take minutes
    assert s[999_999].prepay.cpr == 0.999 and s[999_999].default.cdr == 0.0999


def test_a_monte_carlo_draw_that_is_not_finite_is_refused_naming_the_field():
    # normal(mean 1e308, sd 1e308) overflows to inf for about a third of the draws: a speed no
    # scenario may have (a scenario with psa: .inf is refused the same way)
    deck = {"monte_carlo": {"paths": 50, "seed": 1,
                            "prepay": {"psa": {"distribution": "normal", "mean": 1e308, "sd": 1e308}}}}
    with pytest.raises(ae.SpecError, match=r"monte_carlo\.prepay\.psa"):
        ae.load_deck(deck)
