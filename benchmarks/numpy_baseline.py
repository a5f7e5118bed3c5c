"""A plain numpy implementation of the prime auto deal under a grid of scenarios: the baseline the
scenario benchmark measures beside the engine (issue: "a plain numpy implementation of the same
grid runs beside it in the same benchmark").

Vectorized over scenarios, a Python loop over months, rep lines and waterfall steps; the
BMA/SIFMA collateral formulas with ``pow`` per month (no recurrences), and the auto deal's
waterfall written out step by step (fees and note interest covered by the reserve, the OC-target
principal paid sequentially, the reserve refilled to its target, the residual). Its structure is
the auto deal's, read from the spec where it is a number: it is a baseline, not a second engine.
"""

from __future__ import annotations

import numpy as np

from abs_engine.compile.waterfall import day_count_fractions
from abs_engine.io.loans import deal_loans

ZERO = 1e-6


def _loan_month(loans, j: int, i: int, perf, frozen, ring, smm, mdr, lag: int, severity: float):
    """Month ``i`` of rep line ``j`` (BMA SF B and C, no advancing), its state updated in place:
    (net interest, principal collected incl. recoveries, balance in foreclosure), or ``None``
    once the line has matured."""
    r = loans.rate[j] / 12.0
    term = int(loans.remaining_term[j])
    if i > term:
        return None
    # scheduled balance fraction after m of the remaining payments (the annuity formula)
    left = (1 - (1 + r) ** -(term - i)) / (1 - (1 + r) ** -term)
    before = (1 - (1 + r) ** -(term - i + 1)) / (1 - (1 + r) ** -term)
    ratio = left / before if i < term else 0.0
    d = mdr if i <= term - lag else np.zeros_like(mdr)       # no defaults in the last lag months
    smm = np.minimum(smm, 1.0 - d)
    p0 = perf[j].copy()
    nd = p0 * d
    amort = p0 * ratio
    after = amort - amort * d
    sched = p0 - nd - after
    prep = amort * smm
    perf[j] = after - prep
    due = ring[j, (i + 1) % (lag + 1)] if lag else nd        # defaults of month i - lag
    if i >= term:
        liq = frozen[j] + nd
        frozen[j] = 0.0
    else:
        liq = due
        frozen[j] = np.maximum(frozen[j] + nd - due, 0.0)
    ring[j, i % (lag + 1)] = nd
    lss = np.minimum(severity * due, liq)
    return (p0 - nd) * (loans.net_rate[j] / 12.0), sched + prep + (liq - lss), frozen[j].copy()


def _pool_month(loans, i: int, perf, frozen, ring, smm_of, mdr, lag: int, severity: float):
    """Month ``i`` of every rep line (:func:`_loan_month`, line ``j`` at SMM ``smm_of(j)``): net
    interest, principal collected and the pool's ending balance."""
    net = np.zeros(perf.shape[1])
    prin = np.zeros(perf.shape[1])
    fcl = np.zeros(perf.shape[1])
    for j in range(loans.balance.size):
        got = _loan_month(loans, j, i, perf, frozen, ring, smm_of(j), mdr, lag, severity)
        if got is not None:
            net += got[0]
            prin += got[1]
            fcl += got[2]
    return net, prin, perf.sum(axis=0) + fcl


