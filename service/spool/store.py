"""A local SQLite file in WAL mode with synchronous=FULL: a batch is durable once `append` returns.

Bounded in bytes; an idempotency key (Logplex-Frame-Id) makes a retried batch store nothing new.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from service.ingest.records import LogRecord
from service.spool.codec import decode_records, encode_records

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batch (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    received_at TEXT NOT NULL,
    lines INTEGER NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS batch_source ON batch (source);
CREATE TABLE IF NOT EXISTS seen_key (key TEXT PRIMARY KEY, seen_at TEXT NOT NULL);
"""


class SpoolError(Exception):
    """The spool could not take a batch: full, or its file could not be written."""


class SpoolFull(SpoolError):
    """The spool holds its maximum number of bytes; the sender should retry later."""


@dataclass(frozen=True, slots=True)
class Batch:
    """One accepted batch waiting in the spool."""

    key: str
    seq: int
    source: str
    received_at: datetime
    records: list[LogRecord]


class Spool:
    """A durable, bounded FIFO of batches, safe to use from several threads of one process."""

    def __init__(self, directory: Path, *, max_bytes: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "spool.sqlite3"
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.executescript(_SCHEMA)
        self.spool_id = self._spool_id()
        self._bytes = int(
            self._db.execute("SELECT COALESCE(SUM(LENGTH(body)), 0) FROM batch").fetchone()[0]
        )

    def _spool_id(self) -> str:
        row = self._db.execute("SELECT value FROM meta WHERE name = 'spool_id'").fetchone()
        if row:
            return str(row[0])
        spool_id = uuid.uuid4().hex
        self._db.execute("INSERT INTO meta (name, value) VALUES ('spool_id', ?)", (spool_id,))
        return spool_id

    def append(
        self,
        source: str,
        records: list[LogRecord],
        *,
        received_at: datetime,
        idempotency_key: str | None = None,
    ) -> bool:
        """Store a batch durably; return False when its idempotency key was seen before."""
        return self.append_many(
            {source: records},
            received_at=received_at,
            idempotency_key=idempotency_key,
            key_scope=source,
        )

    def append_many(
        self,
        groups: Mapping[str, list[LogRecord]],
        *,
        received_at: datetime,
        idempotency_key: str | None = None,
        key_scope: str = "",
    ) -> bool:
        """Store one batch per source in one transaction: all of them durable, or none.

        Return False (storing nothing) when `idempotency_key` was seen before within `key_scope`.
        """
        bodies = [
            (source, len(records), encode_records(records)) for source, records in groups.items()
        ]
        size = sum(len(body) for _, _, body in bodies)
        with self._lock:
            if self._bytes + size > self.max_bytes:
                raise SpoolFull(f"spool holds {self._bytes} bytes of {self.max_bytes}")
            try:
                self._db.execute("BEGIN IMMEDIATE")
                if idempotency_key is not None:
                    cursor = self._db.execute(
                        "INSERT OR IGNORE INTO seen_key (key, seen_at) VALUES (?, ?)",
                        (f"{key_scope}\x1f{idempotency_key}", received_at.isoformat()),
                    )
                    if cursor.rowcount == 0:
                        self._db.execute("ROLLBACK")
                        return False
                self._db.executemany(
                    "INSERT INTO batch (source, received_at, lines, body) VALUES (?, ?, ?, ?)",
                    [
                        (source, received_at.isoformat(), lines, body)
                        for source, lines, body in bodies
                    ],
                )
                self._db.execute("COMMIT")
            except sqlite3.Error as error:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise SpoolError(str(error)) from error
            self._bytes += size
        return True

    def pending(self, *, limit: int = 100) -> list[Batch]:
        """Return up to `limit` unacknowledged batches, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, source, received_at, body FROM batch ORDER BY seq LIMIT ?", (limit,)
            ).fetchall()
        return [
            Batch(
                key=f"{self.spool_id}:{seq}",
                seq=seq,
                source=source,
                received_at=datetime.fromisoformat(received_at),
                records=decode_records(body),
            )
            for seq, source, received_at, body in rows
        ]

    def ack(self, seqs: list[int]) -> None:
        """Forget batches whose lines are stored in the database."""
        if not seqs:
            return
        with self._lock:
            marks = ",".join("?" * len(seqs))
            freed = self._db.execute(
                f"SELECT COALESCE(SUM(LENGTH(body)), 0) FROM batch WHERE seq IN ({marks})",  # noqa: S608
                seqs,
            ).fetchone()[0]
            self._db.execute(f"DELETE FROM batch WHERE seq IN ({marks})", seqs)  # noqa: S608
            self._bytes -= int(freed)

    def pending_batches(self) -> list[tuple[str, str, int]]:
        """Return (key, source, lines) of every batch waiting, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT seq, source, lines FROM batch ORDER BY seq").fetchall()
        return [(f"{self.spool_id}:{seq}", source, int(lines)) for seq, source, lines in rows]

    def pending_lines(self) -> dict[str, int]:
        """Return how many accepted lines per source still wait to be processed."""
        with self._lock:
            rows = self._db.execute(
                "SELECT source, SUM(lines) FROM batch GROUP BY source"
            ).fetchall()
        return {source: int(lines) for source, lines in rows}

    def oldest_pending_at(self) -> datetime | None:
        """Return when the oldest batch still waiting was received, or None when none waits."""
        with self._lock:
            row = self._db.execute("SELECT received_at FROM batch ORDER BY seq LIMIT 1").fetchone()
        return datetime.fromisoformat(row[0]) if row else None

    def forget_keys_before(self, cutoff: datetime) -> None:
        """Drop idempotency keys older than `cutoff` so the key table stays small."""
        with self._lock:
            self._db.execute("DELETE FROM seen_key WHERE seen_at < ?", (cutoff.isoformat(),))

    @property
    def size_bytes(self) -> int:
        """Return the bytes of batches waiting."""
        return self._bytes

    def close(self) -> None:
        """Close the spool file."""
        with self._lock:
            self._db.close()


KEY_RETENTION = timedelta(days=1)
