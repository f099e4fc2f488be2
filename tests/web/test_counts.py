"""Source counters: a line is counted once while the processor moves it from spool to database."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ADMIN, post_lines

LINES = "[2025-09-19 12:43:14 +0000] [27] [INFO] GET /health 200\n" * 7


def counters(client: TestClient, name: str = "api") -> tuple[int, int]:
    body = client.get(f"/api/sources/{name}", auth=ADMIN).json()
    return body["lines_received"], body["lines_processed"]


def test_waiting_lines_count_as_received(client: TestClient) -> None:
    post_lines(client, "api", LINES)
    assert counters(client) == (7, 0)
    listed = client.get("/api/sources", auth=ADMIN).json()["sources"]
    assert [(s["name"], s["lines_received"], s["created_at"]) for s in listed] == [("api", 7, None)]


def test_a_batch_stored_but_not_yet_acknowledged_is_counted_once(
    client: TestClient, runtime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    post_lines(client, "api", LINES)
    # The moment between the processor's commit and its acknowledgement of the spool.
    monkeypatch.setattr(runtime.spool, "ack", lambda seqs: None)
    runtime.processor.run_once(force_flush=True)
    assert len(runtime.spool.pending()) == 1
    assert counters(client) == (7, 7)
    page = client.get("/sources", auth=ADMIN).text
    assert page.count('<td class="num">7</td>') == 2


def test_pages_show_the_last_line_as_they_show_times(client: TestClient, runtime: Any) -> None:
    post_lines(client, "api", LINES)
    assert "<td>never</td>" in client.get("/sources", auth=ADMIN).text
    runtime.processor.process_all()
    page = client.get("/sources", auth=ADMIN).text
    row = page.split('<a href="/sources/api">api</a></td>', 1)[1].split("</tr>", 1)[0]
    # The last line's log time and its arrival, both as the pages show times.
    assert row.count("UTC") == 2 and "T" not in row.replace("UTC", "")
