"""`drainwatch serve` as several processes, for real: the processor in a child process that is
restarted when it dies, dies with its parent (even by kill -9) and gets its final flush on
SIGTERM; `--workers 2` serves and processes with exact counts."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ADMIN, INGEST_TOKEN
from tests.live_server import _RUNNING, get_json, server_env, show, stop

pytestmark = pytest.mark.slow
START_SECONDS = 60
FAILURE = (
    "2025-09-19 12:00:{second:02d},000 - app.auth - ERROR - NameError: name 'logger' is not defined"
)


@dataclass(frozen=True, slots=True)
class Served:
    """A running `drainwatch serve`: its process, base URL, directory and output."""

    process: subprocess.Popen[bytes]
    base: str
    directory: Path
    log: Path


@contextmanager
def serve(directory: Path, *options: str, **settings: str) -> Iterator[Served]:
    """Run `drainwatch serve --port 0 OPTIONS` with extra DRAINWATCH_ settings until the end."""
    env = server_env(directory)
    env.update({f"DRAINWATCH_{name.upper()}": value for name, value in settings.items()})
    log = directory / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--port", "0", *options]
            + ([] if "--workers" in options else ["--processor", "process"]),
            cwd=directory,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + START_SECONDS
        while not (found := _RUNNING.search(log.read_text(errors="replace"))):
            assert process.poll() is None, "drainwatch serve exited at start"
            assert time.monotonic() < deadline, "drainwatch serve did not start"
            time.sleep(0.1)
        base = found.group(1)
        wait_for(lambda: _healthz(base), "/healthz did not answer")
        yield Served(process, base, directory, log)
    finally:
        left = descendants(process.pid)
        stop(process)
        for pid in left:
            _kill_quietly(pid)
        show("drainwatch serve output", log)


def _healthz(base: str) -> bool:
    try:
        return bool(get_json(base, "/healthz")["status"] == "ok")
    except OSError:
        return False


def _kill_quietly(pid: int) -> None:
    with suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def wait_for(check: Callable[[], bool], message: str, seconds: float = 60.0) -> None:
    """Call `check` until it returns true, or fail with `message` after `seconds`."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, message
        time.sleep(0.2)


def _stat(pid: int) -> tuple[str, int] | None:
    """Return (state, parent pid) of a process, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return fields[0], int(fields[1])


def alive(pid: int) -> bool:
    """Return True while `pid` runs (a zombie waiting to be reaped does not)."""
    found = _stat(pid)
    return found is not None and found[0] not in {"Z", "X"}


def children(pid: int) -> list[int]:
    """Return the pids of the live processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        stat = _stat(int(entry.name)) if entry.name.isdigit() else None
        if stat is not None and stat[1] == pid and stat[0] not in {"Z", "X"}:
            found.append(int(entry.name))
    return sorted(found)


def descendants(pid: int) -> list[int]:
    """Return `pid`'s children, their children, and so on."""
    found = children(pid)
    return found + [grandchild for child in found for grandchild in descendants(child)]


def command(pid: int) -> list[str]:
    """Return a process's command line."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return raw.decode(errors="replace").rstrip("\0").split("\0")


def processor_pid(served: Served) -> int:
    """Return the pid of the server's processor process, waiting for it to run."""
    found: list[int] = []

    def running() -> bool:
        found[:] = [p for p in descendants(served.process.pid) if "process" in command(p)]
        return len(found) == 1

    wait_for(running, "no processor process runs")
    wait_for(
        lambda: bool(get_json(served.base, "/healthz")["processor"]["running"]),
        "the processor never said it runs",
    )
    return found[0]


