"""A servicer's collections for one period: read, validated row by row, and put in one canonical
form that is hashed, stored in the ledger and re-read from it.

The canonical form is a plain JSON-able dict: the report's header fields, and for a loan-level
tape one row per loan sorted by ``loan_id`` (so the order of the file does not matter), every
amount a float (JSON keeps its exact value).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import SpecError
from ..spec.collection_report import COLLECTION_COLUMNS, COLLECTION_OPTIONAL, CollectionReport
from ..spec.fields import MAX_AMOUNT
from .files import load_spec, read_table, unique_columns
from .loans import STATUS_CODES, _plain

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Collections", "load_collections", "collections_from_frame", "LOAN_FIELDS"]

LOAN_FIELDS = ("scheduled_principal", "prepayment", "interest_collected", "default", "recovery", "ending_balance",
               "servicing_fee", "beginning_balance", "foreclosure_balance")
"""Per-loan amounts of the canonical form, in this order (the last three may be null)."""

CollectionSource = CollectionReport | str | os.PathLike[str] | Mapping[str, Any]


@dataclass(frozen=True, eq=False)
class Collections:
    """One period's validated collections.

    ``report`` is the header (its ``loans`` path is not part of the content); for a loan-level
    report ``loan_id`` (sorted), ``amounts[field]`` (``LOAN_FIELDS``, NaN where a column was not
    given) and ``status`` (codes of :data:`abs_engine.io.loans.STATUS_CODES`); ``file`` names the
    tape (or the report) for errors.
    """

    report: CollectionReport
    loan_id: tuple[str, ...] | None
    amounts: dict[str, np.ndarray] | None
    status: np.ndarray | None
    status_text: tuple[str, ...] | None
    file: str | None
    rows: np.ndarray | None = None   # each sorted row's row number in the file (1 = first loan)

    @property
    def period(self) -> int:
        return self.report.period

    def canonical(self) -> dict:
        """The content as a JSON-able dict (see the module doc)."""
        head = self.report.model_dump(mode="json", exclude={"loans"})
        if self.loan_id is None:
            return {"report": head, "loans": None}
        rows = []
        for k, loan in enumerate(self.loan_id):
            row = [loan, self.status_text[k]]
            for f in LOAN_FIELDS:
                x = float(self.amounts[f][k])
                row.append(None if np.isnan(x) else x)
            rows.append(row)
        return {"report": head, "loans": rows}

    @classmethod
    def from_canonical(cls, data: Mapping[str, Any], file: str | None = None) -> Collections:
        report = CollectionReport.model_validate({**data["report"], **({"loans": "(ledger)"} if data["loans"]
                                                                       is not None else {})})
        if data["loans"] is None:
            return cls(report, None, None, None, None, file)
        rows = data["loans"]
        ids = tuple(r[0] for r in rows)
        text = tuple(r[1] for r in rows)
        amounts = {f: np.array([np.nan if r[2 + j] is None else r[2 + j] for r in rows], dtype=np.float64)
                   for j, f in enumerate(LOAN_FIELDS)}
        status = np.array([STATUS_CODES[s] for s in text], dtype=np.int8)
        return cls(report, ids, amounts, status, text, file, np.arange(1, len(ids) + 1))

    def where(self, k: int, column: str) -> str:
        """The field path of sorted row ``k``'s ``column``, as in the file."""
        return f"row {int(self.rows[k])} (loan_id {self.loan_id[k]}), {column}"


def load_collections(source: CollectionSource | Collections) -> Collections:
    """Read a servicer report: a YAML/JSON file (its ``loans`` tape relative to it), a dict, or a
    :class:`CollectionReport`. Errors name the file, the row (row 1 is the first loan), the
    column and the value."""

    if isinstance(source, Collections):
        return source
    report, file = load_spec(CollectionReport, source)
    if report.loans is None:
        return Collections(report, None, None, None, None, str(file) if file else None)
    tape = Path(report.loans)
    if not tape.is_absolute() and file is not None:
        tape = file.parent / tape
    return _read_tape(report, tape)


