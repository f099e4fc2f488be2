"""Absence rules' waits: a start-up that completes in time stores no incident row, in one step or
across steps; a wait outlives a restart in its source's row; its incident, once it needs one, is
numbered by when it started."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, event
from sqlmodel import Session, col, select

from service.ingest.headers import parse_text
from service.models import Incident, IncidentEvent, IncidentImpact, Source, TimelineEntry
from service.processor import Processor
from service.runtime import SignatureBook
from service.settings import Settings
from service.spool.store import Spool
from tests.factories import T0

WAITING = "[2025-09-18 13:50:02 +0000] [27] [INFO] Waiting for application startup.\n"
COMPLETE = "[2025-09-18 13:50:04 +0000] [27] [INFO] Application startup complete.\n"
LATER = "[2025-09-18 13:52:30 +0000] [5] [INFO] Handling signal: winch\n"
GREENLET = """\
[2025-09-18 13:50:12 +0000] [28] [ERROR] Exception in ASGI application
Traceback (most recent call last):
  File "/app/api/auth.py", line 212, in refresh_token
    user = db.query(User).first()
sqlalchemy.exc.MissingGreenlet: greenlet_spawn has not been called; can't call await_only() here.
[2025-09-18 13:50:13 +0000] [28] [INFO] 10.0.0.1 "POST /api/v1/auth/refresh" 500
"""


@pytest.fixture
def book() -> SignatureBook:
    return SignatureBook(Settings(_env_file=None))  # type: ignore[call-arg]


@pytest.fixture
def inserted(engine: Engine) -> list[str]:
    """Collect every statement that inserts an incident row."""
    statements: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO INCIDENT "):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    return statements


def processor(engine: Engine, spool: Spool, book: SignatureBook) -> Processor:
    return Processor(engine=engine, spool=spool, matcher=lambda: book.matcher, clock=lambda: T0)


def store(target: Processor, text: str) -> None:
    """Spool `text` as one batch of source `api` and store it in one step."""
    target.spool.append("api", parse_text(text, source="api", received_at=T0), received_at=T0)
    target.run_once(force_flush=True)


def incidents(engine: Engine) -> list[Incident]:
    with Session(engine) as session:
        return list(session.exec(select(Incident).order_by(col(Incident.id))).all())


def waits(engine: Engine) -> list[dict[str, object]]:
    with Session(engine) as session:
        return list(session.exec(select(Source).where(Source.name == "api")).one().waits)


def test_a_start_up_completed_in_one_step_stores_no_incident(
    engine: Engine, tmp_path: Path, book: SignatureBook, inserted: list[str]
) -> None:
    target = processor(engine, Spool(tmp_path / "spool", max_bytes=10**7), book)
    store(target, WAITING + COMPLETE)
    assert inserted == []
    assert waits(engine) == []


def test_a_start_up_completed_in_the_next_step_stores_no_incident(
    engine: Engine, tmp_path: Path, book: SignatureBook, inserted: list[str]
) -> None:
    target = processor(engine, Spool(tmp_path / "spool", max_bytes=10**7), book)
    store(target, WAITING)
    [wait] = waits(engine)
    assert (wait["signature"], wait["text"]) == (
        "app.startup-hang",
        "Waiting for application startup.",
    )
    store(target, COMPLETE)
    assert inserted == []
    assert waits(engine) == []


def test_a_wait_outlives_a_restart_and_opens_once_its_deadline_passes(
    engine: Engine, tmp_path: Path, book: SignatureBook
) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=10**7)
    store(processor(engine, spool, book), WAITING)
    restarted = processor(engine, spool, book)  # what the first held in memory is gone
    store(restarted, LATER)
    [hang] = incidents(engine)
    assert (hang.signature, hang.status, hang.occurrences) == ("app.startup-hang", "open", 1)
    assert hang.first_seen is not None and f"{hang.first_seen:%H:%M:%S}" == "13:50:02"
    assert hang.fields == {"instance": "27"}
    with Session(engine) as session:
        [event] = session.exec(select(IncidentEvent)).all()
        timeline = session.exec(select(TimelineEntry.kind, TimelineEntry.text)).all()
    assert (event.role, event.instance, event.text) == (
        "start",
        "27",
        "Waiting for application startup.",
    )
    assert list(timeline) == [("opened", "nothing followed within 1 min")]
    assert waits(engine) == []


def test_a_hang_is_numbered_before_the_incidents_that_came_after_its_start(
    engine: Engine, tmp_path: Path, book: SignatureBook
) -> None:
    target = processor(engine, Spool(tmp_path / "spool", max_bytes=10**7), book)
    store(target, WAITING + GREENLET + LATER)
    assert [(i.signature, i.status) for i in incidents(engine)] == [
        ("app.startup-hang", "open"),
        ("sqlalchemy.missing-greenlet", "open"),
    ]


def test_a_start_up_completed_after_another_incident_leaves_only_that_incident(
    engine: Engine, tmp_path: Path, book: SignatureBook
) -> None:
    target = processor(engine, Spool(tmp_path / "spool", max_bytes=10**7), book)
    store(target, WAITING + GREENLET)
    store(target, COMPLETE.replace("13:50:04", "13:50:20"))
    assert [i.signature for i in incidents(engine)] == ["sqlalchemy.missing-greenlet"]
    assert waits(engine) == []


def test_processors_sharing_a_database_share_the_waits(
    engine: Engine, tmp_path: Path, book: SignatureBook, inserted: list[str]
) -> None:
    first = processor(engine, Spool(tmp_path / "first", max_bytes=10**7), book)
    second = processor(engine, Spool(tmp_path / "second", max_bytes=10**7), book)
    store(first, WAITING)
    assert any(key < 0 for key in first.intake.impact.windows)
    store(second, COMPLETE)
    assert inserted == []
    assert waits(engine) == []
    store(first, LATER)  # the first forgets the window of the wait the second ended
    assert inserted == []
    assert not any(key < 0 for key in first.intake.impact.windows)


def test_a_hang_counts_the_requests_since_its_start_line(
    engine: Engine, tmp_path: Path, book: SignatureBook
) -> None:
    target = processor(engine, Spool(tmp_path / "spool", max_bytes=10**7), book)
    failed = (
        "2025-09-18 13:50:30,000 - uvicorn.access - INFO:     10.0.0.10:0 - "
        '"GET /api/x HTTP/1.1" 500 Internal Server Error\n'
    )
    store(target, WAITING)
    store(target, failed)  # counted under the wait's key, in a step of its own
    store(target, LATER)
    [hang] = incidents(engine)
    with Session(engine) as session:
        impact = session.get(IncidentImpact, hang.id)
    assert impact is not None
    assert (impact.requests, impact.failed) == (1, 1)


def test_a_wait_that_cannot_be_read_is_dropped_and_holds_nothing_up(
    engine: Engine, tmp_path: Path, book: SignatureBook
) -> None:
    target = processor(engine, Spool(tmp_path / "spool", max_bytes=10**7), book)
    store(target, WAITING)
    with Session(engine) as session:
        source = session.exec(select(Source).where(Source.name == "api")).one()
        source.waits = [{"signature": "app.startup-hang"}, *source.waits]
        session.add(source)
        session.commit()
    store(target, LATER.replace("13:52:30", "13:50:03"))  # before the deadline: still waiting
    assert [wait["signature"] for wait in waits(engine)] == ["app.startup-hang"]
    assert len(waits(engine)[0]) > 1
    store(target, COMPLETE)
    assert incidents(engine) == []
    assert waits(engine) == []
