"""Claims: several dispatchers on one database (as several `drainwatch serve` processes on one
PostgreSQL) tell each notification once, and a claim outlives a dead dispatcher only by its lease."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from service.db import create_db_engine
from service.incidents.lifecycle import attach_hit
from service.models import Notification
from service.notify.deliver import LEASE, Dispatcher
from service.settings import Settings
from service.sources import ensure_source
from tests.factories import T0, event, hit, signature
from tests.notify.conftest import SECRET, Clock, Receiver

INCIDENTS = 24


def open_incidents(engine: Engine, count: int) -> None:
    """Open `count` incidents, each enqueueing its `incident.opened`."""
    sig = signature(group_by=("name",))
    with Session(engine) as session:
        ensure_source(session, "api", now=T0)
        for number in range(count):
            attach_hit(session, hit(sig, event("boom"), name=f"n{number}"), now=T0)
        session.commit()


def notifications(engine: Engine) -> list[Notification]:
    with Session(engine) as session:
        return list(session.exec(select(Notification).order_by(col(Notification.id))).all())


def dispatcher(engine: Engine, receiver: Receiver, clock: Clock, **options: int) -> Dispatcher:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        webhook_url=receiver.url("/webhook"),
        webhook_secret=SECRET,
        public_url="http://drainwatch.test",
    )
    return Dispatcher(engine, settings, clock=clock, **options)  # type: ignore[arg-type]


@pytest.fixture
def second_engine(database_url: str, engine: Engine) -> Iterator[Engine]:
    """Yield another engine on the same database, as another process would have."""
    other = create_db_engine(database_url)
    yield other
    other.dispose()


def test_two_dispatchers_tell_each_notification_once(
    engine: Engine, second_engine: Engine, receiver: Receiver, clock: Clock
) -> None:
    open_incidents(engine, INCIDENTS)
    pair = [
        dispatcher(engine, receiver, clock, batch_size=3),
        dispatcher(second_engine, receiver, clock, batch_size=3),
    ]
    handled = Counter[int]()
    start = threading.Barrier(len(pair))

    def drain(index: int) -> None:
        start.wait()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            done = pair[index].run_once()
            handled[index] += done
            if not done:
                if all(n.webhook_status != "pending" for n in notifications(engine)):
                    return
                time.sleep(0.005)

    threads = [threading.Thread(target=drain, args=(i,)) for i in range(len(pair))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    deliveries = Counter(r.headers["drainwatch-delivery"] for r in receiver.at("/webhook"))
    rows = notifications(engine)
    assert len(rows) == INCIDENTS
    assert deliveries == Counter({str(row.id): 1 for row in rows})
    assert [(r.webhook_status, r.attempts) for r in rows] == [("sent", 1)] * INCIDENTS
    assert sum(handled.values()) == INCIDENTS


def test_a_claim_of_a_dispatcher_that_died_is_sent_after_its_lease(
    engine: Engine, second_engine: Engine, receiver: Receiver, clock: Clock
) -> None:
    open_incidents(engine, 1)
    dead = dispatcher(engine, receiver, clock)
    handled, claims = dead._claim(clock())
    assert (handled, len(claims)) == (1, 1)
    alive = dispatcher(second_engine, receiver, clock)
    assert alive.run_once() == 0
    clock.advance(LEASE.total_seconds() - 1)
    assert alive.run_once() == 0
    assert receiver.requests == []
    clock.advance(2)
    assert alive.run_once() == 1
    [request] = receiver.at("/webhook")
    [row] = notifications(engine)
    assert request.headers["drainwatch-delivery"] == str(row.id)
    assert (row.webhook_status, row.attempts) == ("sent", 1)


def test_an_outcome_is_not_recorded_over_a_newer_claim(
    engine: Engine, second_engine: Engine, receiver: Receiver, clock: Clock
) -> None:
    open_incidents(engine, 1)
    slow = dispatcher(engine, receiver, clock)
    _handled, [claim] = slow._claim(clock())
    clock.advance(LEASE.total_seconds() + 1)
    assert dispatcher(second_engine, receiver, clock).run_once() == 1
    slow._record(claim, {"webhook": "HTTP 500"}, clock())
    [row] = notifications(engine)
    assert (row.webhook_status, row.attempts, row.last_error) == ("sent", 1, "")


def test_a_claim_whose_lease_could_run_out_mid_send_is_left_for_later(
    engine: Engine, receiver: Receiver, clock: Clock
) -> None:
    open_incidents(engine, 2)
    late = dispatcher(engine, receiver, clock)

    def slow_post(*args: object) -> int:
        clock.advance(55)  # past the lease less one timeout (the webhook is its one target)
        return 200

    late.post = slow_post
    assert late.run_once() == 2
    assert [n.webhook_status for n in notifications(engine)] == ["sent", "pending"]
    clock.advance(LEASE.total_seconds())
    late.post = lambda *args: 200
    assert late.run_once() == 1
    assert [n.webhook_status for n in notifications(engine)] == ["sent", "sent"]
