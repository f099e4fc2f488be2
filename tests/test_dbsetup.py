"""Setting the database up: a database that cannot be reached at start-up is waited for, and
what waits for it (the processor, the outbox) starts once it is set up."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from service.db import create_db_engine, schema_current
from service.dbsetup import DatabaseSetup
from service.ingest.headers import parse_text
from service.models import User
from service.processor import Processor
from service.runtime import SignatureBook
from service.settings import Settings
from service.spool.store import Spool
from tests.conftest import ADMIN
from tests.factories import T0


def test_a_database_that_cannot_be_opened_is_set_up_once_it_can(tmp_path: Path) -> None:
    home = tmp_path / "not-yet"  # SQLite cannot open a file in a directory that is missing
    engine = create_db_engine(f"sqlite:///{home / 'drainwatch.db'}")
    settings = Settings(_env_file=None, admin_password="pw")  # type: ignore[call-arg]
    announced: list[str] = []
    setup = DatabaseSetup(engine, settings, announce=announced.append)
    ran: list[str] = []
    assert setup.first_attempt() is False
    setup.when_ready(lambda: ran.append("outbox"))
    assert not ran and not setup.ready.is_set()
    setup.start()
    try:
        time.sleep(1.5)
        assert not setup.ready.is_set()
        home.mkdir()
        deadline = time.monotonic() + 15
        while not setup.ready.is_set():
            assert time.monotonic() < deadline, "not set up once the database could be opened"
            time.sleep(0.1)
        time.sleep(0.2)
        assert ran == ["outbox"]
        assert schema_current(engine)
        with Session(engine) as session:
            assert [u.username for u in session.exec(select(User))] == ["admin"]
        setup.when_ready(lambda: ran.append("later"))
        assert ran == ["outbox", "later"]
        assert not setup.worker.state.running
    finally:
        setup.stop()
        engine.dispose()


def test_the_processor_takes_nothing_from_the_spool_until_the_database_is_set_up(
    tmp_path: Path,
) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'drainwatch.db'}")
    waiting = DatabaseSetup(
        engine,
        Settings(_env_file=None),
        migrate=False,
        admin=False,  # type: ignore[call-arg]
    )
    spool = Spool(tmp_path / "spool", max_bytes=10**6)
    spool.append("api", parse_text("ERROR boom", source="api", received_at=T0), received_at=T0)
    book = SignatureBook(Settings(_env_file=None))  # type: ignore[call-arg]
    processor = Processor(
        engine=engine, spool=spool, matcher=lambda: book.matcher, prepared=waiting.attempt
    )
    assert processor.run_once(force_flush=True) == 0  # no tables yet: another process migrates
    assert len(spool.pending()) == 1
    DatabaseSetup(engine, Settings(_env_file=None), admin=False).attempt()  # type: ignore[call-arg]
    assert processor.run_once(force_flush=True) == 1
    assert spool.pending() == []
    spool.close()
    engine.dispose()


def test_requests_answer_503_until_the_first_user_exists_not_401(
    client: TestClient, runtime: Any
) -> None:
    # The window between the migration and the first user: the tables answer, the user is not
    # there yet. A login checked then must not be told its password is wrong.
    with Session(runtime.engine) as session:
        admin = session.exec(select(User)).one()
        session.delete(admin)
        session.commit()
    runtime.setup.ready.clear()
    answer = client.get("/api/sources", auth=ADMIN)
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"] == "unavailable"
    assert answer.headers["retry-after"]
    assert runtime.setup.attempt()  # makes the first user, then says ready
    assert client.get("/api/sources", auth=ADMIN).status_code == 200
