"""Two `drainwatch serve` processes on one PostgreSQL, taking the same source at once, keep one
open incident per fingerprint and exact counts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.conftest import ADMIN, INGEST_TOKEN, POSTGRES_URL, postgres_schema

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not POSTGRES_URL,
        reason="DRAINWATCH_TEST_DATABASE_URL is not set: PostgreSQL variant skipped",
    ),
]
BATCHES_PER_SERVER = 20
HITS_PER_BATCH = 10


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def shared_database() -> Iterator[str]:
    with postgres_schema() as url:
        yield url


@pytest.fixture
def servers(shared_database: str, tmp_path: Path) -> Iterator[list[str]]:
    from service.db import migrated_engine

    with migrated_engine(shared_database):
        pass  # migrate once, so the two servers do not race on the schema itself
    procs, urls, logs = [], [], []
    for index in range(2):
        port = free_port()
        env = {
            **os.environ,
            "DRAINWATCH_DATABASE_URL": shared_database,
            "DRAINWATCH_SPOOL_DIR": str(tmp_path / f"spool{index}"),
            "DRAINWATCH_INGEST_TOKEN": INGEST_TOKEN,
            "DRAINWATCH_ADMIN_USER": ADMIN[0],
            "DRAINWATCH_ADMIN_PASSWORD": ADMIN[1],
        }
        logs.append(tmp_path / f"serve{index}.log")
        with logs[-1].open("wb") as log:
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "service",
                        "serve",
                        "--port",
                        str(port),
                        "--log-level",
                        "warning",
                    ],
                    env=env,
                    cwd=tmp_path,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                )
            )
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for url, proc in zip(urls, procs, strict=True):
            deadline = time.monotonic() + 30
            while True:
                assert proc.poll() is None, (tmp_path / f"serve{urls.index(url)}.log").read_text()
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=20)


def batch(server: int, number: int) -> str:
    lines = []
    for hit in range(HITS_PER_BATCH):
        second = (server * 1000 + number * HITS_PER_BATCH + hit) % 3600
        lines.append(
            f"2025-09-19 12:{second // 60:02d}:{second % 60:02d},000 - app.auth - ERROR - "
            "NameError: name 'logger' is not defined"
        )
        lines.append('INFO:     10.0.0.1:0 - "GET /api/x HTTP/1.1" 200 OK')
    return "\n".join(lines) + "\n"


def test_two_servers_keep_one_incident_and_exact_counts(servers: list[str]) -> None:
    def send(job: tuple[int, int]) -> int:
        server, number = job
        response = httpx.post(
            f"{servers[server]}/drains/api",
            content=batch(server, number),
            headers={"Authorization": f"Bearer {INGEST_TOKEN}"},
            timeout=30,
        )
        assert response.status_code == 202, response.text
        return int(response.json()["accepted"])

    jobs = [(server, number) for number in range(BATCHES_PER_SERVER) for server in (0, 1)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        accepted = sum(pool.map(send, jobs))
    total_hits = 2 * BATCHES_PER_SERVER * HITS_PER_BATCH
    assert accepted == 2 * total_hits

    deadline = time.monotonic() + 60
    while True:
        source = httpx.get(f"{servers[0]}/api/sources/api", auth=ADMIN, timeout=10).json()
        if source["lines_processed"] == accepted:
            break
        assert time.monotonic() < deadline, source
        time.sleep(0.3)
    incidents = httpx.get(f"{servers[1]}/api/incidents", auth=ADMIN, timeout=10).json()["incidents"]
    assert [(i["signature"], i["status"], i["occurrences"]) for i in incidents] == [
        ("python.name-error", "open", total_hits)
    ]
    assert source["lines_received"] == source["lines_processed"] == accepted
