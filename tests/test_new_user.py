"""The issue's acceptance check, done as a new user would, against a real server over real HTTP:
add a Heroku drain URL, point Vector at drainwatch, pipe `render logs -o json` into it, and see all
three sources' lines arrive within seconds, and their incidents open.

- Heroku: `drainwatch source add shop` prints the token; the drain URL is built as the README says
  (`https://drain:TOKEN@HOST/drains/shop`) and logplex POSTs to it: `application/logplex-1`,
  `Logplex-Msg-Count`, `Logplex-Frame-Id`, Basic auth from the URL's userinfo; a crash over several
  batches, one of them delivered twice (logplex retries with the same frame id).
- Vector: its `http` sink with `encoding.codec = "json"` and `compression = "gzip"`: a gzipped JSON
  array of file-source events (one per line, a traceback among them), Bearer the global token.
- Render: `cat render.json | curl ... --data-binary @- .../drains/api`, a real shell pipeline.
"""

from __future__ import annotations

import gzip
import json
import shlex
import shutil
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from tests.conftest import ADMIN, INGEST_TOKEN, ROOT
from tests.live_server import LiveServer, live_server

pytestmark = pytest.mark.slow

PAYLOADS = ROOT / "tests" / "ingest" / "formats" / "payloads"
POLL_SECONDS = 20
# A stream whose last line ends a traceback is held for the traceback gap (5 s by default) in case
# more of it follows, so `shop` (the NameError) and `worker` take ~5.2 s here, `api` ~0.3 s.
ARRIVAL_LIMIT_SECONDS = 10
# What each source's lines must open (checked first with `drainwatch patterns test LINE`).
EXPECTED_SIGNATURES = {
    "shop": {"heroku.app-crashed-state", "heroku.router-error", "python.name-error"},
    "worker": {"sqlalchemy.missing-greenlet"},
    "api": {"sqlalchemy.missing-greenlet"},
}
LOGPLEX_HEADERS = {
    "Content-Type": "application/logplex-1",
    "User-Agent": "Logplex/v123",
    "Logplex-Drain-Token": "d.5ac5a6d3-0b43-4b5c-8d6e-1f2a3b4c5d6e",
}
VECTOR_HEADERS = {
    "Content-Type": "application/json",
    "Content-Encoding": "gzip",
    "User-Agent": "Vector/0.41.1 (x86_64-unknown-linux-gnu)",
    "Authorization": f"Bearer {INGEST_TOKEN}",
}
MISSING_GREENLET = (
    "sqlalchemy.exc.MissingGreenlet: greenlet_spawn has not been called; can't call await_only() "
    "here. Was IO attempted in an unexpected place? "
    "(Background on this error at: https://sqlalche.me/e/20/xd2s)"
)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    """A real `drainwatch serve` on a free port, SQLite and spool in tmp."""
    with live_server(tmp_path) as running:
        yield running


def drainwatch_cli() -> list[str]:
    """Return the `drainwatch` console script of this venv (`python -m service` without one)."""
    script = Path(sys.executable).with_name("drainwatch")
    return [str(script)] if script.exists() else [sys.executable, "-m", "service"]


# ---------------------------------------------------------------- Heroku (logplex)


def read_frames(body: bytes) -> list[bytes]:
    """Split an octet-counted logplex body into its frames (`LEN SP MSG`, MSG with its LF)."""
    frames, position = [], 0
    while position < len(body):
        space = body.index(b" ", position)
        length = int(body[position:space])
        frame = body[position : space + 1 + length]
        assert len(frame) == space + 1 - position + length, "truncated logplex frame"
        frames.append(frame)
        position = space + 1 + length
    return frames


def logplex_frame(at: str, app: str, proc: str, message: str, *, priority: int) -> bytes:
    """Return one frame as logplex writes it: `LEN <PRI>1 TIME host APP PROC - MSG\\n`."""
    syslog = f"<{priority}>1 {at} host {app} {proc} - {message}\n".encode()
    return str(len(syslog)).encode() + b" " + syslog


