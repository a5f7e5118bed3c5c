"""The deal's ledger of periods: SQLite, append-only, hash-chained.

One row per recorded period version, in append order (``seq``). A row holds the period, its
version (1, then one more per restatement), the reason for a restatement, the canonical JSON
of its inputs (the servicer's collections), of the deal's state after the period and of the
period report, the hash of each, the previous row's hash and its own hash:

``hash = keccak256(canonical JSON of {deal_id, seq, period, version, reason, inputs_hash,
state_hash, report_hash, prev_hash})``

The first row's ``prev_hash`` is the deal id (the keccak-256 of the deal spec's canonical
JSON), so a ledger belongs to one deal. Rows are written in one transaction; SQLite triggers
refuse UPDATE and DELETE. The current version of a period is its latest row.

Canonical JSON: keys sorted, no whitespace, floats in their shortest exact form, non-finite
floats as the strings ``"inf"``, ``"-inf"``, ``"nan"``.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Ledger", "LedgerError", "LedgerRow", "canonical_json", "keccak_hex"]


class LedgerError(RuntimeError):
    """A ledger operation that cannot be done (a replay with different inputs, a period out of
    order, a ledger of another deal); nothing was written."""


def _plain(x: Any) -> Any:
    if isinstance(x, float):
        if math.isfinite(x):
            return x
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if hasattr(x, "item"):  # numpy scalars
        return _plain(x.item())
    return x


def canonical_json(data: Any) -> str:
    """Canonical JSON text (see the module doc).

    >>> canonical_json({"b": 1.0, "a": [float("inf"), 2]})
    '{"a":["inf",2],"b":1.0}'
    """
    return json.dumps(_plain(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def keccak_hex(text: str | bytes) -> str:
    """``0x``-prefixed keccak-256 of UTF-8 text (or bytes), via eth-utils.

    >>> keccak_hex("")
    '0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470'
    """
    from eth_utils import keccak

    data = text.encode("utf-8") if isinstance(text, str) else text
    return "0x" + keccak(data).hex()


@dataclass(frozen=True)
class LedgerRow:
    seq: int
    period: int
    version: int
    reason: str | None
    inputs_hash: str
    inputs: str
    state_hash: str
    state: str
    report_hash: str
    report: str
    prev_hash: str
    hash: str

    def header(self, deal_id: str) -> dict:
        return {"deal_id": deal_id, "seq": self.seq, "period": self.period, "version": self.version,
                "reason": self.reason, "inputs_hash": self.inputs_hash, "state_hash": self.state_hash,
                "report_hash": self.report_hash, "prev_hash": self.prev_hash}


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS periods (
    seq INTEGER PRIMARY KEY,
    period INTEGER NOT NULL,
    version INTEGER NOT NULL,
    reason TEXT,
    inputs_hash TEXT NOT NULL,
    inputs TEXT NOT NULL,
    state_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    report_hash TEXT NOT NULL,
    report TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    UNIQUE (period, version)
);
CREATE TABLE IF NOT EXISTS instructions (
    seq INTEGER PRIMARY KEY,
    period INTEGER NOT NULL,
    content_id TEXT NOT NULL,
    status TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS periods_append_only_u BEFORE UPDATE ON periods
    BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS periods_append_only_d BEFORE DELETE ON periods
    BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS instructions_append_only_u BEFORE UPDATE ON instructions
    BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS instructions_append_only_d BEFORE DELETE ON instructions
    BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
"""

_COLUMNS = ("seq", "period", "version", "reason", "inputs_hash", "inputs", "state_hash", "state", "report_hash",
            "report", "prev_hash", "hash")


