"""The deal's ledger: SQLite, append-only, one hash chain over every table that influences a payment.

Two tables hold the deal's history, and one sequence numbers their rows together (``seq``, in
append order):

* ``periods``: one row per recorded period version: the period, its version (1, then one more
  per restatement), the reason for a restatement, the canonical JSON of its inputs (the
  servicer's collections), of the deal's state after the period and of the period report, and
  the hash of each;
* ``instructions``: each settlement instruction's lifecycle (``built`` with the carried
  remainders, withheld payouts and any backing override; ``submitted``, ``confirmed``,
  ``reconciled``).

Every row of either table carries the hash of the row before it in ``seq`` order (of either
table) and its own hash, the keccak-256 of the canonical JSON of all its fields and the deal id.
The first row links to the deal id (the keccak-256 of the deal spec and its loans), so a ledger
belongs to one deal. Each write is one transaction; SQLite triggers refuse UPDATE and DELETE on
every table.

:meth:`Ledger.walk` re-walks the chain and finds an edited, deleted, inserted or reordered row
of either table, and a lifecycle out of order (a ``confirmed`` without its ``submitted``).
What a chain cannot show by itself is rows removed from its end, or a forger who rewrites a row
and every hash after it: for that, keep the chain's head (:meth:`Ledger.head`, ``abs-engine ledger
head``; attestable as EIP-712 typed data) outside the ledger, and verify against it
(:meth:`Ledger.walk` with ``head=``, ``abs-engine ledger verify --head``).

Canonical JSON is RFC 8785 (JCS, through the ``rfc8785`` package), so a JavaScript verifier
recomputes every hash; non-finite floats are written as the strings ``"inf"``, ``"-inf"``,
``"nan"``, and integers beyond 2**53 - 1 as decimal strings.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import rfc8785

__all__ = ["Ledger", "LedgerError", "LedgerRow", "InstructionRow", "canonical_json", "keccak_hex", "LIFECYCLE"]

LIFECYCLE = ("built", "submitted", "confirmed", "reconciled")
"""An instruction's statuses, in the only order they may be recorded."""
FORMAT = "2"
BUSY_TIMEOUT_MS = 30_000
"""How long a writer waits for another process's write transaction (each is one short INSERT)."""
_SAFE_INT = 2**53 - 1


class LedgerError(RuntimeError):
    """A ledger operation that cannot be done (a replay with different inputs, a period out of
    order, a ledger of another deal); nothing was written."""


def _plain(x: Any) -> Any:
    if isinstance(x, bool) or x is None or isinstance(x, str):
        return x
    if isinstance(x, int):
        return x if -_SAFE_INT <= x <= _SAFE_INT else str(x)
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
    """RFC 8785 canonical JSON text (see the module doc).

    >>> canonical_json({"b": 1.0, "a": [float("inf"), 2, 2**60, 0.1]})
    '{"a":["inf",2,"1152921504606846976",0.1],"b":1}'
    """
    return rfc8785.dumps(_plain(data)).decode("utf-8")


def keccak_hex(text: str | bytes) -> str:
    """``0x``-prefixed keccak-256 of UTF-8 text (or bytes), via eth-utils.

    >>> keccak_hex("")
    '0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470'
    """
    from eth_utils import keccak  # deferred: only onchain encodings need eth-utils

    data = text.encode("utf-8") if isinstance(text, str) else text
    return "0x" + keccak(data).hex()


@dataclass(frozen=True)
class LedgerRow:
    """A row of ``periods``."""

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

    table = "periods"

    def header(self, deal_id: str) -> dict:
        return {"deal_id": deal_id, "table": "periods", "seq": self.seq, "period": self.period,
                "version": self.version, "reason": self.reason, "inputs_hash": self.inputs_hash,
                "state_hash": self.state_hash, "report_hash": self.report_hash, "prev_hash": self.prev_hash}

    def content_problem(self) -> str | None:
        if keccak_hex(self.inputs) != self.inputs_hash:
            return "inputs do not hash to inputs_hash"
        if keccak_hex(self.state) != self.state_hash:
            return "state does not hash to state_hash"
        if keccak_hex(self.report) != self.report_hash:
            return "report does not hash to report_hash"
        return None


@dataclass(frozen=True)
class InstructionRow:
    """A row of ``instructions``: one step of an instruction's lifecycle."""

    seq: int
    period: int
    content_id: str
    status: str
    detail: str
    prev_hash: str
    hash: str

    table = "instructions"

    def header(self, deal_id: str) -> dict:
        return {"deal_id": deal_id, "table": "instructions", "seq": self.seq, "period": self.period,
                "content_id": self.content_id, "status": self.status, "detail_hash": keccak_hex(self.detail),
                "prev_hash": self.prev_hash}

    def content_problem(self) -> str | None:
        return None

    def as_dict(self) -> dict:
        return {"seq": self.seq, "period": self.period, "content_id": self.content_id, "status": self.status,
                "detail": json.loads(self.detail)}