def post(base: str, body: str, source: str = "api") -> int:
    """POST a text batch to the drain of `source`; return the status."""
    request = urllib.request.Request(
        f"{base}/drains/{source}",
        data=body.encode(),
        headers={"Authorization": f"Bearer {INGEST_TOKEN}", "Content-Type": "text/plain"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def batch(number: int, failures: int = 2, infos: int = 8) -> str:
    """Return a batch of `failures` NameError lines and `infos` access lines."""
    lines = [FAILURE.format(second=(number * failures + n) % 60) for n in range(failures)]
    lines += [f'INFO:     10.0.0.1:0 - "GET /api/x/{number} HTTP/1.1" 200 OK'] * infos
    return "\n".join(lines) + "\n"


def settled(base: str, source: str, lines: int) -> bool:
    """Return True once `source` received and processed exactly `lines` lines."""
    try:
        found = get_json(base, f"/api/sources/{source}")
    except OSError:
        return False
    assert found["lines_received"] <= lines, found
    return bool(found["lines_received"] == found["lines_processed"] == lines)


def occurrences(base: str, source: str) -> int:
    """Return the occurrences of every incident of `source`."""
    incidents = get_json(base, f"/api/incidents?source={source}")["incidents"]
    return sum(incident["occurrences"] for incident in incidents)


def test_the_processor_runs_in_a_child_process_and_processes_what_is_posted(
    tmp_path: Path,
) -> None:
    with serve(tmp_path, TRACEBACK_GAP_SECONDS="0.5") as served:
        child = processor_pid(served)
        assert child != served.process.pid
        assert command(child)[1:4] == ["-m", "service", "process"]
        for number in range(5):
            assert post(served.base, batch(number)) == 202
        wait_for(lambda: settled(served.base, "api", 50), "the lines were not processed")
        assert occurrences(served.base, "api") == 10
        health = get_json(served.base, "/healthz")
        assert health["processor"]["running"] is True
        assert health["processor"]["state"] == "ok"


def test_a_killed_processor_is_started_again_and_nothing_is_lost_or_doubled(
    tmp_path: Path,
) -> None:
    with serve(tmp_path, TRACEBACK_GAP_SECONDS="0.5") as served:
        first = processor_pid(served)
        for number in range(20):
            assert post(served.base, batch(number)) == 202
            if number == 10:
                os.kill(first, signal.SIGKILL)
        wait_for(lambda: not alive(first), "the killed processor still runs")
        second = processor_pid(served)
        assert second != first
        wait_for(lambda: settled(served.base, "api", 200), "the lines were not all processed")
        assert occurrences(served.base, "api") == 40
        assert "exited with signal SIGKILL; starting it again" in served.log.read_text()


def test_kill_9_of_serve_leaves_no_process_behind(tmp_path: Path) -> None:
    with serve(tmp_path) as served:
        child = processor_pid(served)
        served.process.kill()
        served.process.wait(10)
        wait_for(lambda: not alive(child), "the processor outlived its parent", seconds=5)


def test_sigterm_gives_the_processor_its_final_flush(tmp_path: Path) -> None:
    # A long gap: the error line stays held back until the processor's final flush.
    with serve(tmp_path, TRACEBACK_GAP_SECONDS="600") as served:
        child = processor_pid(served)
        assert post(served.base, batch(0, failures=1, infos=0)) == 202
        wait_for(
            lambda: get_json(served.base, "/api/sources/api")["lines_received"] == 1,
            "the line was not received",
        )
        assert get_json(served.base, "/api/sources/api")["lines_processed"] == 0
        served.process.send_signal(signal.SIGTERM)
        served.process.wait(15)
        assert not alive(child)
    with sqlite3.connect(tmp_path / "drainwatch.db") as db:
        counts = db.execute(
            "SELECT lines_received, lines_processed FROM source WHERE name = 'api'"
        ).fetchone()
        stored = db.execute("SELECT SUM(occurrences) FROM incident").fetchone()[0]
    assert counts == (1, 1)
    assert stored == 1
    assert "processor: stopped after its final flush" in (tmp_path / "serve.log").read_text()


def test_refusals_of_intake_reach_the_processor_process_as_a_data_gap(tmp_path: Path) -> None:
    with serve(tmp_path, RATE_LIMIT_LINES="1", RATE_LIMIT_BURST="10") as served:
        processor_pid(served)
        assert post(served.base, batch(0, failures=0, infos=60)) == 202  # 50 in debt
        assert post(served.base, batch(1, failures=0, infos=8)) == 429

        def gap_drawn() -> bool:
            gaps = get_json(served.base, "/api/sources/api")["data_gaps"]
            return any("refused 8 log lines in 1 batches (rate limit)" in str(g) for g in gaps)

        wait_for(gap_drawn, "the refusal was not written as a data gap")


def test_a_pattern_reload_reaches_the_processor_process(tmp_path: Path) -> None:
    with serve(tmp_path) as served:
        processor_pid(served)
        request = urllib.request.Request(f"{served.base}/api/patterns/reload", method="POST")
        request.add_header("Authorization", _basic())
        with urllib.request.urlopen(request, timeout=30) as response:
            assert json.load(response)["loaded"] > 0
        wait_for(
            lambda: (
                "processor: " in served.log.read_text()
                and "signatures reloaded" in served.log.read_text()
            ),
            "the processor did not reload its signatures",
        )


def _basic() -> str:
    return "Basic " + base64.b64encode(f"{ADMIN[0]}:{ADMIN[1]}".encode()).decode()


def test_two_workers_serve_and_process_with_exact_counts(tmp_path: Path) -> None:
    with serve(tmp_path, "--workers", "2", TRACEBACK_GAP_SECONDS="0.5") as served:
        processor_pid(served)
        web = [p for p in children(served.process.pid) if "--fd" in command(p)]
        assert len(web) == 2
        for number in range(30):
            assert post(served.base, batch(number)) == 202
        wait_for(lambda: settled(served.base, "api", 300), "the lines were not all processed")
        assert occurrences(served.base, "api") == 60
        everyone = descendants(served.process.pid)
        served.process.kill()
        served.process.wait(10)
        wait_for(
            lambda: not any(alive(pid) for pid in everyone),
            "a child outlived its parent",
            seconds=5,
        )


def test_two_workers_run_one_syslog_listener(tmp_path: Path) -> None:
    port = free_port()
    options = ("--workers", "2", "--syslog-port", str(port))
    with serve(tmp_path, *options, TRACEBACK_GAP_SECONDS="0.5") as served:
        processor_pid(served)
        wait_for(lambda: _listening(port), "the syslog port does not answer")
        with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
            connection.sendall(b"".join(f"INFO syslog line {n}\n".encode() for n in range(5)))
        wait_for(lambda: settled(served.base, "syslog", 5), "the syslog lines were not processed")
        output = served.log.read_text()
        assert output.count("syslog listener on") == 1
        assert "exited with" not in output  # no second listener failed to bind and died


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True
