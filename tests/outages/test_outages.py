"""Incidents into outages, end to end through `scan`: which join, which stay apart, how an
outage's status and times follow its incidents, and its report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from service.cli import main

TIMEOUT_AND_KILL = """\
[2025-09-24 23:58:31 +0000] [812] [CRITICAL] WORKER TIMEOUT (pid:816)
[2025-09-24 23:58:32 +0000] [812] [ERROR] Worker (pid:816) was sent SIGKILL! Perhaps out of memory?
"""
# The loop notices first; Neon's own error names why only afterwards.
DB_OUTAGE = """\
2025-10-09 07:44:10,000 - server.utils.db_retry - WARNING - [DB_DOWN] op=lead_sync try=1/5 sleep=2s reason=NeonEndpointDisabled
2025-10-09 07:44:14,202 - server.error_handlers - ERROR - [DB_ERROR] GET /api/leads -> 503 SERVICE_UNAVAILABLE: (psycopg2.OperationalError) connection to server at "ep-x-pooler.us-east-2.aws.neon.tech" (198.51.100.23), port 5432 failed: ERROR:  Endpoint has been disabled. Enable it using Neon API and retry.
2025-10-09 07:44:32,301 - server.utils.db_retry - WARNING - [DB_DOWN] op=session_loop try=1/5 sleep=2s reason=NeonEndpointDisabled
2025-10-09 07:47:01,564 - server.utils.db_retry - INFO - [DB_RECOVERED] op=lead_sync after 3 attempts
"""
LOOP_RECOVERED = (
    "2025-10-09 07:47:42,443 - server.utils.db_retry - INFO - "
    "[DB_RECOVERED] op=session_loop after 5 attempts\n"
)
LATER_NAME_ERROR = (
    "2025-10-09 09:30:00,000 - app.auth - ERROR - NameError: name 'logger' is not defined\n"
)


def scan(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> dict[str, Any]:
    path = tmp_path / "api.log"
    path.write_text(text)
    assert main(["scan", str(path), "--format", "json"]) == 0
    payload: dict[str, Any] = json.loads(capsys.readouterr().out)
    return payload


def by_signature(payload: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for incident in payload["incidents"]:
        found.setdefault(incident["signature"], []).append(incident)
    return found


def test_a_worker_timeout_and_the_sigkill_of_its_pid_are_one_outage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = scan(tmp_path, capsys, TIMEOUT_AND_KILL)
    assert len(payload["incidents"]) == 2
    [outage] = payload["outages"]
    timeout = next(i for i in payload["incidents"] if i["fields"]["kind"] == "WORKER TIMEOUT")
    assert outage["cause_id"] == timeout["id"]
    assert sorted(outage["incidents"]) == sorted(i["id"] for i in payload["incidents"])
    assert {i["outage_id"] for i in payload["incidents"]} == {outage["id"]}


def test_a_sigkill_of_another_pid_is_another_outage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = TIMEOUT_AND_KILL.replace("Worker (pid:816)", "Worker (pid:900)")
    payload = scan(tmp_path, capsys, other)
    assert len(payload["outages"]) == 2


def test_the_database_error_becomes_the_cause_of_loops_that_noticed_it_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = scan(tmp_path, capsys, DB_OUTAGE + LOOP_RECOVERED + LATER_NAME_ERROR)
    found = by_signature(payload)
    [neon] = found["neon.endpoint-disabled"]
    loops = found["app.db-outage"]
    assert len(loops) == 2
    db_outage = next(o for o in payload["outages"] if o["id"] == neon["outage_id"])
    assert db_outage["cause_id"] == neon["id"]
    assert sorted(db_outage["incidents"]) == sorted([neon["id"], *(i["id"] for i in loops)])
    # The NameError two hours later is a story of its own.
    [name_error] = found["python.name-error"]
    assert name_error["outage_id"] != db_outage["id"]
    assert len(payload["outages"]) == 2


def test_the_outage_ends_when_every_loop_has_recovered_and_its_cause_with_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = scan(tmp_path, capsys, DB_OUTAGE + LOOP_RECOVERED)
    [outage] = payload["outages"]
    assert outage["status"] == "resolved"
    assert outage["started_at"] == "2025-10-09T07:44:10+00:00"
    assert outage["ended_at"] == "2025-10-09T07:47:42.443000+00:00"
    [neon] = by_signature(payload)["neon.endpoint-disabled"]
    assert (neon["status"], neon["resolution"]) == ("resolved", "recovered")
    assert neon["resolved_at"] == "2025-10-09T07:47:42.443000+00:00"


def test_while_one_loop_is_still_down_the_outage_and_its_cause_stay_open(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = scan(tmp_path, capsys, DB_OUTAGE)
    [outage] = payload["outages"]
    assert (outage["status"], outage["ended_at"]) == ("open", None)
    [neon] = by_signature(payload)["neon.endpoint-disabled"]
    assert neon["status"] == "open"


def test_one_markdown_report_per_outage_names_every_incident(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "api.log"
    path.write_text(DB_OUTAGE + LOOP_RECOVERED + LATER_NAME_ERROR)
    out = tmp_path / "reports"
    assert main(["scan", str(path), "--out", str(out), "--format", "markdown"]) == 0
    printed = capsys.readouterr().out
    files = sorted(out.glob("outage-*.md"))
    assert len(files) == 2
    story = files[0].read_text()
    assert story.startswith("# ") and story.splitlines()[0].endswith("and 2 more incidents")
    assert story.split("\n\n")[1].startswith("- **What broke:**")
    for line in ("| #1 | ", "| #2 | ", "| #3 | "):
        assert line in story
    assert "## Diagnosis of #" in story
    # A single-incident outage is told by that incident's own report.
    assert "| **Incident** |" not in files[1].read_text()
    assert "and 2 more incidents" not in files[1].read_text().splitlines()[0]
    assert printed == "\n\n".join(f.read_text() for f in files)
