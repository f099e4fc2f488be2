"""Syslog over TCP and TLS: frames from real clients end up in the spool, then as incidents."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.settings import Settings
from tests.conftest import ADMIN

NAME_ERROR = "<11>1 2025-09-19T12:55:03.100000+00:00 web-1 app 27 - - NameError: name 'logger' is not defined"


def serve(settings: Settings, **overrides: Any) -> Iterator[tuple[TestClient, Any]]:
    from service.app import create_app

    app = create_app(settings.model_copy(update=overrides), start_processor=False)
    with TestClient(app) as client:
        runtime = client.app.state.runtime  # type: ignore[attr-defined]
        yield client, runtime


@pytest.fixture
def syslog(settings: Settings) -> Iterator[tuple[TestClient, Any]]:
    yield from serve(settings, syslog_port=0, syslog_source="render-api")


def listening_port(runtime: Any) -> int:
    return int(runtime.listener.port)


def wait_for_lines(runtime: Any, source: str, count: int) -> None:
    deadline = time.monotonic() + 10
    while runtime.spool.pending_lines().get(source, 0) < count:
        assert time.monotonic() < deadline, runtime.spool.pending_lines()
        time.sleep(0.05)


def test_octet_counted_and_lf_frames_become_incidents(syslog: tuple[TestClient, Any]) -> None:
    client, runtime = syslog
    frame = NAME_ERROR.encode()
    with socket.create_connection(("127.0.0.1", listening_port(runtime)), timeout=5) as sock:
        sock.sendall(str(len(frame)).encode() + b" " + frame + frame + b"\n")
    wait_for_lines(runtime, "render-api", 2)
    runtime.processor.process_all()
    [incident] = client.get("/api/incidents", auth=ADMIN).json()["incidents"]
    assert (incident["signature"], incident["occurrences"], incident["source"]) == (
        "python.name-error",
        2,
        "render-api",
    )
    assert incident["first_seen"] == "2025-09-19T12:55:03.100000+00:00"


def test_a_bad_frame_closes_only_that_connection(syslog: tuple[TestClient, Any]) -> None:
    _, runtime = syslog
    port = listening_port(runtime)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"99999999 <1>" + b"x" * 10)
        assert sock.recv(10) == b""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(NAME_ERROR.encode() + b"\n")
    wait_for_lines(runtime, "render-api", 1)


@pytest.mark.skipif(shutil.which("logger") is None, reason="util-linux `logger` is not installed")
def test_util_linux_logger_over_tcp(syslog: tuple[TestClient, Any]) -> None:
    _, runtime = syslog
    subprocess.run(
        [
            "logger",
            "--tcp",
            "--octet-count",
            "--rfc5424",
            "-n",
            "127.0.0.1",
            "-P",
            str(listening_port(runtime)),
            "-t",
            "app",
            "NameError: name 'logger' is not defined",
        ],
        check=True,
        timeout=10,
    )
    wait_for_lines(runtime, "render-api", 1)
    [batch] = runtime.spool.pending()
    assert batch.records[0].message == "NameError: name 'logger' is not defined"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_syslog_over_tls(settings: Settings, tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    for _client, runtime in serve(
        settings, syslog_port=0, syslog_source="tls-api", tls_cert=cert, tls_key=key
    ):
        context = ssl.create_default_context(cafile=str(cert))
        context.check_hostname = False
        with (
            socket.create_connection(("127.0.0.1", listening_port(runtime)), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname="localhost") as sock,
        ):
            sock.sendall(NAME_ERROR.encode() + b"\n")
        wait_for_lines(runtime, "tls-api", 1)
