"""End to end in one process: post lines, process them, read incidents, reports and pages."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import ADMIN, post_lines

GREENLET = """\
[2025-09-19 12:43:14 +0000] [27] [ERROR] Exception in ASGI application
Traceback (most recent call last):
  File "/opt/render/project/src/app/api/api_v1/endpoints/auth.py", line 212, in refresh_token
    user = db.query(User).filter(User.id == user_id).first()
  File "/opt/render/project/src/.venv/lib/python3.11/site-packages/sqlalchemy/util/_concurrency_py3k.py", line 123, in await_only
    raise exc.MissingGreenlet(
sqlalchemy.exc.MissingGreenlet: greenlet_spawn has not been called; can't call await_only() here. Was IO attempted in an unexpected place? (Background on this error at: https://sqlalche.me/e/20/xd2s)
[2025-09-19 12:43:15 +0000] [27] [INFO] 10.0.0.1 "POST /api/v1/auth/refresh" 500
"""
OUTAGE = """\
2025-09-19 12:50:01,100 - app.loop - WARNING - [DB_DOWN] op=whatsapp_session_loop try=1/5 sleep=2s reason=NeonEndpointDisabled
2025-09-19 12:50:03,100 - app.loop - WARNING - [DB_DOWN] op=whatsapp_session_loop try=2/5 sleep=4s reason=NeonEndpointDisabled
2025-09-19 12:53:03,100 - app.loop - INFO - [DB_RECOVERED] op=whatsapp_session_loop after 3 attempts
"""


def process(runtime: Any) -> None:
    runtime.processor.process_all()


def test_posted_traceback_becomes_one_incident(client: TestClient, runtime: Any) -> None:
    post_lines(client, "api", GREENLET)
    process(runtime)
    incidents = client.get("/api/incidents", auth=ADMIN).json()["incidents"]
    assert [(i["signature"], i["occurrences"], i["source"], i["status"]) for i in incidents] == [
        ("sqlalchemy.missing-greenlet", 1, "api", "open")
    ]
    assert incidents[0]["first_seen"] == "2025-09-19T12:43:14+00:00"


def test_source_counters_meet_once_everything_is_processed(
    client: TestClient, runtime: Any
) -> None:
    post_lines(client, "api", GREENLET)
    before = client.get("/api/sources/api", auth=ADMIN).json()
    assert before["lines_received"] == 8 and before["lines_processed"] == 0
    process(runtime)
    after = client.get("/api/sources/api", auth=ADMIN).json()
    assert after["lines_received"] == after["lines_processed"] == 8
    assert after["last_line_at"] is not None


def test_traceback_split_across_two_posts_counts_once(client: TestClient, runtime: Any) -> None:
    lines = GREENLET.splitlines(keepends=True)
    post_lines(client, "api", "".join(lines[:3]))
    runtime.processor.run_once()
    post_lines(client, "api", "".join(lines[3:]))
    process(runtime)
    incidents = client.get("/api/incidents", auth=ADMIN).json()["incidents"]
    assert [(i["signature"], i["occurrences"]) for i in incidents] == [
        ("sqlalchemy.missing-greenlet", 1)
    ]


def test_db_outage_pair_resolves_with_measured_downtime(client: TestClient, runtime: Any) -> None:
    post_lines(client, "worker", OUTAGE)
    process(runtime)
    [incident] = client.get("/api/incidents?status=resolved", auth=ADMIN).json()["incidents"]
    assert incident["signature"] == "app.db-outage"
    assert incident["fields"]["op"] == "whatsapp_session_loop"
    assert incident["occurrences"] == 2
    detail = client.get(f"/api/incidents/{incident['id']}", auth=ADMIN).json()
    assert [t["kind"] for t in detail["timeline"]] == ["opened", "resolved"]
    assert len(detail["events"]) == 3
    report = client.get(f"/incidents/{incident['id']}/report.md", auth=ADMIN)
    assert report.headers["content-type"].startswith("text/markdown")
    assert "until 2025-09-19 12:53:03 UTC (3 min 2 s)." in report.text
    assert "**Downtime:** 3 min 2 s (to the recovery at 12:53:03)." in report.text
    assert client.get("/api/incidents?status=open", auth=ADMIN).json()["incidents"] == []


def test_report_has_the_sections_of_an_outage_report(client: TestClient, runtime: Any) -> None:
    post_lines(client, "api", GREENLET)
    process(runtime)
    [incident] = client.get("/api/incidents", auth=ADMIN).json()["incidents"]
    text = client.get(f"/incidents/{incident['id']}/report.md", auth=ADMIN).text
    headings = (
        "## Impact",
        "## Trigger",
        "## Root cause analysis",
        "## Resolution",
        "## Verification",
        "## Timeline",
        "## Action items",
        "<summary>Evidence",
    )
    places = [text.index(heading) for heading in headings]
    assert places == sorted(places)
    assert "app/api/api_v1/endpoints/auth.py" in text
    assert "sqlalchemy/util" not in text.split("Where to look")[1].split("## Resolution")[0]


def test_report_is_deterministic(client: TestClient, runtime: Any) -> None:
    post_lines(client, "api", GREENLET)
    process(runtime)
    first = client.get("/incidents/1/report.md", auth=ADMIN).content
    assert client.get("/incidents/1/report.md", auth=ADMIN).content == first


def test_incident_page_escapes_log_text(client: TestClient, runtime: Any) -> None:
    hostile = "2025-09-19 12:55:03,100 - app - ERROR - NameError: name 'logger' is not defined <script>alert(1)</script>\n"
    post_lines(client, "api", hostile)
    process(runtime)
    page = client.get("/incidents/1", auth=ADMIN)
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "<svg" in page.text


def test_secrets_never_reach_the_api(client: TestClient, runtime: Any) -> None:
    secret = "2025-09-19 12:55:03,100 - app - ERROR - NameError: name 'logger' is not defined url=postgresql://app:s3cr3tpass@db:5432/app\n"
    post_lines(client, "api", secret)
    process(runtime)
    detail = client.get("/api/incidents/1", auth=ADMIN).text
    report = client.get("/incidents/1/report.md", auth=ADMIN).text
    assert "s3cr3tpass" not in detail and "s3cr3tpass" not in report
