"""A real log shipper no one here wrote: syslog-ng tails log files and POSTs them in batches to a
running `drainwatch serve`; every line arrives once and the incidents are the golden scenarios'.

Needs Debian's `syslog-ng-core` and `syslog-ng-mod-http` (`.ci/run` installs them); skipped
without them.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.error
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import INGEST_TOKEN, ROOT, SCAN_FIELDS
from tests.live_server import get_json, live_server, show, stop

pytestmark = pytest.mark.slow

MISSING = (
    "syslog-ng with the http module is not installed (Debian: syslog-ng-core syslog-ng-mod-http)"
)
# The golden scenarios shipped, each under its own source name: 122-line tracebacks that
# batches cut anywhere, lines without a time, two blank lines (async_pool_class), non-ASCII text.
SCENARIOS = ("seed_missing_greenlet", "seed_async_pool_class")
BATCH_LINES = 50
DEADLINE_SECONDS = 30
# What must equal the scenario's expected.json; ids are left out (both sources share one database).
COMPARED = (
    *SCAN_FIELDS,
    "resolved_at",
    "resolution",
)


def syslog_ng_with_http() -> str:
    """Return the syslog-ng binary when it has the http destination; skip the test otherwise."""
    binary = shutil.which("syslog-ng")
    if binary is None:
        pytest.skip(f"{MISSING}: no syslog-ng on PATH")
    try:
        version = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=20, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired) as error:
        pytest.skip(f"{MISSING}: `syslog-ng --version` failed: {error}")
    modules = re.search(r"^Available-Modules: (.*)$", version, re.MULTILINE)
    if modules is None or "http" not in modules.group(1).split(","):
        pytest.skip(f"{MISSING}: {binary} has no http module")
    return binary


@pytest.fixture
def drainwatch(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """Start `drainwatch serve` on a free port with SQLite in tmp; yield its URL and output file."""
    with live_server(tmp_path) as server:
        yield server.base, server.log


def syslog_ng_config(tmp_path: Path, base: str, logs: dict[str, Path]) -> str:
    """Return a config that ships each log file as is, in batches, to `base`/drains/<source>."""
    blocks = [
        "@version: 3.38",
        # time-reopen: retry a failed request after 1 s, not the default 60 s.
        "options { stats-freq(0); time-reopen(1); };",
    ]
    for index, (source, path) in enumerate(logs.items()):
        blocks.append(
            f"""
