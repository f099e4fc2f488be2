"""A web process's view of the processor when it runs as a process of its own: what /healthz,
/metrics, the token check and intake need of it, read from and written to the spool file's
channel (`service.spool.channel`), and, in `drainwatch serve`, the child process itself.

Intake's refusals are counted in memory (intake must not wait on a file) and written to the
channel by a thread every `FLUSH_SECONDS`; the processor's state is its last published status,
cached for `STATUS_SECONDS`, and "not running" once that status is older than `STALE_SECONDS`.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from service.spool.channel import HEARTBEAT_SECONDS, Channel, Refusal
from service.supervisor import Child
from service.worker import Worker, WorkerState

FLUSH_SECONDS = 0.5
STATUS_SECONDS = 0.5
STALE_SECONDS = 5 * HEARTBEAT_SECONDS


class ChannelRefusals:
    """Refused batches counted per (source, reason) until `flush` writes them to the channel."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel
        self._lock = threading.Lock()
        self._counted: dict[tuple[str, str], Refusal] = {}

    def note(self, source: str, lines: int, *, reason: str, at: datetime) -> None:
        """Count a refused batch of `lines` lines."""
        self._merge(Refusal(source, reason, lines, 1, at, at))

    def _merge(self, refusal: Refusal) -> None:
        key = (refusal.source, refusal.reason)
        with self._lock:
            held = self._counted.get(key)
            if held is not None:
                refusal = Refusal(
                    refusal.source,
                    refusal.reason,
                    held.lines + refusal.lines,
                    held.batches + refusal.batches,
                    min(held.first, refusal.first),
                    max(held.last, refusal.last),
                )
            self._counted[key] = refusal

    def flush(self) -> int:
        """Write what was counted to the channel; return how many rows (kept if it fails)."""
        with self._lock:
            counted, self._counted = self._counted, {}
        try:
            self._channel.note_refusals(list(counted.values()))
        except sqlite3.Error:
            for refusal in counted.values():
                self._merge(refusal)
            raise
        return len(counted)


class RemoteProcessor:
    """The processor of another process: its published state, and the refusals it is told of."""

    def __init__(self, channel: Channel, *, child: Child | None = None) -> None:
        self.channel = channel
        self.child = child
        self.refusals = ChannelRefusals(channel)
        self._flusher = Worker(
            "drainwatch-refusals",
            self.refusals.flush,
            interval_seconds=FLUSH_SECONDS,
            max_backoff_seconds=5.0,
            meanwhile="refusals wait in memory",
            final=self.refusals.flush,
        )
        self._cached: tuple[float, dict[str, Any], float] | None = None
        self._cache_lock = threading.Lock()

    def _status(self) -> tuple[dict[str, Any], float]:
        """Return the last published status and its age, at most `STATUS_SECONDS` stale."""
        now = time.monotonic()
        with self._cache_lock:
            cached = self._cached
        if cached is not None and now - cached[0] < STATUS_SECONDS:
            return cached[1], cached[2] + now - cached[0]
        try:
            found = self.channel.status()
        except sqlite3.Error:
            found = None
        status, age = found if found is not None else ({}, float("inf"))
        with self._cache_lock:
            self._cached = (now, status, age)
        return status, age

    @property
    def state(self) -> WorkerState:
        """Return the processor's last published state; not running once it is stale."""
        status, age = self._status()
        return WorkerState(
            running=bool(status.get("running")) and age < STALE_SECONDS,
            failures=int(status.get("failures", 0)),
            database_down=bool(status.get("database_down")),
            last_error=str(status.get("last_error", "")),
            failing_since=_time(status.get("failing_since")),
            last_success_at=_time(status.get("last_success_at")),
        )

    @property
    def last_error(self) -> str:
        """Return the processor's last error of a step, '' when its last step held."""
        return str(self._status()[0].get("processor_error", ""))

    @property
    def disabled(self) -> Mapping[str, str]:
        """Return the signatures the processor disabled after a regex timeout."""
        disabled = self._status()[0].get("disabled", {})
        return {str(k): str(v) for k, v in disabled.items()} if isinstance(disabled, dict) else {}

    def patterns_reloaded(self) -> None:
        """Tell the processor to reload its signature files, as this process just did."""
        self.channel.patterns_reloaded()

    def start(self) -> None:
        """Start the child process (when this view supervises one) and the refusal writer."""
        if self.child is not None:
            self.child.start()
        self._flusher.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Write the last refusals, then stop the child and give it `timeout` s to flush."""
        self._flusher.stop(timeout)
        if self.child is not None:
            self.child.stop(timeout)
        self.channel.close()


def _time(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None
