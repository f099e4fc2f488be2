"""Deploy times the log did not give: a lent time says "about", an unknown start says so."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from service.cli import main
from service.incidents.deploys import borrowed_times, deploy_marker, record_marker
from service.models import Deploy
from service.sources import ensure_source
from tests.factories import T0, at


def mark(session: Session, message: str, seconds: float | None, *, approx: bool = False) -> Deploy:
    marker = deploy_marker(message)
    assert marker is not None
    time = at(seconds) if seconds is not None else None
    deploy = record_marker(session, "api", marker, time=time, text=message, approx=approx)
    assert deploy is not None
    return deploy


def test_a_lent_time_is_told_from_a_logged_one(engine: Engine) -> None:
    with Session(engine) as session:
        ensure_source(session, "api", now=T0)
        mark(session, "==> Deploying...", 0)
        deploy = mark(session, "==> Exited with status 1", 20, approx=True)
        assert borrowed_times(session, deploy) == {"failed"}


def test_a_deploy_first_seen_failing_has_no_start(engine: Engine) -> None:
    with Session(engine) as session:
        ensure_source(session, "api", now=T0)
        deploy = mark(session, "==> Deploying...", None)
        deploy = mark(session, "==> Exited with status 1", 20, approx=True)
        assert (deploy.started_at, deploy.failed_at, deploy.status) == (None, at(20), "failed")


CRASH = """\
==> Deploying...
2025-10-27 14:02:10,973 [INFO] app: Starting
Traceback (most recent call last):
  File "/app/main.py", line 3, in <module>
    engine = create_async_engine(URL, poolclass=QueuePool)
sqlalchemy.exc.ArgumentError: Pool class QueuePool cannot be used with asyncio engine
==> Exited with status 1
2025-10-27 14:02:27,892 [INFO] app: Starting
==> Cloning from https://github.com/acme/api
"""


def test_the_trigger_says_in_words_what_the_log_does_not_give(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "render.log"
    log.write_text(CRASH)
    assert main(["scan", str(log), "--source", "api", "--format", "markdown"]) == 0
    report = capsys.readouterr().out
    assert "whose start the log gives no time for, and failed at about 14:02:10" in report
    assert "| about 2025-10-27 14:02:10 UTC | deploy failed |" in report
    assert "unknown" not in report.split("## Trigger")[1].split("##")[0]
    assert "?" not in report.split("## Trigger")[1].split("##")[0]
