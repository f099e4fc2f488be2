"""incident confidence: exact, or inferred from a traceback cut before its exception line

Revision ID: 0007_confidence
Revises: 0006
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0007_confidence"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("incident") as batch:
        batch.add_column(
            sa.Column(
                "confidence",
                sqlmodel.sql.sqltypes.AutoString(length=10),
                nullable=False,
                server_default="exact",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("incident") as batch:
        batch.drop_column("confidence")
