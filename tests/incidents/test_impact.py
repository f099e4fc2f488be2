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
    assert (incident_id, reason, when) == (1, "", at(now + 2))


def test_the_first_answer_after_a_total_outage_recovers_it() -> None:
    state = IntakeState()
    now = failing(state, 10)
    state.request("api", at(now), HEALTH)  # health checks answer all along: not traffic
    [(_, reason, _)] = state.request("api", at(now + 1), OK)
    assert reason == ", the first answer after 10 failed requests"
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
