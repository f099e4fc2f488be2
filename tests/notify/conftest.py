"""Notification fixtures: a real local HTTP receiver that records what it is sent, a clock to
drive back-off with, and an app whose dispatcher (like its processor) runs only when told."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.db import utcnow
from service.settings import Settings

SECRET = "whsec-test-secret"


@dataclass(frozen=True)
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """A `ThreadingHTTPServer` on 127.0.0.1 that records POSTs and answers 200, or what it is told
    to answer first."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.answers: list[int] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver.requests.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    status = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", f"{receiver.base}/elsewhere")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        """Return the URL of `path` on this receiver."""
        return f"{self.base}{path}"

    def at(self, path: str) -> list[Received]:
        """Return the requests made to `path`, in order."""
        with self._lock:
            return [r for r in self.requests if r.path == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """Yield a running receiver; stop it afterwards."""
    found = Receiver()
    found.thread.start()
    yield found
    found.server.shutdown()
    found.server.server_close()
    found.thread.join(5)


class Clock:
    """Wall time plus an offset the test moves forward (the outbox stamps rows with wall time)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.offset

    def advance(self, seconds: float) -> None:
        """Move time forward by `seconds`."""
        self.offset += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    """Return a clock that starts at wall time."""
    return Clock()


@contextmanager
def serve(settings: Settings, clock: Clock, **overrides: Any) -> Iterator[tuple[TestClient, Any]]:
    """Yield a client and runtime of an app with these settings changed; threads not started."""
    from service.app import create_app

    app = create_app(settings.model_copy(update=overrides), start_processor=False)
    with TestClient(app) as client:
        runtime: Any = app.state.runtime  # type: ignore[attr-defined]
        for sender in (runtime.dispatcher, runtime.pager):
            sender.clock = clock
            sender.jitter = lambda: 0.5  # no jitter: back-off of exactly 2, 4, 8... s
        yield client, runtime
