"""Data gaps: what the platform dropped (Heroku L10) and what drainwatch refused, on timelines."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from service.incidents.gaps import KIND, Refusals, platform_drop, recent_gaps
from service.ingest.headers import parse_text
from service.models import Incident, TimelineEntry
from service.processor import Processor
from service.reports.build import build_report
from service.runtime import SignatureBook
from service.settings import Settings
from service.spool.store import Spool
from tests.factories import T0

L10 = (
    "<172>1 2025-09-19T12:43:20+00:00 host heroku logplex - Error L10 (output buffer overflow):"
    " drain 'd.5ac5a6d3-0b43' dropped 1043 messages since 2025-09-19T12:42:50+00:00."
)


@pytest.fixture
def processor(engine: Engine, tmp_path: Path) -> Processor:
    book = SignatureBook(Settings(_env_file=None))  # type: ignore[call-arg]
    spool = Spool(tmp_path / "spool", max_bytes=10**7)
    return Processor(engine=engine, spool=spool, matcher=lambda: book.matcher, clock=lambda: T0)


def gaps(engine: Engine) -> list[tuple[str, str]]:
    with Session(engine) as session:
        rows = session.exec(select(TimelineEntry).where(TimelineEntry.kind == KIND))
        return [(row.source, row.text) for row in rows]


@pytest.mark.parametrize(
    "message",
    [
        "Error L10 (output buffer overflow): drain 'd.1' dropped 1043 messages since 2025-09-19T12:42:50+00:00.",
        "Error L10 (output buffer overflow): 1043 messages dropped since 2011-05-03T17:35:00+00:00.",
    ],
    ids=["drain-form", "older-form"],
)
def test_both_l10_wordings_are_read(message: str) -> None:
    text = platform_drop(message)
    assert text is not None and "dropped 1043 log lines" in text


def test_other_lines_are_not_gaps() -> None:
    assert platform_drop("Error R14 (Memory quota exceeded)") is None
    assert platform_drop("L10 mentioned in passing, 5 messages") is None


def test_an_l10_line_puts_a_gap_on_the_source_timeline(
    processor: Processor, engine: Engine
) -> None:
    processor.spool.append("shop", parse_text(L10, source="shop", received_at=T0), received_at=T0)
    processor.process_all()
    [(source, text)] = gaps(engine)
    assert source == "shop"
    assert "Heroku Logplex dropped 1043 log lines since 2025-09-19T12:42:50+00:00" in text


def test_the_gap_is_on_the_timeline_of_an_incident_around_it(
    processor: Processor, engine: Engine
) -> None:
    crash = "<45>1 2025-09-19T12:43:21+00:00 host heroku web.1 - State changed from up to crashed"
    text = f"{L10}\n{crash}\n"
    processor.spool.append("shop", parse_text(text, source="shop", received_at=T0), received_at=T0)
    processor.process_all()
    with Session(engine) as session:
        incident = session.exec(
            select(Incident).where(Incident.signature == "heroku.app-crashed-state")
        ).one()
        report = build_report(session, incident, {}, public_url="http://x")
    kinds = [row.kind for row in report.timeline]
    assert "data gap" in kinds


def test_refused_batches_become_one_gap_per_source(processor: Processor, engine: Engine) -> None:
    refusals: Refusals = processor.refusals
    refusals.note("api", 100, reason="rate limit", at=T0)
    refusals.note("api", 50, reason="rate limit", at=T0 + timedelta(seconds=3))
    refusals.note("web", 7, reason="spool full", at=T0)
    processor.run_once()
    found = dict(gaps(engine))
    assert found["api"].startswith("drainwatch refused 150 log lines in 2 batches (rate limit)")
    assert "spool full" in found["web"]
    assert refusals.take() == {}
    with Session(engine) as session:
        assert [g.source for g in recent_gaps(session, None)] == ["web", "api"]


def test_refusals_survive_a_database_outage(
    processor: Processor, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    processor.refusals.note("api", 10, reason="rate limit", at=T0)

    def down(*_args: object, **_kwargs: object) -> None:
        raise OperationalError("SELECT 1", {}, Exception("database is down"))

    monkeypatch.setattr("service.processor.record_refusals", down)
    with pytest.raises(OperationalError):
        processor.run_once()
    assert processor.refusals.take()["api"].lines == 10
