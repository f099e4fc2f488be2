"""Pages fail fast while the database is known not to answer (`web/breaker.py`)."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from service.web import breaker as breaker_module
from service.web.breaker import TRIAL_SECONDS, DatabaseBreaker
from tests.conftest import ADMIN


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_slow_failure_holds_requests_back_then_lets_one_try() -> None:
    clock = Clock()
    breaker = DatabaseBreaker(clock)
    assert breaker.admit()
    breaker.failed(waited=8.0)
    assert not breaker.admit()
    clock.now += breaker_module.HOLD_SECONDS
    assert breaker.admit()  # one trial
    assert not breaker.admit()  # the others wait for it
    breaker.succeeded()
    assert breaker.admit() and breaker.admit() and not breaker.open


def test_a_fast_failure_holds_nothing_back() -> None:
    breaker = DatabaseBreaker(Clock())
    breaker.failed(waited=0.01)
    assert breaker.admit() and not breaker.open


def test_a_trial_that_never_ends_does_not_keep_everyone_out() -> None:
    clock = Clock()
    breaker = DatabaseBreaker(clock)
    breaker.failed(waited=5.0)
    clock.now += breaker_module.HOLD_SECONDS
    assert breaker.admit()
    clock.now += TRIAL_SECONDS
    assert breaker.admit()


@pytest.mark.parametrize("waited", [5.0, 0.01], ids=["slowly", "quickly"])
def test_a_failed_trial_holds_again(waited: float) -> None:
    clock = Clock()
    breaker = DatabaseBreaker(clock)
    breaker.failed(waited=5.0)
    clock.now += breaker_module.HOLD_SECONDS
    assert breaker.admit()
    breaker.failed(waited=waited)
    assert not breaker.admit()
    clock.now += breaker_module.HOLD_SECONDS
    assert breaker.admit()  # the next trial, not TRIAL_SECONDS later


def test_after_a_page_waited_for_its_outage_the_next_answer_503_at_once(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[float] = []

    def hanging(*_args: object, **_kwargs: object) -> None:
        calls.append(time.monotonic())
        time.sleep(1.1)  # a statement cut at its deadline, as dbwatch does
        raise OperationalError("SELECT", {}, Exception("consuming input failed"))

    monkeypatch.setattr(breaker_module, "HOLD_SECONDS", 0.5)
    monkeypatch.setattr("service.web.pages.list_incidents", hanging)
    assert client.get("/incidents", auth=ADMIN).status_code == 503
    started = time.monotonic()
    for path in ("/incidents", "/api/incidents", "/sources"):
        response = client.get(path, auth=ADMIN)
        assert response.status_code == 503, path
        assert "DatabaseNotAnswering" in response.text
    assert time.monotonic() - started < 0.5
    assert len(calls) == 1  # none of them tried the database
    monkeypatch.undo()
    time.sleep(0.5)
    assert client.get("/incidents", auth=ADMIN).status_code == 200
    assert not client.app.state.breaker.open  # type: ignore[attr-defined]