source s_{index} {{
  file({json.dumps(str(path))} flags(no-parse) follow-freq(0.1));
}};
destination d_{index} {{
  http(
    url("{base}/drains/{source}")
    method("POST")
    headers("Authorization: Bearer {INGEST_TOKEN}", "Content-Type: text/plain; charset=utf-8")
    body("${{MESSAGE}}")
    delimiter("\\n")
    body-suffix("\\n")
    batch-lines({BATCH_LINES})
    batch-timeout(200)
  );
}};
log {{ source(s_{index}); destination(d_{index}); }};"""
        )
    return "\n".join(blocks) + "\n"


@pytest.fixture
def syslog_ng_binary() -> str:
    """Return syslog-ng with its http module, or skip (before any server is started)."""
    return syslog_ng_with_http()


@pytest.fixture
def syslog_ng(syslog_ng_binary: str, tmp_path: Path) -> Iterator[Any]:
    """Yield a starter of syslog-ng in the foreground on a config; stop it afterwards."""
    binary = syslog_ng_binary
    started: list[subprocess.Popen[bytes]] = []
    log = tmp_path / "syslog-ng.stderr"

    def start(config: str) -> subprocess.Popen[bytes]:
        path = tmp_path / "syslog-ng.conf"
        path.write_text(config, encoding="utf-8")
        check = subprocess.run(
            [binary, "--syntax-only", "-f", str(path)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert check.returncode == 0, f"{config}\n{check.stdout}{check.stderr}"
        with log.open("wb") as stderr:
            process = subprocess.Popen(
                [
                    binary,
                    "--foreground",
                    "--stderr",
                    "--no-caps",
                    f"--cfgfile={path}",
                    f"--persist-file={tmp_path / 'syslog-ng.persist'}",
                    f"--pidfile={tmp_path / 'syslog-ng.pid'}",
                    f"--control={tmp_path / 'syslog-ng.ctl'}",
                ],
                cwd=tmp_path,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        started.append(process)
        return process

    try:
        yield start
    finally:
        for process in started:
            stop(process)
        if started:
            show("syslog-ng stderr", log)
            show("syslog-ng config", tmp_path / "syslog-ng.conf")


def test_syslog_ng_ships_log_files_over_http(
    syslog_ng_binary: str, drainwatch: tuple[str, Path], syslog_ng: Any, tmp_path: Path
) -> None:
    # Fixture order: skip before starting anything; stop syslog-ng before the server.
    base, drainwatch_log = drainwatch
    logs, lines, expected = {}, {}, {}
    for name in SCENARIOS:
        scenario = ROOT / "sample_logs" / "scenarios" / name
        logs[name] = tmp_path / f"{name}.log"
        shutil.copyfile(scenario / "input.log", logs[name])
        text = logs[name].read_text(encoding="utf-8")
        # syslog-ng sends no message for an empty line; drainwatch would skip it anyway.
        lines[name] = sum(1 for line in text.splitlines() if line.strip())
        golden = json.loads((scenario / "expected.json").read_text(encoding="utf-8"))
        assert golden["lines"] == lines[name]
        expected[name] = golden["incidents"]

    shipper = syslog_ng(syslog_ng_config(tmp_path, base, logs))

    deadline = time.monotonic() + DEADLINE_SECONDS
    counts: dict[str, Any] = {}
    while True:
        assert shipper.poll() is None, f"syslog-ng exited with {shipper.returncode}"
        for name in SCENARIOS:
            try:
                counts[name] = get_json(base, f"/api/sources/{name}")
            except urllib.error.HTTPError as error:
                assert error.code == 404, error
                counts[name] = None
        done = all(
            count is not None and count["lines_received"] == count["lines_processed"] == lines[name]
            for name, count in counts.items()
        )
        if done:
            break
        for name, count in counts.items():
            assert count is None or count["lines_received"] <= lines[name], (name, count)
        assert time.monotonic() < deadline, f"want {lines} lines received and processed: {counts}"
        time.sleep(0.2)

    for name in SCENARIOS:
        found = get_json(base, f"/api/incidents?source={name}")["incidents"]
        assert [
            {key: incident[key] for key in COMPARED}
            for incident in sorted(found, key=lambda i: i["id"])
        ] == [{key: incident[key] for key in COMPARED} for incident in expected[name]], name

    # Each 122-line traceback spans 3-4 requests, yet is one whole event, indentation intact.
    [greenlet] = get_json(base, "/api/incidents?source=seed_missing_greenlet")["incidents"]
    events = get_json(base, f"/api/incidents/{greenlet['id']}")["events"]
    assert len(events) == 3
    for event in events:
        assert event["text"].startswith(
            'Exception in ASGI application\nTraceback (most recent call last):\n  File "/opt/'
        ), event["text"][:200]
        assert event["text"].endswith("https://sqlalche.me/e/20/xd2s)"), event["text"][-200:]
        assert event["text"].count("\n") >= 121

    # Several lines per request, several requests per file, each answered 202 (uvicorn's access
    # log; a request's line may be written just after its lines were already processed).
    def answers(name: str) -> list[str]:
        access = drainwatch_log.read_text(errors="replace")
        return re.findall(rf'"POST /drains/{name} HTTP/1\.1" (\d+)', access)

    deadline = time.monotonic() + 5
    while any(len(answers(name)) < lines[name] / BATCH_LINES for name in SCENARIOS):
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    for name in SCENARIOS:
        assert set(answers(name)) == {"202"}, (name, answers(name))
        assert lines[name] / BATCH_LINES <= len(answers(name)) < lines[name], (name, answers(name))
