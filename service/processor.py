"""The processor: one background thread that takes batches from the spool, assembles, matches,
stores incidents, commits, and only then acknowledges the spool.

Nothing acknowledged is lost and nothing waits on one bad record:
- what the assembler holds back (an error line a traceback may follow) is written in the same
  transaction as the batches that carried it (`held_records`) and fed back after a restart;
- a step that fails for any reason but an unreachable database is done again one batch at a
  time, trying event by event; an event (or a batch) that still fails is quarantined with its
  reason (`quarantined_record`) and everything else is stored.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session, col, select

from service.db import session_scope, utcnow
from service.dbwatch import DEADLINE
from service.incidents.gaps import Refusals, Refused, record_refusals
from service.incidents.impact import Impacts, Probes, probes_from
from service.incidents.intake import apply_events
from service.incidents.nearby import IntakeState
from service.incidents.quarantine import quarantine_damaged, quarantine_records
from service.incidents.retention import Purged, purge
from service.ingest.assemble import Assembler
from service.ingest.records import Event, LogRecord
from service.models import AppliedBatch, HeldRecords
from service.settings import Settings
from service.signatures.engine import Matcher
from service.sources import ensure_source, get_sources
from service.spool.codec import decode_records, encode_records
from service.spool.store import KEY_RETENTION, Batch, Spool
from service.worker import Worker, WorkerState

log = logging.getLogger("drainwatch.processor")
PURGE_EVERY_SECONDS = 3600.0
PURGE_DEADLINE_SECONDS = 300.0
MAX_QUARANTINED_PER_BATCH = 100
"""Past this many failing events a batch is quarantined whole: each one costs a trial."""

_Key = tuple[LogRecord, ...]
_WHOLE_BATCH: _Key = ()


def processor_for(
    settings: Settings,
    *,
    engine: Engine,
    spool: Spool,
    matcher: Callable[[], Matcher],
    refusals: Refusals | None = None,
    prepared: Callable[[], bool] = lambda: True,
) -> Processor:
    """Return the processor `settings` describe, in whichever process it runs."""
    return Processor(
        engine=engine,
        spool=spool,
        matcher=matcher,
        gap_seconds=settings.traceback_gap_seconds,
        interval_seconds=settings.process_interval_seconds,
        retention_days=settings.retention_days,
        probes=probes_from(settings),
        refusals=refusals,
        prepared=prepared,
    )


def is_outage(error: BaseException) -> bool:
    """Tell a database that cannot be reached (wait and retry) from a record it refuses."""
    if isinstance(error, OperationalError | InterfaceError | DisconnectionError | PoolTimeout):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


def _reason(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}".splitlines()[0]
    return text[:500]


class _Poison(Exception):
    """An event (or a whole batch, key `()`) that fails on its own."""

    def __init__(self, key: _Key, reason: str) -> None:
        super().__init__(reason)
        self.key = key
        self.reason = reason


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
        probes: Probes | None = None,
        prepared: Callable[[], bool] = lambda: True,
    ) -> None:
        self.engine = engine
        self.spool = spool
        self.matcher = matcher
        self.gap_seconds = gap_seconds
        self.interval_seconds = interval_seconds
        self.clock = clock
        self.retention_days = retention_days
        self.refusals = refusals if refusals is not None else Refusals()
        # Whether the database is set up (migrated): until it is, nothing is taken from the spool.
        self.prepared = prepared
        self._next_purge = 0.0
        self.assembler = Assembler(gap_seconds=gap_seconds)
        self.intake = IntakeState(impact=Impacts(probes=probes or Probes()))
        self.last_error: str = ""
        self.batches_done = 0
        self._held_loaded = False
        self._saved_held: list[LogRecord] = []
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
        if not self.prepared():
            return 0
        with self._lock:
            batches = self.spool.pending(limit=50)
            refused = self.refusals.take()
            idle = not batches and not self.assembler.pending and not refused
            if idle and self._held_loaded:
                return 0
            try:
                self._attempt(batches, refused, flush=force_flush)
            except Exception as error:
                if is_outage(error):
                    self.refusals.put_back(refused)
                    self.last_error = _reason(error)
                    raise
                log.warning(
                    "processor: a step of %d batches failed (%s); storing them one by one",
                    len(batches),
                    _reason(error),
                )
                self._store_carefully(batches, refused, flush=force_flush)
            self.last_error = ""
            return len(batches)

    def process_all(self) -> int:
        """Process every waiting batch and flush held tracebacks; return the batches stored."""
        done = 0
        while batches := self.run_once():
            done += batches
        self.run_once(force_flush=True)
        return done

    def _attempt(
        self,
        batches: list[Batch],
        refused: dict[str, Refused],
        *,
        flush: bool,
        careful: dict[_Key, str] | None = None,
    ) -> None:
        """Store and acknowledge `batches` in one transaction, or change nothing and raise."""
        assembled, intake, loaded = (
            self.assembler.checkpoint(),
            self.intake.checkpoint(),
            self._held_loaded,
        )
        try:
            held = self._store(batches, refused, flush=flush, careful=careful)
        except BaseException:
            self.assembler.restore(assembled)
            self.intake.restore(intake)
            self._held_loaded = loaded
            raise
        self._saved_held = held
        self.spool.ack([batch.seq for batch in batches])
        self.batches_done += len(batches)

    def _store_carefully(
        self, batches: list[Batch], refused: dict[str, Refused], *, flush: bool
    ) -> None:
        """Store batch by batch, quarantining each event that fails on its own."""
        if refused:
            try:
                self._attempt([], refused, flush=False)
            except Exception as error:
                if is_outage(error):
                    self.refusals.put_back(refused)
                    raise
                log.error("processor: refused batches not recorded: %s", _reason(error))
        if not batches:
            self._isolate([], flush=flush)
        for index, batch in enumerate(batches):
            self._isolate([batch], flush=flush and index == len(batches) - 1)

    def _isolate(self, batches: list[Batch], *, flush: bool) -> None:
        """Store at most one batch, trying again without each event that fails until it holds."""
        quarantine: dict[_Key, str] = {}
        while True:
            try:
                self._attempt(batches, {}, flush=flush, careful=quarantine)
                break
            except _Poison as poison:
                if poison.key in quarantine or len(quarantine) >= MAX_QUARANTINED_PER_BATCH:
                    if not batches:
                        raise
                    quarantine = {_WHOLE_BATCH: poison.reason}
                else:
                    quarantine[poison.key] = poison.reason
            except Exception as error:
                if is_outage(error) or _WHOLE_BATCH in quarantine or not batches:
                    raise
                quarantine = {_WHOLE_BATCH: _reason(error)}
        if quarantine:
            log.error(
                "processor: %s: %d event(s) quarantined: %s",
                batches[0].key if batches else "held-back records",
                len(quarantine),
                "; ".join(sorted(set(quarantine.values())))[:500],
            )

    def _store(
        self,
        batches: list[Batch],
        refused: dict[str, Refused],
        *,
        flush: bool,
        careful: dict[_Key, str] | None,
    ) -> list[LogRecord]:
        """Store everything in one transaction; return the records held back when it commits."""
        now = self.clock()
        matcher = self.matcher()
        with session_scope(self.engine) as session:
            processed: Counter[str] = Counter()
            if not self._held_loaded:
                restored = self._load_held(session)
                processed += self._apply(session, matcher, restored, now, careful)
            # The step's sources in one statement, locked in name order until it commits.
            get_sources(session, [*refused, *(b.source for b in batches)], lock=True)
            for name in refused:
                ensure_source(session, name, now=now)
            record_refusals(session, refused)
            keys = [batch.key for batch in batches]
            applied = set(
                session.exec(select(AppliedBatch.key).where(col(AppliedBatch.key).in_(keys)))
            )
            events: list[Event] = []
            for batch in batches:
                if batch.key in applied:
                    continue
                if batch.damage:
                    quarantine_damaged(
                        session,
                        key=batch.key,
                        source=batch.source,
                        received_at=batch.received_at,
                        lines=batch.lines,
                        raw=batch.raw,
                        damage=batch.damage,
                        now=now,
                    )
                elif careful is not None and _WHOLE_BATCH in careful:
                    quarantine_records(
                        session, batch.records, careful[_WHOLE_BATCH], batch_key=batch.key, now=now
                    )
                else:
                    self._receive(session, batch, now=now, careful=careful)
                    fed = self.assembler.feed(batch.records)
                    if careful is None:
                        events.extend(fed)  # the whole step is matched and stored at once
                    else:
                        processed += self._apply(session, matcher, fed, now, careful, batch)
                applied.add(batch.key)
                session.add(AppliedBatch(key=batch.key, applied_at=now))
            events.extend(self.assembler.flush() if flush else self.assembler.expire(now))
            processed += self._apply(session, matcher, events, now, careful)
            for name, lines in processed.items():
                ensure_source(session, name, now=now, lock=True).lines_processed += lines
            held = self.assembler.held()
            if held != self._saved_held or not self._held_loaded:
                self._save_held(session, held, now)
            self._held_loaded = True
        return held

    def _apply(
        self,
        session: Session,
        matcher: Matcher,
        events: list[Event],
        now: datetime,
        careful: dict[_Key, str] | None,
        batch: Batch | None = None,
    ) -> Counter[str]:
        if careful is None:
            return apply_events(session, matcher, events, now=now, state=self.intake)
        processed: Counter[str] = Counter()
        for event in events:
            reason = careful.get(event.records)
            if reason is not None:
                key = batch.key if batch is not None else "held"
                quarantine_records(session, list(event.records), reason, batch_key=key, now=now)
                continue
            try:
                processed += apply_events(session, matcher, [event], now=now, state=self.intake)
                session.flush()
            except Exception as error:
                if is_outage(error):
                    raise
                raise _Poison(event.records, _reason(error)) from error
        return processed

    def _receive(
        self, session: Session, batch: Batch, *, now: datetime, careful: dict[_Key, str] | None
    ) -> None:
        try:
            source = ensure_source(session, batch.source, now=now, lock=True)
            source.lines_received += len(batch.records)
            source.last_line_at = max(filter(None, (source.last_line_at, batch.received_at)))
            session.add(source)
            if careful is not None:
                session.flush()
        except Exception as error:
            if careful is None or is_outage(error):
                raise
            raise _Poison(_WHOLE_BATCH, _reason(error)) from error

    def _load_held(self, session: Session) -> list[Event]:
        """Feed back what this spool's processor held when it stopped; return what that emits."""
        row = session.get(HeldRecords, self.spool.spool_id)
        self._saved_held = decode_records(row.body.encode("utf-8")) if row is not None else []
        if self._saved_held:
            log.info("processor: %d held-back record(s) restored", len(self._saved_held))
        return self.assembler.feed(self._saved_held)

    def _save_held(self, session: Session, held: list[LogRecord], now: datetime) -> None:
        body = encode_records(held, ascii_only=True).decode("ascii")
        row = session.get(HeldRecords, self.spool.spool_id)
        if row is None:
            row = HeldRecords(spool_id=self.spool.spool_id, body=body, updated_at=now)
        else:
            row.body, row.updated_at = body, now
        session.add(row)

    def purge_if_due(self, *, every_seconds: float = PURGE_EVERY_SECONDS) -> Purged | None:
        """Purge what is past retention, at most once per `every_seconds` of wall time."""
        if time.monotonic() < self._next_purge:
            return None
        self._next_purge = time.monotonic() + every_seconds
        now = self.clock()
        with session_scope(self.engine) as session:
            # Deleting a month of rows may take a while on a big database: it gets longer.
            session.connection(execution_options={DEADLINE: PURGE_DEADLINE_SECONDS})
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
        if not self.prepared():
            return 0
        busy = self.run_once()
        self.purge_if_due()
        return busy

    @property
    def disabled(self) -> Mapping[str, str]:
        """Return the signatures this processor's matcher disabled after a regex timeout."""
        return self.matcher().disabled

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
