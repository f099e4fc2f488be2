"""`drainwatch serve` started while its PostgreSQL cannot be reached (refused, or a server that
accepts connections and never answers) still takes logs into the spool, says it is degraded, and
once the database answers, migrates and processes every accepted line exactly once."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.conftest import INGEST_TOKEN, POSTGRES_URL, postgres_schema
from tests.live_server import get_json, server_env, serving

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not POSTGRES_URL,
        reason="DRAINWATCH_TEST_DATABASE_URL is not set: PostgreSQL variant skipped",
    ),
]
FAILURE = (
    "2025-09-19T12:43:14Z ERROR sqlalchemy.exc.MissingGreenlet: greenlet_spawn has not been "
    "called; can't call await_only() here.\n"
    "2025-09-19T12:43:15Z INFO GET /health 200\n"
)


class _Gate:
    """A TCP port in front of PostgreSQL: closed (refused), silent (accepts, never answers),
    then open (forwards both ways)."""

    def __init__(self, upstream: tuple[str, int], mode: str) -> None:
        self.upstream = upstream
        self.mode = mode
        self.port = _free_port()
        self._listener: socket.socket | None = None
        self._held: list[socket.socket] = []
        self._open: list[socket.socket] = []
        if mode == "silent":
            self._listen()

    def _listen(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def open(self) -> None:
        """Forward from now on; connections held silent so far are dropped."""
        self.mode = "open"
        for held in self._held:
            held.close()
        self._held.clear()
        if self._listener is None:
            self._listen()

    def close(self) -> None:
        for sock in [*self._held, *self._open]:
            sock.close()
        if self._listener is not None:
            self._listener.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            if self.mode == "silent":
                self._held.append(client)
                continue
            server = socket.create_connection(self.upstream)
            self._open += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _through(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.username}@127.0.0.1:{port}" if parts.username else f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


def _post(base: str, body: str) -> int:
    request = urllib.request.Request(
        f"{base}/drains/api",
        data=body.encode(),
        headers={"Authorization": f"Bearer {INGEST_TOKEN}", "Content-Type": "text/plain"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def _health(base: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=5) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read().decode()


@pytest.fixture(params=["refused", "silent"])
def gate(request: pytest.FixtureRequest) -> Iterator[tuple[_Gate, str]]:
    with postgres_schema() as url:
        parts = urlsplit(url)
        gate = _Gate((parts.hostname or "127.0.0.1", parts.port or 5432), request.param)
        try:
            yield gate, _through(url, gate.port)
        finally:
            gate.close()


def test_serve_started_without_its_database_spools_and_catches_up(
    gate: tuple[_Gate, str], tmp_path: Path
) -> None:
    door, url = gate
    env = {**server_env(tmp_path), "DRAINWATCH_DATABASE_URL": url}
    with serving(tmp_path, env) as (_process, base):
        assert _post(base, FAILURE) == 202
        started = time.monotonic()
        status, body = _health(base)
        assert time.monotonic() - started < 5
        assert "degraded" in body, (status, body)
        door.open()
        deadline = time.monotonic() + 90
        while True:
            try:
                incidents = get_json(base, "/api/incidents")["incidents"]
                sources = get_json(base, "/api/sources")["sources"]
            except urllib.error.HTTPError as error:
                assert error.code == 503, error
                incidents, sources = [], []
            api = [s for s in sources if s["name"] == "api"]
            if api and api[0]["lines_processed"] == api[0]["lines_received"] == 2:
                break
            assert time.monotonic() < deadline, f"not caught up: {sources}"
            time.sleep(0.5)
        assert [i["signature"] for i in incidents] == ["sqlalchemy.missing-greenlet"]
