"""absence waits on their source's row; indexes for the processor's per-step incident queries

Revision ID: 0011_waits_and_incident_indexes
Revises: 0010_action_items
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_waits_and_incident_indexes"
down_revision: str | None = "0010_action_items"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("source") as batch:
        batch.add_column(sa.Column("waits", sa.JSON(), nullable=False, server_default="[]"))
    op.create_index("ix_incident_source_status", "incident", ["source", "status"])
    op.create_index("ix_incident_source_last_seen", "incident", ["source", "last_seen"])
    op.create_index("ix_incident_previous_id", "incident", ["previous_id"])
    op.create_index("ix_deploy_source_live_at", "deploy", ["source", "live_at"])


def downgrade() -> None:
    op.drop_index("ix_deploy_source_live_at", table_name="deploy")
    op.drop_index("ix_incident_previous_id", table_name="incident")
    op.drop_index("ix_incident_source_last_seen", table_name="incident")
    op.drop_index("ix_incident_source_status", table_name="incident")
    with op.batch_alter_table("source") as batch:
        batch.drop_column("waits")
