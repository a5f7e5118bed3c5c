"""An independent, obvious reference for the collateral projection (CONVENTIONS.md).

One loan at a time, one month at a time, with ``pow`` for the level-pay ratio and each
month's defaults tracked as its own cohort with its own amortizing balance. Slow on
purpose; nothing here is shared with the kernel.
"""

from __future__ import annotations

import numpy as np

COLS = ("beginning_balance", "scheduled_principal", "prepayment", "default", "recovery", "loss",
        "gross_interest", "net_interest", "ending_balance", "performing_balance", "foreclosure_balance")


def cpr_to_smm(cpr: float, year: float = 1.0 / 12.0) -> float:
    """An annual rate over ``year`` of a year (a month: 1/12; CONVENTIONS R2.3: days / 365)."""
    return 1.0 - (1.0 - cpr) ** year


def psa_cpr(speed: float, m: int) -> float:
    return min(speed / 100.0 * 0.002 * max(1, min(m, 30)), 1.0)


def sda_cdr(speed: float, m: int) -> float:
    if m <= 30:
        annual = 0.0002 * m
    elif m <= 60:
        annual = 0.006
    elif m <= 120:
        annual = 0.006 - 0.000095 * (m - 60)
    else:
        annual = 0.0003
    return min(speed / 100.0 * annual, 1.0)


def abs_smm(speed: float, m: int) -> float:
    a = speed / 100.0
    if a == 0:
        return 0.0
    den = 1.0 - a * (m - 1)
    return 1.0 if den <= a else a / den


def at(value, i: int) -> float:
    """Month ``i`` (1-based) of a number or a vector whose last value carries forward."""
    if isinstance(value, list | tuple):
        return float(value[min(i, len(value)) - 1])
    return float(value)


def smm_of(prepay: dict, i: int, m: int, year: float = 1.0 / 12.0) -> float:
    (kind, v), = prepay.items()
    x = at(v, i)
    return {"cpr": lambda: cpr_to_smm(x, year), "smm": lambda: x,
            "psa": lambda: cpr_to_smm(psa_cpr(x, m), year), "abs": lambda: abs_smm(x, m)}[kind]()


def mdr_of(default: dict, i: int, m: int, year: float = 1.0 / 12.0) -> float:
    (kind, v), = default.items()
    x = at(v, i)
    return {"cdr": lambda: cpr_to_smm(x, year), "mdr": lambda: x,
            "sda": lambda: cpr_to_smm(sda_cdr(x, m), year)}[kind]()


