"""An append-only SQLite log whose records are hash-chained.

Each record's hash is SHA-256 over the previous hash and the record's
canonical JSON, so changing, inserting or deleting any record breaks every
hash after it (:meth:`RecordStore.verify`). Binary attachments (score-sheet
PDFs, signature PNGs, snapshots) are stored once by their SHA-256 and
referenced from records. Every append is committed before it returns: a
record the flow has taken is never lost, even if the process dies next.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from ..errors import ExamHwError

GENESIS = "0" * 64


class ChainBroken(ExamHwError):
    """The stored chain does not verify; ``seq`` is the first bad record."""

    def __init__(self, seq: int, why: str) -> None:
        super().__init__(f"record {seq}: {why}")
        self.seq = seq


@dataclass(frozen=True)
class Record:
    seq: int
    ts: str
    type: str
    subject: str
    data: dict[str, Any]
    prev: str
    hash: str


def _digest(prev: str, seq: int, ts: str, type_: str, subject: str, data_json: str) -> str:
    body = json.dumps([seq, ts, type_, subject, data_json], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((prev + body).encode()).hexdigest()


class RecordStore:
    """Open (or create) the store at ``path`` (``":memory:"`` for tests)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript("""
            CREATE TABLE IF NOT EXISTS records (
                seq INTEGER PRIMARY KEY, ts TEXT NOT NULL, type TEXT NOT NULL, subject TEXT NOT NULL,
                data TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL);
            CREATE INDEX IF NOT EXISTS records_subject ON records(subject);
            CREATE TABLE IF NOT EXISTS blobs (sha256 TEXT PRIMARY KEY, mime TEXT NOT NULL, data BLOB NOT NULL);
        """)
        row = self._db.execute("SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1").fetchone()
        self._seq, self._last = (row[0], row[1]) if row else (0, GENESIS)

    def append(self, type: str, subject: str = "", data: dict[str, Any] | None = None,
               *, ts: datetime | None = None) -> Record:
        """Append and commit one record; returns it with its chain hash."""
        data = data or {}
        data_json = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
        stamp = (ts or datetime.now(timezone.utc)).isoformat()
        seq = self._seq + 1
        h = _digest(self._last, seq, stamp, type, subject, data_json)
        self._db.execute("INSERT INTO records VALUES (?,?,?,?,?,?,?)",
                         (seq, stamp, type, subject, data_json, self._last, h))
        rec = Record(seq, stamp, type, subject, data, self._last, h)
        self._seq, self._last = seq, h
        return rec

    def put_blob(self, data: bytes, mime: str) -> str:
        """Store ``data`` once; returns its SHA-256 (hex)."""
        digest = hashlib.sha256(data).hexdigest()
        self._db.execute("INSERT OR IGNORE INTO blobs VALUES (?,?,?)", (digest, mime, data))
        return digest

    def blob(self, sha256: str) -> bytes:
        row = self._db.execute("SELECT data FROM blobs WHERE sha256=?", (sha256,)).fetchone()
        if row is None:
            raise KeyError(sha256)
        return bytes(row[0])

    def records(self, *, subject: str | None = None, type: str | None = None) -> Iterator[Record]:
        q, args = "SELECT seq, ts, type, subject, data, prev, hash FROM records", []
        where = []
        if subject is not None:
            where.append("subject=?")
            args.append(subject)
        if type is not None:
            where.append("type=?")
            args.append(type)
        if where:
            q += " WHERE " + " AND ".join(where)
        for seq, ts, t, s, d, prev, h in self._db.execute(q + " ORDER BY seq", args):
            yield Record(seq, ts, t, s, json.loads(d), prev, h)

    def verify(self) -> int:
        """Check the whole chain and every blob reference's digest; returns
        the number of records. Raises :class:`ChainBroken` at the first bad one."""
        prev, n = GENESIS, 0
        for seq, ts, t, s, d, p, h in self._db.execute(
                "SELECT seq, ts, type, subject, data, prev, hash FROM records ORDER BY seq"):
            n += 1
            if seq != n:
                raise ChainBroken(seq, f"sequence gap (expected {n})")
            if p != prev:
                raise ChainBroken(seq, "previous-hash link does not match")
            if _digest(p, seq, ts, t, s, d) != h:
                raise ChainBroken(seq, "content does not match its hash")
            prev = h
        for digest, data in self._db.execute("SELECT sha256, data FROM blobs"):
            if hashlib.sha256(bytes(data)).hexdigest() != digest:
                raise ChainBroken(0, f"blob {digest[:12]}… was altered")
        return n

    @property
    def head(self) -> str:
        """Hash of the last record (publish it to seal the day)."""
        return self._last

    def __len__(self) -> int:
        return self._seq

    def close(self) -> None:
        self._db.close()
