"""The Render logs API pull, against a local stand-in built from the documented response shape
(`logs` of `{id, labels, message, timestamp}`, `hasMore`, `nextStartTime`, `nextEndTime`)."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from service.cli import main
from service.ingest.entries import to_records
from service.ingest.formats.jsonbody import parse_json_body
from service.ingest.timestamps import parse_timestamp
from service.models import Incident, Source
from service.processor import Processor
from service.pull.render import (
    PullError,
    RateLimited,
    RenderPoller,
    RenderPuller,
    RenderService,
)
from service.runtime import SignatureBook
from service.settings import Settings
from service.spool.store import Spool

NOW = datetime(2025, 9, 19, 13, 0, tzinfo=UTC)
SERVICE = "srv-d2k4h7ur433s73b5q9g0"
INSTANCE = f"{SERVICE}-7xk2p"
KEY = "rnd_test_api_key"


def render_log(
    number: int, message: str, *, kind: str = "app", level: str = "info"
) -> dict[str, Any]:
    stamp = datetime(2025, 9, 19, 12, 40, tzinfo=UTC) + timedelta(seconds=number)
    return {
        "id": f"log-{number}",
        "labels": [
            {"name": "resource", "value": SERVICE},
            {"name": "instance", "value": INSTANCE},
            {"name": "type", "value": kind},
            {"name": "level", "value": level},
        ],
        "message": message,
        "timestamp": stamp.isoformat().replace("+00:00", "Z"),
    }


LOGS = [
    render_log(1, "==> Deploying...", kind="build"),
    render_log(2, "INFO:     Application startup complete."),
    render_log(3, "ERROR:    Exception in ASGI application", level="error"),
    render_log(4, "Traceback (most recent call last):", level="error"),
    render_log(5, '  File "/app/main.py", line 12, in <module>', level="error"),
    render_log(6, "NameError: name 'logger' is not defined", level="error"),
]


class StandIn:
    """Answers GET /v1/logs from a list of logs, `limit` per page, forward in time."""

    def __init__(self, logs: list[dict[str, Any]], *, limit: int = 4) -> None:
        self.logs = logs
        self.limit = limit
        self.requests: list[tuple[dict[str, list[str]], dict[str, str]]] = []
        self.refuse: list[tuple[int, dict[str, str], bytes]] = []

    def __call__(self, url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        parts = urllib.parse.urlsplit(url)
        query = urllib.parse.parse_qs(parts.query)
        self.requests.append((query, headers))
        if self.refuse:
            return self.refuse.pop(0)
        if parts.path != "/v1/logs" or headers.get("Authorization") != f"Bearer {KEY}":
            return 401, {}, b'{"id": "unauthorized", "message": "bad key"}'
        start = parse_timestamp(query["startTime"][0])
        end = parse_timestamp(query["endTime"][0])
        assert start is not None and end is not None
        inside = [log for log in self.logs if start <= parse_timestamp(log["timestamp"]) <= end]
        page, rest = inside[: self.limit], inside[self.limit :]
        body: dict[str, Any] = {"hasMore": bool(rest), "logs": page}
        if rest:
            body["nextStartTime"] = rest[0]["timestamp"]
            body["nextEndTime"] = query["endTime"][0]
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()


def drained(logs: list[dict[str, Any]]) -> list[str]:
    """Return the messages the same logs give when posted to /drains/NAME."""
    entries = parse_json_body(json.dumps(logs).encode()).entries
    return [record.message for record in to_records(entries, source="api", received_at=NOW)]


def stamp(value: datetime) -> str:
    return value.isoformat(timespec="microseconds").replace("+00:00", "Z")


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    return Spool(tmp_path / "spool", max_bytes=10**7)


def puller(spool: Spool, stand_in: StandIn) -> RenderPuller:
    return RenderPuller(
        RenderService(service=SERVICE, owner="tea-abc", source="api"),
        api_key=KEY,
        spool=spool,
        api_url="https://render.test/v1",
        transport=stand_in,
        clock=lambda: NOW,
    )


def messages(spool: Spool) -> list[str]:
    return [record.message for batch in spool.pending() for record in batch.records]


def test_a_pull_pages_forward_and_stores_every_log_with_its_labels(spool: Spool) -> None:
    stand_in = StandIn(LOGS)
    result = puller(spool, stand_in).pull(since=NOW - timedelta(hours=1))
    assert (result.pages, result.logs, result.new) == (2, 6, 6)
    assert messages(spool) == drained(LOGS)
    record = spool.pending()[0].records[1]
    assert (record.source, record.instance, record.stream) == ("api", INSTANCE, "app")
    query, headers = stand_in.requests[0]
    assert headers["Authorization"] == f"Bearer {KEY}"
    assert query["ownerId"] == ["tea-abc"] and query["resource"] == [SERVICE]
    assert query["direction"] == ["forward"] and query["startTime"] == [
        stamp(NOW - timedelta(hours=1))
    ]
    assert stand_in.requests[1][0]["startTime"] == [LOGS[4]["timestamp"]]


def test_the_next_pull_goes_on_from_the_last_log_and_stores_each_log_once(spool: Spool) -> None:
    stand_in = StandIn(LOGS[:3])
    puller(spool, stand_in).pull(since=NOW - timedelta(hours=1))
    stand_in.logs = LOGS
    again = puller(spool, stand_in).pull()
    assert stand_in.requests[-1][0]["startTime"][0].startswith(LOGS[2]["timestamp"][:19])
    assert (again.logs, again.new) == (4, 3)  # log 3 comes again at the cursor: stored once
    assert messages(spool) == drained(LOGS)


def test_a_429_says_how_long_to_wait_and_the_poller_waits_it_out(spool: Spool) -> None:
    stand_in = StandIn(LOGS)
    stand_in.refuse = [(429, {"Retry-After": "42"}, b"")]
    with pytest.raises(RateLimited) as raised:
        puller(spool, stand_in).pull()
    assert raised.value.retry_after == 42
    clock = {"now": 1000.0}
    poller = RenderPoller([puller(spool, stand_in)], clock=lambda: clock["now"])
    stand_in.refuse = [(429, {"Retry-After": "42"}, b"")]
    poller.step()
    calls = len(stand_in.requests)
    clock["now"] += 30
    poller.step()
    assert len(stand_in.requests) == calls  # still waiting
    clock["now"] += 13
    poller.step()
    assert len(stand_in.requests) > calls and len(messages(spool)) == 6


def test_an_error_answer_is_a_pull_error_and_stores_nothing(spool: Spool) -> None:
    stand_in = StandIn(LOGS)
    stand_in.refuse = [(401, {}, b'{"id": "unauthorized"}')]
    with pytest.raises(PullError, match="401"):
        puller(spool, stand_in).pull()
    assert spool.pending() == [] and puller(spool, stand_in).position() is None


def test_services_in_the_settings_name_their_source() -> None:
    settings = Settings(_env_file=None, render_services=" srv-a , srv-b=api,")  # type: ignore[call-arg]
    assert settings.render_targets == [("srv-a", "srv-a"), ("srv-b", "api")]


@pytest.fixture
def stand_in_server() -> Iterator[tuple[str, StandIn]]:
    stand_in = StandIn(LOGS)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, headers, body = stand_in(f"http://x{self.path}", dict(self.headers.items()))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", stand_in
    finally:
        server.shutdown()
        server.server_close()


def test_the_pull_command_spools_each_log_once(
    stand_in_server: tuple[str, StandIn],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, _ = stand_in_server
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DRAINWATCH_RENDER_API_KEY", KEY)
    monkeypatch.setenv("DRAINWATCH_RENDER_API_URL", url)
    monkeypatch.setenv("DRAINWATCH_SPOOL_DIR", str(tmp_path / "spool"))
    args = ["pull", "render", "--service", SERVICE, "--owner", "tea-abc", "--since", "10000000"]
    assert main(args) == 0
    assert "6 log(s) in 2 page(s), 6 new" in capsys.readouterr().out
    assert main(args) == 0
    assert ", 0 new" in capsys.readouterr().out
    spool = Spool(tmp_path / "spool", max_bytes=10**7)
    assert [batch.source for batch in spool.pending()] == [SERVICE, SERVICE]
    assert len(messages(spool)) == 6


def test_the_pull_command_needs_the_api_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DRAINWATCH_RENDER_API_KEY", raising=False)
    assert main(["pull", "render", "--service", SERVICE, "--owner", "tea-abc"]) == 2
    assert "DRAINWATCH_RENDER_API_KEY" in capsys.readouterr().err


def test_pulled_logs_are_diagnosed_like_drained_ones(spool: Spool, engine: Engine) -> None:
    puller(spool, StandIn(LOGS)).pull(since=NOW - timedelta(hours=1))
    book = SignatureBook(Settings(_env_file=None))  # type: ignore[call-arg]
    Processor(
        engine=engine, spool=spool, matcher=lambda: book.matcher, clock=lambda: NOW
    ).process_all()
    with Session(engine) as session:
        incidents = [(i.signature, i.source) for i in session.exec(select(Incident))]
        source = session.exec(select(Source)).one()
    assert incidents == [("python.name-error", "api")]
    assert (source.lines_received, source.lines_processed) == (6, 6)
