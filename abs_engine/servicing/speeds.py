"""Measured speeds and anomaly bands (issue 18, item 2): what the ledger's actual periods say about
the pool's prepayments, defaults, losses and delinquencies, over trailing windows, and where each
period's actuals fall in a deck's distribution for that period.

Per period (the servicer's report): ``smm = prepayment / (beginning - scheduled - default)``,
``mdr = default / beginning`` (``default``: the balance charged off, at liquidation),
``severity = loss / default``, and the 60+ delinquency ratio. Over a window of ``m`` periods
ending at period ``p``: SMM and MDR the geometric averages ``1 - Π(1 - x_i)^(1/m)``, CPR and CDR
their annual rates ``1 - (1 - x)^12``, severity ``Σ loss / Σ default``, delinquency the mean of
the periods' ratios. PSA and ABS come from :func:`abs_engine.implied_speeds` (BMA SF B.2-B.4) on
the window's prepayment-only factor path: the pool factor at the window's start, the scheduled
amortization of its gross WAC over its remaining term, and the window's SMMs (so the implied SMM
is the window's own); the pool's WAC, remaining term and age are the loans' at the window's
start, weighted by their recorded balances (by their cut-off balances after pool-total reports).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..compile.collateral import compile_collateral, vector_rows
from ..engine.collateral import delinquency_ratio, project_pool
from ..engine.executors import scenario_chunks
from ..errors import SpecError
from ..io.display import as_table
from ..io.scenario_set import ScenarioSet
from ..kernels import collateral as KC
from ..results.implied import _balance_ratio, implied_speeds
from .reports import PeriodReport

if TYPE_CHECKING:
    import pandas as pd

    from .servicer import Servicer

__all__ = ["measured_speeds", "anomaly_bands", "SPEED_COLUMNS", "BAND_MEASURES"]

SPEED_COLUMNS = ("months", "smm", "cpr", "mdr", "cdr", "severity", "delinquency_60", "psa", "abs")
"""``measured_speeds`` columns: the periods in the window, SMM, CPR, MDR, CDR (decimals), severity,
the 60+ delinquency ratio, and the implied PSA and ABS (percent)."""
BAND_MEASURES = ("smm", "mdr", "severity", "delinquency_60")
"""What :func:`anomaly_bands` places in a deck's distribution, per period."""


def _window_of(w) -> int | None:
    if w == "life":
        return None
    if isinstance(w, bool) or not isinstance(w, int | np.integer) or w < 1:
        raise SpecError("windows", w, "whole numbers of periods >= 1, or 'life'")
    return int(w)


def _smm(pool: dict) -> float:
    """A report's SMM: prepayment / (beginning - scheduled - default)."""
    return _ratio(pool["prepayment"], pool["beginning_balance"] - pool["scheduled_principal"] - pool["default"])