def project_loan(loan: dict, scen: dict, n: int, years: list[float] | None = None, offset: int = 0
                 ) -> dict[str, np.ndarray]:
    """One loan: keys balance, rate, net_rate, remaining_term, age, amortization, balloon_month, status.
    ``years``: each month's share of a year for annual rates (default 1/12). ``offset``: the loan
    starts after this many months of the projection (a loan bought then, R2.10): its month i is
    projection month ``offset + i``, where the scenario's vectors are read (curves at its own
    loan month); rows are its own months."""
    out = {c: np.zeros(n) for c in COLS}
    r = loan["rate"] / 12.0
    rn = loan["net_rate"] / 12.0
    lag = scen.get("recovery_lag", 0)
    adv = scen["advancing"]
    sev = scen.get("severity", 0.0)
    prepay = scen.get("prepay", {"cpr": 0.0})
    default = scen.get("default", {"cdr": 0.0})
    amort = loan.get("amortization", "level")
    term = loan["remaining_term"]
    mat = loan["balloon_month"] - loan["age"] if amort == "balloon" else term

    if loan.get("status") == "foreclosure":  # defaulted at cut-off: no amortization, liquidates at max(L, 1)
        t = min(max(lag, 1), n)
        b = loan["balance"]
        for i in range(1, t + 1):
            out["beginning_balance"][i - 1] = b
            out["foreclosure_balance"][i - 1] = b if i < t else 0.0
            out["ending_balance"][i - 1] = b if i < t else 0.0
            if adv:
                out["gross_interest"][i - 1] = b * r
                out["net_interest"][i - 1] = b * rn
        loss = at(sev, t) * b
        out["loss"][t - 1] = loss
        out["recovery"][t - 1] = b - loss
        return out

    perf = loan["balance"]
    cohorts = []  # [default month, balance at default, current balance]
    arm = loan.get("arm")  # an adjustable-rate loan's terms (the rep line's ``arm``)
    gross, spread = loan["rate"], loan["rate"] - loan["net_rate"]
    for i in range(1, min(mat, n) + 1):
        m = loan["age"] + i
        left = term - (i - 1)
        if arm is not None and m > arm.get("initial_fixed_months", 0) \
                and (m - arm.get("initial_fixed_months", 0) - 1) % arm.get("reset_months", 12) == 0:
            # a reset: index + margin, within the cap of this reset from the rate before, within the
            # lifetime bounds; the level payment then follows from the new rate and the months left
            first = m == arm.get("initial_fixed_months", 0) + 1
            cap = arm.get("initial_cap", arm.get("periodic_cap")) if first else arm.get("periodic_cap")
            new = at(scen["rates"][arm["index"]], offset + i) + arm["margin"]
            if cap is not None:
                new = min(max(new, gross - cap), gross + cap)
            new = max(new, arm.get("lifetime_floor", 0.0))
            if arm.get("lifetime_cap") is not None:
                new = min(new, arm["lifetime_cap"])
            gross = new
            r, rn = gross / 12.0, max(gross - spread, 0.0) / 12.0
        if i >= mat:
            ratio = 0.0
        elif amort == "interest_only":
            ratio = 1.0
        elif r == 0 or 1 + r == 1 or amort == "straight_line":  # even principal, 1/left a month (1 + r == 1: as 0)
            ratio = (left - 1) / left
        else:
            ratio = (1 - (1 + r) ** -(left - 1)) / (1 - (1 + r) ** -left)
        year = 1.0 / 12.0 if years is None else years[offset + i - 1]
        smm = smm_of(prepay, offset + i, m, year)
        mdr = mdr_of(default, offset + i, m, year) if i <= mat - lag else 0.0
        fcl_start = sum(c[2] for c in cohorts)
        out["beginning_balance"][i - 1] = perf + fcl_start

        new_def = perf * mdr
        sched = (perf - new_def) * (1 - ratio)
        prep = perf * ratio * smm
        if new_def + sched + prep > perf:
            prep = perf - new_def - sched
        base = perf + fcl_start if adv else perf - new_def
        out["gross_interest"][i - 1] = base * r
        out["net_interest"][i - 1] = base * rn

        cohorts.append([i, new_def, new_def])
        liq = loss = adv_prin = 0.0
        keep = []
        for c in cohorts:
            if c[0] == i - lag or i >= mat:
                liq += c[2]
                cl = min(at(sev, offset + i) * c[1], c[2])
                loss += cl
            else:
                if adv:
                    a = c[2] * (1 - ratio)
                    adv_prin += a
                    c[2] -= a
                keep.append(c)
        cohorts = keep
        perf = perf - new_def - sched - prep
        out["scheduled_principal"][i - 1] = sched + adv_prin
        out["prepayment"][i - 1] = prep
        out["default"][i - 1] = new_def
        out["recovery"][i - 1] = liq - loss
        out["loss"][i - 1] = loss
        out["performing_balance"][i - 1] = perf
        out["foreclosure_balance"][i - 1] = sum(c[2] for c in cohorts)
        out["ending_balance"][i - 1] = perf + out["foreclosure_balance"][i - 1]
    return out


DQ_COLS = ("delinquent_30", "delinquent_60", "delinquent_90")


