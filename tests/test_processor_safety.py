"""The processor loses nothing it acknowledged: held-back lines survive a crash, and a record the
database refuses is quarantined while everything else is stored."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

import service.processor
from service.ingest.headers import parse_text
from service.ingest.records import Event
from service.models import Incident, QuarantinedRecord, Source
from service.processor import Processor
from service.runtime import SignatureBook
from service.settings import Settings
from service.spool.store import Spool
from tests.factories import T0

BOOK = SignatureBook(Settings(_env_file=None))  # type: ignore[call-arg]
ERROR_LAST = """\
2025-09-19 12:43:13,100 INFO app: GET /health 200
2025-09-19 12:43:14,551 ERROR app: Exception in ASGI application
"""
TRACEBACK_AFTER = """\
Traceback (most recent call last):
  File "/app/api/auth.py", line 212, in refresh_token
    user = db.query(User).first()
sqlalchemy.exc.MissingGreenlet: greenlet_spawn has not been called; can't call await_only() here.
2025-09-19 12:43:15,000 INFO app: GET /health 200
"""


def new_processor(engine: Engine, spool: Spool) -> Processor:
    return Processor(engine=engine, spool=spool, matcher=lambda: BOOK.matcher, clock=lambda: T0)


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    return Spool(tmp_path / "spool", max_bytes=10**7)


def put(spool: Spool, text: str, *, source: str = "api", start: int = 0) -> None:
    records = parse_text(text, source=source, received_at=T0, start_seq=start)
    spool.append(source, records, received_at=T0)


def state(engine: Engine) -> tuple[list[tuple[str, int]], list[tuple[str, int, int, int]]]:
    with Session(engine) as session:
        incidents = sorted((i.signature, i.occurrences) for i in session.exec(select(Incident)))
        sources = [
            (s.name, s.lines_received, s.lines_processed, s.lines_quarantined)
            for s in session.exec(select(Source).order_by(Source.name))
        ]
    return incidents, sources


def test_an_error_line_held_back_when_the_process_dies_is_processed_after_the_restart(
    engine: Engine, spool: Spool
) -> None:
    put(spool, ERROR_LAST)
    first = new_processor(engine, spool)
    first.run_once()
    assert first.assembler.pending == 1 and spool.pending() == []
    # kill -9: the first processor is gone without a flush; a new one starts on the same spool.
    second = new_processor(engine, spool)
    second.process_all()
    assert state(engine)[1] == [("api", 2, 2, 0)]


def test_a_traceback_that_follows_a_held_line_across_a_crash_is_joined_to_it(
    engine: Engine, spool: Spool
) -> None:
    put(spool, ERROR_LAST)
    new_processor(engine, spool).run_once()
    put(spool, TRACEBACK_AFTER, start=10)
    new_processor(engine, spool).process_all()
    incidents, sources = state(engine)
    assert incidents == [("sqlalchemy.missing-greenlet", 1)]
    assert sources == [("api", 7, 7, 0)]


def test_held_lines_are_not_processed_twice_by_a_later_restart(
    engine: Engine, spool: Spool
) -> None:
    put(spool, ERROR_LAST)
    new_processor(engine, spool).run_once()
    new_processor(engine, spool).process_all()
    new_processor(engine, spool).process_all()
    assert state(engine)[1] == [("api", 2, 2, 0)]


@pytest.fixture
def poison(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any event holding the word POISON fail to store, as a refused value would."""
    real = service.processor.apply_events

    def refusing(session: Session, matcher: Any, events: Any, **kwargs: Any) -> Any:
        events = list(events)
        if any("POISON" in event.text for event in events if isinstance(event, Event)):
            raise ValueError("value out of range for the column")
        return real(session, matcher, events, **kwargs)

    monkeypatch.setattr(service.processor, "apply_events", refusing)


@pytest.mark.usefixtures("poison")
def test_a_record_that_cannot_be_stored_is_quarantined_and_the_others_are_stored(
    engine: Engine, spool: Spool
) -> None:
    put(spool, "2025-09-19 12:43:13,100 INFO app: GET /health 200\n")
    put(spool, "2025-09-19 12:43:13,200 INFO app: POISON\n" + ERROR_LAST + TRACEBACK_AFTER, start=5)
    put(spool, "2025-09-19 12:43:16,000 INFO app: GET /health 200\n", start=20)
    processor = new_processor(engine, spool)
    processor.process_all()
    incidents, sources = state(engine)
    assert incidents == [("sqlalchemy.missing-greenlet", 1)]
    assert sources == [("api", 10, 9, 1)]
    assert spool.pending() == []
    with Session(engine) as session:
        (row,) = session.exec(select(QuarantinedRecord)).all()
    assert row.source == "api" and "POISON" in row.record
    assert row.reason == "ValueError: value out of range for the column"
    assert processor.last_error == ""


@pytest.mark.usefixtures("poison")
def test_a_held_back_record_that_cannot_be_stored_is_quarantined_when_released(
    engine: Engine, spool: Spool
) -> None:
    put(spool, "2025-09-19 12:43:14,551 ERROR app: POISON happened\n")
    processor = new_processor(engine, spool)
    processor.process_all()
    assert state(engine)[1] == [("api", 1, 0, 1)]
    with Session(engine) as session:
        (row,) = session.exec(select(QuarantinedRecord)).all()
    assert row.batch_key == "held"


def test_a_batch_whose_source_cannot_be_created_is_quarantined_whole(
    engine: Engine, spool: Spool
) -> None:
    put(spool, "2025-09-19 12:43:13,100 ERROR app: boom\n", source="bad/name\x00")
    put(spool, "2025-09-19 12:43:13,100 INFO app: GET /health 200\n", start=5)
    new_processor(engine, spool).process_all()
    assert state(engine)[1] == [("api", 1, 1, 0)]
    assert spool.pending() == []
    with Session(engine) as session:
        (row,) = session.exec(select(QuarantinedRecord)).all()
    assert row.source == "bad/name\\u0000"
    assert "boom" in row.record and row.reason.startswith(("SourceNameError", "DataError"))


def test_a_damaged_spool_batch_is_quarantined_and_the_batches_after_it_processed(
    engine: Engine, spool: Spool
) -> None:
    put(spool, ERROR_LAST, start=5)
    put(spool, "2025-09-19 12:43:16,000 INFO app: GET /health 200\n", start=20)
    with sqlite3.connect(spool.path) as db:
        db.execute("UPDATE batch SET body = CAST(replace(body, 'ASGI', 'ASGJ') AS BLOB)")
    new_processor(engine, spool).process_all()
    assert state(engine)[1] == [("api", 3, 1, 2)]
    assert spool.pending() == []
    with Session(engine) as session:
        (row,) = session.exec(select(QuarantinedRecord)).all()
    assert "checksum mismatch" in row.reason and "ASGJ" in row.record


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_held_back_error_line_dated_outside_the_calendar_is_still_processed(
    engine: Engine, spool: Spool, stamp: str
) -> None:
    put(spool, f"{stamp} ERROR app: NameError: name 'logger' is not defined\n")
    new_processor(engine, spool).process_all()
    incidents, sources = state(engine)
    assert incidents == [("python.name-error", 1)]
    assert sources == [("api", 1, 1, 0)]