def measured_speeds(servicer: Servicer, windows: Sequence = (1, 3, 6, 12, "life")) -> pd.DataFrame:
    """Index (``period``, ``window``: ``1m``, ``3m``..., ``life``), columns ``SPEED_COLUMNS``: the
    recorded periods' realised rates over each trailing window (see the module doc). A window
    longer than the periods recorded so far covers those (``months`` says how many)."""
    import pandas as pd  # deferred: a projection without tables never imports pandas

    sizes = [_window_of(w) for w in windows]
    current = servicer.ledger.current()
    if not current:
        raise SpecError("ledger", "empty", "a ledger with at least one recorded period")
    periods = sorted(current)
    reports = {p: PeriodReport.from_json(current[p].report) for p in periods}
    pools = {p: reports[p].data["pool"] for p in periods}
    smm = np.array([_smm(pools[p]) for p in periods])
    mdr = np.array([_ratio(pools[p]["default"], pools[p]["beginning_balance"]) for p in periods])
    default = np.array([pools[p]["default"] for p in periods])
    loss = np.array([pools[p]["loss"] for p in periods])
    dq = np.array([pools[p].get("delinquency_60", np.nan) for p in periods], dtype=np.float64)
    beginning = np.array([pools[p]["beginning_balance"] for p in periods])
    wac = np.array([_ratio(12.0 * pools[p]["gross_interest"], pools[p]["beginning_balance"]) for p in periods])
    original = servicer._loans.original_balance
    terms: dict[int, tuple[int, int]] = {}  # each window's start: the pool's remaining term and age, read once
    rows, index = [], []
    for j, p in enumerate(periods):
        for w in sizes:
            lo = 0 if w is None else max(0, j - w + 1)
            m = j - lo + 1
            s = 1.0 - np.prod(1.0 - smm[lo:j + 1]) ** (1.0 / m)
            d = 1.0 - np.prod(1.0 - mdr[lo:j + 1]) ** (1.0 / m)
            charged = default[lo:j + 1].sum()
            sev = loss[lo:j + 1].sum() / charged if charged > 0 else np.nan
            if periods[lo] not in terms:
                terms[periods[lo]] = _terms_at(servicer, current, periods[lo])
            psa, abs_ = _implied(terms[periods[lo]], beginning[lo] / original, wac[lo], s, m)
            rows.append((m, s, 1.0 - (1.0 - s) ** 12, d, 1.0 - (1.0 - d) ** 12, sev, float(np.nanmean(dq[lo:j + 1]))
                         if np.isfinite(dq[lo:j + 1]).any() else np.nan, psa, abs_))
            index.append((p, f"{w}m" if w is not None else "life"))
    frame = pd.DataFrame(rows, columns=list(SPEED_COLUMNS),
                         index=pd.MultiIndex.from_tuples(index, names=["period", "window"]))
    return as_table(frame.astype({"months": np.int64}))


def _ratio(x: float, y: float) -> float:
    return x / y if y > 0 else 0.0


def _implied(terms: tuple[int, int], factor: float, wac: float, smm: float, m: int) -> tuple[float, float]:
    """(PSA, ABS) implied over ``m`` periods from a window's start, where the pool's remaining term
    and age are ``terms`` (see the module doc)."""
    term, age = terms
    if not factor > 0 or term < m:
        return np.nan, np.nan
    end = factor * float(_balance_ratio(np.array([wac]), np.array([term - m]), np.array([term]))[0]) * (
        1.0 - smm) ** m
    s = implied_speeds({"factor_start": factor, "factor_end": end, "wac": wac, "remaining_term": term, "age": age},
                       months=m)
    return float(s["psa"].iloc[0]), float(s["abs"].iloc[0])


def _terms_at(servicer: Servicer, current: dict, period: int) -> tuple[int, int]:
    """The pool's balance-weighted remaining term and age (whole months) at the start of
    ``period``: its loans' recorded balances after the period before (cut-off balances at the
    start, or after pool-total reports)."""
    loans = servicer._loans
    elapsed = period - 1
    weights = loans.balance
    if elapsed > 0:
        prev = servicer._state_after(current, elapsed)
        if prev.loan_id is not None:
            weights = np.zeros(len(loans))
            at = loans.position
            for x, b in zip(prev.loan_id, prev.balance, strict=True):
                if x in at:
                    weights[at[x]] = b
    left = np.maximum(loans.maturity - elapsed, 0)
    weights = np.where(left > 0, weights, 0.0)
    total = weights.sum()
    if total <= 0:
        return 0, 0
    return (int(round(float(np.sum(weights * left) / total))),
            int(round(float(np.sum(weights * (loans.age + elapsed)) / total))))


