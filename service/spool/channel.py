"""What the web processes and the processor process tell each other, in tables of the spool file.

- `refusal`: batches intake refused (rate limit, spool full); every web process appends, the
  processor takes them (and writes them as data gaps) with the batches of its next step.
- `channel` row `status`: the processor's state for /healthz and /metrics (its failures, whether
  the database is down, its last error, the signatures it disabled), written by the processor at
  least every `HEARTBEAT_SECONDS`, with the time it was written.
- `channel` row `patterns`: a generation number a web process raises after it reloaded the
  signature files; the processor reloads its own when it sees the number change.

A connection of its own, with `synchronous=NORMAL`: none of this needs an fsync (a refusal not
yet on disk when the machine dies is a data gap not drawn; everything else is rewritten).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from service.spool.filelock import write_lock

_SCHEMA = """
CREATE TABLE IF NOT EXISTS refusal (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    reason TEXT NOT NULL,
    lines INTEGER NOT NULL,
    batches INTEGER NOT NULL,
    first TEXT NOT NULL,
    last TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS channel (name TEXT PRIMARY KEY, value TEXT NOT NULL, at REAL NOT NULL);
"""
HEARTBEAT_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Refusal:
    """Batches of one source refused for one reason, as a web process counted them."""

    source: str
    reason: str
    lines: int
    batches: int
    first: datetime
    last: datetime


class Channel:
    """The shared tables of one spool file, safe to use from several threads of one process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._writing = write_lock(path)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def note_refusals(self, refusals: list[Refusal]) -> None:
        """Append refused batches for the processor to take."""
        if not refusals:
            return
        rows = [
            (r.source, r.reason, r.lines, r.batches, r.first.isoformat(), r.last.isoformat())
            for r in refusals
        ]
        with self._lock, self._writing:
            self._db.executemany(
                "INSERT INTO refusal (source, reason, lines, batches, first, last) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )

    def take_refusals(self) -> list[Refusal]:
        """Remove and return every refused batch noted so far, oldest first."""
        with self._lock:
            # Asked at every step of the processor: a read first, the write lock only for rows.
            if self._db.execute("SELECT 1 FROM refusal LIMIT 1").fetchone() is None:
                return []
        with self._lock, self._writing:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                rows = self._db.execute(
                    "SELECT id, source, reason, lines, batches, first, last FROM refusal "
                    "ORDER BY id"
                ).fetchall()
                if rows:
                    self._db.execute("DELETE FROM refusal WHERE id <= ?", (rows[-1][0],))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return [
            Refusal(
                source,
                reason,
                int(lines),
                int(batches),
                datetime.fromisoformat(first),
                datetime.fromisoformat(last),
            )
            for _id, source, reason, lines, batches, first, last in rows
        ]

    def publish_status(self, status: dict[str, Any]) -> None:
        """Write the processor's state, stamped with the time now."""
        self._put("status", json.dumps(status, sort_keys=True))

    def status(self) -> tuple[dict[str, Any], float] | None:
        """Return the processor's last state and its age in seconds, or None if never written."""
        row = self._get("status")
        if row is None:
            return None
        value, at = row
        loaded = json.loads(value)
        return (loaded if isinstance(loaded, dict) else {}), max(0.0, time.time() - at)

    def patterns_generation(self) -> int:
        """Return how many times a web process reloaded the signature files."""
        row = self._get("patterns")
        return int(row[0]) if row is not None else 0

    def patterns_reloaded(self) -> int:
        """Tell the processor the signature files were reloaded; return the new generation."""
        with self._lock, self._writing:
            self._db.execute(
                "INSERT INTO channel (name, value, at) VALUES ('patterns', '1', ?) "
                "ON CONFLICT (name) DO UPDATE SET value = CAST(value AS INTEGER) + 1, at = ?",
                (time.time(), time.time()),
            )
            row = self._db.execute("SELECT value FROM channel WHERE name = 'patterns'").fetchone()
        return int(row[0])

    def _put(self, name: str, value: str) -> None:
        with self._lock, self._writing:
            self._db.execute(
                "INSERT OR REPLACE INTO channel (name, value, at) VALUES (?, ?, ?)",
                (name, value, time.time()),
            )

    def _get(self, name: str) -> tuple[str, float] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT value, at FROM channel WHERE name = ?", (name,)
            ).fetchone()
        return (str(row[0]), float(row[1])) if row is not None else None

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()
            self._writing.close()
