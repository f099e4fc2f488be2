"""Harness: generated hostile requests against drainwatch; no answer may be a server error.

    .venv/bin/python bench/fuzz.py [--requests 10000] [--seed N]

Part 1: the hypothesis strategies of `tests/hostile.py` (random bytes, truncated and lying gzip,
wrong and missing content types, deep and huge JSON, invalid UTF-8, NULs, absurd times, mixed good
and bad lines, odd paths and query strings) against the app in process, on a temporary SQLite
database; then the processor drains the spool and every source must add up
(received = processed + quarantined).
Part 2: raw sockets against a real `drainwatch serve`: absurd declared lengths, broken chunked
encoding, bodies cut short, header floods.
Part 3: schemathesis against the server's own `/openapi.json` (as the admin): every operation,
its coverage, fuzzing and stateful phases, checked with `not_a_server_error`.
Prints the answers by status code; exits 1 on any answer >= 500.
"""

from __future__ import annotations

import argparse
import base64
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient  # noqa: E402
from hypothesis import HealthCheck, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from service.app import create_app  # noqa: E402
from service.settings import Settings  # noqa: E402
from tests.conftest import ADMIN, INGEST_TOKEN  # noqa: E402
from tests.hostile import HostileRequest, ingest_requests, read_requests  # noqa: E402
from tests.live_server import live_server  # noqa: E402


def in_process(count: int, seed_value: int) -> tuple[Counter[int], list[str], list[dict[str, Any]]]:
    """Send `count` generated requests to the app; return statuses, server errors, sources."""
    statuses: Counter[int] = Counter()
    errors: list[str] = []
    with tempfile.TemporaryDirectory(prefix="drainwatch-fuzz-") as name:
        directory = Path(name)
        app_settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=f"sqlite:///{directory / 'drainwatch.db'}",
            spool_dir=directory / "spool",
            ingest_token=INGEST_TOKEN,
            admin_user=ADMIN[0],
            admin_password=ADMIN[1],
        )
        app = create_app(app_settings, start_processor=False)
        with TestClient(app, raise_server_exceptions=False) as client:

            @seed(seed_value)
            @settings(
                max_examples=count,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(st.one_of(ingest_requests(INGEST_TOKEN), read_requests()))
            def send(request: HostileRequest) -> None:
                headers = {k: v.encode("utf-8") for k, v in request.headers.items()}
                auth = ADMIN if request.method == "GET" else None
                response = client.request(
                    request.method, request.path, headers=headers, content=request.body, auth=auth
                )
                statuses[response.status_code] += 1
                if response.status_code >= 500:
                    errors.append(f"{response.status_code} {request!r}"[:300])

            send()
            app.state.runtime.processor.process_all()
            sources = client.get("/api/sources", auth=ADMIN).json()["sources"]
    return statuses, errors, sources


RAW = [
    b"POST /drains/api HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\n"
    b"Content-Type: text/plain\r\nContent-Length: 1000000000000000\r\n\r\nERROR boom\n",
    b"POST /drains/api HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\n"
    b"Content-Type: text/plain\r\nContent-Length: -5\r\n\r\nERROR boom\n",
    b"POST /drains/api HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\n"
    b"Content-Type: text/plain\r\nContent-Length: abc\r\n\r\nERROR boom\n",
    b"POST /drains/api HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\n"
    b"Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nERROR\r\n0\r\n\r\n",
    b"POST /drains/api HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\n"
    b"Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffff\r\nab\r\n",
    b"POST /drains/api HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\n"
    b"Content-Type: text/plain\r\nContent-Length: 100\r\n\r\nshort",
    b"POST /drains/api HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\n"
    b"Content-Type: text/plain\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\n\x1f\x8b\x08\x00",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Flood: a\r\n" * 2000 + b"\r\n",
    b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,
]


def raw_requests() -> Counter[str]:
    """Send the RAW requests to a real server; return the first status line of each answer."""
    answers: Counter[str] = Counter()
    with tempfile.TemporaryDirectory(prefix="drainwatch-fuzz-raw-") as name:
        with live_server(Path(name)) as server:
            for template in RAW:
                payload = template.replace(b"{t}", INGEST_TOKEN.encode())
                with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
                    try:
                        sock.sendall(payload)
                        sock.shutdown(socket.SHUT_WR)
                        data = sock.recv(200)
                    except OSError as error:
                        data = f"({type(error).__name__})".encode()
                line = data.split(b"\r\n", 1)[0].decode("latin-1") or "(closed, no answer)"
                answers[line] += 1
    return answers


def schemathesis_run(examples: int) -> tuple[int, str]:
    """Run schemathesis on a real server; return its exit status and its summary lines."""
    with tempfile.TemporaryDirectory(prefix="drainwatch-fuzz-st-") as name:
        with live_server(Path(name)) as server:
            credentials = base64.b64encode(f"{ADMIN[0]}:{ADMIN[1]}".encode()).decode()
            done = subprocess.run(  # noqa: S603 (our own venv's schemathesis)
                [
                    str(Path(sys.executable).with_name("schemathesis")),
                    "run",
                    f"{server.base}/openapi.json",
                    "--header",
                    f"Authorization: Basic {credentials}",
                    "--checks",
                    "not_a_server_error",
                    "--max-examples",
                    str(examples),
                    "--no-color",
                ],
                capture_output=True,
                text=True,
                check=False,
            )
    found = re.search(r"Test cases:\s*\n\s*(.+)", done.stdout)
    return done.returncode, found.group(1).strip() if found else done.stdout[-500:]


def main() -> int:
    """Run both parts and print their figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--schemathesis-examples", type=int, default=30)
    args = parser.parse_args()
    started = time.monotonic()
    statuses, errors, sources = in_process(args.requests, args.seed)
    seconds = time.monotonic() - started
    print(f"generated requests            {sum(statuses.values())} in {seconds:.0f} s")
    print(
        "answers by status             "
        + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items()))
    )
    bad = [
        s for s in sources if s["lines_received"] != s["lines_processed"] + s["lines_quarantined"]
    ]
    received = sum(s["lines_received"] for s in sources)
    processed = sum(s["lines_processed"] for s in sources)
    quarantined = sum(s["lines_quarantined"] for s in sources)
    print(f"lines received / processed / quarantined  {received} / {processed} / {quarantined}")
    print(f"sources that do not add up    {len(bad)}")
    raw = raw_requests()
    print("raw-socket answers            " + "; ".join(f"{k!r} x{v}" for k, v in raw.items()))
    raw_errors = sum(
        v for k, v in raw.items() if k.split(" ")[1:2] and k.split(" ")[1].startswith("5")
    )
    status, summary = schemathesis_run(args.schemathesis_examples)
    print(f"schemathesis /openapi.json    {summary} (exit {status})")
    server_errors = len(errors) + raw_errors + (status != 0)
    print(f"answers >= 500                {server_errors}")
    for line in errors[:20]:
        print("  " + line)
    return 0 if server_errors == 0 and not bad else 1


if __name__ == "__main__":
    sys.exit(main())
