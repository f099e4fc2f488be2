"""outage notifications: one message per outage for Slack and email, and what each outage told

Revision ID: 0013_outage_notifications
Revises: 0012_user_admin
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import service.db

revision: str = "0013_outage_notifications"
down_revision: str | None = "0012_user_admin"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outage") as batch:
        batch.add_column(
            sa.Column(
                "notified_status",
                sqlmodel.sql.sqltypes.AutoString(length=20),
                nullable=False,
                server_default="",
            )
        )
        batch.add_column(
            sa.Column(
                "notified_severity",
                sqlmodel.sql.sqltypes.AutoString(length=20),
                nullable=False,
                server_default="",
            )
        )
        batch.add_column(
            sa.Column("still_open_at", service.db.UTCDateTime(timezone=True), nullable=True)
        )
    # Outages from before: told already (by the incident messages Slack got then), so an upgrade
    # does not page for every outage in the database.
    op.execute(
        "UPDATE outage SET notified_status = status, notified_severity = 'critical', "
        "still_open_at = created_at"
    )
    op.create_table(
        "outage_notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outage_id", sa.Integer(), nullable=False),
        sa.Column("event", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", service.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("slack_status", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("email_status", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("delivered_at", service.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["outage_id"], ["outage.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_outage_notification_outage_id", "outage_notification", ["outage_id"], unique=False
    )
    op.create_index(
        "ix_outage_notification_next_attempt_at",
        "outage_notification",
        ["next_attempt_at"],
        unique=False,
    )
    # Slack now hears of outages, not incidents: what incident messages still wait go untold.
    op.execute("UPDATE notification SET slack_status = 'off' WHERE slack_status = 'pending'")


def downgrade() -> None:
    op.drop_index("ix_outage_notification_next_attempt_at", table_name="outage_notification")
    op.drop_index("ix_outage_notification_outage_id", table_name="outage_notification")
    op.drop_table("outage_notification")
    with op.batch_alter_table("outage") as batch:
        batch.drop_column("still_open_at")
        batch.drop_column("notified_severity")
        batch.drop_column("notified_status")
