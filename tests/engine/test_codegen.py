"""The generated waterfall period of summary runs (abs_engine.engine.codegen): every branch the generator
can write gives the interpreter's numbers; a structure's period is written once, to the cache
directory, and shared by deals that differ only in numbers."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest

import abs_engine as ae
from abs_engine.compile.collateral import compile_collateral
from abs_engine.compile.waterfall import compile_waterfall
from abs_engine.engine import codegen
from abs_engine.io.loading import load_deck

from ..results.test_scale_and_plots import assert_same_summaries

ROOT = Path(__file__).resolve().parents[2]

# Every kind of item and step the generator has a branch for: fees on each basis, a fixed fee and
# a share of interest; two accounts (a percentage target with a floor, a fixed one kept after the
# notes are paid) covering interest steps; triggers on all four metrics, curable or not, with a
# schedule; an OC target with a step-down blocked by a trigger; pro-rata principal switched to
# sequential by a trigger; collections, OC-target and available-funds principal amounts;
# interest on shortfall; a floating ACT/360 note; writedowns covered by the accounts; a call.
EVERY_BRANCH = {
    "name": "every branch", "closing_date": "2026-01-10", "first_payment_date": "2026-02-15",
    "collateral": {"rep_lines": [
        {"name": "new", "balance": 1.0e8, "wac": 0.07, "net_coupon": 0.065, "wam": 60},
        {"name": "seasoned", "balance": 5.0e7, "wac": 0.06, "net_coupon": 0.055, "wam": 36, "age": 12,
         "original_term": 48}]},
    "tranches": [
        {"name": "A1", "balance": 6.0e7, "coupon": 0.04, "priority": 1},
        {"name": "A2", "balance": 4.0e7, "coupon": {"index": "SOFR", "spread": 0.01}, "day_count": "ACT/360",
         "priority": 1},
        {"name": "M", "balance": 2.0e7, "coupon": 0.06, "priority": 2, "interest_on_shortfall": True},
        {"name": "B", "balance": 1.5e7, "coupon": 0.08, "priority": 3},
        {"name": "R", "residual": True}],
    "fees": [{"name": "servicer", "rate": 0.005}, {"name": "trustee", "rate": 0.0002, "basis": "original_pool_balance"},
             {"name": "admin", "rate": 0.001, "basis": "note_balance"}, {"name": "protocol", "interest_share": 0.02},
             {"name": "fixed", "amount": 1000.0}],
    "accounts": [{"name": "reserve", "initial": 1.0e6, "target": {"pct": 0.01, "floor": 5.0e5},
                  "covers": ["senior-fees", "senior-interest"]},
                 {"name": "liquidity", "initial": 2.0e5, "target": 2.0e5, "keep_after_notes_paid": True,
                  "covers": ["m-interest"]}],
    "triggers": [{"name": "loss", "metric": "cumulative_loss", "threshold": {1: 0.01, 24: 0.02}, "curable": False},
                 {"name": "oc", "metric": "overcollateralization", "threshold": 1.05},
                 {"name": "dq", "metric": "delinquency_60", "threshold": 0.05},
                 {"name": "ic", "metric": "interest_coverage", "threshold": 1.2}],
    "overcollateralization": {"pct": 0.05, "basis": "pool_balance", "floor": 1.0e6,
                              "step_down": {"period": 12, "pct": 0.03, "unless": "loss"}},
    "clean_up_call": {"pct": 0.10},
    "writedown_to": "pool_balance_plus_accounts",
    "waterfall": {
        "interest": [
            {"id": "senior-fees", "pay": "fees", "fees": ["servicer", "trustee", "admin", "protocol", "fixed"]},
            {"id": "senior-interest", "pay": "interest", "tranches": ["A1", "A2"]},
            {"id": "m-interest", "pay": "interest", "tranches": ["M"]},
            {"pay": "interest", "tranches": ["B"]},
            {"pay": "reserve", "account": "reserve"},
            {"pay": "principal", "tranches": ["A1", "A2", "M", "B"], "amount": "oc_target"}],
        "principal": [
            {"pay": "principal", "tranches": ["A1", "A2"], "amount": "collections", "allocation": "pro_rata",
             "sequential_if": "oc"},
            {"pay": "principal", "tranches": ["M", "B"], "amount": "available"},
            {"pay": "reserve", "account": "liquidity"},
            {"pay": "residual", "tranche": "R"}]},
}

DECK = [
    {"name": "base", "prepay": {"cpr": 0.10}, "default": {"cdr": 0.02}, "severity": 0.4, "recovery_lag": 3,
     "rates": {"SOFR": 0.04}, "delinquency_60": 0.02},
    {"name": "stress", "prepay": {"cpr": 0.05}, "default": {"cdr": 0.15}, "severity": 0.6, "recovery_lag": 6,
     "rates": {"SOFR": 0.06}, "delinquency_60": 0.08, "exercise_call": False},
    {"name": "fast", "prepay": {"cpr": 0.40}, "default": {"cdr": 0.0}, "severity": 0.3, "recovery_lag": 0,
     "rates": {"SOFR": 0.03}, "advancing": True},
    {"name": "wipeout", "prepay": {"cpr": 0.0}, "default": {"cdr": 0.60}, "severity": 1.0, "recovery_lag": 2,
     "rates": {"SOFR": 0.05}, "delinquency_60": 0.2},
]


def test_every_generated_branch_gives_the_interpreters_numbers():
    full = ae.run(EVERY_BRANCH, DECK)
    breached = full.triggers["breached"].groupby(level="trigger").max()
    assert breached.all(), breached  # every trigger fires in some scenario, so every branch is exercised
    assert (full.tranches["writedown"] > 0).any() and (full.cash["call_proceeds"] > 0).any()
    assert_same_summaries(ae.run(EVERY_BRANCH, DECK, summary_only=True, progress=False), full)


def _structure(deal):
    """``(number of rate classes, each loan's class)`` and the waterfall structure of a deal."""
    deal = ae.load_deal(deal)
    deck = load_deck({"prepay": {"abs": 1.5}, "rates": {"SOFR": 0.04}})
    program = compile_collateral(deal, deck)
    structure = compile_waterfall(deal, deck, program.n_periods, program.original_balance).structure()
    return (1 + int(program.cls.max()), tuple(int(c) for c in program.cls)), structure


def test_deals_that_differ_in_numbers_share_a_period_and_structures_do_not():
    auto = ROOT / "tranches/auto_prime_abs.yaml"
    import yaml

    base = yaml.safe_load(auto.read_text())
    numbers = copy.deepcopy(base)
    numbers["tranches"][0]["coupon"] = 0.05
    numbers["fees"][0]["amount"] = 9999.0
    numbers["accounts"][0]["target"] = 2.0e6
    numbers["overcollateralization"]["pct"] = 0.04
    other = copy.deepcopy(base)
    other["waterfall"][5]["allocation"] = "pro_rata"
    pool, structure = _structure(base)
    key = codegen.structure_key(structure)
    assert codegen.structure_key(_structure(numbers)[1]) == key
    assert codegen.structure_key(_structure(other)[1]) != key
    assert codegen.kernel_source(pool, key) == codegen.kernel_source(pool, key)  # the same file, every time


def test_a_period_is_written_once_to_the_cache_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("ABS_ENGINE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(codegen, "_LOADED", {})
    (n_cls, cls), structure = _structure(ROOT / "tranches/onchain_private_credit.yaml")
    period = codegen.summary_period(n_cls, cls, structure)
    files = list((tmp_path / "kernels").glob("abs_engine_summaries_*.py"))
    assert len(files) == 1
    assert files[0].read_text() == codegen.kernel_source((n_cls, cls), codegen.structure_key(structure))
    assert codegen.summary_period(n_cls, cls, structure) is period  # loaded once per process
    stamp = files[0].stat().st_mtime_ns
    monkeypatch.setattr(codegen, "_LOADED", {})
    codegen.summary_period(n_cls, cls, structure)  # a new process: the file is reused, not rewritten
    assert files[0].stat().st_mtime_ns == stamp


@pytest.mark.parametrize("bad", ["", "/proc/this/does/not/exist"])
def test_an_unwritable_cache_directory_falls_back_to_a_temporary_one(bad, monkeypatch):
    monkeypatch.setenv("ABS_ENGINE_CACHE_DIR", bad)
    monkeypatch.setenv("HOME", "/proc/nope")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    path = codegen.cache_dir()
    assert path.is_dir() and path.name == "kernels"


def test_a_pool_of_more_loans_than_are_written_out_loops_over_them():
    """Pools of more than ``codegen.UNROLL`` loans get a loop over loans in the generated month
    (scalar), not one block per loan: the same numbers either way."""
    import yaml

    deal = yaml.safe_load((ROOT / "tranches/auto_prime_abs.yaml").read_text())
    lines = deal["collateral"]["rep_lines"]
    n = codegen.UNROLL + 4
    deal["collateral"]["rep_lines"] = [
        {**lines[k % len(lines)], "name": f"line-{k}", "balance": 5.0e8 / n, "wac": 0.05 + 0.002 * k,
         "wam": lines[k % len(lines)]["wam"] - k} for k in range(n)]
    deck = ROOT / "scenarios/auto_grid.yaml"
    assert_same_summaries(ae.run(deal, deck, summary_only=True, progress=False), ae.run(deal, deck))


def test_the_cache_is_private_or_not_used(tmp_path, monkeypatch):
    """Generated code is imported from the cache: a folder created for it is 0700; one that another
    user could write to (group/other write, or its parent) is never used, nor the shared
    /tmp/abs_engine-<uid> of earlier versions; the fallback is a fresh private folder."""
    import stat

    monkeypatch.setattr(codegen, "_FALLBACK", None)
    monkeypatch.setenv("ABS_ENGINE_CACHE_DIR", str(tmp_path / "mine"))
    path = codegen.cache_dir()
    assert path == tmp_path / "mine" / "kernels"
    assert stat.S_IMODE(path.stat().st_mode) == 0o700 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    shared = tmp_path / "shared"
    (shared / "kernels").mkdir(parents=True)
    os.chmod(shared / "kernels", 0o777)             # what an attacker would prepare
    monkeypatch.setenv("ABS_ENGINE_CACHE_DIR", str(shared))
    monkeypatch.setenv("HOME", "/proc/nope")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    fallback = codegen.cache_dir()
    assert fallback != shared / "kernels" and not str(fallback).startswith(str(shared))
    assert stat.S_IMODE(fallback.stat().st_mode) == 0o700 and stat.S_IMODE(fallback.parent.stat().st_mode) == 0o700
    assert codegen.cache_dir() == fallback          # one fallback per process
    os.chmod(shared / "kernels", 0o700)
    os.chmod(shared, 0o777)                          # a writable parent could swap the folder
    assert codegen.cache_dir() == fallback
