"""ledger entries and order history as a code plus parameters (issue 10: domain events)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30

New columns only, all nullable: rows written before keep their English text (the ledger's
``memo``, the history's ``message`` and ``actor``) and are shown as they were stored. The
ledger is append-only (triggers refuse UPDATE), so its old rows are deliberately not
rewritten; order history rows are left as they are too, so that both read the same way.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # ADD COLUMN, not a batch copy: a copy of ledger_entries would drop its triggers.
    op.add_column("ledger_entries", sa.Column("code", sa.String(length=64), nullable=True))
    op.add_column("ledger_entries", sa.Column("params", sa.JSON(), nullable=True))
    op.add_column("order_events", sa.Column("actor_kind", sa.String(length=16), nullable=True))
    op.add_column("order_events", sa.Column("code", sa.String(length=64), nullable=True))
    op.add_column("order_events", sa.Column("params", sa.JSON(), nullable=True))


def downgrade() -> None:
    # Rows written with a code have no English text: give them one before the columns go.
    # (Only order_events: the ledger's rows cannot be updated; theirs show an empty memo.)
    op.execute(
        "UPDATE order_events SET message = code WHERE code IS NOT NULL AND message = ''"
    )
    # Plain DROP COLUMN (SQLite 3.35+), not a batch copy: the copy would lose the ledger's
    # triggers.
    for statement in (
        "ALTER TABLE order_events DROP COLUMN params",
        "ALTER TABLE order_events DROP COLUMN code",
        "ALTER TABLE order_events DROP COLUMN actor_kind",
        "ALTER TABLE ledger_entries DROP COLUMN params",
        "ALTER TABLE ledger_entries DROP COLUMN code",
    ):
        op.execute(statement)
