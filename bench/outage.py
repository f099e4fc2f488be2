"""Harness: a PostgreSQL outage under load, as a hostile reviewer would run it.

    .venv/bin/python bench/outage.py [--down 60] [--up 10] [--mode refuse|hang]
                                     [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test]

A `drainwatch serve` subprocess reaches PostgreSQL (a fresh database of its own) through a TCP proxy
in this process. A loader posts numbered lines with the source's own token (each batch carrying
one NameError line) and reads `/` and `/api/sources` as the admin; after `--up` seconds the proxy
stops for `--down` seconds (`refuse`: connections refused and dropped, as a stopped server;
`hang`: connections accepted and never answered, as a paused one), then comes back. Printed:
answers per phase, how long the backlog took to drain, lines and incident occurrences processed
against those accepted, and what `drainwatch scan` makes of drainwatch's own log. Exit 1 when a
target is missed: an ingest answer other than 202, a page answer of 500 or more other than 503,
a line or occurrence lost or doubled, no resolved `app.db-outage` for op=processor.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ADMIN = ("admin", "outage-harness-password")
FAILURE = "NameError: name 'logger' is not defined"
LINES_PER_BATCH = 20


class Proxy:
    """A TCP proxy to PostgreSQL that can refuse (closed port) or hang (accept, never answer)."""

    def __init__(self, upstream: tuple[str, int], *, mode: str) -> None:
        self.upstream = upstream
        self.mode = mode
        self.port = 0
        self.hanging = False
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        """Listen (again) on the same port and forward every connection."""
        self.hanging = False
        if self._listener is not None:
            self._close_all()
            return
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        """Cut the database off: refuse and drop every connection, or hang them all."""
        if self.mode == "hang":
            self.hanging = True
            return
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread on Linux
            listener.close()
        self._close_all()

    def _close_all(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            with self._lock:
                self._sockets.append(client)
            if self.hanging:
                continue
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets.append(server)
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, target), daemon=True).start()

    def _pipe(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                while self.hanging:
                    time.sleep(0.05)
                target.sendall(data)
        except OSError:
            pass
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.close()


@dataclass
class Figures:
    """What one run measured."""

    ingest: Counter[tuple[str, object]] = field(default_factory=Counter)
    pages: Counter[tuple[str, object]] = field(default_factory=Counter)
    slowest_ingest_seconds: float = 0.0
    # The slowest page or /api/sources answer while the database was cut off.
    slowest_page_during_seconds: float = 0.0
    lines_accepted: int = 0
    batches_accepted: int = 0
    lines_received: int = 0
    lines_processed: int = 0
    occurrences: int = 0
    drain_seconds: float | None = None
    healthz_during: dict[str, Any] = field(default_factory=dict)
    own_outage: list[tuple[str, str, str]] = field(default_factory=list)

    def misses(self) -> list[str]:
        """Return every target this run missed, one sentence each."""
        missed = []
        bad_ingest = {key: n for key, n in self.ingest.items() if key[1] != 202}
        if bad_ingest:
            missed.append(f"ingest answers other than 202: {bad_ingest}")
        bad_pages = {
            key: n
            for key, n in self.pages.items()
            if not isinstance(key[1], int) or (key[1] >= 500 and key[1] != 503)
        }
        if bad_pages:
            missed.append(f"page answers of 500+ other than 503, or none: {bad_pages}")
        if not self.lines_accepted == self.lines_received == self.lines_processed:
            missed.append(
                f"lines accepted {self.lines_accepted}, received {self.lines_received},"
                f" processed {self.lines_processed}"
            )
        if self.occurrences != self.batches_accepted:
            missed.append(f"occurrences {self.occurrences} for {self.batches_accepted} batches")
        if ("app.db-outage", "resolved", "processor") not in self.own_outage:
            missed.append(f"no resolved app.db-outage for op=processor: {self.own_outage}")
        if self.healthz_during.get("status") != "degraded":
            missed.append(f"/healthz during the outage: {self.healthz_during}")
        return missed


class Client:
    """HTTP calls to the server under test; a timeout or refused connection is an answer too."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.token = token
        basic = base64.b64encode(f"{ADMIN[0]}:{ADMIN[1]}".encode()).decode()
        self.admin = {"Authorization": f"Basic {basic}"}

    def call(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[object, bytes, float]:
        request = urllib.request.Request(  # noqa: S310 - http:// of the server under test
            self.base + path, data=body, method=method, headers=headers or {}
        )
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310
                return response.status, response.read(), time.monotonic() - started
        except urllib.error.HTTPError as error:
            return error.code, error.read(), time.monotonic() - started
        except (TimeoutError, urllib.error.URLError):
            return "no answer", b"", time.monotonic() - started

    def post_batch(self, first: int) -> tuple[object, float]:
        lines = [f"seq={first + n} GET /orders 200" for n in range(LINES_PER_BATCH - 1)]
        body = "\n".join([*lines, FAILURE]).encode()
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "text/plain"}
        status, _, seconds = self.call("POST", "/drains/shop", body, headers)
        return status, seconds

    def get_json(self, path: str) -> Any:
        status, body, _ = self.call("GET", path, headers=self.admin)
        return json.loads(body) if status == 200 else None


