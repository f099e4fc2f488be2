"""Lines whose own time is outside the sane years: kept, and counted per source with the reason on
`/api/sources/NAME`, `/sources` and `/metrics`."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient

from tests.conftest import ADMIN, INGEST_TOKEN, post_lines

# 9999-12-31T23:59:59Z as Unix epoch nanoseconds (a JSON number: a string holds 19 digits at most).
YEAR_9999_NS = 253402300799 * 10**9


def loki_push(client: TestClient, values: list[list[object]]) -> dict[str, object]:
    body = {"streams": [{"stream": {"app": "billing"}, "values": values}]}
    response = client.post(
        "/loki/api/v1/push",
        content=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {INGEST_TOKEN}", "Content-Type": "application/json"},
    )
    assert response.status_code == 202, response.text
    answer: dict[str, object] = response.json()
    return answer


def test_out_of_range_line_times_are_counted_per_source(client: TestClient) -> None:
    post_lines(client, "api", "0001-01-01T00:00:00Z ERROR a\n2026-12-03T10:00:00Z INFO b\n")
    post_lines(client, "api", "9999-12-31T23:59:59Z ERROR c\n")
    post_lines(client, "web", "2026-12-03T10:00:00Z INFO fine\n")
    api = client.get("/api/sources/api", auth=ADMIN).json()
    assert api["times_ignored"] == 2
    assert api["times_ignored_reasons"] == {"time_out_of_range": 2}
    assert api["lines_received"] == 3  # kept, only their times dropped
    web = client.get("/api/sources/web", auth=ADMIN).json()
    assert web["times_ignored"] == 0 and web["times_ignored_reasons"] == {}
    listed = {s["name"]: s for s in client.get("/api/sources", auth=ADMIN).json()["sources"]}
    assert listed["api"]["times_ignored"] == 2


def test_an_envelope_time_out_of_range_is_ignored_and_counted(client: TestClient) -> None:
    answer = loki_push(client, [[YEAR_9999_NS, "ERROR far future"], ["1764756000000000000", "ok"]])
    assert answer["accepted"] == 2 and answer["times_ignored"] == 1
    billing = client.get("/api/sources/billing", auth=ADMIN).json()
    assert billing["times_ignored_reasons"] == {"time_out_of_range": 1}


def test_a_repeated_logplex_frame_is_not_counted_twice(client: TestClient) -> None:
    frame = "45 <190>1 9999-12-31T23:59:59Z host app web.1 - x"
    for _ in range(2):
        response = client.post(
            "/drains/api",
            content=frame.encode(),
            headers={
                "Authorization": f"Bearer {INGEST_TOKEN}",
                "Content-Type": "application/logplex-1",
                "Logplex-Frame-Id": "frame-1",
            },
        )
        assert response.status_code == 202, response.text
    assert client.get("/api/sources/api", auth=ADMIN).json()["times_ignored"] == 1


def test_the_sources_page_and_metrics_show_the_count(client: TestClient) -> None:
    post_lines(client, "api", "0001-01-01T00:00:00Z ERROR a\n")
    page = client.get("/sources", auth=ADMIN).text
    row = re.search(
        r'<tr>\s*<td class="mono"><a href="/sources/api">api</a></td>(.*?)</tr>', page, re.S
    )
    assert row is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    headers = re.findall(r"<th[^>]*>(.*?)</th>", page.split("</thead>")[0])
    assert cells[headers.index("Times ignored") - 1] == "1"
    metrics = client.get("/metrics", auth=ADMIN).text
    assert 'drainwatch_source_times_ignored{reason="time_out_of_range",source="api"} 1.0' in metrics
