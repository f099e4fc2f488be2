"""`db upgrade`, `source add`, `report`, the first user's password, and `python -m service`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import Session, select

from service.app import build_runtime
from service.cli import main
from service.db import create_db_engine
from service.dbsetup import DatabaseSetup
from service.models import Source, User
from service.settings import Settings
from service.sources import token_matches
from service.users import verify_password

ROOT = Path(__file__).resolve().parents[2]
LOG = "2025-09-19 12:55:03,100 - app.auth - ERROR - NameError: name 'logger' is not defined\n"


@pytest.fixture
def env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DRAINWATCH_DATABASE_URL", database_url)
    monkeypatch.setenv("DRAINWATCH_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.delenv("DRAINWATCH_ADMIN_PASSWORD", raising=False)
    return database_url


def test_db_upgrade_then_source_add_prints_a_token_stored_hashed(
    env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "upgrade"]) == 0
    assert main(["source", "add", "billing"]) == 0
    token = capsys.readouterr().out.splitlines()[1]
    assert token.startswith("dw_")
    engine = create_db_engine(env)
    with Session(engine) as session:
        source = session.exec(select(Source).where(Source.name == "billing")).one()
    engine.dispose()
    assert source.token_hash != token and token_matches(token, source.token_hash)


def test_source_add_refuses_a_bad_name(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["source", "add", "no spaces/allowed"]) == 2
    assert "source name" in capsys.readouterr().out


def test_report_renders_a_stored_incident(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "api.log"
    log.write_text(LOG)
    assert main(["scan", str(log), "--database", env]) == 0
    capsys.readouterr()
    out = tmp_path / "report.md"
    assert main(["report", "1", "--out", str(out)]) == 0
    assert out.read_text().startswith(
        "# Medium: `NameError: name 'logger' is not defined` on `api`"
    )
    assert main(["report", "999"]) == 1


def test_first_start_generates_the_admin_password_once(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runtime = build_runtime(Settings(_env_file=None))  # type: ignore[call-arg]
    printed = capsys.readouterr().err
    password = printed.split("password ")[1].split()[0]
    with Session(runtime.engine) as session:
        user = session.exec(select(User)).one()
    assert user.username == "admin" and user.password_hash != password
    assert verify_password(password, user.password_hash)
    assert DatabaseSetup(runtime.engine, runtime.settings).attempt()  # the next start
    assert capsys.readouterr().err == ""
    runtime.spool.close()
    runtime.engine.dispose()


def test_python_dash_m_service_is_the_same_program() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "service", "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    for command in ("serve", "scan", "patterns", "source", "report", "db"):
        assert command in result.stdout


def test_incident_ack_note_and_resolve_from_the_command_line(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "api.log"
    log.write_text(LOG)
    assert main(["scan", str(log), "--database", env]) == 0
    capsys.readouterr()
    assert main(["incident", "ack", "1"]) == 0
    assert main(["incident", "note", "1", "--owner", "maya", "--note", "restoring the import"]) == 0
    assert main(["incident", "resolve", "1", "--fix-commit", "a939863"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("#1 resolved python.name-error")
    assert main(["incident", "ack", "1"]) == 1
    assert main(["incident", "ack", "42"]) == 1
    out = tmp_path / "report.md"
    main(["report", "1", "--out", str(out)])
    report = out.read_text()
    assert "maya" in report and "a939863" in report and "restoring the import" in report
