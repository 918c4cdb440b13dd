"""routes with failover: several upstreams per service, the route and upstream charge on
orders (issue 13)

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30 20:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "service_routes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("provider_service_id", sa.BigInteger(), nullable=False),
        sa.Column("cost", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "provider_service_id >= 1", name=op.f("ck_service_routes_upstream_service_positive")
        ),
        sa.CheckConstraint(
            "cost IS NULL OR cost >= 0", name=op.f("ck_service_routes_cost_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["providers.id"], name=op.f("fk_service_routes_provider_id_providers")
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_service_routes_service_id_services")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_routes")),
        sa.UniqueConstraint(
            "service_id", "provider_id", "provider_service_id",
            name=op.f("uq_service_routes_service_id"),
        ),
    )
    with op.batch_alter_table("service_routes", schema=None) as batch_op:
        batch_op.create_index("ix_service_routes_service", ["service_id", "position"])
        batch_op.create_index(batch_op.f("ix_service_routes_provider_id"), ["provider_id"])

    # Each service's single provider becomes its route 1.
    op.execute(
        "INSERT INTO service_routes "
        "(service_id, position, provider_id, provider_service_id, cost, created_at) "
        "SELECT id, 1, provider_id, provider_service_id, provider_rate, updated_at "
        "FROM services WHERE provider_id IS NOT NULL AND provider_service_id >= 1"
    )

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("provider_service_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("routed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("upstream_charge", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "upstream_estimated", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.alter_column("upstream_estimated", server_default=None)
    # Orders placed before routes were on the service's provider: the route they took.
    op.execute(
        "UPDATE orders SET routed_at = created_at, provider_service_id = "
        "(SELECT s.provider_service_id FROM services s WHERE s.id = orders.service_id "
        "AND s.provider_id = orders.provider_id) "
        "WHERE provider_id IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("upstream_estimated")
        batch_op.drop_column("upstream_charge")
        batch_op.drop_column("routed_at")
        batch_op.drop_column("provider_service_id")
    with op.batch_alter_table("service_routes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_routes_provider_id"))
        batch_op.drop_index("ix_service_routes_service")
    op.drop_table("service_routes")
