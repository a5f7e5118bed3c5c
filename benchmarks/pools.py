"""Synthetic loan-level pools for benchmarks, and a plain numpy projection as the baseline."""

from __future__ import annotations

import numpy as np

import abs_engine as ae
from abs_engine.io.loans import LoanArrays


def synthetic_loans(n: int, seed: int = 1) -> LoanArrays:
    """``n`` level-pay 30-year loans, ages 0-59, rates 3-8%, servicing 25 bp."""
    rng = np.random.default_rng(seed)
    age = rng.integers(0, 60, n).astype(np.int64)
    rate = rng.uniform(0.03, 0.08, n)
    return LoanArrays(
        loan_id=np.array([f"L{k}" for k in range(n)], dtype=object),
        balance=rng.uniform(5e4, 5e5, n), rate=rate, net_rate=rate - 0.0025,
        remaining_term=360 - age, age=age, original_term=np.full(n, 360, dtype=np.int64),
        amortization=np.zeros(n, np.int8), balloon_month=np.zeros(n, np.int64), status=np.zeros(n, np.int8))


def tape_deal(loans: LoanArrays) -> ae.Deal:
    """A deal whose collateral is ``loans`` (held in memory as if read from a tape)."""
    deal = ae.Deal.model_validate({"name": "bench", "collateral": {"loan_tape": "in-memory.parquet"}})
    deal._tape = loans
    return deal


def _terms(loans: LoanArrays) -> tuple:
    """Monthly gross and net rates, remaining terms, maturities and the horizon of ``loans``."""
    return (loans.rate / 12.0, loans.net_rate / 12.0, loans.remaining_term.astype(np.float64), loans.maturity,
            int(loans.maturity.max()))


def _ratio(r: np.ndarray, left: np.ndarray) -> np.ndarray:
    """The level-pay amortization ratio with ``left`` payments to go (straight line at a 0% rate)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(r > 0, (1 - (1 + r) ** -(left - 1)) / (1 - (1 + r) ** -left), (left - 1) / left)


def project_numpy(loans: LoanArrays, smm_tab: np.ndarray, mdr_tab: np.ndarray, cls: np.ndarray,
                  severity: np.ndarray, lag: int, advancing: bool) -> np.ndarray:
    """The Standard Formulas in plain numpy: vectorized over loans, a loop over months; level-pay
    loans only. Returns ``[period, column]`` in the kernel's accumulator columns."""
    from abs_engine.kernels import collateral as K

    r, rn, term, mat, n_per = _terms(loans)
    perf = loans.balance.copy()
    cohort_now = np.zeros((lag + 1, perf.size))   # defaulted balances (amortizing with advancing)
    cohort_orig = np.zeros((lag + 1, perf.size))  # balance at default, for severity
    out = np.zeros((n_per, K.NCOL))
    for i in range(1, n_per + 1):
        left = term - (i - 1)
        ratio = _ratio(r, left)
        final = i >= mat
        ratio = np.where(final, 0.0, ratio)
        smm = smm_tab[i - 1, cls]
        mdr = np.where(i > mat - lag, 0.0, mdr_tab[i - 1, cls])
        fcl_start = cohort_now.sum(axis=0)
        nd = perf * mdr
        sched = (perf - nd) * (1 - ratio)
        prep = np.minimum(perf * ratio * smm, (perf - nd) * ratio)
        base = perf + fcl_start if advancing else perf - nd
        slot = i % (lag + 1)
        due = (i + 1) % (lag + 1) if lag else slot
        cohort_now[slot] = nd
        cohort_orig[slot] = nd
        liq_now = np.where(final, cohort_now.sum(axis=0), cohort_now[due])
        liq_orig = np.where(final, cohort_orig.sum(axis=0), cohort_orig[due])
        loss = np.minimum(severity[i - 1] * liq_orig, liq_now)
        cohort_now[due] = 0.0
        cohort_now[:, final] = 0.0
        adv_prin = 0.0
        if advancing:
            adv_prin = (cohort_now * (1 - ratio)).sum()
            cohort_now *= ratio
        out[i - 1, K.AMORTIZED] = (perf * ratio).sum()
        perf = perf - nd - sched - prep
        out[i - 1, K.SCHED] = sched.sum() + adv_prin
        out[i - 1, K.PREPAY] = prep.sum()
        out[i - 1, K.DEFAULT] = nd.sum()
        out[i - 1, K.RECOVERY] = (liq_now - loss).sum()
        out[i - 1, K.LOSS] = loss.sum()
        out[i - 1, K.GROSS] = (base * r).sum()
        out[i - 1, K.NET] = (base * rn).sum()
        out[i - 1, K.PERF] = perf.sum()
        out[i - 1, K.FCL] = cohort_now.sum()
    return out


