"""Harness: kill -9 a real `drainwatch serve` again and again under a loader, then count.

    .venv/bin/python bench/crash.py [--kills 20] [--batch-lines 40] [--seed N]
                                    [--servers 2 --database postgresql+psycopg://...]

A loader POSTs Heroku logplex batches of sequence-numbered lines, each batch carrying one failure
line (`NameError: name 'logger' is not defined`), placed last in its batch one time in three, where
the processor holds it back waiting for a traceback. A batch that got no 202 is sent again with the
same `Logplex-Frame-Id`, as Logplex does. Meanwhile the server is killed with SIGKILL at random
moments and started again on the same database and spool. At the end every acknowledged line must
have been processed exactly once: lines lost 0, lines doubled 0, and the incident's occurrences
equal to the failure lines sent. With `--servers 2` and a PostgreSQL `--database`, two servers
(each with its own spool) share one database, the loader alternates between them and the kills
pick one at random: the counts must still be exact, with one open incident per fingerprint.
Prints the figures; exits 1 when a count is off.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

TOKEN = "crash-harness-ingest-token"
ADMIN = ("admin", "crash-harness-password")
SOURCE = "crashy"
FAILURE = "NameError: name 'logger' is not defined"
SIGNATURE = "python.name-error"
T0 = datetime(2025, 9, 19, 12, 0, tzinfo=UTC)


@dataclass
class Tally:
    """What the loader had acknowledged."""

    batches: int = 0
    lines: int = 0
    failures: int = 0
    failures_last: int = 0
    retries: int = 0
    duplicates: int = 0
    errors: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class CrashResult:
    """The counts after the last restart, next to what was acknowledged."""

    kills: int
    tally: Tally
    lines_received: int
    lines_processed: int
    lines_quarantined: int
    occurrences: int
    open_incidents: int
    seconds: float

    @property
    def lost(self) -> int:
        """Acknowledged lines never processed."""
        return max(0, self.tally.lines - self.lines_processed - self.lines_quarantined)

    @property
    def doubled(self) -> int:
        """Lines processed more often than they were acknowledged."""
        return max(0, self.lines_processed + self.lines_quarantined - self.tally.lines)

    @property
    def exact(self) -> bool:
        """Every acknowledged line processed once, every failure line one occurrence."""
        return (
            self.lost == 0
            and self.doubled == 0
            and self.lines_received == self.tally.lines
            and self.occurrences == self.tally.failures
            and self.open_incidents == 1
        )


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """`drainwatch serve` in a directory, started again on the same port after each kill."""

    def __init__(
        self, directory: Path, database_url: str, name: str = "serve", args: Sequence[str] = ()
    ) -> None:
        self.directory = directory
        self.name = name
        self.args = list(args)  # more `drainwatch serve` options
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DRAINWATCH_DATABASE_URL": database_url,
            "DRAINWATCH_SPOOL_DIR": str(directory / f"spool-{name}"),
            "DRAINWATCH_INGEST_TOKEN": TOKEN,
            "DRAINWATCH_ADMIN_USER": ADMIN[0],
            "DRAINWATCH_ADMIN_PASSWORD": ADMIN[1],
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        """Start the server and wait until /healthz answers."""
        with (self.directory / f"{self.name}-{self.starts}.log").open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "service", "serve", "--port", str(self.port), *self.args],
                cwd=self.directory,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.starts += 1
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"drainwatch serve exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=2):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("drainwatch serve did not start in 60 s")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not go."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def get(self, path: str) -> Any:
        """GET a JSON API path as the admin."""
        credentials = base64.b64encode(f"{ADMIN[0]}:{ADMIN[1]}".encode()).decode()
        request = urllib.request.Request(
            f"{self.base}{path}", headers={"Authorization": f"Basic {credentials}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)


def logplex(lines: list[str], first: int, dyno: str = "web.1") -> bytes:
    """Heroku's frames, one per line, log times one millisecond apart."""
    parts = []
    for offset, line in enumerate(lines):
        stamp = (T0 + timedelta(milliseconds=first + offset)).isoformat().replace("+00:00", "Z")
        frame = f"<190>1 {stamp} host app {dyno} - {line}\n".encode()
        parts.append(b"%d %s" % (len(frame), frame))
    return b"".join(parts)


def make_batch(number: int, size: int, rng: random.Random) -> tuple[list[str], bool]:
    """Return a batch's lines (one failure line among them) and whether the failure is last."""
    lines = [f"INFO app: seq={number * size + index} handled" for index in range(size - 1)]
    last = rng.random() < 1 / 3
    at = size - 1 if last else rng.randrange(size - 1)
    lines.insert(at, f"ERROR app: {FAILURE}")
    return lines, last


