"""The processor: one background thread that takes batches from the spool, assembles, matches,
stores incidents, commits, and only then acknowledges the spool.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from service.db import session_scope, utcnow
from service.incidents.gaps import Refusals, Refused, record_refusals
from service.incidents.intake import apply_events
from service.incidents.nearby import IntakeState
from service.incidents.retention import Purged, purge
from service.ingest.assemble import Assembler
from service.ingest.records import Event
from service.models import AppliedBatch
from service.signatures.engine import Matcher
from service.sources import ensure_source
from service.spool.store import KEY_RETENTION, Batch, Spool
from service.worker import Worker, WorkerState

log = logging.getLogger("drainwatch.processor")
PURGE_EVERY_SECONDS = 3600.0


class Processor:
    """Moves batches from the spool into the database; safe to run alone in one thread."""

    def __init__(
        self,
        *,
        engine: Engine,
        spool: Spool,
        matcher: Callable[[], Matcher],
        gap_seconds: float = 5.0,
        interval_seconds: float = 0.2,
        retention_days: int = 30,
        clock: Callable[[], datetime] = utcnow,
        refusals: Refusals | None = None,
    ) -> None:
        self.engine = engine
        self.spool = spool
        self.matcher = matcher
        self.gap_seconds = gap_seconds
        self.interval_seconds = interval_seconds
        self.clock = clock
        self.retention_days = retention_days
        self.refusals = refusals if refusals is not None else Refusals()
        self._next_purge = 0.0
        self.assembler = Assembler(gap_seconds=gap_seconds)
        self.intake = IntakeState()
        self.last_error: str = ""
        self.batches_done = 0
        self._worker = Worker(
            "drainwatch-processor",
            self._step,
            interval_seconds=interval_seconds,
            max_backoff_seconds=5.0,
            meanwhile="batches stay in the spool",
            final=lambda: self.run_once(force_flush=True),
        )
        self._lock = threading.Lock()

    def run_once(self, *, force_flush: bool = False) -> int:
        """Process what waits in the spool; return the number of batches stored.

        Records held back by the assembler (a traceback that may go on) are released once
        nothing has arrived for their instance within the gap, or at once with `force_flush`.
        """
        with self._lock:
            batches = self.spool.pending(limit=50)
            refused = self.refusals.take()
            if not batches and not self.assembler.pending and not refused:
                return 0
            before = copy.deepcopy((self.assembler, self.intake))
            try:
                self._store(batches, refused, flush=force_flush)
            except SQLAlchemyError as error:
                self.assembler, self.intake = before
                self.refusals.put_back(refused)
                self.last_error = f"{type(error).__name__}: {error}".splitlines()[0]
                raise
            self.last_error = ""
            self.spool.ack([batch.seq for batch in batches])
            self.batches_done += len(batches)
            return len(batches)

    def process_all(self) -> int:
        """Process every waiting batch and flush held tracebacks; return the batches stored."""
        done = 0
        while batches := self.run_once():
            done += batches
        self.run_once(force_flush=True)
        return done

    def _store(self, batches: list[Batch], refused: dict[str, Refused], *, flush: bool) -> None:
        now = self.clock()
        matcher = self.matcher()
        with session_scope(self.engine) as session:
            for name in refused:
                ensure_source(session, name, now=now)
            record_refusals(session, refused)
            processed: Counter[str] = Counter()
            for batch in batches:
                if session.get(AppliedBatch, batch.key) is not None:
                    continue
                self._receive(session, batch, now=now)
                events = self.assembler.feed(batch.records)
                processed += self._apply(session, matcher, events, now)
                session.add(AppliedBatch(key=batch.key, applied_at=now))
            released = self.assembler.flush() if flush else self.assembler.expire(now)
            processed += self._apply(session, matcher, released, now)
            for name, lines in processed.items():
                ensure_source(session, name, now=now, lock=True).lines_processed += lines

    def _apply(
        self, session: Session, matcher: Matcher, events: list[Event], now: datetime
    ) -> Counter[str]:
        return apply_events(session, matcher, events, now=now, state=self.intake)

    @staticmethod
    def _receive(session: Session, batch: Batch, *, now: datetime) -> None:
        source = ensure_source(session, batch.source, now=now, lock=True)
        source.lines_received += len(batch.records)
        source.last_line_at = max(filter(None, (source.last_line_at, batch.received_at)))
        session.add(source)

    def purge_if_due(self, *, every_seconds: float = PURGE_EVERY_SECONDS) -> Purged | None:
        """Purge what is past retention, at most once per `every_seconds` of wall time."""
        if time.monotonic() < self._next_purge:
            return None
        self._next_purge = time.monotonic() + every_seconds
        now = self.clock()
        with session_scope(self.engine) as session:
            purged = purge(session, now=now, retention_days=self.retention_days)
        self.spool.forget_keys_before(now - KEY_RETENTION)
        if purged.events or purged.batches or purged.notifications:
            log.info(
                "retention: purged %s events, %s batch marks and %s notifications",
                purged.events,
                purged.batches,
                purged.notifications,
            )
        return purged

    def _step(self) -> int:
        busy = self.run_once()
        self.purge_if_due()
        return busy

    @property
    def state(self) -> WorkerState:
        """Return what the background thread's last steps did, for /healthz."""
        return self._worker.state

    def start(self) -> None:
        """Start the background thread."""
        self._worker.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the thread to finish what it holds and stop."""
        self._worker.stop(timeout)
