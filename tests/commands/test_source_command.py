"""`drainwatch source add|list|rotate|remove`: no token is ever replaced by surprise."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from service.app import create_app
from service.cli import main
from service.db import create_db_engine
from service.models import Source
from service.settings import Settings
from service.sources import token_matches
from tests.conftest import ADMIN, INGEST_TOKEN, post_lines

LINE = "2025-09-19 12:55:03,100 - app.auth - ERROR - NameError: name 'logger' is not defined\n"


@pytest.fixture
def env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DRAINWATCH_DATABASE_URL", database_url)
    monkeypatch.setenv("DRAINWATCH_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.setenv("DRAINWATCH_PUBLIC_URL", "https://dw.example")
    monkeypatch.delenv("DRAINWATCH_INGEST_TOKEN", raising=False)
    return database_url


def stored_hash(url: str, name: str) -> str | None:
    engine = create_db_engine(url)
    with Session(engine) as session:
        source = session.exec(select(Source).where(Source.name == name)).one()
    engine.dispose()
    return source.token_hash


def added(capsys: pytest.CaptureFixture[str], name: str) -> str:
    assert main(["source", "add", name]) == 0
    return capsys.readouterr().out.splitlines()[0]


def test_add_prints_the_token_and_its_drain_url(
    env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["source", "add", "billing"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("dw_") and token_matches(out[0], stored_hash(env, "billing"))
    assert f"https://drain:{out[0]}@dw.example/drains/billing" in out[2]


def test_add_on_an_existing_source_refuses_and_keeps_its_token(
    env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    token = added(capsys, "billing")
    assert main(["source", "add", "billing"]) == 2
    out = capsys.readouterr().out
    assert "already exists" in out and "drainwatch source rotate billing" in out
    assert "dw_" not in out
    assert token_matches(token, stored_hash(env, "billing"))


def test_add_gives_a_source_made_by_the_global_token_its_first_token(
    env: str, settings_client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    post_lines(settings_client, "api", LINE)
    settings_client.app.state.runtime.processor.process_all()  # type: ignore[attr-defined]
    assert stored_hash(env, "api") is None
    token = added(capsys, "api")
    assert token_matches(token, stored_hash(env, "api"))


def test_rotate_prints_a_new_token_and_the_old_one_is_refused_by_a_running_server(
    env: str, settings_client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    old = added(capsys, "billing")
    assert _post(settings_client, old).status_code == 202  # the server has cached it now
    assert main(["source", "rotate", "billing"]) == 0
    out = capsys.readouterr().out.splitlines()
    new = out[0]
    assert new.startswith("dw_") and new != old
    assert "previous token is refused" in out[-1]
    assert _post(settings_client, old).status_code == 401
    assert _post(settings_client, new).status_code == 202


def test_rotate_or_remove_an_unknown_source_exits_1(
    env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["source", "rotate", "nope"]) == 1
    assert "drainwatch source add nope" in capsys.readouterr().out
    assert main(["source", "remove", "nope"]) == 1
    assert "no source is called 'nope'" in capsys.readouterr().out


def test_remove_revokes_the_token_and_keeps_the_incidents(
    env: str, settings_client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    token = added(capsys, "billing")
    assert _post(settings_client, token, LINE).status_code == 202
    settings_client.app.state.runtime.processor.process_all()  # type: ignore[attr-defined]
    assert main(["source", "remove", "billing"]) == 0
    out = capsys.readouterr().out
    assert "revoked" in out and "its 1 incident(s)" in out and "kept" in out
    assert _post(settings_client, token).status_code == 401
    incidents = settings_client.get("/api/incidents?source=billing", auth=ADMIN).json()["incidents"]
    assert len(incidents) == 1
    assert stored_hash(env, "billing") is None
    added(capsys, "billing")  # a revoked source takes a new token with `add`


def test_list_shows_counters_and_tokens(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["source", "list"]) == 0
    assert "drainwatch source add NAME" in capsys.readouterr().out
    added(capsys, "billing")
    added(capsys, "api")
    main(["source", "remove", "api"])
    capsys.readouterr()
    assert main(["source", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["NAME", "CREATED", "RECEIVED", "PROCESSED"]
    assert lines[1].split()[0] == "api" and lines[1].split()[-1] == "no"
    assert lines[2].split()[0] == "billing" and lines[2].split()[-1] == "yes"
    assert main(["source", "list", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)["sources"]
    assert [(s["name"], s["has_token"], s["lines_received"]) for s in listed] == [
        ("api", False, 0),
        ("billing", True, 0),
    ]


@pytest.fixture
def settings_client(env: str, tmp_path: Path) -> Iterator[TestClient]:
    """A running server on the database the commands use."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=env,
        spool_dir=tmp_path / "server-spool",
        ingest_token=INGEST_TOKEN,
        admin_user=ADMIN[0],
        admin_password=ADMIN[1],
    )
    with TestClient(create_app(settings, start_processor=False)) as client:
        yield client


def _post(client: TestClient, token: str, body: str = "hello\n") -> httpx.Response:
    return client.post(
        "/drains/billing",
        content=body.encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/plain"},
    )
