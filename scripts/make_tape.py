"""Generate the synthetic seasoned non-agency loan tape used by tranches/nonagency_seasoned.yaml.

Deterministic (seeded): running it again rewrites the same file.

    python scripts/make_tape.py [--loans 3000] [--out tranches/data/nonagency_seasoned.csv]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd


def make_tape(n: int, seed: int = 20261121) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    original_term = rng.choice([360, 360, 360, 240, 180], n)
    age = rng.integers(24, 96, n)
    age = np.minimum(age, original_term - 12)
    amortization = rng.choice(["level", "interest_only", "balloon"], n, p=[0.85, 0.10, 0.05])
    original_balance = np.round(rng.lognormal(np.log(320_000), 0.45, n), 2)
    rate = np.round(rng.normal(0.0675, 0.0085, n).clip(0.035, 0.11) / 0.00125) * 0.00125
    # current balance: the level schedule's balance after `age` payments (IO: unchanged)
    r = rate / 12
    factor = (1 - (1 + r) ** -(original_term - age)) / (1 - (1 + r) ** -original_term)
    balance = np.round(np.where(amortization == "interest_only", 1.0, factor) * original_balance, 2)
    balloon_month = np.where(amortization == "balloon", age + rng.integers(12, 60, n), np.nan)
    status = rng.choice(["current", "30", "60", "90", "foreclosure"], n, p=[0.92, 0.035, 0.02, 0.015, 0.01])
    return pd.DataFrame({
        "loan_id": [f"NA{k:06d}" for k in range(1, n + 1)],
        "balance": balance,
        "rate": np.round(rate, 6),
        "servicing_fee_rate": 0.0025,
        "remaining_term": original_term - age,
        "age": age,
        "original_term": original_term,
        "amortization": amortization,
        "balloon_month": pd.array(balloon_month, dtype="Int64"),
        "status": status,
    })


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loans", type=int, default=3000)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "tranches/data/nonagency_seasoned.csv"))
    args = ap.parse_args()
    make_tape(args.loans).to_csv(args.out, index=False)
    print(f"wrote {args.loans} loans to {args.out}")


if __name__ == "__main__":
    main()
