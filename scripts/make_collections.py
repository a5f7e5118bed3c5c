"""Write three months of synthetic servicer reports for the non-agency RMBS example deal
(``tranches/nonagency_rmbs.yaml``, on the 3,000-loan tape), seeded so the files are stable.

Each loan pays its level-pay (or interest-only, or balloon) schedule on its current balance;
loans prepay in full with the SMM of 150% PSA at their loan month, and some curtail; a few go
30 -> 60 -> 90 days delinquent (the servicer advances their interest and scheduled principal is
not collected); loans in foreclosure at cut-off are liquidated in month 2 or 3 at a 35-45%
severity. Output: ``tranches/data/servicing/nonagency_rmbs/period_N.yaml`` and ``.csv``.

    python scripts/make_collections.py
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tranches/data/servicing/nonagency_rmbs"


def main() -> None:
    rng = np.random.default_rng(20261125)
    tape = pd.read_csv(ROOT / "tranches/data/nonagency_seasoned.csv", dtype={"loan_id": str})
    bal = tape["balance"].to_numpy(float).copy()
    rate = tape["rate"].to_numpy(float)
    term = tape["remaining_term"].to_numpy(int).copy()
    age = tape["age"].to_numpy(int).copy()
    io = (tape["amortization"] == "interest_only").to_numpy()
    balloon = np.where(tape["amortization"] == "balloon", tape["balloon_month"].fillna(0), 0).astype(int)
    status = tape["status"].fillna("current").astype(str).to_numpy(dtype=object)
    liquidate_in = np.where(status == "foreclosure", rng.integers(2, 4, len(tape)), 0)
    OUT.mkdir(parents=True, exist_ok=True)
    pay = dt.date(2026, 12, 25)
    for period in (1, 2, 3):
        active = bal > 0
        r = rate / 12.0
        n = np.maximum(term, 1)
        level = np.where(r > 0, bal * r / (1 - (1 + r) ** -n), bal / n)
        sched = np.where(io, 0.0, np.minimum(level - bal * r, bal))
        sched = np.where((balloon > 0) & (age + 1 >= balloon), bal, sched)
        m = age + 1
        cpr = np.minimum(1.5 * 0.002 * np.clip(m, 1, 30), 1.0)
        smm = 1 - (1 - cpr) ** (1 / 12)
        full = rng.random(len(tape)) < smm
        curtail = rng.random(len(tape)) < 0.05
        # delinquency: current -> 30 -> 60 -> 90 (a few loans), no principal from 30+ loans
        roll = rng.random(len(tape))
        nxt = status.copy()
        nxt[(status == "current") & (roll < 0.004)] = "30"
        nxt[(status == "30") & (roll < 0.5)] = "60"
        nxt[(status == "30") & (roll >= 0.5)] = "current"
        nxt[(status == "60") & (roll < 0.6)] = "90"
        status = nxt
        delinquent = np.isin(status, ["30", "60", "90", "foreclosure"])
        sched = np.where(delinquent, 0.0, sched)
        prepay = np.where(full & ~delinquent, bal - sched,
                          np.where(curtail & ~delinquent, np.minimum(bal - sched, rng.uniform(500, 5000, len(tape))),
                                   0.0))
        prepay = np.maximum(prepay, 0.0)
        default = np.where(liquidate_in == period, bal, 0.0)
        recovery = np.round(default * rng.uniform(0.55, 0.65, len(tape)), 2)
        interest = bal * r  # collected, or advanced for delinquent loans
        sched, prepay, interest = np.round(sched, 2), np.round(prepay, 2), np.round(interest, 2)
        ending = np.round(bal - sched - prepay - default, 2)
        ending = np.where(np.abs(ending) < 0.005, 0.0, ending)
        frame = pd.DataFrame({
            "loan_id": tape["loan_id"], "scheduled_principal": sched, "prepayment": prepay,
            "interest_collected": interest, "default": default, "recovery": recovery,
            "delinquency_status": np.where(default > 0, "reo", status), "ending_balance": ending,
        })[active]
        frame.to_csv(OUT / f"period_{period}.csv", index=False)
        end = dt.date(pay.year, pay.month, 1) - dt.timedelta(days=1)
        header = {"deal": "Non-agency RMBS 2026-1", "period": period,
                  "period_start": str(end.replace(day=1)), "period_end": str(end), "payment_date": str(pay),
                  "loans": f"period_{period}.csv"}
        (OUT / f"period_{period}.yaml").write_text(
            "# Servicer report, written by scripts/make_collections.py\n" + yaml.safe_dump(header, sort_keys=False))
        bal, term, age = ending, np.maximum(term - 1, 1), age + 1
        status = np.where(default > 0, "reo", status)
        pay = dt.date(pay.year + (pay.month == 12), pay.month % 12 + 1, pay.day)


if __name__ == "__main__":
    main()
