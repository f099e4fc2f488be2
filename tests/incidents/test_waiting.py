"""Threshold rules (N hits in a window) and absence rules (A without B in time)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from service.incidents.lifecycle import attach_hit
from service.incidents.queries import list_incidents
from service.incidents.sweep import sweep_source
from service.models import Incident, TimelineEntry
from service.signatures.model import Signature
from service.sources import ensure_source
from tests.factories import T0, at, event, hit, signature

NOW = T0 + timedelta(days=30)


def startup(session: Session, hang: Signature, line: str, seconds: float, role: str) -> None:
    """Apply a start or close hit of the start-up hang rule for process 27."""
    attach_hit(session, hit(hang, event(line, seconds=seconds), role=role, instance="27"), now=NOW)


def all_incidents(session: Session) -> list[Incident]:
    return list(session.exec(select(Incident).order_by(col(Incident.id))).all())


def test_threshold_opens_only_when_enough_hits_fall_in_the_window(engine: Engine) -> None:
    burst = signature("http.server-errors", kind="threshold", threshold=5, window_seconds=60)
    with Session(engine) as session:
        ensure_source(session, "api", now=NOW)
        for second in (0, 10, 20, 30):
            attach_hit(session, hit(burst, event("500", seconds=second)), now=NOW)
        assert list_incidents(session) == []
        [pending] = all_incidents(session)
        assert pending.status == "pending"
        attach_hit(session, hit(burst, event("500", seconds=40)), now=NOW)
        [incident] = list_incidents(session)
        assert (incident.status, incident.occurrences, incident.first_seen) == ("open", 5, at(0))
        assert session.exec(select(TimelineEntry.text)).one().startswith("5 hits within 1 min")


def test_sparse_hits_never_open_and_are_discarded(engine: Engine) -> None:
    burst = signature("http.server-errors", kind="threshold", threshold=3, window_seconds=60)
    with Session(engine) as session:
        source = ensure_source(session, "api", now=NOW)
        for second in (0, 300, 600, 900):
            attach_hit(session, hit(burst, event("500", seconds=second)), now=NOW)
        assert list_incidents(session) == []
        source.last_log_time = at(2000)
        sweep_source(session, source, {burst.id: burst})
        assert all_incidents(session) == []


def test_absence_opens_when_the_awaited_line_does_not_come(engine: Engine) -> None:
    hang = signature("app.startup-hang", kind="absence", window_seconds=60, group_by=("instance",))
    with Session(engine) as session:
        source = ensure_source(session, "api", now=NOW)
        startup(session, hang, "Waiting for application startup.", 0, "start")
        source.last_log_time = at(59)
        sweep_source(session, source, {hang.id: hang})
        assert list_incidents(session) == []
        source.last_log_time = at(61)
        sweep_source(session, source, {hang.id: hang})
        [incident] = list_incidents(session)
        assert (incident.status, incident.first_seen, incident.occurrences) == ("open", at(0), 1)


def test_absence_is_cancelled_by_the_awaited_line(engine: Engine) -> None:
    hang = signature("app.startup-hang", kind="absence", window_seconds=60, group_by=("instance",))
    with Session(engine) as session:
        source = ensure_source(session, "api", now=NOW)
        startup(session, hang, "Waiting for application startup.", 0, "start")
        startup(session, hang, "Application startup complete.", 3, "close")
        source.last_log_time = at(600)
        sweep_source(session, source, {hang.id: hang})
        assert all_incidents(session) == []


def test_the_awaited_line_after_the_deadline_opens_and_resolves_it(engine: Engine) -> None:
    # Read in one batch, no sweep ran between the two lines: it still hung for two hours.
    hang = signature("app.startup-hang", kind="absence", window_seconds=60, group_by=("instance",))
    with Session(engine) as session:
        ensure_source(session, "api", now=NOW)
        startup(session, hang, "Waiting for application startup.", 0, "start")
        startup(session, hang, "Application startup complete.", 7200, "close")
        [incident] = list_incidents(session)
        assert (incident.status, incident.resolution) == ("resolved", "recovered")
        assert (incident.first_seen, incident.resolved_at) == (at(0), at(7200))
        kinds = session.exec(select(TimelineEntry.kind).order_by(col(TimelineEntry.id))).all()
        assert list(kinds) == ["opened", "resolved"]


def test_a_direct_hit_of_an_absence_rule_opens_at_once(engine: Engine) -> None:
    hang = signature("app.startup-hang", kind="absence", window_seconds=60)
    with Session(engine) as session:
        ensure_source(session, "api", now=NOW)
        attach_hit(
            session,
            hit(hang, event("Request timeout: timeout of 60000ms exceeded", seconds=0)),
            now=NOW,
        )
        [incident] = list_incidents(session)
        assert incident.status == "open"


def test_late_completion_resolves_an_open_hang(engine: Engine) -> None:
    hang = signature("app.startup-hang", kind="absence", window_seconds=60, group_by=("instance",))
    with Session(engine) as session:
        source = ensure_source(session, "api", now=NOW)
        startup(session, hang, "Waiting for application startup.", 0, "start")
        source.last_log_time = at(120)
        sweep_source(session, source, {hang.id: hang})
        startup(session, hang, "Application startup complete.", 130, "close")
        [incident] = list_incidents(session)
        assert (incident.status, incident.resolution, incident.resolved_at) == (
            "resolved",
            "recovered",
            at(130),
        )
