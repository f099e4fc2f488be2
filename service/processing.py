"""The processor as a process of its own (`drainwatch process`, which `serve` starts as its child):
its own interpreter and GIL, reading the spool file the web processes append to.

It talks to the web processes only through the spool file (`service.spool.channel`): it takes the
refusals they noted with each step, publishes its state there every `HEARTBEAT_SECONDS` for their
/healthz, and reloads its signatures when a web process says it reloaded its own. One processor per
spool: an exclusive lock on `processor.lock` beside the spool file makes a second one (a restarted
child whose predecessor is still finishing) wait its turn. SIGTERM stops it after its final flush.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from sqlalchemy import Engine

from service.db import create_db_engine, schema_current
from service.incidents.gaps import Refusals, Refused
from service.processor import Processor, processor_for
from service.runtime import SignatureBook
from service.settings import Settings
from service.signatures.loader import SignatureError
from service.spool.channel import HEARTBEAT_SECONDS, Channel
from service.spool.store import Spool
from service.supervisor import PARENT_PID_ENV, die_with_parent

log = logging.getLogger("drainwatch.processor")
_LOOP_SECONDS = 0.25


class SpooledRefusals(Refusals):
    """Refusals the web processes noted in the spool file, besides any counted here."""

    def __init__(self, channel: Channel) -> None:
        super().__init__()
        self._channel = channel

    def take(self) -> dict[str, Refused]:
        """Take what the web processes noted, with what is counted here, and start afresh."""
        for refusal in self._channel.take_refusals():
            self.put_back(
                {
                    refusal.source: Refused(
                        refusal.lines,
                        refusal.batches,
                        refusal.first,
                        refusal.last,
                        frozenset({refusal.reason}),
                    )
                }
            )
        return super().take()


def status_of(processor: Processor, *, running: bool = True) -> dict[str, Any]:
    """Return what the web processes show of `processor`: its worker state and disabled rules."""
    state = processor.state
    return {
        "pid": os.getpid(),
        "running": running and state.running,
        "failures": state.failures,
        "database_down": state.database_down,
        "last_error": state.last_error,
        "failing_since": _stamp(state.failing_since),
        "last_success_at": _stamp(state.last_success_at),
        "processor_error": processor.last_error,
        "disabled": dict(processor.disabled),
        "batches_done": processor.batches_done,
    }


def _stamp(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


@contextmanager
def processor_lock(spool_path: Path, stop: threading.Event) -> Iterator[bool]:
    """Hold the spool's processor lock; yield False if asked to stop while waiting for it."""
    path = spool_path.with_name("processor.lock")
    with path.open("a") as handle:
        waited = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waited:
                    log.warning("processor: another processor holds %s; waiting for it", path)
                    waited = True
                if stop.wait(0.2):
                    yield False
                    return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _reload_if_asked(book: SignatureBook, channel: Channel, seen: int) -> int:
    generation = channel.patterns_generation()
    if generation == seen:
        return seen
    try:
        count = book.reload()
    except SignatureError as error:
        log.error("processor: signature reload refused: %s", "; ".join(error.errors))
    else:
        log.info("processor: %d signatures reloaded", count)
    return generation


def run_processor(settings: Settings) -> int:
    """Run the processor until SIGTERM or SIGINT, then give it its final flush; return 0."""
    die_with_parent()
    stop = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    # Ctrl-C reaches the whole process group: a supervised processor waits for its parent's
    # SIGTERM, which comes once the web processes have stopped taking batches in.
    supervised = PARENT_PID_ENV in os.environ
    signal.signal(signal.SIGINT, signal.SIG_IGN if supervised else request_stop)
    # No migration here: `serve` (or `drainwatch db upgrade`) does it; until it has, nothing is
    # processed (`_schema_gate`), and a database that cannot be reached is waited for by the
    # processor's own back-off, not a crash and a restart.
    engine = create_db_engine(
        settings.database_url, deadline_seconds=settings.database_deadline_seconds
    )
    spool = Spool(settings.spool_dir, max_bytes=settings.spool_max_bytes)
    try:
        with processor_lock(spool.path, stop) as locked:
            if locked:
                _process_until(stop, settings, engine, spool)
    finally:
        spool.close()
        engine.dispose()
    return 0


def _schema_gate(engine: Engine) -> Callable[[], bool]:
    """Return a check that the web processes have migrated the database (asked until it has:
    a database that could not be reached when `serve` started is set up when it answers)."""
    current = False

    def prepared() -> bool:
        nonlocal current
        current = current or schema_current(engine)
        return current

    return prepared


def _process_until(stop: threading.Event, settings: Settings, engine: Engine, spool: Spool) -> None:
    channel = Channel(spool.path)
    book = SignatureBook(settings)
    seen = channel.patterns_generation()
    processor = processor_for(
        settings,
        engine=engine,
        spool=spool,
        matcher=lambda: book.matcher,
        refusals=SpooledRefusals(channel),
        prepared=_schema_gate(engine),
    )
    processor.start()
    log.info("processor: running in pid %d on %s", os.getpid(), spool.path)
    published: dict[str, Any] = {}
    beats = 0
    try:
        while not stop.wait(_LOOP_SECONDS):
            status = status_of(processor)
            beats += 1
            try:
                seen = _reload_if_asked(book, channel, seen)
                if status != published or beats * _LOOP_SECONDS >= HEARTBEAT_SECONDS:
                    channel.publish_status(status)
                    published, beats = status, 0
            except sqlite3.Error as error:  # the spool file is busy or full: try again
                log.warning("processor: could not write its state to the spool: %s", error)
        # A deadline for the final flush: past it the process ends as if it had crashed, which
        # loses nothing (what is not acknowledged stays in the spool).
        watchdog = threading.Timer(settings.shutdown_timeout_seconds, os._exit, (1,))
        watchdog.daemon = True
        watchdog.start()
        processor.stop(timeout=settings.shutdown_timeout_seconds)
        channel.publish_status(status_of(processor, running=False))
        log.info("processor: stopped after its final flush")
    finally:
        channel.close()
