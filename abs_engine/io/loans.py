"""Loans as flat arrays: a loan tape (CSV or Parquet) or rep lines, validated row by row.

Rep lines and tape rows become the same :class:`LoanArrays`, so both go through the same
kernel. Tape errors name the file, the row (row 1 is the first loan), the column and the value.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import SpecError
from ..kernels import strings as KS
from ..spec import Deal
from ..spec.collateral import AMORTIZATION, RepLine
from ..spec.fields import MAX_AMOUNT, MAX_MONTHS
from .files import read_arrow_table, unique_columns

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["LoanArrays", "deal_loans", "group_loans", "concatenated", "from_rep_lines", "months_between", "read_tape",
           "TAPE_REQUIRED", "TAPE_OPTIONAL", "TAPE_ARM", "STATUS_CODES"]

TAPE_REQUIRED = ("loan_id", "balance", "rate", "remaining_term", "age")  # age, or origination_date with a cut-off
TAPE_ARM = ("arm_index", "arm_margin", "arm_initial_fixed_months", "arm_reset_months", "arm_initial_cap",
            "arm_periodic_cap", "arm_lifetime_cap", "arm_lifetime_floor")
"""A tape's adjustable-rate columns, the terms of a rep line's ``arm`` (an empty ``arm_index``: a
fixed-rate loan)."""
TAPE_OPTIONAL = ("servicing_fee_rate", "original_term", "status", "amortization", "balloon_month", "origination_date",
                 *TAPE_ARM)

# status -> code: 0 current, 1 30 days, 2 60 days, 3 90+ days delinquent, 4 in foreclosure (or REO)
STATUS_CODES = {"current": 0, "performing": 0, "0": 0, "30": 1, "60": 2, "90": 3, "90+": 3,
                "120": 3, "120+": 3, "foreclosure": 4, "reo": 4}
FORECLOSURE = 4


@dataclass(frozen=True, eq=False)
class LoanArrays:
    """One entry per loan. ``remaining_term`` is the remaining amortization schedule in months;
    ``maturity`` (derived) is the projection month of the final (or balloon) payment."""

    loan_id: Sequence[str]       # str: an object array (rep lines) or Arrow strings (a tape)
    balance: np.ndarray          # float64
    rate: np.ndarray             # float64, gross annual
    net_rate: np.ndarray         # float64, annual rate passed to the deal
    remaining_term: np.ndarray   # int64
    age: np.ndarray              # int64
    original_term: np.ndarray    # int64
    amortization: np.ndarray     # int8 index into AMORTIZATION
    balloon_month: np.ndarray    # int64, 0 if none
    status: np.ndarray           # int8, STATUS_CODES
    # adjustable-rate loans (rep lines with ``arm``): each loan's index name ("" for a fixed-rate loan)
    # and terms [loan, ARM_*] (an absent cap: inf); None: every loan is fixed-rate
    arm_index: np.ndarray | None = None
    arm_terms: np.ndarray | None = None

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


ARM_MARGIN, ARM_FIXED, ARM_RESET, ARM_INITIAL_CAP, ARM_PERIODIC_CAP, ARM_LIFETIME_CAP, ARM_LIFETIME_FLOOR = range(7)
ARM_TERMS = 7  # columns of LoanArrays.arm_terms


def _arm_terms(lines: Sequence[RepLine]) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``(arm_index, arm_terms)`` of rep lines (see :class:`LoanArrays`), or ``(None, None)``
    when every line is fixed-rate."""
    if all(ln.arm is None for ln in lines):
        return None, None
    terms = np.zeros((len(lines), ARM_TERMS))
    for k, ln in enumerate(lines):
        a = ln.arm
        if a is None:
            continue
        periodic = np.inf if a.periodic_cap is None else a.periodic_cap
        terms[k] = (a.margin, a.initial_fixed_months, a.reset_months,
                    periodic if a.initial_cap is None else a.initial_cap, periodic,
                    np.inf if a.lifetime_cap is None else a.lifetime_cap, a.lifetime_floor)
    return np.array(["" if ln.arm is None else ln.arm.index for ln in lines], dtype=object), terms


