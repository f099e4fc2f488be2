"""The schema: migrations and models agree, datetimes come back UTC-aware on every database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine
from sqlmodel import Session, select

from service.db import create_db_engine, upgrade_schema
from service.models import Source, SQLModel


def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []


def test_upgrade_twice_is_harmless(engine: Engine) -> None:
    upgrade_schema(engine)
    with Session(engine) as session:
        assert session.exec(select(Source)).all() == []


def test_datetimes_come_back_utc_aware(engine: Engine) -> None:
    moment = datetime(2025, 9, 19, 14, 43, 14, tzinfo=timezone(timedelta(hours=2)))
    with Session(engine) as session:
        session.add(Source(name="api", created_at=moment))
        session.commit()
    with Session(engine) as session:
        stored = session.exec(select(Source)).one()
    assert stored.created_at == moment
    assert stored.created_at.tzinfo is not None
    assert stored.created_at.utcoffset() == timedelta(0)
    assert stored.created_at == datetime(2025, 9, 19, 12, 43, 14, tzinfo=UTC)


def test_naive_datetimes_are_refused(engine: Engine) -> None:
    with Session(engine) as session:
        session.add(Source(name="api", created_at=datetime(2025, 9, 19, 12, 0)))
        with pytest.raises(Exception, match="naive datetime"):
            session.commit()


def test_sqlite_engine_uses_wal_and_foreign_keys(tmp_path: object) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path}/x.db")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_upgrading_keeps_existing_data(database_url: str) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    from service.db import MIGRATIONS_DIR
    from service.models import Incident, IncidentMinute

    engine = create_db_engine(database_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO source (name, created_at, lines_received, lines_processed) VALUES ('api', '2025-09-19 12:00:00', 3, 3)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO incident (signature, title, severity, status, source, occurrences, fields, fingerprint, opened_at, resolution, note) "
                "VALUES ('python.name-error', 'NameError', 'high', 'open', 'api', 3, '{\"name\": \"logger\"}', 'v1:x', '2025-09-19 12:00:00', '', '')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO incident_event (incident_id, time, instance, role, text, fields) "
                "VALUES (1, '2025-09-19 12:00:31', 'web.1', 'open', 'NameError', '{}')"
            )
        )
    upgrade_schema(engine)
    with Session(engine) as session:
        incident = session.exec(select(Incident)).one()
        minutes = session.exec(select(IncidentMinute)).all()
    assert (incident.occurrences, incident.fields, incident.owner) == (3, {"name": "logger"}, "")
    assert [(m.minute, m.hits) for m in minutes] == [(datetime(2025, 9, 19, 12, 0, tzinfo=UTC), 1)]
    engine.dispose()


def test_a_postgresql_server_that_never_answers_fails_the_connection_in_seconds() -> None:
    import socket
    import time

    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    # A server that accepts the TCP connection and then says nothing (paused, or a stuck proxy).
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        engine = create_db_engine(f"postgresql+psycopg://postgres@127.0.0.1:{port}/silent")
        started = time.monotonic()
        with pytest.raises(OperationalError), engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    assert time.monotonic() - started < 15
