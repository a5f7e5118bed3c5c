"""Loans as flat arrays: a loan tape (CSV or Parquet) or rep lines, validated row by row.

Rep lines and tape rows become the same :class:`LoanArrays`, so both go through the same
kernel. Tape errors name the file, the row (row 1 is the first loan), the column and the value.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import SpecError
from ..spec import Deal
from ..spec.collateral import AMORTIZATION, RepLine
from ..spec.fields import MAX_AMOUNT, MAX_MONTHS
from .files import read_table, unique_columns

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["LoanArrays", "deal_loans", "from_rep_lines", "read_tape", "TAPE_REQUIRED", "TAPE_OPTIONAL", "STATUS_CODES"]

TAPE_REQUIRED = ("loan_id", "balance", "rate", "remaining_term", "age")
TAPE_OPTIONAL = ("servicing_fee_rate", "original_term", "status", "amortization", "balloon_month")

# status -> code: 0 current, 1 30 days, 2 60 days, 3 90+ days delinquent, 4 in foreclosure (or REO)
STATUS_CODES = {"current": 0, "performing": 0, "0": 0, "30": 1, "60": 2, "90": 3, "90+": 3,
                "120": 3, "120+": 3, "foreclosure": 4, "reo": 4}
FORECLOSURE = 4


@dataclass(frozen=True, eq=False)
class LoanArrays:
    """One entry per loan. ``remaining_term`` is the remaining amortization schedule in months;
    ``maturity`` (derived) is the projection month of the final (or balloon) payment."""

    loan_id: np.ndarray          # object (str)
    balance: np.ndarray          # float64
    rate: np.ndarray             # float64, gross annual
    net_rate: np.ndarray         # float64, annual rate passed to the deal
    remaining_term: np.ndarray   # int64
    age: np.ndarray              # int64
    original_term: np.ndarray    # int64
    amortization: np.ndarray     # int8 index into AMORTIZATION
    balloon_month: np.ndarray    # int64, 0 if none
    status: np.ndarray           # int8, STATUS_CODES

    def __len__(self) -> int:
        return len(self.balance)

    @cached_property
    def maturity(self) -> np.ndarray:
        """Projection month of each loan's last payment."""
        balloon = self.amortization == AMORTIZATION.index("balloon")
        return np.where(balloon, self.balloon_month - self.age, self.remaining_term)

    @cached_property
    def position(self) -> dict[str, int]:
        """Each loan id's position in these arrays."""
        return {str(x): k for k, x in enumerate(self.loan_id)}

    @property
    def original_balance(self) -> float:
        return float(self.balance.sum())


def from_rep_lines(lines: tuple[RepLine, ...]) -> LoanArrays:
    """Rep lines as loans (one loan per line)."""
    return LoanArrays(
        loan_id=np.array([ln.name or f"line-{k + 1}" for k, ln in enumerate(lines)], dtype=object),
        balance=np.array([ln.balance for ln in lines], dtype=np.float64),
        rate=np.array([ln.wac for ln in lines], dtype=np.float64),
        net_rate=np.array([ln.net_rate for ln in lines], dtype=np.float64),
        remaining_term=np.array([ln.wam for ln in lines], dtype=np.int64),
        age=np.array([ln.age for ln in lines], dtype=np.int64),
        original_term=np.array([ln.original_term or ln.age + ln.wam for ln in lines], dtype=np.int64),
        amortization=np.array([AMORTIZATION.index(ln.amortization) for ln in lines], dtype=np.int8),
        balloon_month=np.array([ln.balloon_month or 0 for ln in lines], dtype=np.int64),
        status=np.zeros(len(lines), dtype=np.int8),
    )


def read_tape(path: str | Path, *, servicing_fee_rate: float = 0.0) -> LoanArrays:
    """Read and validate a loan tape (``.csv`` or ``.parquet``).

    Columns: ``loan_id``, ``balance``, ``rate``, ``remaining_term``, ``age``; optional
    ``servicing_fee_rate`` (else the collateral's), ``original_term`` (else age +
    remaining_term), ``status``, ``amortization``, ``balloon_month``. Other columns are ignored.
    """

    path = Path(path)
    if not path.is_file():
        raise SpecError("loan_tape", str(path), "an existing CSV or Parquet file", file=str(path))
    frame = read_table(path, {"loan_id": str, "status": str, "amortization": str}, "loan tape")
    file = str(path)
    return tape_from_frame(frame, file=file, servicing_fee_rate=servicing_fee_rate)


