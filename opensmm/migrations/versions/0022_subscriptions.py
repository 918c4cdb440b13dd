"""subscriptions charged as they run: posts and their child orders (issue 13)

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-30 20:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subscription_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("posts", sa.Integer(), nullable=True))
        batch_op.create_index("ix_orders_subscription_id", ["subscription_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_orders_subscription_id_orders"), "orders", ["subscription_id"], ["id"]
        )

    op.create_table(
        "subscription_posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("old", sa.Boolean(), nullable=False),
        sa.Column("link", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("charged_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_subscription_posts_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["orders.id"],
            name=op.f("fk_subscription_posts_subscription_id_orders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription_posts")),
        sa.UniqueConstraint("order_id", name=op.f("uq_subscription_posts_order_id")),
        sa.UniqueConstraint("subscription_id", "number", name="uq_subscription_posts_number"),
    )


def downgrade() -> None:
    op.drop_table("subscription_posts")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_orders_subscription_id_orders"), type_="foreignkey")
        batch_op.drop_index("ix_orders_subscription_id")
        batch_op.drop_column("posts")
        batch_op.drop_column("subscription_id")
