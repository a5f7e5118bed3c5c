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


def project_numpy(loans: LoanArrays, smm_tab: np.ndarray, mdr_tab: np.ndarray, cls: np.ndarray,
                  severity: np.ndarray, lag: int, advancing: bool) -> np.ndarray:
    """The Standard Formulas in plain numpy: vectorized over loans, a loop over months; level-pay
    loans only. Returns ``[period, column]`` in the kernel's accumulator columns."""
    from abs_engine.kernels import collateral as K

    r = loans.rate / 12.0
    rn = loans.net_rate / 12.0
    term = loans.remaining_term.astype(np.float64)
    mat = loans.maturity
    n_per = int(mat.max())
    perf = loans.balance.copy()
    cohort_now = np.zeros((lag + 1, perf.size))   # defaulted balances (amortizing with advancing)
    cohort_orig = np.zeros((lag + 1, perf.size))  # balance at default, for severity
    out = np.zeros((n_per, K.NCOL))
    for i in range(1, n_per + 1):
        left = term - (i - 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(r > 0, (1 - (1 + r) ** -(left - 1)) / (1 - (1 + r) ** -left), (left - 1) / left)
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