def collections_from_frame(report: CollectionReport | Mapping[str, Any], frame: pd.DataFrame,
                           file: str | None = None) -> Collections:
    """A loan-level report whose tape is already a DataFrame (columns as a tape file's)."""

    if not isinstance(report, CollectionReport):
        report = load_spec(CollectionReport, {**report, "loans": report.get("loans") or "(in memory)"})[0]
    return _from_frame(report, frame, file)


def _read_tape(report: CollectionReport, path: Path) -> Collections:
    if not path.is_file():
        raise SpecError("loans", str(path), "an existing collections tape (.csv or .parquet)", file=str(path))
    frame = read_table(path, {"loan_id": str, "delinquency_status": str}, "collections tape")
    return _from_frame(report, frame, str(path))


def _from_frame(report: CollectionReport, frame: pd.DataFrame, file: str | None) -> Collections:
    import pandas as pd  # deferred: a projection without tables never imports pandas

    unique_columns([str(c) for c in frame.columns], file)
    missing = [c for c in COLLECTION_COLUMNS if c not in frame.columns]
    unknown = [c for c in frame.columns if c not in COLLECTION_COLUMNS + COLLECTION_OPTIONAL]
    if missing or unknown:
        raise SpecError("columns", sorted(map(str, frame.columns)),
                        f"the columns {list(COLLECTION_COLUMNS)} and optionally {list(COLLECTION_OPTIONAL)}"
                        + (f" (missing {missing})" if missing else f" (unknown {unknown})"), file=file)

    def fail(k: int, col: str, expected: str) -> SpecError:
        return SpecError(f"row {k + 1} (loan_id {frame['loan_id'].iloc[k]}), {col}", _plain(frame[col].iloc[k]),
                         expected, file=file)

    ids = frame["loan_id"]
    bad = ids.isna() | (ids.astype(str).str.strip() == "")
    if bad.any():
        raise fail(int(np.argmax(bad.to_numpy())), "loan_id", "a non-empty loan_id")
    ids = ids.astype(str).str.strip()
    dup = ids.duplicated().to_numpy()
    if dup.any():
        raise fail(int(np.argmax(dup)), "loan_id", "a loan_id not used by an earlier row")
    amounts = {}
    for col in LOAN_FIELDS:
        if col not in frame.columns:
            amounts[col] = np.full(len(frame), np.nan)
            continue
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=np.float64)
        given = ~frame[col].isna().to_numpy()
        with np.errstate(invalid="ignore"):
            bad = given & ~(np.isfinite(values) & (values >= 0) & (values <= MAX_AMOUNT))
        if col in COLLECTION_COLUMNS:
            bad |= ~given
        if bad.any():
            raise fail(int(np.argmax(bad)), col, f"a finite amount >= 0 (and at most {MAX_AMOUNT:.0e})")
        amounts[col] = np.where(given, values, np.nan)
    text = frame["delinquency_status"].fillna("current").astype(str).str.strip().str.lower()
    codes = text.map(STATUS_CODES)
    if codes.isna().any():
        raise fail(int(np.argmax(codes.isna().to_numpy())), "delinquency_status", f"one of {sorted(STATUS_CODES)}")
    fc = amounts["foreclosure_balance"]
    over = ~np.isnan(fc) & (fc > amounts["ending_balance"] + 0.01)
    if over.any():
        raise fail(int(np.argmax(over)), "foreclosure_balance", "at most the loan's ending_balance")
    order = np.argsort(ids.to_numpy(dtype=str), kind="stable")
    return Collections(
        report=report,
        loan_id=tuple(ids.to_numpy(dtype=object)[order]),
        amounts={c: v[order] for c, v in amounts.items()},
        status=codes.to_numpy(dtype=np.int8)[order],
        status_text=tuple(text.to_numpy(dtype=object)[order]),
        file=file,
        rows=order + 1,
    )
