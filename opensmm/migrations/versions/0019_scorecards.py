"""scorecards and auto-refill: stored service and provider figures, a service's auto-refill
period, indexes on finished orders (issue 13)

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30 20:00:00.000000
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _figures() -> list[sa.Column[Any]]:
    return [
        sa.Column("finished", sa.Integer(), nullable=False),
        sa.Column("partial", sa.Integer(), nullable=False),
        sa.Column("canceled", sa.Integer(), nullable=False),
        sa.Column("refilled", sa.Integer(), nullable=False),
        sa.Column("stuck", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "service_scores",
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("average_seconds", sa.Integer(), nullable=True),
        sa.Column("average_of", sa.Integer(), nullable=False),
        *_figures(),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_service_scores_service_id_services")
        ),
        sa.PrimaryKeyConstraint("service_id", name=op.f("pk_service_scores")),
    )
    op.create_table(
        "provider_scores",
        sa.Column("provider_id", sa.Integer(), nullable=False),
        *_figures(),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["providers.id"],
            name=op.f("fk_provider_scores_provider_id_providers"),
        ),
        sa.PrimaryKeyConstraint("provider_id", name=op.f("pk_provider_scores")),
    )
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.add_column(sa.Column("auto_refill_days", sa.Integer(), nullable=True))
    with op.batch_alter_table("refills", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("automatic", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(
            "ix_orders_service_finished", ["service_id", "status", "finished_at"], unique=False
        )
        batch_op.create_index("ix_orders_finished_at", ["finished_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_finished_at")
        batch_op.drop_index("ix_orders_service_finished")
    with op.batch_alter_table("refills", schema=None) as batch_op:
        batch_op.drop_column("automatic")
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_column("auto_refill_days")
    op.drop_table("provider_scores")
    op.drop_table("service_scores")