def load(client: Client, figures: Figures, phase: str, seconds: float) -> None:
    """Post batches and read two pages for `seconds`."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        status, took = client.post_batch(figures.lines_accepted)
        figures.ingest[(phase, status)] += 1
        figures.slowest_ingest_seconds = max(figures.slowest_ingest_seconds, took)
        if status == 202:
            figures.lines_accepted += LINES_PER_BATCH
            figures.batches_accepted += 1
        for path in ("/", "/api/sources"):
            page, _, seconds = client.call("GET", path, headers=client.admin)
            figures.pages[(f"{phase} {path}", page)] += 1
            if phase == "during":
                figures.slowest_page_during_seconds = max(
                    figures.slowest_page_during_seconds, seconds
                )
        time.sleep(0.02)


def wait_for_drain(
    client: Client, figures: Figures, *, since: float, timeout: float = 120.0
) -> None:
    """Wait until every accepted line and occurrence is processed; note when, after `since`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        source = client.get_json("/api/sources/shop") or {}
        incidents = (client.get_json("/api/incidents?signature=python.name-error") or {}).get(
            "incidents", []
        )
        figures.lines_received = source.get("lines_received", 0)
        figures.lines_processed = source.get("lines_processed", 0)
        figures.occurrences = sum(i["occurrences"] for i in incidents)
        done = figures.lines_processed == figures.lines_accepted
        if done and figures.occurrences == figures.batches_accepted:
            figures.drain_seconds = time.monotonic() - since
            return
        time.sleep(0.5)


def diagnose_own_log(log: Path, directory: Path) -> list[tuple[str, str, str]]:
    """Return (signature, status, op) of what `drainwatch scan` finds in drainwatch's own lines."""
    own = directory / "drainwatch-own.log"
    lines = log.read_text(errors="replace").splitlines()
    own.write_text("".join(line + "\n" for line in lines if " drainwatch." in line))
    scan = subprocess.run(  # noqa: S603 - this interpreter, this package
        [sys.executable, "-m", "service", "scan", str(own), "--format", "json"],
        capture_output=True,
        text=True,
        cwd=directory,
        check=True,
    )
    return [
        (i["signature"], i["status"], i["fields"].get("op", ""))
        for i in json.loads(scan.stdout)["incidents"]
    ]