def router_h10(at: str, path: str, request_id: str) -> bytes:
    """Return a router line for a request the crashed app could not take (H10)."""
    message = (
        f'at=error code=H10 desc="App crashed" method=GET path="{path}" '
        f'host=shop.herokuapp.com request_id={request_id} fwd="203.0.113.9" dyno=web.1 '
        "connect=5000ms service= status=503 bytes= protocol=https"
    )
    return logplex_frame(at, "heroku", "router", message, priority=158)


def heroku_batches() -> list[list[bytes]]:
    """Return the crash story as logplex batches: the sample cut mid-traceback, then the aftermath.

    The sample: gunicorn boots, a NameError traceback, the router's 500, an L10 (logplex dropped
    1043 lines on the way), `State changed from up to crashed`. Then the router answers H10 while
    Heroku restarts the dyno, which crashes again.
    """
    sample = read_frames((PAYLOADS / "logplex_crash.txt").read_bytes())
    assert len(sample) == 9
    aftermath = [
        router_h10("2025-09-19T12:43:24.000000+00:00", "/orders", "6b2d"),
        router_h10("2025-09-19T12:43:27.000000+00:00", "/", "7c3e"),
        logplex_frame(
            "2025-09-19T12:43:30.000000+00:00",
            "heroku",
            "web.1",
            "State changed from crashed to starting",
            priority=45,
        ),
        logplex_frame(
            "2025-09-19T12:43:31.000000+00:00",
            "heroku",
            "web.1",
            "Starting process with command `gunicorn -k uvicorn.workers.UvicornWorker app.main:app`",
            priority=45,
        ),
        logplex_frame(
            "2025-09-19T12:43:36.000000+00:00",
            "heroku",
            "web.1",
            "State changed from starting to crashed",
            priority=45,
        ),
        router_h10("2025-09-19T12:43:40.000000+00:00", "/orders", "8d4f"),
    ]
    return [sample[:4], sample[4:], aftermath]


def post_logplex(client: httpx.Client, drain_url: str, frames: list[bytes], frame_id: str) -> Any:
    """POST one batch as logplex does; Basic auth comes from the drain URL's userinfo."""
    headers = {
        **LOGPLEX_HEADERS,
        "Logplex-Msg-Count": str(len(frames)),
        "Logplex-Frame-Id": frame_id,
    }
    response = client.post(drain_url, content=b"".join(frames), headers=headers)
    assert response.request.headers["authorization"].startswith("Basic "), "no auth from the URL"
    assert response.status_code == 202, (frame_id, response.status_code, response.text)
    return response.json()


# ---------------------------------------------------------------- Vector (http sink, json, gzip)


def vector_event(line: str, at: datetime) -> dict[str, Any]:
    """Return one event of Vector's `file` source, as its `json` codec writes it."""
    return {
        "file": "/var/log/shop/worker.log",
        "host": "worker-1",
        "message": line,
        "source_type": "file",
        "timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z",
    }


def worker_log(start: datetime) -> list[list[str]]:
    """Return a worker's log lines in two Vector batches; the traceback spans both."""

    def logged(seconds: float, level: str, text: str) -> str:
        at = start + timedelta(seconds=seconds)
        return f"{at:%Y-%m-%d %H:%M:%S},{at.microsecond // 1000:03d} {level} [shop.worker] {text}"

    return [
        [
            logged(0.0, "INFO", "worker started, concurrency=4"),
            logged(0.4, "INFO", "job sync_orders[8812] received"),
            logged(0.5, "ERROR", "job sync_orders[8812] failed"),
            "Traceback (most recent call last):",
            '  File "/app/shop/jobs.py", line 88, in sync_orders',
            "    for line in order.lines:",
        ],
        [
            '  File "/app/.venv/lib/python3.12/site-packages/sqlalchemy/orm/attributes.py", '
            "line 566, in __get__",
            "    return self.impl.get(state, dict_)  # type: ignore[no-any-return]",
            '  File "/app/.venv/lib/python3.12/site-packages/sqlalchemy/util/_concurrency_py3k.py",'
            " line 123, in await_only",
            "    raise exc.MissingGreenlet(",
            MISSING_GREENLET,
        ],
    ]


