"""idempotent upstreams and their webhooks: in-doubt sends resent, statuses pushed (issue 13)

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-30 20:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("idempotent", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("webhook_secret", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("webhook_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.alter_column("idempotent", server_default=None)

    op.create_table(
        "provider_webhooks_seen",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("mac", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["providers.id"],
            name=op.f("fk_provider_webhooks_seen_provider_id_providers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_webhooks_seen")),
        sa.UniqueConstraint("provider_id", "mac", name="uq_provider_webhook_seen"),
    )
    with op.batch_alter_table("provider_webhooks_seen", schema=None) as batch_op:
        batch_op.create_index(
            "ix_provider_webhooks_seen_received_at", ["received_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("provider_webhooks_seen", schema=None) as batch_op:
        batch_op.drop_index("ix_provider_webhooks_seen_received_at")
    op.drop_table("provider_webhooks_seen")

    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.drop_column("webhook_at")
        batch_op.drop_column("webhook_secret")
        batch_op.drop_column("idempotent")