def months_between(start: dt.date, end: dt.date) -> int:
    """Whole months from ``start`` to ``end``: calendar months, less one if ``end``'s day of the
    month is before ``start``'s (a month not yet complete); a loan's age at a cut-off date.

    >>> months_between(dt.date(2024, 1, 15), dt.date(2026, 11, 1))
    33
    >>> months_between(dt.date(2024, 1, 1), dt.date(2026, 11, 1))
    34
    """
    return (end.year - start.year) * 12 + end.month - start.month - (1 if end.day < start.day else 0)


def from_rep_lines(lines: tuple[RepLine, ...], cut_off: dt.date | None = None) -> LoanArrays:
    """Rep lines as loans (one loan per line); a line with an ``origination_date`` is aged to
    ``cut_off`` (:func:`months_between`)."""
    ages = [ln.age if ln.origination_date is None else months_between(ln.origination_date, cut_off) for ln in lines]
    return LoanArrays(
        loan_id=np.array([ln.name or f"line-{k + 1}" for k, ln in enumerate(lines)], dtype=object),
        balance=np.array([ln.balance for ln in lines], dtype=np.float64),
        rate=np.array([ln.wac for ln in lines], dtype=np.float64),
        net_rate=np.array([ln.net_rate for ln in lines], dtype=np.float64),
        remaining_term=np.array([ln.wam for ln in lines], dtype=np.int64),
        age=np.array(ages, dtype=np.int64),
        original_term=np.array([ln.original_term or a + ln.wam for ln, a in zip(lines, ages, strict=True)],
                               dtype=np.int64),
        amortization=np.array([AMORTIZATION.index(ln.amortization) for ln in lines], dtype=np.int8),
        balloon_month=np.array([ln.balloon_month or 0 for ln in lines], dtype=np.int64),
        status=np.zeros(len(lines), dtype=np.int8),
        **dict(zip(("arm_index", "arm_terms"), _arm_terms(lines), strict=True)),
    )


def read_tape(path: str | Path, *, servicing_fee_rate: float = 0.0, cut_off: dt.date | None = None) -> LoanArrays:
    """Read and validate a loan tape (``.csv`` or ``.parquet``).

    Columns: ``loan_id``, ``balance``, ``rate``, ``remaining_term``, ``age`` (or
    ``origination_date``, each loan then aged to the deal's ``cut_off`` date,
    :func:`months_between`); optional ``servicing_fee_rate`` (else the collateral's),
    ``original_term`` (else age + remaining_term), ``status``, ``amortization``,
    ``balloon_month``. Other columns are not read.
    A Parquet tape is read as Arrow columns: numbers straight into numpy arrays, ``loan_id`` kept
    as Arrow strings (no Python object per loan).
    """

    path = Path(path)
    if not path.is_file():
        raise SpecError("loan_tape", str(path), "an existing CSV or Parquet file", file=str(path))
    table, names = read_arrow_table(path, {"loan_id": str, "status": str, "amortization": str}, "loan tape",
                                    TAPE_REQUIRED + TAPE_OPTIONAL, dictionary=("status", "amortization"))
    held = [table]
    del table
    return _tape(held, file=str(path), servicing_fee_rate=servicing_fee_rate, names=names, cut_off=cut_off)


def tape_from_table(table: pa.Table, *, file: str | None = None, servicing_fee_rate: float = 0.0,
                    names: list[str] | None = None, cut_off: dt.date | None = None) -> LoanArrays:
    """Validate a tape already in an Arrow table (see :func:`read_tape`); ``names``: all the
    file's columns, for messages (default: the table's)."""
    return _tape([table], file=file, servicing_fee_rate=servicing_fee_rate, names=names, cut_off=cut_off)


