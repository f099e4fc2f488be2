"""Upgrading to outage messages: the outages already in the database count as told, and incident
messages that still waited for Slack go untold (Slack hears of outages now): an upgrade pages no one."""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import Session, select

from service.db import MIGRATIONS_DIR, create_db_engine, upgrade_schema
from service.models import Notification, Outage


def test_an_upgrade_tells_no_one_of_what_was_there(database_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    engine = create_db_engine(database_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0011_waits_and_incident_indexes")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO source (name, created_at, lines_received, lines_processed) "
                "VALUES ('api', '2025-09-19 12:00:00', 3, 3)"
            )
        )
        for status in ("open", "resolved"):
            connection.execute(
                text(
                    "INSERT INTO outage (source, title, status, created_at) "
                    f"VALUES ('api', 'DB down', '{status}', '2025-09-19 12:00:00')"
                )
            )
        connection.execute(
            text(
                "INSERT INTO incident (signature, title, severity, status, source, occurrences, "
                "fields, fingerprint, opened_at, resolution, note) VALUES ('app.db-outage', "
                "'DB down', 'high', 'open', 'api', 1, '{}', 'v1:x', '2025-09-19 12:00:00', '', '')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO notification (incident_id, event, payload, created_at, "
                "next_attempt_at, attempts, webhook_status, slack_status, last_error) VALUES "
                "(1, 'incident.opened', '{}', '2025-09-19 12:00:00', '2025-09-19 12:00:00', 0, "
                "'pending', 'pending', '')"
            )
        )
    upgrade_schema(engine)
    with Session(engine) as session:
        outages = session.exec(select(Outage).order_by(Outage.id)).all()  # type: ignore[arg-type]
        [notification] = session.exec(select(Notification)).all()
    assert [(o.status, o.notified_status) for o in outages] == [
        ("open", "open"),
        ("resolved", "resolved"),
    ]
    assert all(o.notified_severity == "critical" and o.still_open_at for o in outages)
    assert (notification.webhook_status, notification.slack_status) == ("pending", "off")
    engine.dispose()
