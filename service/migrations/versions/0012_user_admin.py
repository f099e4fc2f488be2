"""users: which of them are admins (who may manage sources and users)

Every user made before this migration had every power (the first user was the only kind), so
they all become admins: nobody loses what they could do.

Revision ID: 0012_user_admin
Revises: 0011_waits_and_incident_indexes
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_user_admin"
down_revision: str | None = "0011_waits_and_incident_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("app_user") as batch:
        batch.add_column(
            sa.Column("is_admin", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.execute(sa.text("UPDATE app_user SET is_admin = :yes").bindparams(yes=True))


def downgrade() -> None:
    with op.batch_alter_table("app_user") as batch:
        batch.drop_column("is_admin")
