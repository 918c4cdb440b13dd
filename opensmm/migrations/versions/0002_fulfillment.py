"""providers, fulfillment state of orders and refills, alerts (issue: Fulfillment)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _worker_columns() -> list[sa.Column[object]]:
    """The columns orders and refills share: where their send stands, and who holds it."""
    return [
        sa.Column("send_state", sa.String(length=10), nullable=True),
        sa.Column("upstream_id", sa.BigInteger(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("held_reason", sa.Text(), nullable=True),
        sa.Column("alert", sa.Text(), nullable=True),
        sa.Column("next_poll_at", sa.DateTime(timezone=True), nullable=True),
        # Existing rows get 0; the models give the default for new ones.
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "providers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("api_key", sa.String(length=255), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=8), nullable=True),
        sa.Column("balance_checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("backoff_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("send_failures", sa.Integer(), nullable=False),
        sa.Column("send_paused_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("alert", sa.Text(), nullable=True),
        sa.Column("alert_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_providers")),
        sa.UniqueConstraint("name", name=op.f("uq_providers_name")),
    )

    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.add_column(sa.Column("provider_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("provider_service_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("provider_rate", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("markup_percent", sa.BigInteger(), nullable=True))
        batch_op.create_index(batch_op.f("ix_services_provider_id"), ["provider_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_services_provider_id_providers"), "providers", ["provider_id"], ["id"]
        )

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("fulfillment", sa.String(length=16), nullable=False, server_default="manual")
        )
        batch_op.add_column(sa.Column("provider_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("cancel_state", sa.String(length=10), nullable=True))
        for column in _worker_columns():
            batch_op.add_column(column)
        batch_op.create_index("ix_orders_send_state", ["send_state", "next_poll_at"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_orders_provider_id_providers"), "providers", ["provider_id"], ["id"]
        )

    with op.batch_alter_table("refills", schema=None) as batch_op:
        for column in _worker_columns():
            batch_op.add_column(column)
        batch_op.create_index("ix_refills_send_state", ["send_state", "next_poll_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("refills", schema=None) as batch_op:
        batch_op.drop_index("ix_refills_send_state")
        for column in reversed(_worker_columns()):
            batch_op.drop_column(column.name)

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_orders_provider_id_providers"), type_="foreignkey"
        )
        batch_op.drop_index("ix_orders_send_state")
        for column in reversed(_worker_columns()):
            batch_op.drop_column(column.name)
        batch_op.drop_column("cancel_state")
        batch_op.drop_column("provider_id")
        batch_op.drop_column("fulfillment")

    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_services_provider_id_providers"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_services_provider_id"))
        batch_op.drop_column("markup_percent")
        batch_op.drop_column("provider_rate")
        batch_op.drop_column("provider_service_id")
        batch_op.drop_column("provider_id")

    op.drop_table("providers")
