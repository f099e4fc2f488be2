"""Users and admins: the migration keeps every existing user's powers, the configured admin is
always an admin, and the last admin stays."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text
from sqlmodel import Session

from service.accounts import AccountError, add_user, find_user, remove_user
from service.db import MIGRATIONS_DIR, create_db_engine, session_scope, upgrade_schema, utcnow
from service.users import ensure_admin


def _upgrade(engine: Engine, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def test_users_made_before_admins_existed_become_admins(database_url: str) -> None:
    engine = create_db_engine(database_url)
    _upgrade(engine, "0011_waits_and_incident_indexes")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO app_user (username, password_hash, created_at) "
                "VALUES ('old', 'x', '2026-01-01 00:00:00')"
            )
        )
    upgrade_schema(engine)
    with Session(engine) as session:
        old = find_user(session, "old")
        assert old is not None and old.is_admin
        added = add_user(session, "new", "a long password", admin=False, now=utcnow())
        assert not added.is_admin
    engine.dispose()


def test_the_configured_admin_is_made_an_admin_again_and_recreated(engine: Engine) -> None:
    with session_scope(engine) as session:
        add_user(session, "ops", "ops password!", admin=True, now=utcnow())
        add_user(session, "admin", "demoted password", admin=False, now=utcnow())
    with session_scope(engine) as session:
        ensure_admin(session, "admin", "configured password", now=utcnow())
    with Session(engine) as session:
        admin = find_user(session, "admin")
        assert admin is not None and admin.is_admin
    with session_scope(engine) as session:
        remove_user(session, "admin")
    with session_scope(engine) as session:
        ensure_admin(session, "admin", "configured password", now=utcnow())
    with Session(engine) as session:
        admin = find_user(session, "admin")
        assert admin is not None and admin.is_admin


def test_a_generated_first_admin_is_an_admin(engine: Engine) -> None:
    with session_scope(engine) as session:
        assert ensure_admin(session, "admin", None, now=utcnow()) is not None
    with Session(engine) as session:
        admin = find_user(session, "admin")
        assert admin is not None and admin.is_admin


def test_the_last_admin_cannot_be_removed_but_a_user_can(engine: Engine) -> None:
    with session_scope(engine) as session:
        add_user(session, "ops", "ops password!", admin=True, now=utcnow())
        add_user(session, "reader", "reader password", admin=False, now=utcnow())
    with session_scope(engine) as session:
        remove_user(session, "reader")
    with pytest.raises(AccountError, match="last admin"), session_scope(engine) as session:
        remove_user(session, "ops")