def vector_body(lines: list[str], read_at: datetime) -> bytes:
    """Return what Vector's http sink sends for `lines`: a gzipped JSON array of events."""
    events = [
        vector_event(line, read_at + timedelta(milliseconds=index))
        for index, line in enumerate(lines)
    ]
    return gzip.compress(json.dumps(events).encode())


# ---------------------------------------------------------------- Render (`render logs -o json`)


def render_messages(text: str) -> list[str]:
    """Return the messages of `render logs -o json` output: pretty-printed objects back to back."""
    decoder, position, messages = json.JSONDecoder(), 0, []
    while position < len(text):
        record, position = decoder.raw_decode(text, position)
        messages.append(record["message"])
        while position < len(text) and text[position].isspace():
            position += 1
    return messages


def lines_in(messages: list[str]) -> int:
    """Return how many non-blank log lines the messages hold (what a source counts)."""
    return sum(1 for message in messages for line in message.splitlines() if line.strip())


# ---------------------------------------------------------------- the check


def test_new_user_heroku_vector_and_render_arrive_within_seconds(
    server: LiveServer, tmp_path: Path
) -> None:
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed: the Render step pipes `render logs -o json` into curl")
    base = server.base

    # Heroku: `drainwatch source add shop`, then the drain URL exactly as the README writes it.
    added = subprocess.run(
        [*drainwatch_cli(), "source", "add", "shop"],
        cwd=server.cwd,
        env={**server.env, "DRAINWATCH_PUBLIC_URL": base},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert added.returncode == 0, added.stdout + added.stderr
    shop_token = added.stdout.splitlines()[0].strip()
    assert shop_token and " " not in shop_token and not shop_token.startswith("#"), added.stdout
    host = urllib.parse.urlsplit(base).netloc
    drain_url = f"http://drain:{shop_token}@{host}/drains/shop"
    assert drain_url in added.stdout, f"`source add` suggests another drain URL:\n{added.stdout}"

    # Everything a shipper would send, prepared before the clock starts.
    batches = heroku_batches()
    frame_ids = [f"7E4EF1B6C2A04D3E9F1A2B3C4D5E6F7{number}" for number in range(len(batches))]
    start = datetime.now(UTC).replace(tzinfo=None)
    worker = worker_log(start)
    render_file = tmp_path / "render-logs.json"
    shutil.copyfile(PAYLOADS / "json_render_logs.json", render_file)
    expected = {
        "shop": sum(len(batch) for batch in batches),
        "worker": sum(len(batch) for batch in worker),
        "api": lines_in(render_messages(render_file.read_text(encoding="utf-8"))),
    }
    pipeline = (
        f"cat {shlex.quote(str(render_file))} | {shlex.quote(curl)} -sS --fail-with-body "
        f'-H "Content-Type: application/json" -H "Authorization: Bearer {INGEST_TOKEN}" '
        f"--data-binary @- {base}/drains/api"
    )

    with httpx.Client(timeout=10) as client:
        began = time.monotonic()
        answers = [
            post_logplex(client, drain_url, batch, frame_id)
            for batch, frame_id in zip(batches, frame_ids, strict=True)
        ]
        for number, batch_lines in enumerate(worker):
            response = client.post(
                f"{base}/drains/worker",
                content=vector_body(batch_lines, start + timedelta(seconds=number)),
                headers=VECTOR_HEADERS,
            )
            assert response.status_code == 202, (response.status_code, response.text)
            answers.append(response.json())
        piped = subprocess.run(
            ["bash", "-o", "pipefail", "-c", pipeline],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert piped.returncode == 0, (piped.returncode, piped.stdout, piped.stderr)
        answers.append(json.loads(piped.stdout))
        sent = time.monotonic() - began

        # Logplex retries a batch with the same frame id: nothing new is stored.
        again = post_logplex(client, drain_url, batches[1], frame_ids[1])

        got = {"shop": 0, "worker": 0, "api": 0}
        for name, answer in zip(["shop"] * 3 + ["worker"] * 2 + ["api"], answers, strict=True):
            assert answer["rejected"] == 0, answer
            got[name] += answer["accepted"]
        assert got == expected, answers
        assert again["accepted"] == 0 and again.get("duplicate") is True, again

        # Poll until every accepted line is matched and its incidents are stored.
        sources: dict[str, Any] = {}
        arrived: dict[str, float] = {}
        deadline = began + POLL_SECONDS
        while True:
            listed = client.get(f"{base}/api/sources", auth=ADMIN).json()["sources"]
            sources = {source["name"]: source for source in listed}
            for name, count in expected.items():
                counts = sources.get(name, {})
                if counts.get("lines_received") == counts.get("lines_processed") == count:
                    arrived.setdefault(name, time.monotonic() - began)
            if len(arrived) == len(expected):
                break
            for name, count in expected.items():
                if name in sources:
                    assert sources[name]["lines_received"] <= count, (name, sources[name])
            assert time.monotonic() < deadline, f"want {expected} lines processed: {sources}"
            time.sleep(0.05)
        elapsed = time.monotonic() - began
        each = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in arrived.items())
        print(f"all three sources processed in {elapsed:.2f} s ({each}; POSTs took {sent:.2f} s)")
        assert elapsed < ARRIVAL_LIMIT_SECONDS, f"{elapsed:.2f} s to process: {sources}"

        # Each source's incidents are open.
        response = client.get(f"{base}/api/incidents", params={"status": "open"}, auth=ADMIN)
        assert response.status_code == 200, response.text
        incidents = response.json()["incidents"]
        opened: dict[str, set[str]] = {}
        for incident in incidents:
            assert incident["status"] == "open", incident
            opened.setdefault(incident["source"], set()).add(incident["signature"])
        print("open incidents:", {name: sorted(found) for name, found in sorted(opened.items())})
        for name, signatures in EXPECTED_SIGNATURES.items():
            assert signatures <= opened.get(name, set()), (name, opened)
        [h10] = [
            i
            for i in incidents
            if i["source"] == "shop" and i["signature"] == "heroku.router-error"
        ]
        assert h10["fields"].get("code") == "H10" and h10["occurrences"] == 3, h10

        # The worker's traceback, one event per line from Vector, is one event.
        [greenlet] = [i for i in incidents if i["source"] == "worker"]
        detail = client.get(f"{base}/api/incidents/{greenlet['id']}", auth=ADMIN).json()
        [event] = detail["events"]
        assert "\nTraceback (most recent call last):\n" in event["text"], event["text"]
        assert event["text"].endswith(MISSING_GREENLET), event["text"]

        # The outage report of one of them.
        report = client.get(f"{base}/incidents/{greenlet['id']}/report.md", auth=ADMIN)
        assert report.status_code == 200, report.text
        assert report.headers["content-type"].startswith("text/markdown"), report.headers
        assert "sqlalchemy.missing-greenlet" in report.text, report.text[:2000]
        # Opened as it happened (the worker's lines carry the current time), not as a backlog.
        assert "later, as it happened." in report.text, report.text[:2000]

        # Logplex's L10 (1043 lines dropped before reaching the drain) is a data gap of `shop`.
        shop = client.get(f"{base}/api/sources/shop", auth=ADMIN).json()
        assert shop["data_gaps"], shop
        assert any("1043" in gap["text"] for gap in shop["data_gaps"]), shop["data_gaps"]
