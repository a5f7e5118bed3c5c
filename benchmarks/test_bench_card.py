"""The card trust under a 100 x 100 grid (issue 17: monthly payment rate x charge-off rate, 120
months, summaries only), end to end as a user runs it: from the deck file as written
(``scenarios/card_grid.yaml``) to the summary table read, beside a plain numpy implementation of
the same series (vectorized over scenarios, a loop over months) in the same run, its totals,
WAL and yields asserted equal to the engine's. About a third of the grid's scenario-periods come
before its series is paid (the rest are months to the legal final in which nothing moves); the
figure is given both ways.

Full figures: ``ABS_BENCH_FULL=1 pytest benchmarks/test_bench_card.py -s``; without it, a
10 x 10 grid (a smoke test).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np

import abs_engine as ae
from abs_engine.results.analytics import yield_from_price

from .conftest import FULL, report  # noqa: F401  (the fixture)

ROOT = Path(__file__).resolve().parents[1]
DEAL = ROOT / "tranches/card_trust.yaml"
DECK = ROOT / "scenarios/card_grid.yaml"


def card_numpy(deal: ae.Deal, mpr: np.ndarray, yld: np.ndarray, co: np.ndarray, pr: np.ndarray, n: int) -> dict:
    """CONVENTIONS R2.9 in plain numpy: arrays over scenarios (``[scenario]`` rates, constant in
    time), a loop over months. Returns the certificates' totals, WAL and cash flows."""
    s = deal.series
    k = mpr.size
    r = np.full(k, float(deal.collateral.receivables))
    inv = np.full(k, float(s.invested_amount))
    pfa, deficit, short, fixed, early = (np.zeros(k) for _ in range(5))
    es = np.zeros((3, k))
    caa = np.zeros(k)
    cf = np.zeros((k, n))
    paid_total, weighted, interest_total, wd_total = (np.zeros(k) for _ in range(4))
    for t in range(1, n + 1):
        live = (inv > 0) | (pfa > 0)
        if not live.any():  # every series paid: nothing more to compute (as the engine stops its blocks)
            break
        amort = (early > 0) | (t > s.revolving_months + s.accumulation_months)
        acc = ~amort & (t > s.revolving_months)
        rev = ~amort & ~acc
        if t == s.revolving_months + 1:
            caa = inv / s.accumulation_months
        floating = np.where(r > 0, inv / np.where(r > 0, r, 1.0), 0.0)
        pc, fc, chg = mpr * r, yld / 12 * r, co / 12 * r
        r_new = r - pc - chg + pr * pc
        ifc, idr = floating * fc, floating * chg
        ipc = np.where(rev, floating, fixed) * pc
        current = s.coupon / 12 * inv
        due = current + short
        paid_i = np.minimum(ifc, due)
        left = ifc - paid_i
        sh = due - paid_i
        sh = np.where(sh >= 1e-6, sh, 0.0)
        fee = s.servicing_fee / 12 * inv
        left -= np.minimum(left, fee)
        covered = np.minimum(left, idr)
        rate = np.where(inv > 0, 12 * (ifc - idr - current - fee) / np.where(inv > 0, inv, 1.0), 0.0)
        i1 = inv - (idr - covered)
        i1 = np.where(i1 >= 1e-6, i1, 0.0)
        principal = ipc + covered
        want = np.minimum(caa + deficit, np.maximum(i1 - pfa, 0.0))
        deposit = np.where(acc, np.minimum(principal, want), 0.0)
        pfa1 = pfa + deposit
        last_acc = t == s.revolving_months + s.accumulation_months
        acc_pay = np.minimum(pfa1, i1) if last_acc else np.zeros(k)
        pay = np.where(acc, acc_pay, np.where(amort, np.minimum(principal + pfa, i1), 0.0))
        pfa1 = np.where(acc & (not last_acc), pfa1, 0.0)
        d1 = np.where(acc, want - deposit, deficit)
        i1 = i1 - pay
        i1 = np.where(i1 >= 1e-6, i1, 0.0)
        es = np.roll(es, 1, axis=0)
        es[0] = rate
        avg = es[: min(t, 3)].sum(axis=0) / min(t, 3)
        hit = ~amort & live & (avg < 0)
        r_end = np.where(live, r_new, r)
        set_f = rev & (hit | (t == s.revolving_months))
        f1 = np.where(set_f, np.where(r_end > 0, i1 / np.where(r_end > 0, r_end, 1.0), 0.0), fixed)
        paid = pay * live
        cf[:, t - 1] = (paid_i * live + paid) * 100.0 / s.invested_amount
        interest_total += paid_i * live
        wd_total += (idr - covered) * live
        paid_total += paid
        weighted += t * paid
        r = r_end
        inv, pfa, deficit, short, fixed = (np.where(live, a, b) for a, b in ((i1, inv), (pfa1, pfa), (d1, deficit),
                                                                          (sh, short), (f1, fixed)))
        early = np.maximum(early, hit)
        es[0] = np.where(live, es[0], es[1])  # (a paid-off series keeps its history as it stood)
    return {"total_interest": interest_total, "total_principal": paid_total, "total_writedown": wd_total,
            "wal": np.where(paid_total > 0, weighted / (12 * np.where(paid_total > 0, paid_total, 1.0)), np.nan),
            "cf": cf}


