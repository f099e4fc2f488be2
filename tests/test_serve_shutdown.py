"""`drainwatch serve` against slow clients: header and body deadlines, `/healthz` never starved,
and SIGTERM ends the process within 10 s whatever clients do. A real server subprocess each."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

from tests.conftest import INGEST_TOKEN
from tests.live_server import _RUNNING, server_env, serving, show, stop

START_SECONDS = 60
EXIT_SECONDS = 10


@contextmanager
def serve(directory: Path, **settings: str) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """Run `drainwatch serve` with extra DRAINWATCH_ settings; yield the process and its port."""
    env = server_env(directory)
    env.update({f"DRAINWATCH_{name.upper()}": value for name, value in settings.items()})
    with serving(directory, env) as (process, base):
        yield process, int(base.rsplit(":", 1)[1])


def _connect(port: int, first_bytes: bytes) -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", port), timeout=10)
    connection.sendall(first_bytes)
    return connection


def _half_headers() -> bytes:
    return b"POST /drains/api HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"


def _half_body() -> bytes:
    return (
        b"POST /drains/api HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
        b"Authorization: Bearer " + INGEST_TOKEN.encode() + b"\r\nContent-Length: 1000\r\n\r\n"
        b"ERROR half a body\n"
    )


def _read_all(connection: socket.socket) -> bytes:
    """Read until the server closes the connection (or the socket's timeout passes)."""
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    return received


def _healthz_seconds(port: int) -> float:
    begin = time.perf_counter()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
        assert json.load(response)["status"] == "ok"
    return time.perf_counter() - begin


def test_sigterm_exits_within_10_s_while_a_client_is_half_way_through_a_body(
    tmp_path: Path,
) -> None:
    with serve(tmp_path) as (process, port), ExitStack() as connections:
        connections.enter_context(_connect(port, _half_body()))
        connections.enter_context(_connect(port, _half_headers()))
        time.sleep(0.5)
        begin = time.monotonic()
        process.send_signal(signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            process.wait(EXIT_SECONDS + 5)
        took = time.monotonic() - begin
        assert process.poll() is not None, "drainwatch serve still runs 15 s after SIGTERM"
        print(f"exited {took:.1f} s after SIGTERM")
        assert took < EXIT_SECONDS


def test_a_client_that_never_finishes_its_headers_is_cut_off(tmp_path: Path) -> None:
    with serve(tmp_path, header_timeout_seconds="1") as (_, port):
        connection = _connect(port, _half_headers())
        begin = time.monotonic()
        with connection:
            assert _read_all(connection) == b""
        assert time.monotonic() - begin < 5


def test_a_body_that_does_not_arrive_in_time_is_408_and_closed(tmp_path: Path) -> None:
    with serve(tmp_path, body_timeout_seconds="1") as (_, port):
        connection = _connect(port, _half_body())
        begin = time.monotonic()
        with connection:
            answer = _read_all(connection)
        assert time.monotonic() - begin < 5
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408 "), answer
        assert json.loads(body)["error"] == "request_timeout"


def test_fifty_slow_connections_do_not_starve_healthz(tmp_path: Path) -> None:
    with serve(tmp_path) as (_, port), ExitStack() as connections:
        for index in range(50):
            first = _half_body() if index % 2 else _half_headers()
            connections.enter_context(_connect(port, first))
        time.sleep(0.5)
        assert max(_healthz_seconds(port) for _ in range(5)) < 1


STUCK_APP = """
import asyncio, sys, time
from service.settings import Settings
from service.web.server import build_server

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                time.sleep(60)  # a shutdown step that hangs (a flush on a dead database)
                await send({"type": "lifespan.shutdown.complete"})
                return

settings = Settings(_env_file=None, shutdown_timeout_seconds=2)
build_server(app, settings, host="127.0.0.1", port=0, log_level="info").run()
"""


def test_a_shutdown_that_hangs_is_cut_short_by_the_watchdog(tmp_path: Path) -> None:
    log = tmp_path / "stuck.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-c", STUCK_APP], cwd=tmp_path, stdout=output, stderr=output
        )
    try:
        deadline = time.monotonic() + START_SECONDS
        while not _RUNNING.search(log.read_text(errors="replace")):
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        begin = time.monotonic()
        process.send_signal(signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            process.wait(EXIT_SECONDS)
        assert process.poll() == 1, log.read_text()
        assert time.monotonic() - begin < 4
    finally:
        stop(process)
        show("stuck server output", log)