def run_auto_deal(deal, abs_speed: np.ndarray, cdr: np.ndarray, severity: float, lag: int, sofr: float,
                  n_periods: int | None = None) -> dict[str, np.ndarray]:
    """Per scenario and note: total interest paid, principal paid, writedown, and the residual."""
    loans = deal_loans(deal)
    n_s = abs_speed.size
    n = n_periods or int(loans.maturity.max())
    notes = deal.notes
    k_notes = len(notes)
    prio = np.array([t.priority for t in notes])
    coupon = np.array([sofr + t.coupon.spread if hasattr(t.coupon, "spread") else t.coupon for t in notes])
    dcf = day_count_fractions(deal, n)
    fee_amount = sum(f.amount or 0.0 for f in deal.fees)
    reserve_target = float(deal.accounts[0].target)
    oc = deal.overcollateralization
    call_pct = deal.clean_up_call.pct
    orig = float(loans.balance.sum())
    mdr = -np.expm1(np.log1p(-cdr) / 12.0)

    # collateral state per rep line x scenario: performing balance, balance in foreclosure, and
    # the last lag + 1 months of new defaults (slot i % (lag + 1) holds month i's)
    perf = np.tile(loans.balance[:, None], (1, n_s))
    frozen = np.zeros((loans.balance.size, n_s))
    ring = np.zeros((loans.balance.size, lag + 1, n_s))
    # waterfall state
    bal = np.tile(np.array([t.balance for t in notes], dtype=float)[:, None], (1, n_s))
    short = np.zeros((k_notes, n_s))
    arrears = np.zeros(n_s)
    reserve = np.full(n_s, float(deal.accounts[0].initial))
    called = np.zeros(n_s, dtype=bool)
    pool_beg = np.full(n_s, orig)
    out = {"interest": np.zeros((n_s, k_notes)), "principal": np.zeros((n_s, k_notes)),
           "writedown": np.zeros((n_s, k_notes)), "residual": np.zeros(n_s)}
    seq = [int(k) for k in np.argsort(prio, kind="stable")]
    # the interest steps: class A together (pro rata within), then B, C and D
    groups = [[k for k in range(k_notes) if notes[k].name.startswith("A-")]] + [
        [k] for k in seq if not notes[k].name.startswith("A-")]
    wd_order = sorted(range(k_notes), key=lambda k: (-prio[k], -k))
    a = abs_speed / 100.0
    for i in range(1, n + 1):
        def smm_of(j, i=i):
            m = loans.age[j] + i                                     # ABS at loan month m
            den = 1.0 - a * (m - 1)
            return np.where(den <= a, np.where(a > 0, 1.0, 0.0), a / np.where(den > a, den, 1.0))

        net, prin, pend = _pool_month(loans, i, perf, frozen, ring, smm_of, mdr, lag, severity)
        live = ~called
        ic, pc = net * live, prin * live
        pend_l = pend * live
        beg_l = pool_beg * live
        go = live & (pend_l > 0) & (pend_l <= call_pct * orig)
        proceeds = np.where(go, pend_l, 0.0)
        pend_l = np.where(go, 0.0, pend_l)
        called |= go
        avail = ic + pc + proceeds
        due = bal * (coupon[:, None] * dcf[i - 1][:, None]) + short
        nb_sum = bal.sum(axis=0)
        fee_due = np.where(beg_l > 0, fee_amount, 0.0) + arrears

        def pay(need):
            nonlocal avail, reserve
            got = np.minimum(need, avail)
            avail = avail - got
            draw = np.maximum(np.minimum(need - got, reserve), 0.0)
            reserve = reserve - draw
            return got + draw

        fee_paid = pay(fee_due)
        int_paid = np.zeros_like(due)
        for g in groups:
            need = due[g].sum(axis=0)
            got = pay(need)
            share = np.where(need > 0, got / np.where(need > 0, need, 1.0), 0.0)
            int_paid[g] = due[g] * share
        target = np.maximum(oc.pct * pend_l, oc.floor)
        pda = np.minimum(np.maximum(0.0, nb_sum - np.maximum(0.0, pend_l - target)), bal.sum(axis=0))
        got = np.minimum(pda, avail)
        avail = avail - got
        prin_paid = np.zeros_like(bal)
        for k in seq:
            p = np.minimum(got, bal[k])
            bal[k] -= p
            prin_paid[k] = p
            got = got - p
        tgt = np.where(bal.sum(axis=0) <= ZERO, 0.0, reserve_target)
        dep = np.where(reserve < tgt, np.minimum(avail, tgt - reserve), 0.0)
        rel = np.where(reserve > tgt, reserve - tgt, 0.0)
        reserve = reserve + dep - rel
        avail = avail + rel - dep
        # residual: unpaid fees, then unpaid interest by group, then the rest
        got = np.minimum(fee_due - fee_paid, avail)
        fee_paid += got
        avail -= got
        for g in groups:
            need = (due[g] - int_paid[g]).sum(axis=0)
            got = np.minimum(need, avail)
            avail -= got
            share = np.where(need > 0, got / np.where(need > 0, need, 1.0), 0.0)
            int_paid[g] += (due[g] - int_paid[g]) * share
        out["residual"] += avail
        rem = np.maximum(bal.sum(axis=0) - pend_l, 0.0)
        wd = np.zeros_like(bal)
        for k in wd_order:
            w = np.minimum(rem, bal[k])
            rem -= w
            x = bal[k] - w
            small = x < ZERO
            w = np.where(small, w + x, w)
            bal[k] = np.where(small, 0.0, x)
            wd[k] = w
        s_left = due - int_paid
        short = np.where(s_left >= ZERO, s_left, 0.0)
        a_left = fee_due - fee_paid
        arrears = np.where(a_left >= ZERO, a_left, 0.0)
        out["interest"] += int_paid.T
        out["principal"] += prin_paid.T
        out["writedown"] += wd.T
        pool_beg = pend
    return out


