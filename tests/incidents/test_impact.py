"""An incident's impact in requests, and the recoveries its failing endpoints show."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session, select

from service.incidents.impact import Impacts, Probes
from service.incidents.nearby import IntakeState
from service.ingest.access import Access
from service.models import Incident, IncidentImpact, IncidentRequest
from service.sources import ensure_source
from tests.factories import T0, at

FAIL = Access("POST", "/api/login", 500, "10.0.0.1")
OK = Access("POST", "/api/login", 200, "10.0.0.2")
OTHER = Access("GET", "/api/items", 200, "10.0.0.3")
HEALTH = Access("GET", "/health", 200, "10.0.0.9")
NOW = T0 + timedelta(days=30)


def failing(state: IntakeState, count: int, *, start: float = 0) -> float:
    """Log `count` failed requests, each followed by the incident's hit; return the next time."""
    for n in range(count):
        state.request("api", at(start + n), FAIL)
        state.hit("api", at(start + n), 1, quiet=timedelta(hours=1))
    return start + count


def test_a_streak_over_two_failing_endpoints_names_the_answer_that_began_it() -> None:
    state = IntakeState()
    items_fail = Access("GET", "/api/items", 500, "10.0.0.4")
    for n in range(20):
        state.request("api", at(n), FAIL if n % 2 else items_fail)
        state.hit("api", at(n), 1, quiet=timedelta(hours=1))
    state.request("api", at(20), HEALTH)
    state.request("api", at(21), Access("GET", "/api/other", 200, "10.0.0.5"))
    recovered = state.request("api", at(22), OK)  # the streak begins on POST /api/login
    for n in range(9):
        recovered += state.request("api", at(23 + n), OTHER)  # and goes on on GET /api/items
    [(incident_id, text, when)] = recovered
    assert incident_id == 1 and when == at(22)
    assert text.startswith(f"POST /api/login answered 200 again at {at(22):%H:%M:%S}")
    assert "answered 2xx 10 times in a row" in text


def test_a_quiet_period_ends_the_window_at_the_last_failure() -> None:
    state = IntakeState()
    now = failing(state, 3)  # three failures at 0, 1, 2
    for n in range(5):
        state.request("api", at(now + 60 + n), OTHER)  # later answers, after the last hit
    state.request("api", at(now + 120), Access("GET", "/api/other", 500, "10.0.0.8"))
    window = state.impact.windows[1]
    assert (window.counts.requests, window.counts.failed) == (9, 4)
    state.impact.close(1, at(3600), "quiet")
    assert (window.counts.requests, window.counts.failed) == (3, 3)
    assert window.counted_to == at(2)
    assert window.answered_after == 5  # what came after the last hit is still told


def test_a_first_hit_under_a_reused_id_starts_a_window_of_its_own() -> None:
    # SQLite gives a discarded pending incident's id out again: its window must not carry over.
    impacts = Impacts()
    assert impacts.hit("api", at(0), 1, timedelta(hours=1), first=True)
    impacts.request("api", at(1), OTHER)
    assert impacts.windows[1].counts.requests == 1
    assert impacts.hit("api", at(100), 1, timedelta(hours=1), first=True)
    assert impacts.windows[1].counts.requests == 0 and impacts.windows[1].last_hit == at(100)
    assert not impacts.hit("api", at(101), 1, timedelta(hours=1))  # a later hit extends it


def test_forty_answers_in_a_row_after_forty_failures_recover_it() -> None:
    state = IntakeState()
    now = failing(state, 40)
    state.request("api", at(now), OTHER)  # the app answers elsewhere: not a total outage
    recovered = []
    for n in range(40):
        recovered += state.request("api", at(now + 1 + n), OK)
    [(incident_id, reason, when)] = recovered
    assert incident_id == 1 and "10 times in a row" in reason
    assert when == at(now + 1)  # the streak began there: the window ends there
    window = state.impact.windows[1]
    assert (window.counts.requests, window.counts.failed) == (41, 40)
    assert window.counts.endpoints[("POST", "/api/login")] == [40, 40]


