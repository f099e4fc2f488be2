"""hits per minute

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import service.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "incident_minute",
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("minute", service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
        ),
        sa.PrimaryKeyConstraint("incident_id", "minute"),
    )
    # Count the hits already stored, so incidents from before this migration keep their picture.
    if op.get_bind().dialect.name == "postgresql":
        minute = "date_trunc('minute', time)"
    else:
        minute = "strftime('%Y-%m-%d %H:%M:00.000000', time)"
    op.execute(
        "INSERT INTO incident_minute (incident_id, minute, hits) "
        f"SELECT incident_id, {minute}, COUNT(*) FROM incident_event "
        "WHERE role = 'open' AND time IS NOT NULL GROUP BY incident_id, " + minute
    )


def downgrade() -> None:
    op.drop_table("incident_minute")