def tape_from_frame(frame: pd.DataFrame, *, file: str | None = None,
                    servicing_fee_rate: float = 0.0) -> LoanArrays:
    """Validate a tape already in a DataFrame (see :func:`read_tape`)."""
    import pandas as pd  # deferred: a projection without tables never imports pandas

    unique_columns([str(c) for c in frame.columns], file)
    missing = [c for c in TAPE_REQUIRED if c not in frame.columns]
    if missing:
        raise SpecError("columns", sorted(map(str, frame.columns)),
                        f"the tape columns {list(TAPE_REQUIRED)} (missing {missing})", file=file)
    n = len(frame)
    if n == 0:
        raise SpecError("rows", 0, "at least one loan", file=file)

    def fail(k: int, col: str, expected: str) -> SpecError:
        raw = frame[col].iloc[k]
        loan = frame["loan_id"].iloc[k]
        return SpecError(f"row {k + 1} (loan_id {loan}), {col}", _plain(raw), expected, file=file)

    ids = frame["loan_id"]
    bad = ids.isna() | (ids.astype(str).str.strip() == "")
    if bad.any():
        raise fail(int(np.argmax(bad.to_numpy())), "loan_id", "a non-empty loan_id")
    ids = ids.astype(str).to_numpy(dtype=object)
    dup = pd.Series(ids).duplicated().to_numpy()
    if dup.any():
        raise fail(int(np.argmax(dup)), "loan_id", "a loan_id not used by an earlier row")

    def number(col: str, ok, expected: str, default=None) -> np.ndarray:
        if col not in frame.columns:
            return np.full(n, default, dtype=np.float64)
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=np.float64)
        if default is not None:
            values = np.where(frame[col].isna().to_numpy(), default, values)
        with np.errstate(invalid="ignore"):
            bad = ~ok(values)
        if bad.any():
            raise fail(int(np.argmax(bad)), col, expected)
        return values

    def whole(x):
        return np.isfinite(x) & (x == np.round(x))

    balance = number("balance", lambda x: np.isfinite(x) & (x >= 0) & (x <= MAX_AMOUNT),
                     f"a finite amount >= 0 (and at most {MAX_AMOUNT:.0e})")
    rate = number("rate", lambda x: (x >= 0) & (x <= 1), "a decimal in [0, 1]")
    term = number("remaining_term", lambda x: whole(x) & (x >= 1) & (x <= MAX_MONTHS),
                  f"a whole number of months >= 1 (at most {MAX_MONTHS})")
    age = number("age", lambda x: whole(x) & (x >= 0) & (x <= MAX_MONTHS), f"a whole number of months >= 0 (at most {MAX_MONTHS})")
    fee = number("servicing_fee_rate", lambda x: (x >= 0) & (x <= rate),
                 "a decimal in [0, rate]", default=servicing_fee_rate)
    orig = number("original_term", lambda x: np.isnan(x) | (whole(x) & (x >= age) & (x <= MAX_MONTHS)),
                  f"a whole number of months >= age (at most {MAX_MONTHS})", default=np.nan)
    given_orig = ~np.isnan(orig)
    orig = np.where(given_orig, orig, age + term)

    if "status" in frame.columns:
        raw = frame["status"].fillna("current").astype(str).str.strip().str.lower()
        codes = raw.map(STATUS_CODES)
        if codes.isna().any():
            raise fail(int(np.argmax(codes.isna().to_numpy())), "status",
                       f"one of {sorted(STATUS_CODES)}")
        status = codes.to_numpy(dtype=np.int8)
    else:
        status = np.zeros(n, dtype=np.int8)

    if "amortization" in frame.columns:
        raw = frame["amortization"].fillna("level").astype(str).str.strip().str.lower()
        codes = raw.map({name: k for k, name in enumerate(AMORTIZATION)})
        if codes.isna().any():
            raise fail(int(np.argmax(codes.isna().to_numpy())), "amortization", f"one of {list(AMORTIZATION)}")
        amort = codes.to_numpy(dtype=np.int8)
    else:
        amort = np.zeros(n, dtype=np.int8)
    is_balloon = amort == AMORTIZATION.index("balloon")
    if "balloon_month" in frame.columns:
        bm = number("balloon_month", lambda x: np.isnan(x) | (whole(x) & (x >= 1)),
                    "a whole loan month >= 1", default=np.nan)
    else:
        bm = np.full(n, np.nan)
    bad = is_balloon & ~((bm > age) & (bm <= age + term))
    if bad.any():
        k = int(np.argmax(bad))
        raise SpecError(f"row {k + 1} (loan_id {ids[k]}), balloon_month", _plain(bm[k]),
                        f"a loan month in ({int(age[k])}, {int(age[k] + term[k])}] for a balloon loan",
                        file=file)
    bm = np.where(is_balloon, bm, 0)
    final = np.where(is_balloon, bm, age + term)   # the loan month of the last payment
    bad = given_orig & (orig < final)
    if bad.any():
        k = int(np.argmax(bad))
        raise SpecError(f"row {k + 1} (loan_id {ids[k]}), original_term", _plain(orig[k]),
                        f"a term >= the loan month of the last payment ({int(final[k])}: "
                        + ("balloon_month" if is_balloon[k] else "age + remaining_term") + ")", file=file)

    return LoanArrays(
        loan_id=ids, balance=balance, rate=rate, net_rate=rate - fee,
        remaining_term=term.astype(np.int64), age=age.astype(np.int64),
        original_term=orig.astype(np.int64), amortization=amort,
        balloon_month=bm.astype(np.int64), status=status,
    )


def _plain(x):
    """numpy scalars as plain Python values for messages."""
    return x.item() if hasattr(x, "item") else x


def deal_loans(deal: Deal) -> LoanArrays:
    """The deal's loans: its rep lines, or its tape (read once and kept with the deal)."""
    coll = deal.collateral
    if coll.rep_lines is not None:
        return from_rep_lines(coll.rep_lines)
    if deal._tape is None:
        deal._tape = read_tape(deal.tape_path(), servicing_fee_rate=coll.servicing_fee_rate)
    return deal._tape
