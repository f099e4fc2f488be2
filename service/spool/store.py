"""A local SQLite file in WAL mode with synchronous=FULL: a batch is durable once `append` returns
(or the future of `submit_many` is done). Concurrent requests' batches share one transaction and
one fsync (`service.spool.commit`). Bounded in bytes; an idempotency key (Logplex-Frame-Id) makes
a retried batch store nothing new. Each body carries a CRC-32: a batch whose bytes changed on
disk, or that no longer decodes, comes out `damaged` (the processor quarantines it) instead of
stopping everything behind it. A file SQLite itself finds malformed is moved aside at start-up
and what can still be read of it is copied into a new one; the damage is remembered in `meta`.
"""

from __future__ import annotations

import itertools
import logging
import sqlite3
import threading
import uuid
import zlib
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from service.ingest.records import LogRecord
from service.spool.codec import decode_records, encode_records
from service.spool.commit import GroupCommit, Submission
from service.spool.errors import SpoolClosed, SpoolError, SpoolFull
from service.spool.filelock import write_lock
from service.spool.salvage import COLUMNS as _COLUMNS
from service.spool.salvage import Row as _Row
from service.spool.salvage import readable

__all__ = ["Batch", "Spool", "SpoolClosed", "SpoolError", "SpoolFull"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batch (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    received_at TEXT NOT NULL,
    lines INTEGER NOT NULL,
    body BLOB NOT NULL,
    crc INTEGER
);
CREATE INDEX IF NOT EXISTS batch_source ON batch (source);
CREATE TABLE IF NOT EXISTS seen_key (key TEXT PRIMARY KEY, seen_at TEXT NOT NULL);
"""
# The bytes held, kept in the file by triggers: every process that appends (each web worker) and
# the one that acknowledges (the processor) see the same figure, and no writer can forget it.
_HELD_BYTES = """
BEGIN IMMEDIATE;
CREATE TABLE IF NOT EXISTS held_bytes (
    id INTEGER PRIMARY KEY CHECK (id = 1), bytes INTEGER NOT NULL
);
INSERT OR IGNORE INTO held_bytes (id, bytes) SELECT 1, COALESCE(SUM(LENGTH(body)), 0) FROM batch;
CREATE TRIGGER IF NOT EXISTS batch_added AFTER INSERT ON batch
    BEGIN UPDATE held_bytes SET bytes = bytes + LENGTH(NEW.body); END;
CREATE TRIGGER IF NOT EXISTS batch_removed AFTER DELETE ON batch
    BEGIN UPDATE held_bytes SET bytes = bytes - LENGTH(OLD.body); END;
COMMIT;
"""


log = logging.getLogger("drainwatch.spool")


@dataclass(frozen=True, slots=True)
class Batch:
    """One accepted batch waiting in the spool."""

    key: str
    seq: int
    source: str
    received_at: datetime
    records: list[LogRecord]
    lines: int = 0
    damage: str = ""
    raw: bytes = b""


class Spool:
    """A durable, bounded FIFO of batches, safe to use from several threads and processes.

    Everything shared lives in the file (batches, seen keys, the bytes held, the spool id), so
    several processes may append at once (each with its own group commit; SQLite serialises the
    transactions, queued on `service.spool.filelock`) while one other process takes and
    acknowledges batches. Only the thread lock and the group-commit writer are per process.
    """

    def __init__(self, directory: Path, *, max_bytes: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "spool.sqlite3"
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._writing = write_lock(self.path)
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as error:
            self._db = self._salvage(error)
        self.spool_id = self._spool_id()
        self._group_commit = GroupCommit(self._write, name="drainwatch-spool-commit")

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA busy_timeout=10000")
            db.executescript(_SCHEMA)
            columns = {row[1] for row in db.execute("PRAGMA table_info(batch)")}
            if "crc" not in columns:  # a spool written before bodies had a checksum
                try:
                    db.execute("ALTER TABLE batch ADD COLUMN crc INTEGER")
                except sqlite3.OperationalError as error:
                    if "duplicate column" not in str(error):
                        raise  # not another process adding it at the same moment
            db.executescript(_HELD_BYTES)
            verdict = db.execute("PRAGMA quick_check").fetchone()[0]
            if verdict != "ok":
                raise sqlite3.DatabaseError(f"quick_check: {verdict}")
        except BaseException:
            db.close()
            raise
        return db

    def _salvage(self, error: sqlite3.DatabaseError) -> sqlite3.Connection:
        """Move a malformed file aside, copy every batch still readable into a new one."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            part = self.path.with_name(self.path.name + suffix)
            if part.exists():
                part.rename(aside.with_name(aside.name + suffix))
        rows, meta, lost = readable(aside)
        db = self._open()
        db.executemany("INSERT OR IGNORE INTO meta (name, value) VALUES (?, ?)", meta)
        db.executemany(f"INSERT INTO batch ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)", rows)  # noqa: S608
        note = (
            f"spool file malformed ({error}); {len(rows)} batch(es) recovered, "
            f"{lost} unreadable; the damaged file is kept as {aside.name}"
        )
        db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('damage', ?)", (note,))
        log.error("spool: %s", note)
        return db

    @property
    def damage(self) -> str:
        """Return what start-up found damaged in the spool file, or ''."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE name = 'damage'").fetchone()
        return str(row[0]) if row else ""

    def _spool_id(self) -> str:
        # Whichever process opens a new file first names it; the others read that name.
        self._db.execute(
            "INSERT OR IGNORE INTO meta (name, value) VALUES ('spool_id', ?)", (uuid.uuid4().hex,)
        )
        row = self._db.execute("SELECT value FROM meta WHERE name = 'spool_id'").fetchone()
        return str(row[0])

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
        return self.submit_many(
            groups, received_at=received_at, idempotency_key=idempotency_key, key_scope=key_scope
        ).result()

    def submit_many(
        self,
        groups: Mapping[str, list[LogRecord]],
        *,
        received_at: datetime,
        idempotency_key: str | None = None,
        key_scope: str = "",
    ) -> Future[bool]:
        """Queue `append_many`'s batches for the next group commit and return its future.

        The records are encoded here, in the caller's thread; the future is done once the
        commit that carried them returned: True (durable), False (a repeated key, nothing
        stored), or a `SpoolError` (`SpoolFull` past `max_bytes`).
        """
        rows = []
        for source, records in groups.items():
            body = encode_records(records)
            rows.append((source, len(records), body, zlib.crc32(body)))
        key = None if idempotency_key is None else f"{key_scope}\x1f{idempotency_key}"
        submission = Submission(
            rows, received_at.isoformat(), key, sum(len(row[2]) for row in rows)
        )
        return self._group_commit.submit(submission)

    def _write(self, group: list[Submission]) -> None:
        """Write queued submissions in one transaction, then answer each of them."""
        answers: list[tuple[Submission, bool | SpoolError]] = []
        with self._lock, self._writing:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                for submission in group:
                    answers.append((submission, self._insert(submission)))
                self._db.execute("COMMIT")
            except sqlite3.Error as error:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise SpoolError(str(error)) from error
        for submission, answer in answers:
            if isinstance(answer, SpoolError):
                submission.future.set_exception(answer)
            else:
                submission.future.set_result(answer)

    def _held(self) -> int:
        """Return the bytes of batches in the file, as of the open transaction."""
        return int(self._db.execute("SELECT bytes FROM held_bytes").fetchone()[0])

    def _insert(self, submission: Submission) -> bool | SpoolError:
        """Insert one submission inside the open transaction; return its answer."""
        held = self._held()
        if held + submission.size > self.max_bytes:
            return SpoolFull(f"spool holds {held} bytes of {self.max_bytes}")
        if submission.key is not None:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO seen_key (key, seen_at) VALUES (?, ?)",
                (submission.key, submission.received_at),
            )
            if cursor.rowcount == 0:
                return False
        self._db.executemany(
            "INSERT INTO batch (source, received_at, lines, body, crc) VALUES (?, ?, ?, ?, ?)",
            [
                (source, submission.received_at, lines, body, crc)
                for source, lines, body, crc in submission.rows
            ],
        )
        return True

    def append_keyed(
        self,
        source: str,
        keyed: list[tuple[str, list[LogRecord]]],
        *,
        received_at: datetime,
        cursor: tuple[str, str] | None = None,
    ) -> int:
        """Store, as one batch, the records of every key not seen before (a pulled log's id),
        and move `cursor` (a meta name and value) in the same transaction; return how many
        keys were new."""
        with self._lock, self._writing:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                fresh: list[LogRecord] = []
                new = 0
                for key, records in keyed:
                    cursor_row = self._db.execute(
                        "INSERT OR IGNORE INTO seen_key (key, seen_at) VALUES (?, ?)",
                        (f"{source}\x1f{key}", received_at.isoformat()),
                    )
                    if cursor_row.rowcount:
                        new += 1
                        fresh.extend(records)
                if fresh:
                    body = encode_records(fresh)
                    held = self._held()
                    if held + len(body) > self.max_bytes:
                        raise SpoolFull(f"spool holds {held} bytes of {self.max_bytes}")
                    self._db.execute(
                        "INSERT INTO batch (source, received_at, lines, body, crc) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (source, received_at.isoformat(), len(fresh), body, zlib.crc32(body)),
                    )
                if cursor is not None:
                    self._db.execute(
                        "INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", cursor
                    )
                self._db.execute("COMMIT")
            except BaseException as error:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                if isinstance(error, sqlite3.Error):
                    raise SpoolError(str(error)) from error
                raise
        return new

    def meta(self, name: str) -> str | None:
        """Return a value kept beside the batches (a pull cursor), or None."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return str(row[0]) if row else None

    def pending(self, *, limit: int = 100) -> list[Batch]:
        """Return up to `limit` unacknowledged batches, each source's oldest first, the sources
        taking turns: one busy source's backlog never holds back the batch of another (a failure
        it carries reaches the dashboard in the next step). A damaged one comes out with no
        records and its `damage` said."""
        with self._lock:
            sources = [row[0] for row in self._db.execute("SELECT DISTINCT source FROM batch")]
            if len(sources) > 1:
                queues = [
                    [
                        seq
                        for (seq,) in self._db.execute(
                            "SELECT seq FROM batch WHERE source = ? ORDER BY seq LIMIT ?",
                            (source, limit),
                        )
                    ]
                    for source in sources
                ]
                turns = itertools.chain.from_iterable(itertools.zip_longest(*queues))
                seqs = sorted(itertools.islice((seq for seq in turns if seq is not None), limit))
                marks = ",".join("?" * len(seqs))
                rows = self._db.execute(
                    f"SELECT {_COLUMNS} FROM batch WHERE seq IN ({marks}) ORDER BY seq",  # noqa: S608
                    seqs,
                ).fetchall()
            else:
                rows = self._db.execute(
                    f"SELECT {_COLUMNS} FROM batch ORDER BY seq LIMIT ?",  # noqa: S608
                    (limit,),
                ).fetchall()
        return [self._batch(row) for row in rows]

    def _batch(self, row: _Row) -> Batch:
        seq, source, received_at, lines, body, crc = row
        if not isinstance(body, bytes):  # SQLite hands back whatever type the cell holds
            body = str(body).encode("utf-8", errors="replace")
        key = f"{self.spool_id}:{seq}"
        try:
            when = datetime.fromisoformat(received_at)
        except (TypeError, ValueError):
            when = datetime.now(UTC)
        damage = ""
        if crc is not None and zlib.crc32(body) != crc:
            damage = "spool batch damaged: its bytes changed on disk (checksum mismatch)"
        else:
            try:
                records = decode_records(body)
            except (ValueError, TypeError, IndexError, KeyError) as error:
                damage = f"spool batch damaged: {type(error).__name__}: {error}"[:300]
        if damage:
            log.error("spool: batch %s: %s", key, damage)
            return Batch(key, seq, source, when, [], lines=int(lines), damage=damage, raw=body)
        return Batch(key, seq, source, when, records, lines=int(lines))

    def ack(self, seqs: list[int]) -> None:
        """Forget batches whose lines are stored in the database."""
        if not seqs:
            return
        with self._lock, self._writing:
            marks = ",".join("?" * len(seqs))
            self._db.execute(f"DELETE FROM batch WHERE seq IN ({marks})", seqs)  # noqa: S608

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
        with self._lock, self._writing:
            self._db.execute("DELETE FROM seen_key WHERE seen_at < ?", (cutoff.isoformat(),))

    @property
    def size_bytes(self) -> int:
        """Return the bytes of batches waiting (in the file: what every process appended)."""
        with self._lock:
            return self._held()

    def close(self) -> None:
        """Write what is queued, then close the spool file."""
        self._group_commit.close()
        with self._lock:
            self._db.close()
            self._writing.close()


KEY_RETENTION = timedelta(days=1)