def anomaly_bands(servicer: Servicer, scenarios: ScenarioSet, band: tuple[float, float] = (5.0, 95.0),
                  chunk_size: int = 2048) -> pd.DataFrame:
    """Each recorded period's actuals (``BAND_MEASURES``) in the distribution of a deck projected
    from the cut-off, period by period: index (``period``, ``measure``), columns ``actual``, the
    band's percentiles ``p<lo>`` and ``p<hi>`` and ``median`` across the deck, ``percentile`` (the
    share of scenarios below the actual, ties counted half, in percent) and ``flagged`` (outside
    the band). The deck's measures are the servicer's: its ``default`` is each month's charge-off
    (recovery + loss), so projected and actual rates are the same quantities."""
    import pandas as pd  # deferred: a projection without tables never imports pandas

    lo, hi = (float(x) for x in band)
    if not 0.0 <= lo < hi <= 100.0:
        raise SpecError("band", list(band), "percentiles 0 <= low < high <= 100")
    current = servicer.ledger.current()
    if not current:
        raise SpecError("ledger", "empty", "a ledger with at least one recorded period")
    k = max(current)
    actual = {p: PeriodReport.from_json(current[p].report).data["pool"] for p in sorted(current)}
    deck = np.concatenate([_deck_measures(servicer, chunk, k) for chunk in scenario_chunks(scenarios, chunk_size)])
    rows, index = [], []
    for p in sorted(current):
        a = actual[p]
        values = {"smm": _smm(a), "mdr": _ratio(a["default"], a["beginning_balance"]),
                  "severity": a["loss"] / a["default"] if a["default"] > 0 else np.nan,
                  "delinquency_60": a.get("delinquency_60", np.nan)}
        for m, name in enumerate(BAND_MEASURES):
            x = deck[:, p - 1, m]
            x = x[np.isfinite(x)]
            v = float(values[name])
            if not x.size or not np.isfinite(v):
                rows.append((v, np.nan, np.nan, np.nan, np.nan, False))
            else:
                pct = 100.0 * (np.sum(x < v) + 0.5 * np.sum(x == v)) / x.size
                q = np.percentile(x, [lo, 50.0, hi])
                rows.append((v, q[0], q[1], q[2], pct, bool(pct < lo or pct > hi)))
            index.append((p, name))
    return as_table(pd.DataFrame(rows, columns=["actual", f"p{lo:g}", "median", f"p{hi:g}", "percentile", "flagged"],
                                 index=pd.MultiIndex.from_tuples(index, names=["period", "measure"])))


def _deck_measures(servicer: Servicer, scenarios: ScenarioSet, k: int) -> np.ndarray:
    """``[scenario, period, BAND_MEASURES]`` of the deck's pool projected from the cut-off, periods
    ``1..k``."""
    program = compile_collateral(servicer.deal, scenarios)
    if program.n_periods < k:
        raise SpecError("ledger", k, f"periods within the pool's projection ({program.n_periods})")
    proj = project_pool(program)
    f = proj.flows[:, :k]
    end = f[..., KC.PERF] + f[..., KC.FCL]
    beg = np.concatenate([np.full((f.shape[0], 1), sum(program.start_balances)), end[:, :-1]], axis=1)
    charged = f[..., KC.RECOVERY] + f[..., KC.LOSS]
    with np.errstate(divide="ignore", invalid="ignore"):
        base = beg - f[..., KC.SCHED] - charged
        smm = np.where(base > 0, f[..., KC.PREPAY] / np.where(base > 0, base, 1.0), 0.0)
        mdr = np.where(beg > 0, charged / np.where(beg > 0, beg, 1.0), 0.0)
        sev = np.where(charged > 0, f[..., KC.LOSS] / np.where(charged > 0, charged, 1.0), np.nan)
    if proj.delinquent is not None:  # the pipeline's own 60+ ratio, else the scenario's (R2.11.7)
        dq = delinquency_ratio(proj.flows, proj.delinquent)[:, :k]
    else:
        dq = vector_rows(scenarios.values["delinquency_60"], k)[scenarios.rows["delinquency_60"]]
    return np.stack([smm, mdr, sev, dq], axis=-1)