def run_sequential_deal(deal, cpr: np.ndarray, cdr: np.ndarray, severity: float, lag: int) -> dict[str, np.ndarray]:
    """Per scenario and note: total interest paid, principal paid, writedown, and the residual, for
    a deal of fixed-rate notes paid sequentially from one combined waterfall (each note's interest
    in priority order, then the period's principal collections to the notes in priority order,
    then the residual), no fees, accounts, triggers or call; constant CPR and CDR per scenario;
    no advancing."""
    loans = deal_loans(deal)
    n_s = cpr.size
    n = int(loans.maturity.max())
    notes = sorted(deal.notes, key=lambda t: t.priority)
    coupon = np.array([t.coupon for t in notes])
    dcf = day_count_fractions(deal, n)
    order = [deal.notes.index(t) for t in notes]
    smm = -np.expm1(np.log1p(-cpr) / 12.0)
    mdr = -np.expm1(np.log1p(-cdr) / 12.0)
    perf = np.tile(loans.balance[:, None], (1, n_s))
    frozen = np.zeros((loans.balance.size, n_s))
    ring = np.zeros((loans.balance.size, lag + 1, n_s))
    bal = np.tile(np.array([t.balance for t in notes], dtype=float)[:, None], (1, n_s))
    short = np.zeros((len(notes), n_s))
    out = {"interest": np.zeros((len(notes), n_s)), "principal": np.zeros((len(notes), n_s)),
           "writedown": np.zeros((len(notes), n_s)), "residual": np.zeros(n_s)}
    for i in range(1, n + 1):
        net, prin, pend = _pool_month(loans, i, perf, frozen, ring, lambda j: smm, mdr, lag, severity)
        avail = net + prin
        due = bal * (coupon[:, None] * dcf[i - 1][order][:, None]) + short
        paid = np.zeros_like(due)
        for k in range(len(notes)):                       # interest, in priority order
            paid[k] = np.minimum(due[k], avail)
            avail = avail - paid[k]
        got = np.minimum(np.minimum(prin, bal.sum(axis=0)), avail)  # the principal collected, at most
        avail = avail - got
        for k in range(len(notes)):                       # sequential
            p = np.minimum(got, bal[k])
            bal[k] -= p
            out["principal"][k] += p
            got = got - p
        for k in range(len(notes)):                       # the residual step: interest still unpaid first
            more = np.minimum(due[k] - paid[k], avail)
            paid[k] += more
            avail = avail - more
        out["residual"] += avail
        rem = np.maximum(bal.sum(axis=0) - pend, 0.0)
        for k in reversed(range(len(notes))):            # writedowns, in reverse priority
            w = np.minimum(rem, bal[k])
            rem -= w
            x = bal[k] - w
            small = x < ZERO
            out["writedown"][k] += np.where(small, w + x, w)
            bal[k] = np.where(small, 0.0, x)
        left = due - paid
        short = np.where(left >= ZERO, left, 0.0)
        out["interest"] += paid
    back = np.argsort(order)  # rows in the deal's note order
    return {k: (v[back].T if v.ndim == 2 else v) for k, v in out.items()}


def _psa_smm(speed: np.ndarray, age: int) -> np.ndarray:
    """SMM at loan age ``age`` (months) for PSA ``speed`` (percent), per scenario."""
    cpr = np.minimum(age / 30.0, 1.0) * 0.06 * speed / 100.0
    return 1.0 - (1.0 - cpr) ** (1.0 / 12.0)