def test_an_answer_now_and_then_between_failures_is_no_recovery() -> None:
    state = IntakeState()
    now = failing(state, 2)
    state.request("api", at(now), OTHER)
    assert state.request("api", at(now + 1), OK) == []
    now = failing(state, 2, start=now + 2)
    assert state.request("api", at(now), OK) == []
    assert 1 in state.impact.open["api"]


def test_the_first_answer_after_a_fix_deploy_recovers_it() -> None:
    state = IntakeState()
    now = failing(state, 3)
    state.request("api", at(now), OTHER)
    state.impact.deploy_live("api", at(now + 1))
    [(incident_id, reason, when)] = state.request("api", at(now + 2), OK)
    assert (incident_id, reason, when) == (1, "POST /api/login answered 200 again", at(now + 2))


def test_the_first_answer_after_a_total_outage_recovers_it() -> None:
    state = IntakeState()
    now = failing(state, 10)
    state.request("api", at(now), HEALTH)  # health checks answer all along: not traffic
    [(_, reason, _)] = state.request("api", at(now + 1), OK)
    assert reason == "POST /api/login answered 200 again, the first answer after 10 failed requests"
    window = state.impact.windows[1]
    assert (window.counts.requests, window.counts.failed) == (10, 10)


def test_health_checks_probes_and_requests_after_recovery_are_not_counted() -> None:
    state = IntakeState()
    now = failing(state, 40)
    state.request("api", at(now), HEALTH)
    state.request("api", at(now), Access("GET", "/api/v1/healthz", 200))
    state.request("api", at(now), Access("GET", "/", 200, "10.0.0.8", "kube-probe/1.29"))
    state.request("api", at(now + 1), OK)  # the recovery (a total outage until then)
    for n in range(80):
        state.request("api", at(now + 2 + n), OTHER)
    window = state.impact.windows[1]
    assert (window.counts.requests, window.counts.failed) == (40, 40)
    assert window.clients == {"10.0.0.1"}


def test_a_window_resolved_by_a_deploy_ends_when_it_went_live() -> None:
    state = IntakeState()
    now = failing(state, 3)
    state.impact.deploy_live("api", at(now + 1))
    for n in range(5):
        state.request("api", at(now + 2 + n), OTHER)
    state.impact.close(1, at(now + 1))
    assert state.impact.windows[1].counts.requests == 3


def test_probes_match_by_path_end_and_by_agent() -> None:
    probes = Probes(paths=("/health", "/status"), agents=("Render/1.0",))
    assert probes.match(Access("GET", "/api/v1/health", 200))
    assert probes.match(Access("GET", "/status", 200))
    assert not probes.match(Access("GET", "/myhealth", 200))
    assert probes.match(Access("GET", "/", 200, agent="Render/1.0"))
    assert not probes.match(Access("GET", "/", 200, agent="Mozilla/5.0"))


def test_counts_are_written_once_per_batch_and_add_up(engine: Engine) -> None:
    state = IntakeState(impact=Impacts())
    with Session(engine) as session:
        ensure_source(session, "api", now=NOW)
        incident = Incident(
            signature="s", title="t", severity="high", source="api", fingerprint="f", opened_at=NOW
        )
        session.add(incident)
        session.flush()
        assert incident.id is not None
        state.hit("api", at(0), incident.id)
        state.request("api", at(1), FAIL)
        state.write(session)
        state.request("api", at(2), FAIL)
        state.request("api", at(3), OTHER)
        state.write(session)
        impact = session.get(IncidentImpact, incident.id)
        assert impact is not None and (impact.requests, impact.failed) == (3, 2)
        [row] = session.exec(select(IncidentRequest)).all()
        assert (row.method, row.path, row.requests, row.failed) == ("POST", "/api/login", 2, 2)