_TABLES = ("meta", "periods", "instructions")
_META_KEYS = ("deal_id", "deal_name", "format")
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
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    UNIQUE (content_id, status)
);
""" + "".join(f"""
CREATE TRIGGER IF NOT EXISTS {t}_append_only_u BEFORE UPDATE ON {t}
    BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS {t}_append_only_d BEFORE DELETE ON {t}
    BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;""" for t in _TABLES)

_COLUMNS = ("seq", "period", "version", "reason", "inputs_hash", "inputs", "state_hash", "state", "report_hash",
            "report", "prev_hash", "hash")
_ICOLUMNS = ("seq", "period", "content_id", "status", "detail", "prev_hash", "hash")


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
        try:
            self._conn = sqlite3.connect(self.path, isolation_level=None)  # transactions are explicit
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            stored = self._stored_meta()
            if stored and stored.get("format") != FORMAT:
                raise LedgerError(f"{self.path}: a ledger of format {stored.get('format', '1')}, not {FORMAT}; "
                                  "re-create it from the servicer reports")
            self._conn.executescript(_SCHEMA)
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc):
                raise LedgerError(f"{self.path}: another process held the ledger's lock for more than "
                                  f"{BUSY_TIMEOUT_MS / 1000:g} s; nothing was written: run it again") from None
            raise LedgerError(f"{self.path}: not an SQLite ledger ({exc})") from None
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"{self.path}: not an SQLite ledger ({exc})") from None
        stored = self._stored_meta()
        if not stored:
            with self.transaction():
                self._conn.execute("INSERT OR IGNORE INTO meta VALUES ('deal_id', ?), ('deal_name', ?), ('format', ?)",
                                   (deal_id, deal_name, FORMAT))
            stored = self._stored_meta()
        if stored.get("deal_id") != deal_id:
            raise LedgerError(f"{self.path}: the ledger belongs to deal id {stored.get('deal_id')}, not {deal_id}")

    def _stored_meta(self) -> dict[str, str]:
        have = self._conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name='meta'").fetchone()
        if have is None:
            return {}
        return dict(self._conn.execute("SELECT key, value FROM meta").fetchall())

    @classmethod
    def open(cls, path: str | Path) -> Ledger:
        """An existing ledger, whatever its deal."""
        p = Path(path)
        if not p.is_file():
            raise LedgerError(f"{p}: no such ledger")
        try:
            with sqlite3.connect(f"file:{p}?mode=ro", uri=True) as conn:
                row = conn.execute("SELECT value FROM meta WHERE key = 'deal_id'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"{p}: not an abs_engine ledger ({exc})") from None
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
        """Every period row, in append order."""
        cur = self._conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM periods ORDER BY seq")
        return [LedgerRow(*r) for r in cur.fetchall()]

    def instruction_rows(self) -> list[InstructionRow]:
        cur = self._conn.execute(f"SELECT {', '.join(_ICOLUMNS)} FROM instructions ORDER BY seq")
        return [InstructionRow(*r) for r in cur.fetchall()]

    def chain(self) -> list[LedgerRow | InstructionRow]:
        """Every row of both tables, in ``seq`` order: the hash chain."""
        return sorted([*self.rows(), *self.instruction_rows()], key=lambda r: r.seq)

    def current(self) -> dict[int, LedgerRow]:
        """The current (latest) version of each recorded period, by period."""
        out: dict[int, LedgerRow] = {}
        for r in self.rows():
            out[r.period] = r
        return dict(sorted(out.items()))

    def last_hash(self) -> str:
        return self.head()["hash"]

    def head(self) -> dict:
        """The chain's head: ``seq`` and ``hash`` of its last row (``seq`` 0 and the deal id when
        empty), the latest period recorded, and the deal id."""
        last = self._conn.execute("SELECT seq, hash FROM periods UNION ALL SELECT seq, hash FROM instructions "
                                  "ORDER BY seq DESC LIMIT 1").fetchone()
        period = self._conn.execute("SELECT MAX(period) FROM periods").fetchone()[0]
        return {"deal_id": self.deal_id, "seq": last[0] if last else 0, "hash": last[1] if last else self.deal_id,
                "period": period or 0}

    def instructions(self, period: int | None = None) -> list[dict]:
        return [r.as_dict() for r in self.instruction_rows() if period is None or r.period == period]

    # -- writing
    def transaction(self) -> _Transaction:
        return _Transaction(self)

    def _before_commit(self) -> None:
        """Called inside every write transaction just before COMMIT (a seam for crash tests)."""

    def build_row(self, seq: int, period: int, version: int, reason: str | None, inputs: str, state: str,
                  report: str, prev_hash: str) -> LedgerRow:
        """A period row with its hashes (not written)."""
        ih, sh, rh = keccak_hex(inputs), keccak_hex(state), keccak_hex(report)
        row = LedgerRow(seq, period, version, reason, ih, inputs, sh, state, rh, report, prev_hash, "")
        return replace(row, hash=keccak_hex(canonical_json(row.header(self.deal_id))))

    def next_seq(self) -> int:
        return self.head()["seq"] + 1

    def append(self, rows: list[LedgerRow]) -> None:
        """Write period ``rows`` (built on the current head) in one transaction."""
        with _database_errors(self), self.transaction() as tx:
            head = self.head()
            if head["hash"] != rows[0].prev_hash or head["seq"] + 1 != rows[0].seq:
                raise LedgerError("the ledger changed while the period was computed; run it again")
            for r in rows:
                tx.execute(f"INSERT INTO periods ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                           tuple(getattr(r, c) for c in _COLUMNS))

    def record_instruction(self, period: int, content_id: str, status: str, detail: dict) -> None:
        """Append one lifecycle step of an instruction, chained to the head, in one transaction."""
        if status not in LIFECYCLE:
            raise LedgerError(f"status {status!r} is not one of {list(LIFECYCLE)}")
        with _database_errors(self), self.transaction() as tx:
            head = self.head()
            steps = [r[0] for r in tx.execute("SELECT status FROM instructions WHERE content_id = ? ORDER BY seq",
                                              (content_id,)).fetchall()]
            problem = _lifecycle_problem(steps, status)
            if problem:
                raise LedgerError(f"instruction {content_id}: {problem}")
            row = InstructionRow(head["seq"] + 1, period, content_id, status, canonical_json(detail), head["hash"], "")
            row = replace(row, hash=keccak_hex(canonical_json(row.header(self.deal_id))))
            tx.execute(f"INSERT INTO instructions ({', '.join(_ICOLUMNS)}) VALUES ({', '.join('?' * len(_ICOLUMNS))})",
                       tuple(getattr(row, c) for c in _ICOLUMNS))

    def walk(self, head: str | None = None) -> Iterator[tuple[LedgerRow | InstructionRow, str | None]]:
        """Each row of the chain (both tables, in ``seq`` order) with the first problem of its own
        link (or ``None``); first ``(None, problem)`` if the meta table holds other keys than its
        own: a ``seq`` out of sequence, a ``prev_hash`` that is not the previous
        row's hash, content that does not hash to its stored hash, a stored hash that is not the
        hash of the row's fields, or a lifecycle step out of order. With ``head`` (a hash kept
        outside the ledger), a chain in which no row has that hash ends with a problem: rows were
        removed from its end, or rewritten."""
        keys = sorted(self._stored_meta())
        if keys != sorted(_META_KEYS):
            yield None, f"the meta table holds the keys {keys}, not {sorted(_META_KEYS)}"
        prev, seq = self.deal_id, 0
        steps: dict[str, list[str]] = {}
        found = head is None or head == self.deal_id
        last = None
        for r in self.chain():
            problem = None
            if r.seq != seq + 1:
                problem = f"seq {r.seq} follows seq {seq}: a row is missing or was inserted"
            elif r.prev_hash != prev:
                problem = f"prev_hash {r.prev_hash} is not the previous row's hash {prev}"
            else:
                problem = r.content_problem()
            if problem is None and keccak_hex(canonical_json(r.header(self.deal_id))) != r.hash:
                problem = "hash is not the hash of the row's fields"
            if problem is None and isinstance(r, InstructionRow):
                problem = _lifecycle_problem(steps.setdefault(r.content_id, []), r.status)
                steps[r.content_id].append(r.status)
            yield r, problem
            found = found or r.hash == head
            prev, seq, last = r.hash, r.seq, r
        if not found:
            yield last, (f"no row has the head hash {head}: rows were removed from the end of the chain, or "
                         "rewritten")


class _database_errors:
    """SQLite's own errors on a write (another process holding the lock past the busy timeout, a
    uniqueness violation from a concurrent writer) as a :class:`LedgerError`; nothing was written."""

    def __init__(self, ledger: Ledger):
        self.ledger = ledger

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None and issubclass(exc_type, sqlite3.DatabaseError):
            raise LedgerError(f"{self.ledger.path}: another process wrote to the ledger at the same time ({exc}); "
                              "nothing was written: run it again") from None
        return False


def _lifecycle_problem(steps: list[str], status: str) -> str | None:
    """Why ``status`` cannot follow ``steps`` (the statuses recorded so far), or ``None``."""
    if status not in LIFECYCLE:
        return f"unknown status {status!r}"
    want = LIFECYCLE[len(steps)] if len(steps) < len(LIFECYCLE) else None
    if status != want:
        have = steps[-1] if steps else "nothing"
        return f"status {status!r} recorded after {have!r} (the lifecycle is {' -> '.join(LIFECYCLE)})"
    return None


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