def load(servers: list[Server], tally: Tally, stop: threading.Event, size: int, seed: int) -> None:
    """POST batches until `stop`, taking the servers in turn; a batch is sent to its server until
    it is acknowledged, under one frame id (the id is known to that server's spool only)."""
    rng = random.Random(seed)
    number = 0
    while not stop.is_set():
        server = servers[number % len(servers)]
        lines, last = make_batch(number, size, rng)
        body = logplex(lines, number * size)
        request = urllib.request.Request(
            f"{server.base}/drains/{SOURCE}",
            data=body,
            headers={
                "Authorization": f"Bearer {TOKEN}",
                "Content-Type": "application/logplex-1",
                "Logplex-Msg-Count": str(len(lines)),
                "Logplex-Frame-Id": f"frame-{seed}-{number}",
            },
        )
        while True:
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    answer = json.load(response)
                break
            except (OSError, http.client.HTTPException) as error:
                # No whole 202 seen (a kill cut the answer): send it again under its frame id.
                name = type(error).__name__
                if isinstance(error, urllib.error.HTTPError):
                    name = f"HTTP {error.code}"
                tally.errors[name] = tally.errors.get(name, 0) + 1
                tally.retries += 1
                time.sleep(0.05)
        tally.duplicates += bool(answer.get("duplicate"))
        tally.batches += 1
        tally.lines += len(lines)
        tally.failures += 1
        tally.failures_last += last
        number += 1
        time.sleep(rng.uniform(0, 0.02))


def settle(servers: list[Server], tally: Tally, timeout: float = 120.0) -> dict[str, Any]:
    """Wait until every server's spool is drained and every acknowledged line is counted, or the
    timeout. A server counts the lines still in its own spool as received, none of the others'."""
    deadline = time.monotonic() + timeout
    views: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        views = [server.get(f"/api/sources/{SOURCE}") for server in servers]
        drained = all(
            view["lines_received"] == view["lines_processed"] + view.get("lines_quarantined", 0)
            for view in views
        )
        if drained and views[0]["lines_received"] == tally.lines:
            break
        time.sleep(0.5)
    return views[0]


@contextmanager
def fresh_database(url: str | None, directory: Path) -> Iterator[str]:
    """Yield a SQLite file in `directory` (no URL), or a fresh schema of the PostgreSQL `url`."""
    if url is None:
        yield f"sqlite:///{directory / 'drainwatch.db'}"
        return
    from sqlalchemy import create_engine, text

    schema = f"crash_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in url else "?"
    try:
        yield f"{url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def run(
    kills: int = 20,
    batch_lines: int = 40,
    seed: int = 1,
    *,
    servers: int = 1,
    database_url: str | None = None,
) -> CrashResult:
    """Run the harness in a temporary directory and return its counts."""
    rng = random.Random(seed)
    started = time.monotonic()
    with ExitStack() as stack:
        name = stack.enter_context(tempfile.TemporaryDirectory(prefix="drainwatch-crash-"))
        directory = Path(name)
        database = stack.enter_context(fresh_database(database_url, directory))
        running = [Server(directory, database, f"serve{index}") for index in range(servers)]
        for server in running:
            server.start()
        tally = Tally()
        stop = threading.Event()
        loader = threading.Thread(target=load, args=(running, tally, stop, batch_lines, seed))
        loader.start()
        try:
            for _ in range(kills):
                time.sleep(rng.uniform(0.3, 1.5))
                victim = rng.choice(running)
                victim.kill()
                victim.start()
            time.sleep(rng.uniform(0.3, 1.0))
        finally:
            stop.set()
            loader.join(60)
        try:
            found = settle(running, tally)
            incidents = running[0].get(f"/api/incidents?signature={SIGNATURE}")["incidents"]
        finally:
            for server in running:
                server.stop()
    return CrashResult(
        kills=kills,
        tally=tally,
        lines_received=int(found["lines_received"]),
        lines_processed=int(found["lines_processed"]),
        lines_quarantined=int(found.get("lines_quarantined", 0)),
        occurrences=sum(int(incident["occurrences"]) for incident in incidents),
        open_incidents=sum(incident["status"] == "open" for incident in incidents),
        seconds=time.monotonic() - started,
    )


def main() -> int:
    """Run the harness from the command line and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--batch-lines", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--servers", type=int, default=1)
    parser.add_argument("--database", help="a database URL all servers share (default SQLite)")
    args = parser.parse_args()
    result = run(
        kills=args.kills,
        batch_lines=args.batch_lines,
        seed=args.seed,
        servers=args.servers,
        database_url=args.database,
    )
    tally = result.tally
    print(f"kills (SIGKILL)               {result.kills}")
    print(f"batches acknowledged          {tally.batches} ({tally.duplicates} as duplicates)")
    print(f"sends retried after no 202    {tally.retries} {tally.errors}")
    print(f"lines acknowledged            {tally.lines}")
    print(f"lines received (stored count) {result.lines_received}")
    print(f"lines processed               {result.lines_processed}")
    print(f"lines quarantined             {result.lines_quarantined}")
    print(f"lines lost                    {result.lost}")
    print(f"lines doubled                 {result.doubled}")
    print(f"failure lines sent            {tally.failures} ({tally.failures_last} last in a batch)")
    print(f"incident occurrences          {result.occurrences}")
    print(f"open incidents of it          {result.open_incidents}")
    print(f"seconds                       {result.seconds:.1f}")
    print("exact" if result.exact else "NOT EXACT")
    return 0 if result.exact else 1


if __name__ == "__main__":
    sys.exit(main())
