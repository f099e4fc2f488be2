"""Reports read next to their log: the state from evidence, numbers that name their window."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from service.cli import main
from service.incidents.operator import IncidentUpdate, update_incident
from service.models import Incident
from service.reports.build import build_report
from service.sources import ensure_source
from tests.factories import T0, at

LOGIN_FAILS = (
    "2025-09-19 12:{m}:00,000 - app - ERROR - NameError: name 'logger' is not defined\n"
    '2025-09-19 12:{m}:00,100 - uvicorn.access - INFO: 10.0.0.1:0 - "POST /api/login HTTP/1.1" 500\n'
)
HEALTH = (
    '2025-09-19 12:{m}:00,000 - uvicorn.access - INFO: 10.0.0.9:0 - "GET /health HTTP/1.1" 200\n'
)
ITEMS = (
    '2025-09-19 12:{m}:00,000 - uvicorn.access - INFO: 10.0.0.2:0 - "GET /api/items HTTP/1.1" 200\n'
)


def scan(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[list, str]:
    log = tmp_path / "api.log"
    log.write_text(text)
    assert main(["scan", str(log), "--source", "api", "--format", "json"]) == 0
    incidents = json.loads(capsys.readouterr().out)["incidents"]
    assert main(["scan", str(log), "--source", "api", "--format", "markdown"]) == 0
    return incidents, capsys.readouterr().out


def test_a_deploy_followed_by_health_checks_alone_neither_resolves_nor_is_blamed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = LOGIN_FAILS.format(m="00") + LOGIN_FAILS.format(m="01")
    text += "==> Deploying...\n2025-09-19 12:02:00,000 - app - INFO - booting\n"
    text += "==> Your service is live 🎉\n"
    text += "".join(HEALTH.format(m=m) for m in ("05", "10", "15"))
    text += LOGIN_FAILS.format(m="20") + ITEMS.format(m="21")
    incidents, report = scan(tmp_path, text, capsys)
    [incident] = incidents
    assert (incident["status"], incident["occurrences"], incident["deploy_id"]) == ("open", 3, None)
    assert "no recovery signal" not in report
    assert (
        "**Status:** open: no hit since 12:20:00; 1 request answered 2xx after that, none to the"
        " failing endpoint (`POST /api/login`)."
    ) in report
    assert (
        "**Impact:** 3 of 4 requests failed (75.0 %) from the first hit at 12:00:00 to the end"
        " of the log at 12:21:00 (`POST /api/login`), from 2 client addresses;"
    ) in report
    assert "`POST /api/login` failed 3 of 3 (500)" in report


def test_the_failing_endpoint_answering_after_the_fix_deploy_resolves_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = LOGIN_FAILS.format(m="00") + ITEMS.format(m="00") + LOGIN_FAILS.format(m="01")
    text += "==> Deploying...\n2025-09-19 12:02:00,000 - app - INFO - booting\n"
    text += "==> Your service is live 🎉\n"
    text += HEALTH.format(m="03") + ITEMS.format(m="04")
    text += '2025-09-19 12:05:00,000 - uvicorn.access - INFO: 10.0.0.1:0 - "POST /api/login HTTP/1.1" 200\n'
    text += ITEMS.format(m="06")
    [incident], report = scan(tmp_path, text, capsys)
    assert (incident["status"], incident["resolution"]) == ("resolved", "recovered")
    assert incident["resolved_at"] == "2025-09-19T12:05:00+00:00"
    assert (
        "2 of 4 requests failed (50.0 %) from the first hit at 12:00:00 to the recovery" in report
    )
    assert "at 12:05:00 (`POST /api/login`), from 2 client addresses;" in report
    assert (
        "**Since:** 2025-09-19 12:00:00 UTC, until 2025-09-19 12:05:00 UTC (5 min 0 s)." in report
    )


def test_a_total_outage_says_no_request_was_answered(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = LOGIN_FAILS.format(m="00") + HEALTH.format(m="01") + HEALTH.format(m="02")
    _, report = scan(tmp_path, text, capsys)
    assert "0 server errors" not in report
    assert "1 of 1 requests failed (100.0 %)" in report


def test_a_hand_resolve_ends_the_incident_in_log_time(engine: Engine) -> None:
    with Session(engine) as session:
        source = ensure_source(session, "api", now=T0)
        source.last_log_time = at(600)
        incident = Incident(
            signature="s",
            title="t",
            severity="high",
            source="api",
            fingerprint="f",
            opened_at=T0,
            first_seen=at(0),
            last_seen=at(30),
            occurrences=2,
        )
        session.add(incident)
        session.flush()
        wall_clock = T0.replace(year=2027)
        change = IncidentUpdate(status="resolved")
        update_incident(session, incident, change, user="ann", now=wall_clock)
        assert incident.resolved_at == at(600)
        report = build_report(session, incident, {}, public_url="http://x")
        assert report.duration == "10 min 0 s"