def _psa_principal(loans, speeds: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Pool principal (scheduled + prepaid) and ending balance, ``[month, speed]``, at constant PSA
    speeds with no defaults (:func:`_pool_month`)."""
    perf = np.tile(loans.balance[:, None], (1, speeds.size))
    frozen = np.zeros_like(perf)
    ring = np.zeros((loans.balance.size, 1, speeds.size))
    zero = np.zeros(speeds.size)
    prin, end = np.zeros((n, speeds.size)), np.zeros((n, speeds.size))
    for i in range(1, n + 1):
        _net, p, e = _pool_month(loans, i, perf, frozen, ring,
                                 lambda j, i=i: _psa_smm(speeds, int(loans.age[j]) + i), zero, 0, 0.0)
        prin[i - 1], end[i - 1] = p, e
    return prin, end


def run_agency_cmo(deal, psa: np.ndarray) -> dict[str, np.ndarray]:
    """Per scenario and note: total interest paid, principal paid, and the residual, for the agency
    CMO example (``tranches/agency_cmo.yaml``): a PAC group paid down to its 100-300 PSA schedule,
    the support class then the Z class, the PACs again, the residual; the Z class accruing while
    the support class is outstanding, its accretion moved from interest to principal funds; an IO
    strip on the first PAC. Constant PSA per scenario, no defaults. The PAC schedule is computed
    here, from the pool at the two speeds."""
    loans = deal_loans(deal)
    n_s = psa.size
    n = int(loans.maturity.max())
    notes = deal.notes
    ix = {t.name: k for k, t in enumerate(notes)}
    pac = [ix["PAC-A"], ix["PAC-B"]]
    sup, z, io = ix["SUP"], ix["Z"], ix["IO-A"]
    coupon = np.array([t.coupon for t in notes])
    collar = deal.schedules["pac"].pac
    p2, _ = _psa_principal(loans, np.array([collar.low, collar.high]), n)
    planned = np.maximum(sum(notes[k].balance for k in pac) - np.cumsum(p2.min(axis=1)), 0.0)
    perf = np.tile(loans.balance[:, None], (1, n_s))
    frozen = np.zeros_like(perf)
    ring = np.zeros((loans.balance.size, 1, n_s))
    zero = np.zeros(n_s)
    bal = np.tile(np.array([t.balance for t in notes], dtype=float)[:, None], (1, n_s))
    short = np.zeros((len(notes), n_s))
    out = {"interest": np.zeros((len(notes), n_s)), "principal": np.zeros((len(notes), n_s)),
           "residual": np.zeros(n_s)}
    for i in range(1, n + 1):
        net, prin, _pend = _pool_month(loans, i, perf, frozen, ring,
                                       lambda j, i=i: _psa_smm(psa, int(loans.age[j]) + i), zero, 0, 0.0)
        beg = bal.copy()
        accruing = beg[sup] > 0.0
        acc = np.where(accruing, beg[z] * (coupon[z] / 12.0), 0.0)
        bal[z] += acc
        rate = coupon[:, None] * np.ones(n_s) / 12.0
        rate[z] = np.where(accruing, 0.0, rate[z])
        base = beg.copy()
        base[io] = beg[pac[0]]
        due = base * rate + short
        need = due.sum(axis=0)                            # one pro-rata interest step
        got = np.minimum(need, net)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(need > 0.0, got / need, 0.0)
        paid = due * share
        avail = net - got
        moved = np.minimum(acc, avail)                    # the accretion step
        avail = avail - moved
        x = prin + moved                                  # principal funds
        avail = avail + prin + moved
        paid_p = np.zeros(n_s)

        def step(members, cap, x=x):
            nonlocal avail, paid_p
            want = np.minimum(np.maximum(x - paid_p, 0.0), cap)
            g = np.minimum(want, avail)
            avail = avail - g
            paid_p = paid_p + g
            for k in members:                             # sequential
                p = np.minimum(g, bal[k])
                bal[k] -= p
                out["principal"][k] += p
                g = g - p

        step(pac, np.maximum(bal[pac].sum(axis=0) - planned[i - 1], 0.0))
        step([sup, z], bal[sup] + bal[z])
        step(pac, bal[pac].sum(axis=0))
        left = due - paid                                 # the residual step: interest still unpaid first
        more = np.minimum(left.sum(axis=0), avail)
        with np.errstate(invalid="ignore", divide="ignore"):
            paid = paid + left * np.where(left.sum(axis=0) > 0.0, more / left.sum(axis=0), 0.0)
        avail = avail - more
        out["residual"] += avail
        left = due - paid
        short = np.where(left >= ZERO, left, 0.0)
        out["interest"] += paid
    return {k: (v.T if v.ndim == 2 else v) for k, v in out.items()}
