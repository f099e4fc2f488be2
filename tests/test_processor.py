"""The processor: spool to database exactly once, and nothing lost while the database is down."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from service.ingest.headers import parse_text
from service.models import Incident, Source
from service.processor import Processor
from service.runtime import SignatureBook
from service.settings import Settings
from service.spool.store import Spool
from tests.factories import T0

LOG = """\
[2025-09-19 12:43:14 +0000] [27] [ERROR] Exception in ASGI application
Traceback (most recent call last):
  File "/app/api/auth.py", line 212, in refresh_token
    user = db.query(User).first()
sqlalchemy.exc.MissingGreenlet: greenlet_spawn has not been called; can't call await_only() here.
[2025-09-19 12:43:15 +0000] [27] [INFO] 10.0.0.1 "POST /api/v1/auth/refresh" 500
"""


@pytest.fixture
def processor(engine: Engine, tmp_path: Path) -> Processor:
    book = SignatureBook(Settings(_env_file=None))  # type: ignore[call-arg]
    spool = Spool(tmp_path / "spool", max_bytes=10**7)
    return Processor(engine=engine, spool=spool, matcher=lambda: book.matcher, clock=lambda: T0)


def spool_log(processor: Processor, text: str = LOG) -> None:
    processor.spool.append("api", parse_text(text, source="api", received_at=T0), received_at=T0)


def counts(engine: Engine) -> tuple[list[tuple[str, int]], tuple[int, int]]:
    with Session(engine) as session:
        incidents = [(i.signature, i.occurrences) for i in session.exec(select(Incident))]
        source = session.exec(select(Source)).one()
        return incidents, (source.lines_received, source.lines_processed)


def test_a_batch_is_stored_once_and_acknowledged(processor: Processor, engine: Engine) -> None:
    spool_log(processor)
    processor.process_all()
    assert counts(engine) == ([("sqlalchemy.missing-greenlet", 1)], (6, 6))
    assert processor.spool.pending() == []


def test_replay_after_a_crash_before_the_ack_stores_nothing_twice(
    processor: Processor, engine: Engine
) -> None:
    spool_log(processor)
    real_ack = processor.spool.ack
    processor.spool.ack = lambda seqs: None  # type: ignore[method-assign]
    processor.run_once()
    processor.run_once(force_flush=True)
    processor.spool.ack = real_ack  # type: ignore[method-assign]
    assert len(processor.spool.pending()) == 1
    fresh = Processor(
        engine=engine, spool=processor.spool, matcher=processor.matcher, clock=lambda: T0
    )
    fresh.process_all()
    assert counts(engine) == ([("sqlalchemy.missing-greenlet", 1)], (6, 6))


def test_database_outage_keeps_batches_in_the_spool(
    processor: Processor, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool_log(processor)
    calls = {"n": 0}
    real = Processor._apply

    def flaky(self: Processor, *args: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("SELECT 1", {}, Exception("connection refused"))
        return real(self, *args)

    monkeypatch.setattr(Processor, "_apply", flaky)
    with pytest.raises(OperationalError):
        processor.run_once()
    assert len(processor.spool.pending()) == 1
    assert "OperationalError" in processor.last_error
    processor.process_all()
    assert counts(engine) == ([("sqlalchemy.missing-greenlet", 1)], (6, 6))
    assert processor.last_error == ""


def test_background_thread_processes_and_stops(processor: Processor, engine: Engine) -> None:
    spool_log(processor)
    processor.interval_seconds = 0.01
    processor.start()
    processor.stop()
    assert counts(engine)[0] == [("sqlalchemy.missing-greenlet", 1)]


def test_purge_runs_at_most_once_per_interval(processor: Processor) -> None:
    assert processor.purge_if_due(every_seconds=3600) is not None
    assert processor.purge_if_due(every_seconds=3600) is None


def test_a_busy_sources_backlog_does_not_delay_another_sources_failure(
    processor: Processor, engine: Engine
) -> None:
    busy = "\n".join(f"[2025-09-19 12:43:{n % 60:02d} +0000] [3] [INFO] tick {n}" for n in range(5))
    for _ in range(120):
        processor.spool.append(
            "busy", parse_text(busy, source="busy", received_at=T0), received_at=T0
        )
    spool_log(processor)
    processor.run_once(force_flush=True)  # one step: 50 batches of 121 waiting
    with Session(engine) as session:
        assert [i.signature for i in session.exec(select(Incident))] == [
            "sqlalchemy.missing-greenlet"
        ]
        api = session.exec(select(Source).where(Source.name == "api")).one()
        assert (api.lines_received, api.lines_processed) == (6, 6)
    assert len(processor.spool.pending(limit=1000)) == 71
