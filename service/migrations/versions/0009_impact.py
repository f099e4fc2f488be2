"""impact: requests in an incident's window, per failing endpoint, and the source's last answer

Revision ID: 0009_impact
Revises: 0008_outages
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import service.db

revision: str = "0009_impact"
down_revision: str | None = "0008_outages"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "incident_impact",
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("clients", sa.Integer(), nullable=False),
        sa.Column("answered_after", sa.Integer(), nullable=False),
        sa.Column("failing_after", sa.Integer(), nullable=False),
        sa.Column("counted_to", service.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incident.id"]),
        sa.PrimaryKeyConstraint("incident_id"),
    )
    op.create_table(
        "incident_request",
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("method", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("path", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incident.id"]),
        sa.PrimaryKeyConstraint("incident_id", "method", "path"),
    )
    with op.batch_alter_table("source") as batch:
        batch.add_column(
            sa.Column("last_answered_at", service.db.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("source") as batch:
        batch.drop_column("last_answered_at")
    op.drop_table("incident_request")
    op.drop_table("incident_impact")
