"""held-back records and quarantined records

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import service.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "held_records",
        sa.Column("spool_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("spool_id"),
    )
    op.create_table(
        "quarantined_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("batch_key", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("received_at", service.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("quarantined_at", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_quarantined_record_source", "quarantined_record", ["source"])
    with op.batch_alter_table("source") as batch:
        batch.add_column(
            sa.Column("lines_quarantined", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("source") as batch:
        batch.drop_column("lines_quarantined")
    op.drop_index("ix_quarantined_record_source", table_name="quarantined_record")
    op.drop_table("quarantined_record")
    op.drop_table("held_records")