class Ledger:
    """A deal's ledger in an SQLite file (created on first use).

    Parameters
    ----------
    path
        The database file.
    deal_id, deal_name
        The deal it belongs to; opening a ledger of another deal is a :class:`LedgerError`.
    """

    def __init__(self, path: str | Path, deal_id: str, deal_name: str = ""):
        self.path = Path(path)
        self.deal_id = deal_id
        self._conn = sqlite3.connect(self.path, isolation_level=None)  # transactions are explicit
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(_SCHEMA)
        stored = self._conn.execute("SELECT value FROM meta WHERE key = 'deal_id'").fetchone()
        if stored is None:
            with self.transaction():
                self._conn.execute("INSERT INTO meta VALUES ('deal_id', ?), ('deal_name', ?)", (deal_id, deal_name))
        elif stored[0] != deal_id:
            raise LedgerError(f"{self.path}: the ledger belongs to deal id {stored[0]}, not {deal_id}")

    @classmethod
    def open(cls, path: str | Path) -> Ledger:
        """An existing ledger, whatever its deal."""
        p = Path(path)
        if not p.is_file():
            raise LedgerError(f"{p}: no such ledger")
        with sqlite3.connect(p) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'deal_id'").fetchone()
        if row is None:
            raise LedgerError(f"{p}: not an abs_engine ledger")
        return cls(p, row[0])

    def meta(self, key: str) -> str | None:
        r = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return r[0] if r else None

    def close(self) -> None:
        self._conn.close()

    # -- reading
    def rows(self) -> list[LedgerRow]:
        """Every row, in append order."""
        cur = self._conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM periods ORDER BY seq")
        return [LedgerRow(*r) for r in cur.fetchall()]

    def current(self) -> dict[int, LedgerRow]:
        """The current (latest) version of each recorded period, by period."""
        out: dict[int, LedgerRow] = {}
        for r in self.rows():
            out[r.period] = r
        return dict(sorted(out.items()))

    def last_hash(self) -> str:
        r = self._conn.execute("SELECT hash FROM periods ORDER BY seq DESC LIMIT 1").fetchone()
        return r[0] if r else self.deal_id

    def instructions(self, period: int | None = None) -> list[dict]:
        q = "SELECT seq, period, content_id, status, detail FROM instructions"
        args: tuple = ()
        if period is not None:
            q += " WHERE period = ?"
            args = (period,)
        return [{"seq": s, "period": p, "content_id": c, "status": st, "detail": json.loads(d)}
                for s, p, c, st, d in self._conn.execute(q + " ORDER BY seq", args).fetchall()]

    # -- writing
    def transaction(self) -> _Transaction:
        return _Transaction(self)

    def _before_commit(self) -> None:
        """Called inside every write transaction just before COMMIT (a seam for crash tests)."""

    def build_row(self, seq: int, period: int, version: int, reason: str | None, inputs: str, state: str,
                  report: str, prev_hash: str) -> LedgerRow:
        """A row with its hashes (not written)."""
        ih, sh, rh = keccak_hex(inputs), keccak_hex(state), keccak_hex(report)
        head = {"deal_id": self.deal_id, "seq": seq, "period": period, "version": version, "reason": reason,
                "inputs_hash": ih, "state_hash": sh, "report_hash": rh, "prev_hash": prev_hash}
        return LedgerRow(seq, period, version, reason, ih, inputs, sh, state, rh, report, prev_hash,
                         keccak_hex(canonical_json(head)))

    def next_seq(self) -> int:
        r = self._conn.execute("SELECT MAX(seq) FROM periods").fetchone()
        return (r[0] or 0) + 1

    def append(self, rows: list[LedgerRow]) -> None:
        """Write ``rows`` (built on the current last row) in one transaction."""
        with self.transaction() as tx:
            if self.last_hash() != rows[0].prev_hash:
                raise LedgerError("the ledger changed while the period was computed; run it again")
            for r in rows:
                tx.execute(f"INSERT INTO periods ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                           tuple(getattr(r, c) for c in _COLUMNS))

    def record_instruction(self, period: int, content_id: str, status: str, detail: dict) -> None:
        with self.transaction() as tx:
            tx.execute("INSERT INTO instructions (period, content_id, status, detail) VALUES (?, ?, ?, ?)",
                       (period, content_id, status, canonical_json(detail)))

    def walk(self) -> Iterator[tuple[LedgerRow, str | None]]:
        """Each row with the first problem of its own chain link (or ``None``): a stored hash that
        is not the hash of the row's fields, or a ``prev_hash`` that is not the previous row's."""
        prev = self.deal_id
        for r in self.rows():
            problem = None
            if r.prev_hash != prev:
                problem = f"prev_hash {r.prev_hash} is not the previous row's hash {prev}"
            elif keccak_hex(r.inputs) != r.inputs_hash:
                problem = "inputs do not hash to inputs_hash"
            elif keccak_hex(r.state) != r.state_hash:
                problem = "state does not hash to state_hash"
            elif keccak_hex(r.report) != r.report_hash:
                problem = "report does not hash to report_hash"
            elif keccak_hex(canonical_json(r.header(self.deal_id))) != r.hash:
                problem = "hash is not the hash of the row's fields"
            yield r, problem
            prev = r.hash


class _Transaction:
    def __init__(self, ledger: Ledger):
        self.ledger = ledger
        self.conn = ledger._conn

    def execute(self, sql: str, args: tuple = ()):
        return self.conn.execute(sql, args)

    def __enter__(self) -> _Transaction:
        self.conn.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            try:
                self.ledger._before_commit()
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")
