"""Error-level lines no signature explains become `log.error-template` incidents, and only they."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from service.cli import main
from service.incidents.intake import apply_events
from service.incidents.nearby import IntakeState
from service.ingest.assemble import assemble
from service.ingest.headers import parse_text
from service.models import Incident, TimelineEntry
from service.signatures.engine import Matcher
from service.signatures.loader import load_signatures

BUNDLED = Path(__file__).resolve().parents[2] / "patterns"
NOW = datetime(2025, 12, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return load_signatures([BUNDLED]).matcher()


def scan(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> list[dict[str, Any]]:
    log = tmp_path / "app.log"
    log.write_text(text, encoding="utf-8")
    assert main(["scan", str(log), "--format", "json"]) == 0
    incidents: list[dict[str, Any]] = json.loads(capsys.readouterr().out)["incidents"]
    return incidents


def templates(incidents: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return sorted(
        (i["title"], i["occurrences"]) for i in incidents if i["signature"] == "log.error-template"
    )


def test_an_unknown_error_line_opens_a_low_incident_titled_by_its_template(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    incidents = scan(
        tmp_path,
        capsys,
        "2025-10-02 10:02:14,551 ERROR payment provider declined card for order 8812\n"
        "2025-10-02 10:02:15,551 ERROR payment provider declined card for order 8813\n",
    )
    assert len(incidents) == 1
    (incident,) = incidents
    assert incident["signature"] == "log.error-template"
    assert incident["severity"] == "low"
    assert incident["title"] == "payment provider declined card for order <num>"
    assert incident["occurrences"] == 2
    assert incident["fields"] == {"template": "payment provider declined card for order <num>"}


@pytest.mark.parametrize(
    "line",
    [
        "[2025-10-02 10:02:14 +0000] [12] [ERROR] quota sync aborted for account 77",
        '2025-10-02T10:02:14Z level=error msg="quota sync aborted for account 77"',
        '{"time": "2025-10-02T10:02:14Z", "level": "error", "msg": "quota sync aborted for account 77"}',
        "2025-10-02 10:02:14,551 - app.sync - CRITICAL - quota sync aborted for account 77",
        "2025-10-02T10:02:14.000000+00:00 app[web.1]: ERROR quota sync aborted for account 77",
    ],
)
def test_every_way_of_writing_the_level_gives_the_same_template(
    line: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert templates(scan(tmp_path, capsys, line + "\n")) == [
        ("quota sync aborted for account <num>", 1)
    ]


@pytest.mark.parametrize(
    "line",
    [
        "2025-10-02 10:02:14,551 WARNING payment provider declined card for order 8812",
        "2025-10-02 10:02:14,551 INFO payment provider declined card for order 8812",
        '2025-10-02T10:02:14Z level=warn msg="payment declined" err="card expired"',
        '2025-10-02 10:02:14,551 INFO level=error msg="handled: payment declined"',
        "[2025-09-25 00:00:01 +0000] [812] [ERROR] Worker (pid:815) was sent SIGHUP!",
        '2025-10-02 10:04:14,601 ERROR   File "/app/mail.py", line 3, in send',
        "2025-10-02 10:04:14,601 ERROR Traceback (most recent call last):",
    ],
)
def test_handled_warnings_and_healthy_error_lines_open_nothing(
    line: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert scan(tmp_path, capsys, line + "\n") == []


def test_an_error_line_a_signature_matches_opens_no_template_incident(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    incidents = scan(
        tmp_path,
        capsys,
        "2025-10-02 10:02:14,551 ERROR sqlalchemy.exc.MissingGreenlet: greenlet_spawn has not "
        "been called; can't call await_only() here.\n"
        "2025-10-02 10:02:15,551 ERROR [DB_DOWN] op=sync try=1/5 sleep=2s reason=X\n"
        "2025-10-02 10:02:16,551 ERROR KeyError: 'lead'\n",
    )
    signatures = sorted(i["signature"] for i in incidents)
    assert signatures == [
        "app.db-outage",
        "python.unhandled-exception",
        "sqlalchemy.missing-greenlet",
    ]


def test_a_template_new_since_the_deploy_says_so_in_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "app.log"
    log.write_text(
        "2025-10-02T10:00:00Z ==> Checking out commit cf7e3d79b2a64c1d8e5f0a3b in branch main\n"
        "2025-10-02T10:00:30Z ==> Deploying...\n"
        "2025-10-02T10:01:00Z ==> Your service is live\n"
        "2025-10-02 10:02:14,551 ERROR invoice 5521 could not be rendered\n",
        encoding="utf-8",
    )
    assert main(["scan", str(log), "--format", "markdown"]) == 0
    # The report escapes markdown and HTML; what a reader sees is the unescaped text.
    report = html.unescape(capsys.readouterr().out.replace("\\", ""))
    assert "| first-seen | first seen after deploy cf7e3d79b2a6 (render) |" in report
    assert report.startswith("# Low: `invoice 5521 could not be rendered` on `app`\n")
    assert "- **What broke:** invoice <num> could not be rendered: `invoice 5521" in report


def test_a_template_seen_before_the_deploy_is_not_new_after_it(
    engine: Engine, matcher: Matcher
) -> None:
    text = (
        "2025-10-02 09:00:00,000 ERROR invoice 5521 could not be rendered\n"
        "2025-10-02T10:00:00Z ==> Deploying...\n"
        "2025-10-02T10:01:00Z ==> Your service is live\n"
        "2025-10-02 11:30:00,000 ERROR invoice 5522 could not be rendered\n"
    )
    with Session(engine) as session:
        apply_events(session, matcher, events(text), now=NOW)
        incidents = session.exec(select(Incident).order_by(Incident.id)).all()  # type: ignore[arg-type]
        assert [i.status for i in incidents] == ["resolved", "open"]
        assert incidents[1].previous_id == incidents[0].id
        # The first went quiet, never shown fixed: the deploy after it did not bring it back.
        assert incidents[0].resolution == "quiet" and incidents[1].deploy_id is None
        kinds = session.exec(select(TimelineEntry.kind)).all()
        assert "first-seen" not in kinds


def test_a_restart_keeps_the_grouping_of_an_open_template(engine: Engine, matcher: Matcher) -> None:
    first = (
        "2025-10-02 10:00:00,000 ERROR user alice could not be synced\n"
        "2025-10-02 10:00:01,000 ERROR user bob could not be synced\n"
    )
    with Session(engine) as session:
        apply_events(session, matcher, events(first), now=NOW, state=IntakeState())
        session.commit()
    later = "2025-10-02 10:05:00,000 ERROR user dave could not be synced\n"
    with Session(engine) as session:
        apply_events(session, matcher, events(later), now=NOW, state=IntakeState())
        session.commit()
        incidents = session.exec(select(Incident)).all()
        assert [(i.title, i.occurrences) for i in incidents] == [
            ("user <*> could not be synced", 3)
        ]


def events(text: str) -> list[Any]:
    return assemble(parse_text(text, source="api"), gap_seconds=5.0)


def test_a_restored_intake_state_keeps_the_templates_it_learnt() -> None:
    state = IntakeState()
    checkpoint = state.checkpoint()
    state.templates.learn("api", "kind1 failed")
    state.restore(checkpoint)
    assert state.templates.templates("api") == ["kind1 failed"]
