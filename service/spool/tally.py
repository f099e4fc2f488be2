"""Per-source counts of what intake changed in accepted lines, kept in a table of the spool file.

Today one reason: `time_out_of_range`, a line whose own time lay outside the years a log line can
mean (`ingest.timestamps.SANE_YEARS`): kept, timed by its arrival instead. Every web process adds
to the same rows, they survive a restart with the spool, and `/sources`, `/api/sources/NAME` and
`/metrics` read them. A connection of its own with `synchronous=NORMAL`, as the channel's: a count
not yet on disk when the machine dies is a count short by one batch, never a line lost.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Mapping
from pathlib import Path

from service.spool.filelock import write_lock

TIME_OUT_OF_RANGE = "time_out_of_range"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS tally (
    source TEXT NOT NULL,
    reason TEXT NOT NULL,
    lines INTEGER NOT NULL,
    PRIMARY KEY (source, reason)
);
"""


class Tally:
    """The counts of one spool file, safe to use from several threads of one process."""

    def __init__(self, spool_path: Path) -> None:
        self._lock = threading.Lock()
        self._writing = write_lock(spool_path)
        self._db = sqlite3.connect(spool_path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.execute("PRAGMA synchronous=NORMAL")
        with self._writing:
            self._db.executescript(_SCHEMA)

    def add(self, reason: str, by_source: Mapping[str, int]) -> None:
        """Add `by_source[name]` lines to each source's count for `reason`."""
        rows = [(source, reason, lines) for source, lines in by_source.items() if lines > 0]
        if not rows:
            return
        with self._lock, self._writing:
            self._db.executemany(
                "INSERT INTO tally (source, reason, lines) VALUES (?, ?, ?) "
                "ON CONFLICT (source, reason) DO UPDATE SET lines = lines + excluded.lines",
                rows,
            )

    def counts(self, source: str | None = None) -> dict[str, dict[str, int]]:
        """Return `{source: {reason: lines}}`, for every source or for the one named."""
        query = "SELECT source, reason, lines FROM tally"
        arguments: tuple[str, ...] = ()
        if source is not None:
            query += " WHERE source = ?"
            arguments = (source,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY source, reason", arguments).fetchall()
        found: dict[str, dict[str, int]] = {}
        for name, reason, lines in rows:
            found.setdefault(str(name), {})[str(reason)] = int(lines)
        return found

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()
            self._writing.close()
