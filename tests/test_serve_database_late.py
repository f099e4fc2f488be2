"""`drainwatch serve` started while its PostgreSQL cannot be reached (refused, or a server that
accepts connections and never answers) still takes logs into the spool, says it is degraded, and
once the database answers, migrates and processes every accepted line exactly once."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from bench.outage import Proxy
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


@pytest.fixture(params=["refuse", "hang"])
def gate(request: pytest.FixtureRequest) -> Iterator[tuple[Proxy, str]]:
    """A proxy to PostgreSQL on a port that refuses (nothing listens) or hangs (accepts and never
    answers) until the test lets the database through with `start`."""
    with postgres_schema() as url:
        parts = urlsplit(url)
        proxy = Proxy((parts.hostname or "127.0.0.1", parts.port or 5432), mode=request.param)
        proxy.port = _free_port()
        if request.param == "hang":
            proxy.start()
            proxy.stop()
        try:
            yield proxy, _through(url, proxy.port)
        finally:
            proxy.mode = "refuse"
            proxy.stop()


def test_serve_started_without_its_database_spools_and_catches_up(
    gate: tuple[Proxy, str], tmp_path: Path
) -> None:
    door, url = gate
    env = {**server_env(tmp_path), "DRAINWATCH_DATABASE_URL": url}
    with serving(tmp_path, env) as (_process, base):
        assert _post(base, FAILURE) == 202
        started = time.monotonic()
        status, body = _health(base)
        assert time.monotonic() - started < 5
        assert "degraded" in body, (status, body)
        door.start()
        deadline = time.monotonic() + 90
        while True:
            try:
                sources = get_json(base, "/api/sources")["sources"]
            except urllib.error.HTTPError as error:
                assert error.code == 503, error
                sources = []
            api = [s for s in sources if s["name"] == "api"]
            if api and api[0]["lines_processed"] == api[0]["lines_received"] == 2:
                break
            assert time.monotonic() < deadline, f"not caught up: {sources}"
            time.sleep(0.5)
        # read after the counts say caught up: a batch's incidents and its counts commit together
        incidents = get_json(base, "/api/incidents")["incidents"]
        assert [i["signature"] for i in incidents] == ["sqlalchemy.missing-greenlet"]
