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


def downgrade() -> None:
    with op.batch_alter_table("source") as batch:
        batch.drop_column("waits")
