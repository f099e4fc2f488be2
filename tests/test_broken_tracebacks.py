"""End to end: tracebacks as people paste and ship them, through scan, the API, pages and reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.cli import main
from tests.conftest import ADMIN, post_lines

NOTE = "inferred from the stack frames; the exception line is missing from the log"
CUT = """\
2025-09-19 12:43:14,100 ERROR app.api: request failed
Traceback (most recent call last):
  File "/app/app/api/teams.py", line 66, in team_members
    return [m.user.email for m in team.members]
  File "/app/.venv/lib/python3.11/site-packages/sqlalchemy/util/_concurrency_py3k.py", line 123, in await_only
    raise exc.MissingGreenlet(
2025-09-19 12:43:15,000 INFO app.api: GET /health 200
"""
HEADLESS_NO_ROWS = """\
2025-09-19 12:44:00,100 ERROR app.db: startup step failed
  File "/app/app/db.py", line 40, in run_ddl
    rows = result.fetchall()
  File "/usr/local/lib/python3.11/site-packages/sqlalchemy/engine/cursor.py", line 1566, in _we_dont_return_rows
    raise exc.ResourceClosedError(
"""
GLUED_LOOP_CLOSED = """\
2025-09-19 12:45:00,100 ERROR worker: job failed Traceback (most recent call last):
  File "/app/app/tasks.py", line 31, in _send_digest
    await client.post(url, json=payload)
  File "/usr/local/lib/python3.11/asyncio/base_events.py", line 519, in _check_closed
    raise RuntimeError('Event loop is closed')
RuntimeError: Event loop is closed
"""
DJANGO = """\
Exception Type: OperationalError at /
Exception Value: near "x": syntax error
"""
EXACT_GREENLET = (
    "2025-09-19 12:46:00,100 ERROR app.api: sqlalchemy.exc.MissingGreenlet: greenlet_spawn has "
    "not been called; can't call await_only() here. Was IO attempted in an unexpected place?\n"
)


def scan(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, *args: str) -> str:
    path = tmp_path / "api.log"
    path.write_text(text)
    assert main(["scan", str(path), *args]) == 0
    return capsys.readouterr().out


def scan_incidents(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str
) -> dict[str, dict[str, Any]]:
    payload = json.loads(scan(tmp_path, capsys, text, "--format", "json"))
    return {incident["signature"]: incident for incident in payload["incidents"]}


def test_scan_diagnoses_every_broken_shape_with_its_confidence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    found = scan_incidents(tmp_path, capsys, CUT + HEADLESS_NO_ROWS + GLUED_LOOP_CLOSED)
    assert {name: incident["confidence"] for name, incident in found.items()} == {
        "sqlalchemy.missing-greenlet": "inferred",
        "sqlalchemy.result-no-rows": "inferred",
        "asyncio.loop-mismatch": "exact",
    }
    assert found["asyncio.loop-mismatch"]["fields"] == {"symptom": "Event loop is closed"}
    assert found["sqlalchemy.missing-greenlet"]["first_seen"] == "2025-09-19T12:43:14.100000+00:00"


def test_scan_reads_a_django_summary_as_the_exception_it_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    found = scan_incidents(tmp_path, capsys, DJANGO)
    assert list(found) == ["python.unhandled-exception"]
    incident = found["python.unhandled-exception"]
    assert incident["confidence"] == "exact"
    assert incident["fields"]["exception"] == "OperationalError"
    assert incident["fields"]["message"] == 'near "<str>": syntax error'


def test_an_exact_hit_makes_an_inferred_incident_exact(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    found = scan_incidents(tmp_path, capsys, CUT + EXACT_GREENLET)
    incident = found["sqlalchemy.missing-greenlet"]
    assert (incident["occurrences"], incident["confidence"]) == (2, "exact")


def test_scan_text_and_markdown_say_the_diagnosis_is_inferred(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = scan(tmp_path, capsys, CUT)
    assert f"confidence inferred: {NOTE}" in text
    report = scan(tmp_path, capsys, CUT, "--format", "markdown")
    [broke] = [line for line in report.splitlines() if line.startswith("- **What broke:**")]
    assert broke.endswith(f"The diagnosis is {NOTE}.")


def test_an_exact_report_says_nothing_about_confidence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = scan(tmp_path, capsys, EXACT_GREENLET, "--format", "markdown")
    assert "Confidence" not in report and NOTE not in report


def test_api_page_and_report_show_an_inferred_incident(client: TestClient, runtime: Any) -> None:
    post_lines(client, "api", CUT)
    runtime.processor.process_all()
    (incident,) = client.get("/api/incidents", auth=ADMIN).json()["incidents"]
    assert (incident["signature"], incident["confidence"]) == (
        "sqlalchemy.missing-greenlet",
        "inferred",
    )
    detail = client.get(f"/api/incidents/{incident['id']}", auth=ADMIN).json()
    assert detail["confidence"] == "inferred"
    page = client.get(f"/incidents/{incident['id']}", auth=ADMIN).text
    assert '<span class="confidence confidence-inferred">inferred</span>' in page
    assert NOTE in page
    report = client.get(f"/incidents/{incident['id']}/report.md", auth=ADMIN).text
    assert f"The diagnosis is {NOTE}." in report


def test_api_shows_an_exact_incident_as_exact(client: TestClient, runtime: Any) -> None:
    post_lines(client, "api", EXACT_GREENLET)
    runtime.processor.process_all()
    (incident,) = client.get("/api/incidents", auth=ADMIN).json()["incidents"]
    assert incident["confidence"] == "exact"
    page = client.get(f"/incidents/{incident['id']}", auth=ADMIN).text
    assert '<span class="confidence confidence-exact">exact</span>' in page
    assert NOTE not in page


def test_a_logged_stack_dump_is_no_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dump = (
        "2025-09-19 12:47:00,100 WARNING app.sync: slow batch\n"
        "Stack (most recent call last):\n"
        '  File "/app/main.py", line 3, in <module>\n'
        "    main()\n"
        '  File "/usr/lib/python3.11/asyncio/base_events.py", line 640, in run_until_complete\n'
        "    self.run_forever()\n"
        '  File "/app/app/sync.py", line 9, in run\n'
        '    log.warning("slow batch", stack_info=True)\n'
    )
    assert scan_incidents(tmp_path, capsys, dump) == {}


def test_a_headless_traceback_of_an_unknown_exception_falls_to_the_generic_signature(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pasted = (
        '  File "/app/app/leads.py", line 3, in get_lead\n'
        "    return query.one()\n"
        "sqlalchemy.orm.exc.NoResultFound: No row was found when one was required\n"
    )
    found = scan_incidents(tmp_path, capsys, pasted)
    incident = found["python.unhandled-exception"]
    assert incident["confidence"] == "exact"
    assert incident["fields"]["exception"] == "sqlalchemy.orm.exc.NoResultFound"
    assert incident["fields"]["frame"] == "/app/app/leads.py:get_lead"