def project_numpy_delinquent(loans: LoanArrays, smm_tab: np.ndarray, roll: np.ndarray, cls: np.ndarray,
                             severity: np.ndarray, lag: int, advancing: bool) -> tuple[np.ndarray, np.ndarray]:
    """The delinquency pipeline of CONVENTIONS R2.11 in plain numpy: vectorized over loans, a loop
    over months; level-pay loans, all current at cut-off. Returns ``([period, column],
    [period, DQ_*])`` in the kernels' columns."""
    from abs_engine.kernels import collateral as K

    r, rn, term, mat, n_per = _terms(loans)
    cur = loans.balance.copy()
    d30, d60, d90 = np.zeros_like(cur), np.zeros_like(cur), np.zeros_like(cur)
    ring = np.zeros((lag + 1, cur.size))
    fcl = np.zeros_like(cur)
    out = np.zeros((n_per, K.NCOL))
    dq = np.zeros((n_per, 3))
    for i in range(1, n_per + 1):
        a, c30, c60, c90, s90, dr = roll[i - 1]
        live = i <= mat
        left = term - (i - 1)
        ratio = _ratio(r, left)
        final = i >= mat
        ratio = np.where(final, 0.0, ratio)
        smm = smm_tab[i - 1, cls]
        pay = (1 - a) * cur
        amortized = pay * ratio
        sched = pay - amortized
        prep = amortized * smm
        base = pay + (d30 + d60 + d90 if advancing else 0.0)
        nd = dr * d90
        c1 = amortized - prep + c30 * d30 + c60 * d60 + c90 * d90
        y30, y60, y90 = a * cur, (1 - c30) * d30, (1 - c60) * d60 + s90 * d90
        ring[i % (lag + 1)] = nd
        liq = ring[(i + 1) % (lag + 1)].copy()
        f1 = np.maximum(fcl + nd - liq, 0.0)
        loss = severity[i - 1] * liq
        # the loan's final month: a cured balance pays, what is still delinquent or in foreclosure liquidates
        rest = np.where(final, y30 + y60 + y90 + f1, 0.0)
        sched = sched + np.where(final, c1, 0.0)
        nd = nd + np.where(final, y30 + y60 + y90, 0.0)
        liq, loss = liq + rest, loss + severity[i - 1] * rest
        c1, y30, y60, y90, f1 = (np.where(final, 0.0, x) for x in (c1, y30, y60, y90, f1))
        ring[:, final] = 0.0
        cur = np.where(live, c1, cur)
        d30, d60, d90, fcl = (np.where(live, new, old) for new, old in ((y30, d30), (y60, d60), (y90, d90),
                                                                          (f1, fcl)))
        w = live.astype(np.float64)
        out[i - 1, K.SCHED] = (sched * w).sum()
        out[i - 1, K.PREPAY] = (prep * w).sum()
        out[i - 1, K.DEFAULT] = (nd * w).sum()
        out[i - 1, K.RECOVERY] = ((liq - loss) * w).sum()
        out[i - 1, K.LOSS] = (loss * w).sum()
        out[i - 1, K.GROSS] = (base * r * w).sum()
        out[i - 1, K.NET] = (base * rn * w).sum()
        out[i - 1, K.PERF] = (cur + d30 + d60 + d90).sum()
        out[i - 1, K.FCL] = fcl.sum()
        out[i - 1, K.AMORTIZED] = (amortized * w).sum()
        dq[i - 1] = d30.sum(), d60.sum(), d90.sum()
    return out, dq
