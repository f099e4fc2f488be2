"""A PostgreSQL that stops answering on an open connection fails the call in seconds (`dbwatch`)."""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace
from urllib.parse import urlsplit, urlunsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from service.db import create_db_engine, upgrade_schema
from service.dbwatch import StatementWatch, cut_socket
from service.web.breaker import HOLD_SECONDS
from tests.conftest import ADMIN, POSTGRES_URL, postgres_schema

needs_postgres = pytest.mark.skipif(
    not POSTGRES_URL, reason="DRAINWATCH_TEST_DATABASE_URL is not set: PostgreSQL test skipped"
)


class FreezingProxy:
    """A TCP proxy to PostgreSQL that, once frozen, keeps every socket open and forwards nothing.

    That is what a paused server or a stalled network appliance looks like to a client: the
    connection stays up and acknowledged, and no answer ever comes.
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.frozen = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            self._sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    def _pump(self, client: socket.socket, server: socket.socket) -> None:
        pairs = {client: server, server: client}
        while True:
            try:
                ready, _, _ = select.select(list(pairs), [], [], 0.05)
                if self.frozen.is_set():
                    continue  # hold everything: read nothing, send nothing
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        raise OSError("closed")
                    pairs[sock].sendall(data)
            except (OSError, ValueError):
                for sock in pairs:
                    sock.close()
                return

    def close(self) -> None:
        self.listener.close()
        for sock in self._sockets:
            sock.close()


@pytest.fixture
def proxied_url() -> Iterator[tuple[str, FreezingProxy]]:
    with postgres_schema() as url:
        parts = urlsplit(url)
        proxy = FreezingProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
        netloc = f"{parts.username}@127.0.0.1:{proxy.port}" if parts.username else ""
        yield urlunsplit(parts._replace(netloc=netloc or f"127.0.0.1:{proxy.port}")), proxy
        proxy.close()


def test_an_overdue_round_trip_is_handed_over_once() -> None:
    watch = StatementWatch(limit=5)
    watch.start(1, "first")
    watch.start(2, "second")
    watch.end(2)
    now = time.monotonic()
    assert watch.overdue(now) == []
    assert watch.overdue(now + 6) == ["first"]
    assert watch.overdue(now + 7) == []


def test_cutting_a_socket_wakes_the_call_waiting_on_it() -> None:
    ours, theirs = socket.socketpair()
    received: list[bytes] = []
    waiter = threading.Thread(target=lambda: received.append(ours.recv(10)))
    waiter.start()
    time.sleep(0.1)
    assert waiter.is_alive(), "the peer says nothing: the call waits"
    cut_socket(SimpleNamespace(pgconn=SimpleNamespace(socket=ours.fileno())))
    waiter.join(timeout=2)
    assert not waiter.is_alive() and received == [b""]
    ours.close()
    theirs.close()


@needs_postgres
def test_a_statement_the_server_never_answers_fails_within_the_deadline(
    proxied_url: tuple[str, FreezingProxy],
) -> None:
    url, proxy = proxied_url
    engine = create_db_engine(url, deadline_seconds=1)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar() == 1
        proxy.frozen.set()
        started = time.monotonic()
        with pytest.raises(OperationalError):
            connection.execute(text("SELECT 2"))
        assert time.monotonic() - started < 4
    proxy.frozen.clear()
    with engine.connect() as connection:  # the pool forgot the cut connection: a new one works
        assert connection.execute(text("SELECT 3")).scalar() == 3
    engine.dispose()


@needs_postgres
def test_a_pooled_connection_whose_ping_is_never_answered_is_cut(
    proxied_url: tuple[str, FreezingProxy],
) -> None:
    url, proxy = proxied_url
    engine = create_db_engine(url, deadline_seconds=1)
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    proxy.frozen.set()  # the connection is back in the pool; its next checkout pings
    started = time.monotonic()
    with pytest.raises(OperationalError), engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    # The ping is cut after 1 s; the reconnect to a server that says nothing gives up after 5 s.
    assert time.monotonic() - started < 10
    engine.dispose()


@needs_postgres
def test_pages_and_api_answer_503_while_the_server_hangs(
    proxied_url: tuple[str, FreezingProxy], tmp_path: object
) -> None:
    from service.app import create_app
    from service.settings import Settings
    from tests.conftest import INGEST_TOKEN

    url, proxy = proxied_url
    migrator = create_db_engine(url)
    upgrade_schema(migrator)
    migrator.dispose()
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        database_deadline_seconds=1,
        spool_dir=f"{tmp_path}/spool",  # type: ignore[arg-type]
        ingest_token=INGEST_TOKEN,
        admin_user=ADMIN[0],
        admin_password=ADMIN[1],
    )
    with TestClient(create_app(settings, start_processor=False)) as client:
        assert client.get("/api/incidents", auth=ADMIN).status_code == 200
        proxy.frozen.set()
        started = time.monotonic()
        response = client.get("/api/incidents", auth=ADMIN)
        assert response.status_code == 503 and response.json()["error"] == "unavailable"
        assert time.monotonic() - started < 15
        # The requests after it do not wait for the silent server again (web/breaker.py).
        started = time.monotonic()
        for path in ("/api/incidents", "/", "/api/sources"):
            assert client.get(path, auth=ADMIN).status_code == 503
        assert time.monotonic() - started < 1
        proxy.frozen.clear()
        time.sleep(HOLD_SECONDS)
        assert client.get("/api/incidents", auth=ADMIN).status_code == 200
