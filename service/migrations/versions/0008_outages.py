"""outages: incidents that tell one story, and each incident's outage

Revision ID: 0008_outages
Revises: 0007_confidence
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import service.db

revision: str = "0008_outages"
down_revision: str | None = "0007_confidence"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("started_at", service.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", service.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_seen", service.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cause_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["source"], ["source.name"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_outage_source", "outage", ["source"])
    op.create_index("ix_outage_status", "outage", ["status"])
    with op.batch_alter_table("incident") as batch:
        batch.add_column(sa.Column("outage_id", sa.Integer(), nullable=True))
        batch.create_index("ix_incident_outage_id", ["outage_id"])
        batch.create_foreign_key("fk_incident_outage_id", "outage", ["outage_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("incident") as batch:
        batch.drop_constraint("fk_incident_outage_id", type_="foreignkey")
        batch.drop_index("ix_incident_outage_id")
        batch.drop_column("outage_id")
    op.drop_index("ix_outage_status", table_name="outage")
    op.drop_index("ix_outage_source", table_name="outage")
    op.drop_table("outage")
