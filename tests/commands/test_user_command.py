"""`drainwatch user add|passwd|remove|list`: passwords from a prompt or stdin, never argv."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlmodel import Session

from service.accounts import find_user
from service.cli import main
from service.db import create_db_engine, session_scope, utcnow
from service.users import authenticate, ensure_admin, start_login, user_for_token


@pytest.fixture
def env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DRAINWATCH_DATABASE_URL", database_url)
    assert main(["db", "upgrade"]) == 0
    engine = create_db_engine(database_url)
    with session_scope(engine) as session:
        ensure_admin(session, "admin", "first admin password", now=utcnow())
    engine.dispose()
    return database_url


def piped(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


def can_log_in(url: str, name: str, password: str) -> bool:
    engine = create_db_engine(url)
    with Session(engine) as session:
        found = authenticate(session, name, password) is not None
    engine.dispose()
    return found


def test_add_reads_the_password_from_piped_stdin(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    piped(monkeypatch, "maya's password\n")
    assert main(["user", "add", "maya"]) == 0
    assert "created" in capsys.readouterr().out
    assert can_log_in(env, "maya", "maya's password")
    assert main(["user", "list"]) == 0
    assert capsys.readouterr().out.splitlines() == ["admin  (admin)", "maya"]


def test_add_admin_prompts_twice_on_a_terminal(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    typed = iter(["typed password", "typed password"])
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(typed))
    assert main(["user", "add", "ops", "--admin"]) == 0
    assert "(admin)" in capsys.readouterr().out
    assert can_log_in(env, "ops", "typed password")


def test_two_different_typed_passwords_are_refused(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    typed = iter(["one password", "another password"])
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(typed))
    assert main(["user", "add", "ops"]) == 2
    assert "differ" in capsys.readouterr().err


def test_the_password_is_no_argument() -> None:
    with pytest.raises(SystemExit):
        main(["user", "add", "maya", "--password", "secret-secret"])


def test_add_refuses_a_taken_name_a_bad_name_a_short_password_and_empty_stdin(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    piped(monkeypatch, "long enough password\n")
    assert main(["user", "add", "admin"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["user", "add", "no spaces"]) == 2
    assert "user name" in capsys.readouterr().err
    piped(monkeypatch, "short\n")
    assert main(["user", "add", "maya"]) == 2
    assert "at least 8" in capsys.readouterr().err
    piped(monkeypatch, "")
    assert main(["user", "add", "maya"]) == 2
    assert "no password on stdin" in capsys.readouterr().err


def test_passwd_changes_the_password_and_ends_the_user_s_logins(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = create_db_engine(env)
    with session_scope(engine) as session:
        admin = find_user(session, "admin")
        assert admin is not None
        cookie = start_login(session, admin, now=utcnow())
    piped(monkeypatch, "the new admin password\n")
    assert main(["user", "passwd", "admin"]) == 0
    assert can_log_in(env, "admin", "the new admin password")
    assert not can_log_in(env, "admin", "first admin password")
    with Session(engine) as session:
        assert user_for_token(session, cookie, now=utcnow()) is None
    engine.dispose()
    assert main(["user", "passwd", "nobody"]) == 2
    assert "no user is called 'nobody'" in capsys.readouterr().err


def test_remove_refuses_the_last_admin(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["user", "remove", "admin"]) == 2
    assert "last admin" in capsys.readouterr().err
    piped(monkeypatch, "second admin password\n")
    assert main(["user", "add", "ops", "--admin"]) == 0
    assert main(["user", "remove", "admin"]) == 0
    assert not can_log_in(env, "admin", "first admin password")
    assert main(["user", "remove", "admin"]) == 2