def _tape(held: list[pa.Table], *, file: str | None, servicing_fee_rate: float, names: list[str] | None,
          cut_off: dt.date | None = None) -> LoanArrays:
    """:func:`tape_from_table` on the table ``held`` hands over (taken out of it): each column's
    Arrow buffers are let go once it is read and checked, so a tape is not held twice."""
    import pandas as pd  # deferred: a deal on rep lines never imports pandas
    import pyarrow as pa  # deferred: only tapes need Arrow
    import pyarrow.compute as pc  # deferred: as pyarrow

    table = held.pop()
    names = list(table.column_names) if names is None else names
    unique_columns([str(c) for c in table.column_names], file)
    dated = "origination_date" in table.column_names
    if dated and "age" in table.column_names:
        raise SpecError("columns", sorted(map(str, names)), "age or origination_date, not both", file=file)
    if dated and cut_off is None:
        raise SpecError("origination_date", "a column", "a deal cut_off_date to age the loans to", file=file)
    missing = [c for c in TAPE_REQUIRED if c not in table.column_names and not (c == "age" and dated)]
    if missing:
        raise SpecError("columns", sorted(map(str, names)),
                        f"the tape columns {list(TAPE_REQUIRED)} (missing {missing})", file=file)
    n = table.num_rows
    if n == 0:
        raise SpecError("rows", 0, "at least one loan", file=file)

    def cell(col: str, k: int):
        value = table.column(col)[k].as_py()
        return math.nan if value is None else value  # an empty cell, as pandas reads it

    def fail(k: int, col: str, expected: str) -> SpecError:
        return SpecError(f"row {k + 1} (loan_id {cell('loan_id', k)}), {col}", _plain(cell(col, k)), expected,
                         file=file)

    def text(col: str) -> pa.ChunkedArray:
        """The column as Arrow strings (nulls kept): a number or a date column reads as its text
        (whole numbers cast by Arrow, as ``str`` writes them; anything else through ``str``)."""
        c = table.column(col)
        if pa.types.is_string(c.type) or pa.types.is_large_string(c.type):
            return c
        if pa.types.is_integer(c.type):
            return c.cast(pa.string())
        return pa.chunked_array([pa.array(c.to_pandas().map(lambda x: None if pd.isna(x) else str(x),
                                                            na_action=None).to_numpy(object), type=pa.string())])

    ids = text("loan_id")
    bad = pc.or_(pc.or_(pc.is_null(ids), pc.equal(pc.binary_length(ids), 0)), pc.utf8_is_space(ids))
    if pc.any(bad).as_py():
        raise fail(int(np.argmax(bad.to_numpy(zero_copy_only=False))), "loan_id", "a non-empty loan_id")
    if not _distinct(ids):
        dup = ids.to_pandas().duplicated().to_numpy()
        raise fail(int(np.argmax(dup)), "loan_id", "a loan_id not used by an earlier row")

    def number(col: str, ok, expected: str, default=None, months: bool = False) -> np.ndarray:
        """The column as float64 (amounts, rates) or, for ``months`` stored as integers without a
        gap, as int64 (no copy through floats)."""
        nonlocal table
        if col not in table.column_names:
            return np.full(n, default, dtype=np.float64)
        c = table.column(col)
        if months and pa.types.is_integer(c.type) and c.null_count == 0:  # whole numbers as stored
            values = c.cast(pa.int64(), safe=False).to_numpy()
        elif pa.types.is_integer(c.type) or pa.types.is_floating(c.type):  # an empty cell is NaN
            values = c.cast(pa.float64(), safe=False).to_numpy()
        else:  # text or any other type: as pandas reads a number from it (NaN when it cannot)
            values = pd.to_numeric(c.to_pandas(), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        if default is not None and values.dtype.kind == "f":
            values = np.where(pc.is_null(c, nan_is_null=True).to_numpy(zero_copy_only=False), default, values)
        with np.errstate(invalid="ignore"):
            bad = ~ok(values)
        if bad.any():
            raise fail(int(np.argmax(bad)), col, expected)
        table = table.drop_columns([col])  # read and checked: its Arrow buffers go (or live on in a view)
        pa.default_memory_pool().release_unused()
        return values

    def whole(x):
        return np.ones(x.shape, dtype=bool) if x.dtype.kind == "i" else np.isfinite(x) & (x == np.round(x))

    def codes(col: str, default: str, table_of: dict[str, int], expected: str) -> np.ndarray:
        """A text column's codes (``table_of``), after trimming and lower-casing; empty is ``default``.
        A dictionary-encoded column (Parquet's usual storage of such a column) is looked up once per
        distinct value, not once per loan."""
        if col not in table.column_names:
            return np.full(n, table_of[default], dtype=np.int8)
        keys = pa.array(list(table_of))
        code_of = np.array([*table_of.values(), -1], dtype=np.int8)  # -1: not a known value

        def lookup(strings) -> np.ndarray:
            raw = pc.utf8_lower(pc.utf8_trim_whitespace(pc.fill_null(strings, default)))
            return code_of[pc.fill_null(pc.index_in(raw, value_set=keys), -1).to_numpy(zero_copy_only=False)]

        c = table.column(col)
        if pa.types.is_dictionary(c.type) and pa.types.is_string(c.type.value_type):
            out = np.empty(n, dtype=np.int8)
            start = 0
            for chunk in c.chunks:
                per_value = np.append(lookup(chunk.dictionary), np.int8(table_of[default]))  # a null: default
                at = pc.fill_null(chunk.indices, len(chunk.dictionary)).to_numpy(zero_copy_only=False)
                out[start:start + len(chunk)] = per_value[at]
                start += len(chunk)
        else:
            out = lookup(text(col) if not pa.types.is_dictionary(c.type) else c.cast(c.type.value_type))
        if (out < 0).any():
            raise fail(int(np.argmax(out < 0)), col, expected)
        return out

    balance = number("balance", lambda x: np.isfinite(x) & (x >= 0) & (x <= MAX_AMOUNT),
                     f"a finite amount >= 0 (and at most {MAX_AMOUNT:.0e})")
    rate = number("rate", lambda x: (x >= 0) & (x <= 1), "a decimal in [0, 1]")
    term = number("remaining_term", lambda x: whole(x) & (x >= 1) & (x <= MAX_MONTHS),
                  f"a whole number of months >= 1 (at most {MAX_MONTHS})", months=True)
    if dated:  # each loan's age at the cut-off date, in whole months
        when = pd.to_datetime(text("origination_date").to_pandas(), format="%Y-%m-%d", errors="coerce")
        bad = when.isna().to_numpy() | (when > pd.Timestamp(cut_off)).to_numpy()
        if bad.any():
            raise fail(int(np.argmax(bad)), "origination_date",
                       f"an ISO date (YYYY-MM-DD) on or before the cut-off date {cut_off.isoformat()}")
        age = ((cut_off.year - when.dt.year) * 12 + cut_off.month - when.dt.month
               - (when.dt.day > cut_off.day)).to_numpy(dtype=np.int64)
    else:
        age = number("age", lambda x: whole(x) & (x >= 0) & (x <= MAX_MONTHS),
                     f"a whole number of months >= 0 (at most {MAX_MONTHS})", months=True)
    has = set(table.column_names)
    fee = number("servicing_fee_rate", lambda x: (x >= 0) & (x <= rate),
                 "a decimal in [0, rate]", default=servicing_fee_rate) if "servicing_fee_rate" in has else (
        servicing_fee_rate)
    term = term.astype(np.int64, copy=False)
    age = age.astype(np.int64, copy=False)
    last = age + term  # the loan month of the last scheduled payment
    status = codes("status", "current", STATUS_CODES, f"one of {sorted(STATUS_CODES)}")
    amort = codes("amortization", "level", {name: k for k, name in enumerate(AMORTIZATION)},
                  f"one of {list(AMORTIZATION)}")
    is_balloon = amort == AMORTIZATION.index("balloon")
    final = last  # the loan month of the last payment (a balloon's own month)
    bm = np.zeros(n, dtype=np.int64)
    if is_balloon.any() or "balloon_month" in has:
        bm = number("balloon_month", lambda x: np.isnan(x) | (whole(x) & (x >= 1)),
                    "a whole loan month >= 1", default=np.nan, months=True) if "balloon_month" in has else (
            np.full(n, np.nan))
        bad = is_balloon & ~((bm > age) & (bm <= last))
        if bad.any():
            k = int(np.argmax(bad))
            raise SpecError(f"row {k + 1} (loan_id {cell('loan_id', k)}), balloon_month", _plain(bm[k]),
                            f"a loan month in ({int(age[k])}, {int(last[k])}] for a balloon loan", file=file)
        bm = np.where(is_balloon, bm, 0).astype(np.int64)
        final = np.where(is_balloon, bm, last)
    orig = last
    if "original_term" in has:
        orig = number("original_term", lambda x: np.isnan(x) | (whole(x) & (x >= age) & (x <= MAX_MONTHS)),
                      f"a whole number of months >= age (at most {MAX_MONTHS})", default=np.nan, months=True)
        given_orig = ~np.isnan(orig) if orig.dtype.kind == "f" else np.ones(n, dtype=bool)
        bad = given_orig & (orig < final)
        if bad.any():
            k = int(np.argmax(bad))
            raise SpecError(f"row {k + 1} (loan_id {cell('loan_id', k)}), original_term", _plain(orig[k]),
                            f"a term >= the loan month of the last payment ({int(final[k])}: "
                            + ("balloon_month" if is_balloon[k] else "age + remaining_term") + ")", file=file)
        orig = orig if orig.dtype.kind == "i" else np.where(given_orig, orig, last).astype(np.int64)

    arm = {}
    if "arm_index" in has:  # adjustable-rate loans: their terms, as a rep line's ``arm``
        index = text("arm_index").to_pandas().fillna("").str.strip().to_numpy(dtype=object)
        resets = index != ""
        table = table.drop_columns(["arm_index"])
        if resets.any() and "arm_margin" not in has:
            raise SpecError("columns", sorted(map(str, names)), "an arm_margin column for the loans with an "
                            "arm_index", file=file)

        def arm_column(col, ok, expected, default):
            if col not in has:
                return np.full(n, default, dtype=np.float64)
            return np.where(resets, number(col, lambda x: ~resets | ok(x), expected, default=default), 0.0)

        # an empty initial cap is the periodic cap: where the file gives one (read before the column goes)
        initial_given = ~pc.is_null(table.column("arm_initial_cap"), nan_is_null=True).to_numpy(
            zero_copy_only=False) if "arm_initial_cap" in has else np.zeros(n, dtype=bool)
        cap = (lambda x: np.isinf(x) | ((x >= 0) & (x <= 1)), "a decimal in [0, 1], or empty for none")
        terms = np.stack([
            arm_column("arm_margin", lambda x: (x >= 0) & (x <= 1), "a decimal in [0, 1] for a loan with an "
                       "arm_index", np.nan),
            arm_column("arm_initial_fixed_months", lambda x: whole(x) & (x >= 0) & (x <= MAX_MONTHS),
                       f"a whole number of months >= 0 (at most {MAX_MONTHS})", 0.0),
            arm_column("arm_reset_months", lambda x: whole(x) & (x >= 1) & (x <= MAX_MONTHS),
                       f"a whole number of months >= 1 (at most {MAX_MONTHS})", 12.0),
            arm_column("arm_initial_cap", *cap, np.inf),
            arm_column("arm_periodic_cap", *cap, np.inf),
            arm_column("arm_lifetime_cap", lambda x: np.isinf(x) | ((x >= rate) & (x <= 1)),
                       "a decimal in [rate, 1], or empty for none", np.inf),
            arm_column("arm_lifetime_floor", lambda x: (x >= 0) & (x <= rate), "a decimal in [0, rate]", 0.0),
        ], axis=1)
        terms[:, ARM_INITIAL_CAP] = np.where(initial_given, terms[:, ARM_INITIAL_CAP], terms[:, ARM_PERIODIC_CAP])
        if resets.any():
            arm = {"arm_index": index, "arm_terms": terms}

    return LoanArrays(
        loan_id=pd.array(ids, dtype="str"), balance=balance, rate=rate, net_rate=rate - fee,
        remaining_term=term, age=age, original_term=orig, amortization=amort, balloon_month=bm, status=status,
        **arm,
    )


def _distinct(ids: pa.ChunkedArray) -> bool:
    """Whether every string of ``ids`` (no nulls) is distinct: hashed and tabled in a kernel from
    the Arrow buffers; a repeated hash (a repeat, or a rare collision) is settled by pandas."""
    import pyarrow as pa  # deferred: only tapes need Arrow

    table = KS.hash_table(len(ids))
    for a in ids.chunks:  # each chunk's buffers as they are (no copy into one)
        buffers = a.buffers()
        wide = pa.types.is_large_string(a.type)
        offsets = np.frombuffer(buffers[1], dtype=np.int64 if wide else np.int32)[a.offset:a.offset + len(a) + 1]
        data = np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None else np.zeros(1, dtype=np.uint8)
        if KS.insert_strings(offsets, data, table) >= 0:
            return bool(ids.to_pandas().is_unique)
    return True


def _plain(x):
    """numpy scalars as plain Python values for messages."""
    return x.item() if hasattr(x, "item") else x


def group_loans(deal: Deal) -> tuple[LoanArrays, ...]:
    """Each collateral group's loans (CONVENTIONS R2.12; tapes read once and kept with the deal),
    or the deal's one pool's."""
    coll = deal.collateral
    if coll.groups is None:
        return (deal_loans(deal),)
    if deal._tape is None:
        deal._tape = tuple(from_rep_lines(g.rep_lines, deal.cut_off_date) if g.rep_lines is not None
                           else read_tape(deal.tape_path(g.loan_tape), servicing_fee_rate=g.servicing_fee_rate,
                                          cut_off=deal.cut_off_date) for g in coll.groups)
    return deal._tape


def concatenated(parts: Sequence[LoanArrays]) -> LoanArrays:
    """Several pools' loans as one, in order."""
    if len(parts) == 1:
        return parts[0]
    fields = [f.name for f in dataclasses.fields(LoanArrays) if not f.name.startswith("arm_")]
    ids = np.concatenate([np.asarray(p.loan_id, dtype=object) for p in parts])
    arm = {}
    if any(p.arm_index is not None for p in parts):  # fixed-rate parts: no index, no terms
        arm = {"arm_index": np.concatenate([p.arm_index if p.arm_index is not None
                                            else np.full(len(p), "", dtype=object) for p in parts]),
               "arm_terms": np.concatenate([p.arm_terms if p.arm_terms is not None else np.zeros((len(p), ARM_TERMS))
                                            for p in parts])}
    return LoanArrays(ids, *(np.concatenate([getattr(p, f) for p in parts]) for f in fields[1:]), **arm)


def deal_loans(deal: Deal) -> LoanArrays:
    """The deal's loans: its rep lines, or its tape (read once and kept with the deal); with
    collateral groups, every group's in group order."""
    coll = deal.collateral
    if coll.groups is not None:
        return concatenated(group_loans(deal))
    if coll.rep_lines is not None:
        return from_rep_lines(coll.rep_lines, deal.cut_off_date)
    if deal._tape is None:
        deal._tape = read_tape(deal.tape_path(), servicing_fee_rate=coll.servicing_fee_rate, cut_off=deal.cut_off_date)
    return deal._tape
