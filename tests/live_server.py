"""A real `drainwatch serve` subprocess for end-to-end tests: SQLite and spool in a temp directory,
a free port chosen by uvicorn, the known admin and ingest token of `tests.conftest`.

`live_server(tmp_path)` starts it, waits until `/healthz` answers, yields a `LiveServer`, and always
stops it and prints its output (pytest shows it when the test fails).
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import ADMIN, INGEST_TOKEN

START_SECONDS = 60
_RUNNING = re.compile(r"Uvicorn running on (http://127\.0\.0\.1:\d+)")


@dataclass(frozen=True, slots=True)
class LiveServer:
    """A running `drainwatch serve`: its base URL, output file, environment and directory."""

    base: str
    log: Path
    env: dict[str, str]
    cwd: Path
    process: subprocess.Popen[bytes]

    @property
    def port(self) -> int:
        """Return the port it listens on."""
        return int(self.base.rsplit(":", 1)[1])


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate `process` and reap it; kill it if it does not go."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def show(title: str, path: Path) -> None:
    """Print a process's output; pytest shows it when the test fails."""
    text = path.read_text(errors="replace") if path.exists() else "(no output)"
    print(f"----- {title} ({path}) -----\n{text}")


def get_json(base: str, path: str) -> Any:
    """GET `path` on the server as the admin (HTTP Basic) and return the JSON body."""
    credentials = base64.b64encode(f"{ADMIN[0]}:{ADMIN[1]}".encode()).decode()
    request = urllib.request.Request(
        f"{base}{path}", headers={"Authorization": f"Basic {credentials}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def server_env(directory: Path) -> dict[str, str]:
    """Return the environment of a server (and of CLI commands on its database) in `directory`."""
    return {
        **os.environ,
        "DRAINWATCH_DATABASE_URL": f"sqlite:///{directory / 'drainwatch.db'}",
        "DRAINWATCH_SPOOL_DIR": str(directory / "spool"),
        "DRAINWATCH_INGEST_TOKEN": INGEST_TOKEN,
        "DRAINWATCH_ADMIN_USER": ADMIN[0],
        "DRAINWATCH_ADMIN_PASSWORD": ADMIN[1],
    }


@contextmanager
def serving(
    directory: Path, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Run `drainwatch serve` on a free port in `directory` (with `env`, else `server_env`);
    yield the process and its base URL once uvicorn listens; stop it and show its output after."""
    log = directory / "drainwatch.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--port", "0"],
            cwd=directory,  # no stray .env or ./drainwatch.db of the checkout
            env=env or server_env(directory),
            stdout=output,  # uvicorn's access log
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + START_SECONDS
        while not (found := _RUNNING.search(log.read_text(errors="replace"))):
            assert process.poll() is None, "drainwatch serve exited at start"
            assert time.monotonic() < deadline, (
                f"drainwatch serve did not start in {START_SECONDS} s"
            )
            time.sleep(0.1)
        yield process, found.group(1)
    finally:
        stop(process)
        show("drainwatch serve output", log)


@contextmanager
def live_server(directory: Path) -> Iterator[LiveServer]:
    """Start `drainwatch serve` on a free port with SQLite in `directory`; stop it afterwards."""
    env = server_env(directory)
    with serving(directory, env) as (process, base):
        assert get_json(base, "/healthz")["status"] == "ok"
        yield LiveServer(
            base=base, log=directory / "drainwatch.log", env=env, cwd=directory, process=process
        )
