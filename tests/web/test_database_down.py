"""While the database is down or unwritable: pages and API answer 503, never 500; senders with a
source's own token keep getting 202 into the spool; /healthz says degraded; after recovery every
accepted line is processed exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from service.db import create_db_engine, session_scope, utcnow
from service.sources import issue_token
from service.web import health
from tests.conftest import ADMIN, post_lines, post_login

PAGES = ["/", "/incidents", "/incidents/1", "/incidents/1/report.md", "/sources", "/patterns"]
API = ["/api/sources", "/api/sources/api", "/api/incidents", "/api/incidents/1", "/api/patterns"]


class Outage:
    """Swaps the app's and the processor's engine for one that cannot reach the database."""

    def __init__(self, runtime: Any, monkeypatch: pytest.MonkeyPatch, dead_url: str) -> None:
        self.runtime = runtime
        self.monkeypatch = monkeypatch
        self.dead_url = dead_url
        self.dead: Engine | None = None

    def start(self, url: str | None = None) -> None:
        self.dead = create_db_engine(url or self.dead_url)
        # Put back by monkeypatch before the client fixture ends, so the app disposes the real one.
        self.monkeypatch.setattr(self.runtime, "engine", self.dead)
        self.monkeypatch.setattr(self.runtime.processor, "engine", self.dead)

    def end(self) -> None:
        self.monkeypatch.undo()
        if self.dead is not None:
            self.dead.dispose()


@pytest.fixture
def outage(
    runtime: Any, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Outage]:
    """Yield an outage to start: PostgreSQL refusing connections, or a SQLite file not there."""
    if database_url.startswith("postgresql"):
        dead_url = "postgresql+psycopg://postgres@127.0.0.1:1/down?connect_timeout=2"
    else:
        dead_url = f"sqlite:///{tmp_path}/missing/drainwatch.db"
    down = Outage(runtime, monkeypatch, dead_url)
    yield down
    down.end()


def read_only_url(database_url: str) -> str:
    """Return a URL on the same SQLite file that SQLite refuses to write ("readonly database")."""
    path = database_url.removeprefix("sqlite:///")
    return f"sqlite:///file:{path}?mode=ro&uri=true"


def source_token(runtime: Any, name: str) -> str:
    with session_scope(runtime.engine) as session:
        return issue_token(session, name, now=utcnow())


def post(client: TestClient, path: str, token: str, body: bytes = b"one line\n") -> Any:
    return client.post(
        path,
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/plain"},
    )


def push(client: TestClient, token: str, line: str = "one line") -> Any:
    body = {"streams": [{"stream": {"job": "x"}, "values": [["1758285795000000000", line]]}]}
    return client.post("/loki/api/v1/push", json=body, headers={"Authorization": f"Bearer {token}"})


# --- pages and API -----------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_a_dashboard_page_is_a_readable_503_while_the_database_is_down(
    client: TestClient, outage: Outage, path: str
) -> None:
    assert client.get(path, auth=ADMIN).status_code in (200, 404)
    outage.start()
    for _ in range(2):
        response = client.get(path, auth=ADMIN)
        assert response.status_code == 503
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["Retry-After"] == "5"
        assert "The database is unavailable" in response.text
        assert "OperationalError" in response.text
    outage.end()
    assert client.get(path, auth=ADMIN).status_code in (200, 404)


@pytest.mark.parametrize("path", API)
def test_the_json_api_is_a_503_error_while_the_database_is_down(
    client: TestClient, outage: Outage, path: str
) -> None:
    outage.start()
    response = client.get(path, auth=ADMIN)
    assert response.status_code == 503
    assert response.json()["error"] == "unavailable"
    assert "database is unavailable" in response.json()["detail"]
    assert response.headers["Retry-After"] == "5"


def test_logging_in_is_a_503_page_while_the_database_is_down(
    client: TestClient, outage: Outage
) -> None:
    outage.start()
    assert client.get("/login").status_code == 200
    response = post_login(client, data={"username": ADMIN[0], "password": ADMIN[1]})
    assert response.status_code == 503
    assert "The database is unavailable" in response.text


def test_a_statement_the_database_refuses_is_still_a_server_error(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(*_args: object, **_kwargs: object) -> None:
        raise IntegrityError("INSERT", {}, Exception("duplicate key"))

    # A bug must not hide behind "the database is unavailable".
    monkeypatch.setattr("service.web.pages.list_incidents", refused)
    with pytest.raises(IntegrityError):
        client.get("/incidents", auth=ADMIN)


# --- ingest with a source's own token ---------------------------------------------------


def test_a_source_token_seen_before_the_outage_is_still_accepted_into_the_spool(
    client: TestClient, runtime: Any, outage: Outage
) -> None:
    token = source_token(runtime, "billing")
    assert post(client, "/drains/billing", token).status_code == 202
    assert push(client, token).status_code == 202
    outage.start()
    for _ in range(3):
        response = post(client, "/drains/billing", token)
        assert response.status_code == 202, response.text
        assert push(client, token).status_code == 202
    assert runtime.spool.pending_lines() == {"billing": 8}


def test_source_tokens_are_cached_at_start_up(settings: Any) -> None:
    from service.app import create_app

    app = create_app(settings, start_processor=False)
    with TestClient(app) as first:
        token = source_token(first.app.state.runtime, "billing")  # type: ignore[attr-defined]
    app = create_app(settings, start_processor=False)
    with TestClient(app) as client:
        runtime = client.app.state.runtime  # type: ignore[attr-defined]
        real = runtime.engine
        runtime.engine = create_db_engine("sqlite:////nonexistent/dir/x.db")
        try:
            assert post(client, "/drains/billing", token).status_code == 202
            assert push(client, token).status_code == 202
            assert post(client, "/drains/billing", "dw_wrong").status_code == 503
        finally:
            runtime.engine.dispose()
            runtime.engine = real


def test_a_rotated_token_replaces_the_cached_one_once_the_database_has_said_so(
    client: TestClient, runtime: Any, outage: Outage
) -> None:
    old = source_token(runtime, "billing")
    assert post(client, "/drains/billing", old).status_code == 202
    new = source_token(runtime, "billing")
    assert post(client, "/drains/billing", old).status_code == 401
    assert post(client, "/drains/billing", new).status_code == 202
    assert push(client, old).status_code == 401
    outage.start()
    assert post(client, "/drains/billing", new).status_code == 202
    assert push(client, new).status_code == 202
    for response in (post(client, "/drains/billing", old), push(client, old)):
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"
    assert runtime.spool.pending_lines() == {"billing": 4}


def test_an_unknown_token_during_an_outage_is_503_not_401_and_stores_nothing(
    client: TestClient, runtime: Any, outage: Outage
) -> None:
    token = source_token(runtime, "billing")
    assert post(client, "/drains/billing", token).status_code == 202
    outage.start()
    for response in (post(client, "/drains/other", token), push(client, "dw_never_issued")):
        assert response.status_code == 503
        assert response.json()["error"] == "unavailable"
    assert runtime.spool.pending_lines() == {"billing": 1}


def test_lines_accepted_during_the_outage_are_processed_exactly_once_after_it(
    client: TestClient, runtime: Any, outage: Outage
) -> None:
    token = source_token(runtime, "billing")
    post_lines(client, "api", "before\n")
    assert post(client, "/drains/billing", token).status_code == 202
    outage.start()
    body = b"".join(b"line %d\n" % n for n in range(50))
    assert post(client, "/drains/billing", token, body).status_code == 202
    with pytest.raises(OperationalError):
        runtime.processor.run_once()
    outage.end()
    runtime.processor.process_all()
    assert runtime.spool.pending_lines() == {}
    for name, lines in (("billing", 51), ("api", 1)):
        counts = client.get(f"/api/sources/{name}", auth=ADMIN).json()
        assert counts["lines_received"] == counts["lines_processed"] == lines


# --- /healthz -----------------------------------------------------------------------------


def test_healthz_is_degraded_with_the_spool_depth_while_the_database_is_down(
    client: TestClient, runtime: Any, outage: Outage
) -> None:
    post_lines(client, "api", "one\ntwo\n")
    outage.start()
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["database"] == "down: OperationalError"
    assert body["spool_lines"] == 2 and body["spool_bytes"] > 0
    assert body["degraded"] == ["database: down: OperationalError"]
    assert {"signatures", "processor_error", "processor"} <= set(body)
    outage.end()
    assert client.get("/healthz").json()["status"] == "ok"


def test_healthz_is_degraded_while_the_processor_last_step_failed(
    client: TestClient, runtime: Any, outage: Outage
) -> None:
    post_lines(client, "api", "one\n")
    worker = runtime.processor._worker
    outage.start()
    worker.run_step()
    outage.end()
    body = client.get("/healthz").json()
    assert body["database"] == "ok"
    assert body["status"] == "degraded"
    assert body["processor"]["state"] == "database down"
    assert body["degraded"] == ["processor: database down"]
    assert body["processor"]["failures"] == 1
    assert body["processor_error"].startswith("OperationalError")
    worker.run_step()
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["processor"]["state"] == "ok"
    assert body["spool_lines"] == 0


def test_healthz_is_degraded_when_the_oldest_waiting_batch_is_too_old(
    client: TestClient, runtime: Any
) -> None:
    post_lines(client, "api", "one\n")
    soon = health.health_body(runtime, "ok", now=utcnow())
    assert soon["status"] == "ok" and soon["processor"]["state"] == "ok"
    later = utcnow() + timedelta(seconds=health.LAG_SECONDS + 5)
    body = health.health_body(runtime, "ok", now=later)
    assert body["status"] == "degraded"
    assert body["processor"]["state"] == "lagging"
    assert body["processor"]["lag_seconds"] > health.LAG_SECONDS
    runtime.processor.process_all()
    assert health.health_body(runtime, "ok", now=later)["status"] == "ok"


# --- SQLite made unwritable ---------------------------------------------------------------


def test_an_unwritable_sqlite_file_keeps_ingest_and_gives_503_not_500(
    client: TestClient, runtime: Any, outage: Outage, database_url: str
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("a read-only file is SQLite's outage")
    token = source_token(runtime, "billing")
    assert post(client, "/drains/billing", token).status_code == 202
    outage.start(read_only_url(database_url))
    assert post(client, "/drains/billing", token).status_code == 202
    with pytest.raises(OperationalError, match="readonly"):
        runtime.processor.run_once()
    # Reading still works: the pages show what is stored.
    response = client.get("/api/sources/billing", auth=ADMIN)
    assert response.status_code == 200 and response.json()["name"] == "billing"
    response = post_login(client, data={"username": ADMIN[0], "password": ADMIN[1]})
    assert response.status_code == 503
    assert "The database is unavailable" in response.text
    outage.end()
    runtime.processor.process_all()
    counts = client.get("/api/sources/billing", auth=ADMIN).json()
    assert counts["lines_received"] == counts["lines_processed"] == 2
