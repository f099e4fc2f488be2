"""action items: the operator's follow-ups of an incident, each with an owner and a priority

Revision ID: 0010_action_items
Revises: 0009_impact
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_action_items"
down_revision: str | None = "0009_impact"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("incident") as batch:
        batch.add_column(sa.Column("action_items", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("incident") as batch:
        batch.drop_column("action_items")
