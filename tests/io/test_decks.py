"""Scenario decks: grids, Monte Carlo and ramps; bitwise agreement of a grid with single runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

import abs_engine as ae
from abs_engine.io.decks import short_rate_paths
from abs_engine.spec.deck import ShortRateModel

ROOT = Path(__file__).resolve().parents[2]


def test_grid_is_the_cartesian_product_with_named_scenarios():
    scenarios = ae.load_deck(ROOT / "scenarios/auto_grid.yaml")
    assert len(scenarios) == 3 * 4 * 2
    names = [s.name for s in scenarios]
    assert len(set(names)) == len(names)
    assert names[0] == "abs=1.0 cdr=0.0 severity=0.45"
    assert all(s.recovery_lag == 3 and s.rates == {"SOFR": 0.043} for s in scenarios)  # from base


@pytest.mark.parametrize(("deal", "deck"), [("tranches/auto_prime_abs.yaml", "scenarios/auto_grid.yaml"),
                                            ("tranches/nonagency_rmbs.yaml", "scenarios/ramps.yaml")])
def test_a_grids_scenario_k_equals_a_single_run_exactly(deal, deck):
    grid = ae.run(ROOT / deal, ROOT / deck)
    scenarios = ae.load_deck(ROOT / deck)
    for k in (0, len(scenarios) // 2, len(scenarios) - 1):
        single = ae.run(ROOT / deal, scenarios[k])
        np.testing.assert_array_equal(grid.flows[k], single.flows[0])
        np.testing.assert_array_equal(grid.waterfall.tranches[k], single.waterfall.tranches[0])
        name = scenarios[k].name
        assert grid.tranches.loc[name].equals(single.tranches)


def test_grid_results_have_a_scenario_level():
    res = ae.run(ROOT / "tranches/auto_prime_abs.yaml", ROOT / "scenarios/auto_grid.yaml")
    assert res.pool.index.names == ["scenario", "period"]
    assert res.tranches.index.names == ["scenario", "period", "tranche"]
    assert res.summary().index.names == ["scenario", "tranche"]
    assert res.check().abs().to_numpy().max() < 1e-6


def test_monte_carlo_is_reproducible_from_its_seed():
    a = ae.load_deck(ROOT / "scenarios/monte_carlo.yaml")
    b = ae.load_deck(ROOT / "scenarios/monte_carlo.yaml")
    assert a == b and len(a) == 500 and a[0].name == "path-00000"
    spec = yaml.safe_load((ROOT / "scenarios/monte_carlo.yaml").read_text())
    spec["monte_carlo"]["seed"] += 1
    c = ae.load_deck(spec)
    assert [s.prepay.cpr for s in c] != [s.prepay.cpr for s in a]
    cpr = np.array([s.prepay.cpr for s in a])
    assert abs(cpr.mean() - 0.10) < 0.01 and abs(cpr.std() - 0.04) < 0.01  # lognormal with mean 10%, sd 4%
    sev = np.array([s.severity for s in a])
    assert sev.min() >= 0 and sev.max() <= 1


def test_vasicek_and_hull_white_means():
    rng = np.random.default_rng(1)
    # Vasicek: E[r_t] = theta + (r0 - theta) e^(-kappa t); Var = sigma^2 (1 - e^(-2 kappa t)) / (2 kappa)
    v = ShortRateModel(model="vasicek", r0=0.05, kappa=0.5, theta=0.03, sigma=0.01, months=60)
    paths = short_rate_paths(v, rng, 40_000)
    t = np.arange(1, 61) / 12
    mean = 0.03 + 0.02 * np.exp(-0.5 * t)
    sd = 0.01 * np.sqrt((1 - np.exp(-t)) / 1.0)
    assert np.abs(paths.mean(axis=0) - mean).max() < 4 * sd.max() / np.sqrt(40_000)
    assert np.abs(paths.std(axis=0) / sd - 1).max() < 0.03
    # Hull-White on a flat curve: E[r_t] = r0 + sigma^2/(2 kappa^2) (1 - e^(-kappa t))^2
    hw = ShortRateModel(model="hull_white", r0=0.04, kappa=0.1, sigma=0.012, months=60)
    paths = short_rate_paths(hw, rng, 40_000)
    mean = 0.04 + 0.012 ** 2 / (2 * 0.1 ** 2) * (1 - np.exp(-0.1 * t)) ** 2
    assert np.abs(paths.mean(axis=0) - mean).max() < 5e-4


def test_ramps_become_vectors():
    s = ae.load_deck(ROOT / "scenarios/ramps.yaml")
    assert s[0].prepay.cpr[:3] == pytest.approx((0.02, 0.02 + 0.06 / 23, 0.02 + 0.12 / 23))
    assert len(s[0].prepay.cpr) == 24 and s[0].prepay.cpr[-1] == pytest.approx(0.08)
    assert s[1].severity == pytest.approx((0.4, 0.45, 0.5, 0.55, 0.6, 0.65))


@pytest.mark.parametrize(("deck", "field", "expected"), [
    ({"monte_carlo": {"paths": 10, "seed": 1, "severity": {"distribution": "cauchy", "low": 0, "high": 1}}},
     "monte_carlo.severity.distribution", "'uniform', 'normal', 'lognormal' or 'triangular'"),
    ({"monte_carlo": {"paths": 10, "seed": 1, "rates": {"SOFR": {"model": "vasicek", "r0": 0.04, "kappa": 0.2,
                                                                 "theta": 0.03, "sigma": -0.01}}}},
     "monte_carlo.rates.SOFR.sigma", "a volatility >= 0"),
    ({"monte_carlo": {"paths": 10, "seed": 1, "severity": {"distribution": "normal", "mean": 0.4, "sd": -0.1}}},
     "monte_carlo.severity.sd", "a standard deviation >= 0"),
    ({"grid": {"prepay": [], "severity": [0.3]}}, "grid.prepay", "a non-empty list of values for this axis"),
    ({"grid": {"default": [{"cdr": [0.01, float("nan")]}]}}, "grid.default[0].cdr", "element 1 is nan"),
    ({"grid": {"severity": [0.3, 1.4]}}, "grid.severity[1]", "a decimal in [0, 1]"),
    ({"grid": {"severity": [0.3]}, "monte_carlo": {"paths": 1, "seed": 1}}, "", "exactly one of scenarios, grid"),
])
def test_bad_decks(tmp_path, deck, field, expected):
    path = tmp_path / "deck.yaml"
    path.write_text(yaml.safe_dump(deck))
    with pytest.raises(ae.SpecError) as info:
        ae.load_deck(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: {field + ': ' if field else ''}got"), msg
    assert expected in msg, msg