def project_loan_delinquent(loan: dict, scen: dict, n: int) -> dict[str, np.ndarray]:
    """One loan through the delinquency pipeline of CONVENTIONS R2.11, written from its text:
    balances current (C), 30, 60, 90+ days and in foreclosure; each month only the paying current
    balance ``(1 - a) C`` pays scheduled principal, prepays (after scheduled amortization) and
    pays interest (advancing: plus ``net/12`` of the delinquent balances); month-end balances by
    R2.11.6; defaults ``d90 x D90`` liquidate ``L`` months later at that month's severity. Our
    reading where R2.11 is silent: in the loan's final month a balance cured that month pays off
    with it, and what is still delinquent or in foreclosure after the month liquidates in it.
    Starts in the bucket of its ``status``."""
    out = {c: np.zeros(n) for c in COLS + DQ_COLS}
    r, rn = loan["rate"] / 12.0, loan["net_rate"] / 12.0
    lag, adv, sev = scen.get("recovery_lag", 0), scen["advancing"], scen.get("severity", 0.0)
    rr = scen["roll_rates"]
    prepay = scen.get("prepay", {"cpr": 0.0})
    amort = loan.get("amortization", "level")
    term = loan["remaining_term"]
    mat = loan["balloon_month"] - loan["age"] if amort == "balloon" else term
    start = {"30": 1, "60": 2, "90": 3}.get(str(loan.get("status", "current")), 0)
    b = [0.0, 0.0, 0.0, 0.0]  # C, D30, D60, D90
    b[start] = loan["balance"]
    cohorts = []  # [liquidation month, balance]
    for i in range(1, min(mat, n) + 1):
        a, c30, c60, c90, s90, d90 = (at(rr[k], i) for k in ("to_30", "cure_30", "cure_60", "cure_90", "stay_90",
                                                              "default_90"))
        left = term - (i - 1)
        if i >= mat:
            ratio = 0.0
        elif amort == "interest_only":
            ratio = 1.0
        elif r == 0 or amort == "straight_line":
            ratio = (left - 1) / left
        else:
            ratio = (1 - (1 + r) ** -(left - 1)) / (1 - (1 + r) ** -left)
        smm = smm_of(prepay, i, loan["age"] + i)
        C, D30, D60, D90 = b
        fcl0 = sum(x[1] for x in cohorts)
        out["beginning_balance"][i - 1] = C + D30 + D60 + D90 + fcl0
        paying = (1 - a) * C
        sched = paying * (1 - ratio)
        prep = paying * ratio * smm
        base = paying + ((D30 + D60 + D90) if adv else 0.0)
        out["gross_interest"][i - 1] = base * r
        out["net_interest"][i - 1] = base * rn
        defaults = d90 * D90
        b = [paying * ratio * (1 - smm) + c30 * D30 + c60 * D60 + c90 * D90, a * C, (1 - c30) * D30,
             (1 - c60) * D60 + s90 * D90]
        cohorts.append([i + lag, defaults])
        liq = loss = 0.0
        if i >= mat:  # the final month: a cured balance pays off, everything still delinquent liquidates
            sched += b[0]
            defaults += b[1] + b[2] + b[3]
            cohorts.append([i, b[1] + b[2] + b[3]])
            b = [0.0, 0.0, 0.0, 0.0]
        keep = []
        for c in cohorts:
            if c[0] == i or i >= mat:
                liq += c[1]
                loss += min(at(sev, i) * c[1], c[1])
            else:
                keep.append(c)
        cohorts = keep
        out["scheduled_principal"][i - 1] = sched
        out["prepayment"][i - 1] = prep
        out["default"][i - 1] = defaults
        out["recovery"][i - 1] = liq - loss
        out["loss"][i - 1] = loss
        out["performing_balance"][i - 1] = sum(b)
        out["foreclosure_balance"][i - 1] = sum(c[1] for c in cohorts)
        out["ending_balance"][i - 1] = sum(b) + out["foreclosure_balance"][i - 1]
        for k, col in enumerate(DQ_COLS):
            out[col][i - 1] = b[k + 1]
    return out


def project_pool(loans: list[dict], scen: dict, n: int, years: list[float] | None = None) -> dict[str, np.ndarray]:
    total = {c: np.zeros(n) for c in COLS + (DQ_COLS if "roll_rates" in scen else ())}
    for loan in loans:
        if "roll_rates" in scen and loan.get("status") != "foreclosure":
            one = project_loan_delinquent(loan, scen, n)
            for c in total:
                total[c] += one[c]
            continue
        one = project_loan(loan, scen, n, years)
        for c in COLS:
            total[c] += one[c]
    return total


def project_reinvesting(loans: list[dict], scen: dict, n: int, reinvestment: dict,
                        until: list[float] | None = None) -> dict[str, np.ndarray]:
    """CONVENTIONS R2.10 from its text: the pool's loans projected as always; in each month t of
    the first ``months``, that month's principal collections (scheduled + prepaid + recoveries,
    over every loan and earlier purchase) buy one new loan at par (``wac``, ``net_coupon``,
    ``term``, age 0) that starts paying in month t + 1; its balance is in month t's ending
    balance. Adds a ``purchases`` column. ``until``: a cumulative-loss trigger's threshold per
    month (breached above it): from the first month whose cumulative loss ÷ the original balance
    is above it, nothing more is bought (that month's collections included)."""
    pool = project_pool(loans, scen, n)
    pool["purchases"] = np.zeros(n)
    net = reinvestment.get("net_coupon", reinvestment["wac"])
    original = sum(loan["balance"] for loan in loans)
    for t in range(1, reinvestment["months"] + 1):
        if until is not None and pool["loss"][:t].sum() / original > until[t - 1]:
            break
        bought = pool["scheduled_principal"][t - 1] + pool["prepayment"][t - 1] + pool["recovery"][t - 1]
        pool["purchases"][t - 1] = bought
        pool["ending_balance"][t - 1] += bought
        pool["performing_balance"][t - 1] += bought
        if bought <= 0 or t >= n:
            continue
        cohort = project_loan({"balance": bought, "rate": reinvestment["wac"], "net_rate": net,
                               "remaining_term": reinvestment["term"], "age": 0}, scen, n - t, offset=t)
        for c in COLS:
            pool[c][t:] += cohort[c]
    return pool