def _small_deck(tmp):
    """A 10 x 10 version of the deck, as a file (the smoke run)."""
    lines = DECK.read_text().splitlines()
    mpr = "[" + ", ".join(f"{x:.4f}" for x in np.linspace(0.08, 0.30, 10)) + "]"
    co = "[" + ", ".join(f"{x:.4f}" for x in np.linspace(0.02, 0.20, 10)) + "]"
    text = "\n".join(x for x in lines if x.startswith(("#", "base", "grid"))) + \
        f"\n  payment_rate: {mpr}\n  charge_off_rate: {co}\n"
    path = Path(tmp) / "card_grid_small.yaml"
    path.write_text(text)
    return path


def test_card_grid_end_to_end_vs_numpy(report, tmp_path):  # noqa: F811
    deck = DECK if FULL else _small_deck(tmp_path)
    deal = ae.load_deal(DEAL)
    ae.run(deal, deck, summary_only=True).summary()  # warm: compiled code loaded, pandas imported
    times = []
    for _ in range(7 if FULL else 2):
        t = time.perf_counter()
        summary = ae.run(DEAL, deck, summary_only=True).summary()  # from the files as written to the table
        times.append(time.perf_counter() - t)
    engine_s = statistics.median(times)
    n = deal.series.legal_final_months
    k = len(summary)

    scen = ae.load_deck(deck)
    mpr = np.array([s.payment_rate for s in scen])
    co = np.array([s.charge_off_rate for s in scen])
    t = time.perf_counter()
    base = card_numpy(deal, mpr, np.full(k, 0.19), co, np.ones(k), n)
    yields = yield_from_price(base["cf"], 100.0)
    numpy_s = time.perf_counter() - t
    for col in ("total_interest", "total_principal", "total_writedown", "wal"):
        np.testing.assert_allclose(summary[col].to_numpy(float), base[col], rtol=1e-9, atol=1e-6, err_msg=col)
    np.testing.assert_allclose(summary["yield"].to_numpy(float), yields, rtol=1e-9, atol=1e-12)

    sp = k * n
    live = int(summary["last_principal_period"].sum())  # the months before each series is paid off
    report(f"card trust grid: {k:,} scenarios x {n} months, summaries only, end to end (deck file -> table)",
           f"live   : {live:,} of the {sp:,} scenario-periods ({live / sp:.0%}) come before the series is paid",
           f"engine : {engine_s * 1e3:.1f} ms (median of {len(times)}) -> {sp / engine_s:.3e} scenario-periods/s "
           f"({live / engine_s:.3e} live)",
           f"numpy  : {numpy_s * 1e3:.1f} ms (the series and the yields; scenarios already loaded) -> "
           f"{sp / numpy_s:.3e} scenario-periods/s",
           f"ratio  : {numpy_s / engine_s:.1f}x")
