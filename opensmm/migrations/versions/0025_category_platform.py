"""categories.platform: the platform (icon) staff chose for a category (issue: storefront)

Revision ID: 0025
Revises: 0024
Create Date: 2026-11-30 23:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (not a batch: on SQLite a batch may copy the table, and the copy
    # would lose the catalog stamp's triggers of migration 0005). "" = guessed from the name.
    op.add_column(
        "categories",
        sa.Column("platform", sa.String(length=32), nullable=False, server_default=""),
    )


def downgrade() -> None:
    # SQLite 3.35+ drops a column in place, keeping the table's triggers.
    op.drop_column("categories", "platform")
