"""Failed requests logged next to an incident's hits become its affected endpoints."""

from __future__ import annotations

from service.incidents.masked import MAX_RECENT
from service.incidents.nearby import IntakeState
from service.ingest.access import Access
from tests.factories import at

FAIL = Access("POST", "/api/v1/auth/refresh", 500)


def test_failures_within_seconds_of_a_hit_are_credited_once() -> None:
    state = IntakeState()
    state.hit("api", at(0), 1)
    state.request("api", at(1), FAIL)
    state.hit("api", at(2), 1)
    state.request("api", at(30), FAIL)
    assert state.endpoints == {(1, "POST", "/api/v1/auth/refresh", 500): 1}


def test_a_failure_before_the_hit_counts_too_and_other_sources_do_not() -> None:
    state = IntakeState()
    state.request("api", at(0), FAIL)
    state.request("worker", at(0), FAIL)
    state.hit("api", at(3), 7)
    assert state.endpoints == {(7, "POST", "/api/v1/auth/refresh", 500): 1}


def test_traffic_counts_requests_and_errors_per_minute() -> None:
    state = IntakeState()
    state.request("api", at(1), Access("GET", "/", 200))
    state.request("api", at(2), FAIL)
    state.request("api", at(61), Access("GET", "/", 200))
    assert sum(state.traffic.values()) == 3
    assert sum(count for (_, _, failed), count in state.traffic.items() if failed) == 1


def test_a_burst_in_one_second_keeps_memory_bounded() -> None:
    state = IntakeState()
    when = at(0)
    for _ in range(3 * MAX_RECENT):
        state.request("api", when, FAIL)
        state.hit("api", when, 1)
    assert len(state.failures["api"]) == MAX_RECENT
    assert len(state.hits["api"]) == MAX_RECENT
    assert len(state.masked.failures) == MAX_RECENT


def test_a_restored_state_forgets_what_the_failed_unit_of_work_did() -> None:
    state = IntakeState()
    state.hit("api", at(0), 1)
    state.request("api", at(1), FAIL)
    state.request("api", at(2), Access("GET", "/", 200, "10.0.0.7"))
    before = (
        state.impact.windows[1].copy(),
        dict(state.endpoints),
        list(state.hits["api"]),
        len(state.failures["api"]),
    )
    checkpoint = state.checkpoint()
    state.hit("api", at(3), 1)
    state.hit("api", at(3), 2)
    for second in range(4, 9):
        state.request("api", at(second), FAIL)
        state.request("api", at(second), Access("GET", "/", 200, f"10.0.0.{second}"))
    state.restore(checkpoint)
    assert 2 not in state.impact.windows
    assert state.impact.windows[1] == before[0]
    assert (dict(state.endpoints), list(state.hits["api"])) == (before[1], before[2])
    assert len(state.failures["api"]) == before[3]
    assert list(state.impact.open["api"]) == [1]
