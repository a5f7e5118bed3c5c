"""Waterfall benchmarks (issue: the waterfall adds at most the collateral kernel's time per
scenario-period over 10,000 scenarios; compiling a deal spec takes at most 50 ms).

Both sides are timed from compiled arrays to kernel output: rate tables and layout included for
the collateral, pool hand-off and state included for the waterfall.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

import abs_engine as ae
from abs_engine.engine.collateral import project_collateral
from abs_engine.engine.waterfall import pool_inputs, run_waterfall
from abs_engine.io.loading import read_structured_file
from abs_engine.spec.base import validate_spec

from .conftest import FULL, size

ROOT = Path(__file__).resolve().parents[1]


def _scenarios(n: int) -> list[ae.Scenario]:
    rng = np.random.default_rng(3)
    return [ae.Scenario.model_validate({"prepay": {"abs": float(a)}, "default": {"cdr": float(c)}, "severity": 0.5,
                                        "recovery_lag": int(lag), "rates": {"SOFR": float(r)}})
            for a, c, lag, r in zip(rng.uniform(0.5, 2.5, n), rng.uniform(0.0, 0.1, n), rng.integers(2, 5, n),
                                    rng.uniform(0.02, 0.06, n), strict=True)]


def _best(fn, rounds: int) -> float:
    fn()  # warm
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def test_waterfall_vs_collateral_per_scenario_period(benchmark, report):
    n = size(10_000, 256)
    deal = ae.load_deal(ROOT / "tranches/auto_prime_abs.yaml")
    scenarios = _scenarios(n)
    program = ae.compile_deal(deal, scenarios)
    flows = project_collateral(program.collateral)
    pool = pool_inputs(flows, *program.start_balances)
    rounds = 5 if FULL else 2

    collateral_s = _best(lambda: project_collateral(program.collateral), rounds)
    benchmark.pedantic(lambda: run_waterfall(program.waterfall, pool, program.initial_state()), rounds=rounds,
                       iterations=1, warmup_rounds=1)
    waterfall_s = benchmark.stats.stats.min
    sp = n * program.n_periods
    benchmark.extra_info.update(collateral_ns_per_sp=collateral_s / sp * 1e9,
                                waterfall_ns_per_sp=waterfall_s / sp * 1e9)
    report(f"auto deal, {n:,} scenarios x {program.n_periods} months ({sp:,} scenario-periods)",
           f"collateral: {collateral_s:.3f} s = {collateral_s / sp * 1e9:.0f} ns per scenario-period",
           f"waterfall : {waterfall_s:.3f} s = {waterfall_s / sp * 1e9:.0f} ns per scenario-period "
           f"({waterfall_s / collateral_s:.2f}x the collateral)")
    if FULL:
        assert waterfall_s <= collateral_s


def test_compile_a_deal_spec(report):
    path = ROOT / "tranches/auto_prime_abs.yaml"
    scenario = ae.load_scenario(ROOT / "scenarios/auto_base.yaml")
    data = read_structured_file(path)

    def compile_once():
        deal = validate_spec(ae.Deal, data, str(path))
        ae.compile_deal(deal, [scenario])

    best = _best(compile_once, 20)
    report(f"compile the auto deal spec (validate + collateral + waterfall arrays): {best * 1e3:.2f} ms")
    assert best <= 0.05
