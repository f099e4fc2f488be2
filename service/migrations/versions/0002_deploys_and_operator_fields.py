"""deploys and operator fields

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import service.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deploy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("started_at", service.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("live_at", service.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("failed_at", service.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("version", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["source"],
            ["source.name"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("deploy", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deploy_source"), ["source"], unique=False)

    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("acknowledged_at", service.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "owner",
                sqlmodel.sql.sqltypes.AutoString(length=200),
                nullable=False,
                server_default="",
            )
        )
        batch_op.add_column(
            sa.Column("business_impact", sa.Text(), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column(
                "fix_commit",
                sqlmodel.sql.sqltypes.AutoString(length=200),
                nullable=False,
                server_default="",
            )
        )
        batch_op.add_column(sa.Column("deploy_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("resolved_by_deploy_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_incident_deploy_id", "deploy", ["deploy_id"], ["id"])
        batch_op.create_foreign_key(
            "fk_incident_resolved_by_deploy_id", "deploy", ["resolved_by_deploy_id"], ["id"]
        )

    with op.batch_alter_table("source", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("last_log_time", service.db.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("source", schema=None) as batch_op:
        batch_op.drop_column("last_log_time")

    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_constraint("fk_incident_resolved_by_deploy_id", type_="foreignkey")
        batch_op.drop_constraint("fk_incident_deploy_id", type_="foreignkey")
        batch_op.drop_column("resolved_by_deploy_id")
        batch_op.drop_column("deploy_id")
        batch_op.drop_column("fix_commit")
        batch_op.drop_column("business_impact")
        batch_op.drop_column("owner")
        batch_op.drop_column("acknowledged_at")

    with op.batch_alter_table("deploy", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deploy_source"))

    op.drop_table("deploy")