def run_outage(database_url: str, *, down: float, up: float, mode: str, directory: Path) -> Figures:
    """Run one outage against a fresh database on the server of `database_url`; return figures."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    name = f"dw_outage_{secrets.token_hex(4)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    proxy = Proxy((url.host or "127.0.0.1", url.port or 5432), mode=mode)
    proxy.start()
    served = url.set(host="127.0.0.1", port=proxy.port, database=name)
    env = {
        **os.environ,
        "DRAINWATCH_DATABASE_URL": served.render_as_string(hide_password=False),
        "DRAINWATCH_SPOOL_DIR": str(directory / "spool"),
        "DRAINWATCH_ADMIN_USER": ADMIN[0],
        "DRAINWATCH_ADMIN_PASSWORD": ADMIN[1],
    }
    log = directory / "serve.log"
    process: subprocess.Popen[bytes] | None = None
    try:
        added = subprocess.run(
            [sys.executable, "-m", "service", "source", "add", "shop"],
            env=env,
            cwd=directory,
            capture_output=True,
            text=True,
            check=True,
        )
        token = re.search(r"dw_[A-Za-z0-9_-]+", added.stdout + added.stderr)
        assert token, added.stdout + added.stderr
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "service", "serve", "--port", "0"],
                env=env,
                cwd=directory,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        client = Client(_base_url(log, process), token.group(0))
        figures = Figures()
        load(client, figures, "before", up)
        proxy.stop()
        load(client, figures, "during", down)
        status, body, _ = client.call("GET", "/healthz")
        figures.healthz_during = json.loads(body) if status == 200 else {"answer": status}
        proxy.start()
        recovered = time.monotonic()
        load(client, figures, "after", up)
        wait_for_drain(client, figures, since=recovered)
    finally:
        if process is not None:
            process.terminate()
            process.wait(30)
        proxy.stop()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    figures.own_outage = diagnose_own_log(log, directory)
    return figures


def _base_url(log: Path, process: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"drainwatch serve exited:\n{log.read_text(errors='replace')}")
        found = re.search(r"Uvicorn running on (http://\S+)", log.read_text(errors="replace"))
        if found:
            return found.group(1)
        time.sleep(0.1)
    raise RuntimeError("drainwatch serve did not start in 60 s")


def report(figures: Figures, *, down: float, mode: str) -> str:
    """Return the figures as the lines the harness prints."""
    during = {k[1]: n for k, n in figures.ingest.items() if k[0] == "during"}
    pages = {k: n for k, n in figures.pages.items() if k[0].startswith("during")}
    drain = f"{figures.drain_seconds:.1f} s" if figures.drain_seconds is not None else "not drained"
    return "\n".join(
        [
            f"outage: PostgreSQL cut off for {down:.0f} s ({mode})",
            f"ingest answers: {dict(figures.ingest)}",
            f"ingest answers during the outage: {during};"
            f" slowest {figures.slowest_ingest_seconds:.2f} s",
            f"pages during the outage: {pages};"
            f" slowest {figures.slowest_page_during_seconds:.2f} s",
            f"/healthz during: status={figures.healthz_during.get('status')}"
            f" degraded={figures.healthz_during.get('degraded')}"
            f" spool_lines={figures.healthz_during.get('spool_lines')}",
            f"lines accepted {figures.lines_accepted}, received {figures.lines_received},"
            f" processed {figures.lines_processed}; occurrences {figures.occurrences}"
            f" for {figures.batches_accepted} batches; all processed {drain} after the database"
            " returned (load going on meanwhile)",
            f"drainwatch's own log, scanned: {figures.own_outage}",
        ]
    )


def main() -> int:
    """Run the harness and print its figures; exit 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--down", type=float, default=60.0, help="outage seconds (default 60)")
    parser.add_argument("--up", type=float, default=10.0, help="load before and after (10 s)")
    parser.add_argument("--mode", choices=["refuse", "hang"], default="refuse")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "DRAINWATCH_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="drainwatch-outage-") as directory:
        figures = run_outage(
            args.database_url, down=args.down, up=args.up, mode=args.mode, directory=Path(directory)
        )
    print(report(figures, down=args.down, mode=args.mode))
    missed = figures.misses()
    for miss in missed:
        print(f"MISSED: {miss}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
