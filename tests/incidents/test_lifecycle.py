"""The lifecycle: one incident per fingerprint, pair rules resolve, quiet periods, recurrences."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from service.cli import main
from service.incidents.lifecycle import attach_hit
from service.models import Incident, IncidentEvent, TimelineEntry
from service.sources import ensure_source
from tests.factories import T0, at, event, hit, signature

NOW = T0 + timedelta(days=30)


def incidents(session: Session) -> list[Incident]:
    return list(session.exec(select(Incident).order_by(col(Incident.id))).all())


def test_hits_with_the_same_fingerprint_join_one_incident(engine: Engine) -> None:
    sig = signature(group_by=("name",))
    with Session(engine) as session:
        ensure_source(session, "api", now=NOW)
        for second in (0, 10, 20):
            attach_hit(session, hit(sig, event("boom", seconds=second), name="logger"), now=NOW)
        attach_hit(session, hit(sig, event("boom", seconds=30), name="db"), now=NOW)
        session.commit()
        found = incidents(session)
        assert [(i.fields, i.occurrences) for i in found] == [
            ({"name": "logger"}, 3),
            ({"name": "db"}, 1),
        ]
        assert found[0].first_seen == at(0) and found[0].last_seen == at(20)
        assert len(session.exec(select(IncidentEvent)).all()) == 4


def test_sources_are_kept_apart(engine: Engine) -> None:
    sig = signature()
    with Session(engine) as session:
        for name in ("api", "worker"):
            ensure_source(session, name, now=NOW)
            attach_hit(session, hit(sig, event("boom", source=name)), now=NOW)
        session.commit()
        assert sorted(i.source for i in incidents(session)) == ["api", "worker"]


def test_pair_rule_close_resolves_at_the_recovery_time(engine: Engine) -> None:
    sig = signature("app.outage", kind="pair", group_by=("op",))
    with Session(engine) as session:
        ensure_source(session, "api", now=NOW)
        for second in (0, 2, 6):
            attach_hit(session, hit(sig, event("[DB_DOWN]", seconds=second), op="loop"), now=NOW)
        attach_hit(
            session,
            hit(sig, event("[DB_RECOVERED]", seconds=190), role="close", op="loop"),
            now=NOW,
        )
        session.commit()
        [incident] = incidents(session)
        assert incident.status == "resolved" and incident.resolution == "recovered"
        assert incident.occurrences == 3
        assert incident.resolved_at == at(190) and incident.last_seen == at(190)
        kinds = [
            t.kind for t in session.exec(select(TimelineEntry).order_by(col(TimelineEntry.id)))
        ]
        assert kinds == ["opened", "resolved"]


def test_close_without_an_open_incident_changes_nothing(engine: Engine) -> None:
    sig = signature("app.outage", kind="pair", group_by=("op",))
    with Session(engine) as session:
        ensure_source(session, "api", now=NOW)
        assert (
            attach_hit(session, hit(sig, event("[DB_RECOVERED]"), role="close", op="x"), now=NOW)
            is None
        )
        assert incidents(session) == []


def test_hit_after_resolution_opens_a_linked_recurrence(engine: Engine) -> None:
    sig = signature("app.outage", kind="pair", group_by=("op",))
    with Session(engine) as session:
        ensure_source(session, "api", now=NOW)
        attach_hit(session, hit(sig, event("down", seconds=0), op="loop"), now=NOW)
        attach_hit(session, hit(sig, event("up", seconds=60), role="close", op="loop"), now=NOW)
        attach_hit(session, hit(sig, event("down", seconds=600), op="loop"), now=NOW)
        session.commit()
        first, second = incidents(session)
        assert first.status == "resolved" and second.status == "open"
        assert second.previous_id == first.id and second.first_seen == at(600)


def test_quiet_period_in_log_time_resolves_and_recurs(engine: Engine) -> None:
    sig = signature(quiet_minutes=10)
    with Session(engine) as session:
        ensure_source(session, "api", now=NOW)
        attach_hit(session, hit(sig, event("boom", seconds=0)), now=NOW)
        attach_hit(session, hit(sig, event("boom", seconds=300)), now=NOW)
        attach_hit(session, hit(sig, event("boom", seconds=300 + 11 * 60)), now=NOW)
        session.commit()
        first, second = incidents(session)
        assert first.resolution == "quiet" and first.resolved_at == at(300 + 600)
        assert first.occurrences == 2 and second.occurrences == 1 and second.previous_id == first.id


def test_lines_without_time_still_count(engine: Engine) -> None:
    sig = signature()
    with Session(engine) as session:
        ensure_source(session, "api", now=NOW)
        attach_hit(session, hit(sig, event("boom", seconds=None)), now=NOW)
        attach_hit(session, hit(sig, event("boom", seconds=None)), now=NOW)
        session.commit()
        [incident] = incidents(session)
        assert incident.occurrences == 2 and incident.first_seen is None


def test_incident_keeps_only_the_fields_every_hit_agrees_on(engine: Engine) -> None:
    sig = signature("app.outage", kind="pair", group_by=("op",))
    with Session(engine) as session:
        ensure_source(session, "api", now=NOW)
        attach_hit(
            session,
            hit(sig, event("down", seconds=0), op="loop", attempt="1", reason="Neon"),
            now=NOW,
        )
        attach_hit(
            session,
            hit(sig, event("down", seconds=2), op="loop", attempt="2", reason="Neon"),
            now=NOW,
        )
        attach_hit(
            session,
            hit(sig, event("up", seconds=9), role="close", op="loop", attempts="3"),
            now=NOW,
        )
        session.commit()
        [incident] = incidents(session)
        assert incident.fields == {"op": "loop", "reason": "Neon"}


def test_a_hit_without_a_field_keeps_the_field_an_earlier_hit_gave(engine: Engine) -> None:
    sig = signature("heroku.memory", group_by=())
    with Session(engine) as session:
        ensure_source(session, "api", now=NOW)
        attach_hit(session, hit(sig, event("Error R15", seconds=0), code="R15"), now=NOW)
        attach_hit(session, hit(sig, event("Stopping process with SIGKILL", seconds=1)), now=NOW)
        session.commit()
        [incident] = incidents(session)
        assert incident.fields == {"code": "R15"} and incident.occurrences == 2


def test_a_hit_with_another_value_still_drops_the_field(engine: Engine) -> None:
    sig = signature("heroku.memory", group_by=())
    with Session(engine) as session:
        ensure_source(session, "api", now=NOW)
        attach_hit(session, hit(sig, event("Error R14", seconds=0), code="R14"), now=NOW)
        attach_hit(session, hit(sig, event("SIGKILL", seconds=1)), now=NOW)
        attach_hit(session, hit(sig, event("Error R15", seconds=2), code="R15"), now=NOW)
        session.commit()
        [incident] = incidents(session)
        assert incident.fields == {}


def test_heroku_r15_then_sigkill_keeps_code_r15(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "web.log"
    log.write_text(
        "2025-10-02T10:02:14.551+00:00 heroku[web.1]: Process running mem=1034M(202.0%)\n"
        "2025-10-02T10:02:14.552+00:00 heroku[web.1]: Error R15 (Memory quota vastly exceeded)\n"
        "2025-10-02T10:02:14.553+00:00 heroku[web.1]: Stopping process with SIGKILL\n"
    )
    assert main(["scan", str(log), "--format", "json"]) == 0
    found = json.loads(capsys.readouterr().out)["incidents"]
    memory = [i for i in found if i["signature"] == "heroku.memory-quota"]
    assert [(i["fields"], i["occurrences"]) for i in memory] == [({"code": "R15"}, 2)]


def test_an_incident_opened_by_an_inferred_hit_is_inferred(engine: Engine) -> None:
    sig = signature()
    with Session(engine) as session:
        ensure_source(session, "api", now=NOW)
        inferred = replace(hit(sig, event("frames", seconds=0)), confidence="inferred")
        attach_hit(session, inferred, now=NOW)
        attach_hit(session, replace(inferred, event=event("frames", seconds=5)), now=NOW)
        session.commit()
        assert [(i.confidence, i.occurrences) for i in incidents(session)] == [("inferred", 2)]


def test_an_incident_is_exact_once_any_exact_hit_joins_it(engine: Engine) -> None:
    sig = signature()
    with Session(engine) as session:
        ensure_source(session, "api", now=NOW)
        inferred = replace(hit(sig, event("frames", seconds=0)), confidence="inferred")
        attach_hit(session, inferred, now=NOW)
        attach_hit(session, hit(sig, event("boom", seconds=5)), now=NOW)
        attach_hit(session, replace(inferred, event=event("frames", seconds=9)), now=NOW)
        session.commit()
        assert [(i.confidence, i.occurrences) for i in incidents(session)] == [("exact", 3)]
