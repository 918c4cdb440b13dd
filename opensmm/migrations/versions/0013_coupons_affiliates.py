"""coupons and affiliates: codes and their uses on payments, referral links, commissions
and the affiliate balance's append-only entries (issue 11)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 16:40:59.027504
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "coupons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("max_uses", sa.Integer(), nullable=True),
        sa.Column("per_customer", sa.Integer(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("min_deposit", sa.BigInteger(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('amount', 'percent')", name=op.f("ck_coupons_kind_known")),
        sa.CheckConstraint("value > 0", name=op.f("ck_coupons_value_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupons")),
        sa.UniqueConstraint("code", name=op.f("uq_coupons_code")),
    )
    op.create_table(
        "affiliate_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("balance_after", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_affiliate_entries_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_affiliate_entries")),
        sa.UniqueConstraint("key", name=op.f("uq_affiliate_entries_key")),
    )
    with op.batch_alter_table("affiliate_entries", schema=None) as batch_op:
        batch_op.create_index("ix_affiliate_entries_user_id", ["user_id", "id"], unique=False)

    op.create_table(
        "affiliates",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("percent", sa.BigInteger(), nullable=True),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("balance >= 0", name=op.f("ck_affiliates_balance_not_negative")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_affiliates_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_affiliates")),
        sa.UniqueConstraint("code", name=op.f("uq_affiliates_code")),
    )
    op.create_table(
        "referrals",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("referrer_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["referrer_id"], ["users.id"], name=op.f("fk_referrals_referrer_id_users")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_referrals_user_id_users")),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_referrals")),
    )
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.create_index("ix_referrals_referrer_id", ["referrer_id", "user_id"], unique=False)

    op.create_table(
        "affiliate_commissions",
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("affiliate_id", sa.Integer(), nullable=False),
        sa.Column("percent", sa.BigInteger(), nullable=False),
        sa.Column("base", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("reversed", sa.BigInteger(), nullable=False),
        sa.Column("shortfall", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["affiliate_id"], ["users.id"], name=op.f("fk_affiliate_commissions_affiliate_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.id"],
            name=op.f("fk_affiliate_commissions_payment_id_payments"),
        ),
        sa.PrimaryKeyConstraint("payment_id", name=op.f("pk_affiliate_commissions")),
    )
    with op.batch_alter_table("affiliate_commissions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_affiliate_commissions_affiliate", ["affiliate_id", "payment_id"], unique=False
        )

    op.create_table(
        "coupon_uses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("coupon_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('reserved', 'used', 'released')", name=op.f("ck_coupon_uses_state_known")
        ),
        sa.ForeignKeyConstraint(
            ["coupon_id"], ["coupons.id"], name=op.f("fk_coupon_uses_coupon_id_coupons")
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_coupon_uses_payment_id_payments")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_coupon_uses_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupon_uses")),
        sa.UniqueConstraint("payment_id", name=op.f("uq_coupon_uses_payment_id")),
    )
    with op.batch_alter_table("coupon_uses", schema=None) as batch_op:
        batch_op.create_index("ix_coupon_uses_coupon_user", ["coupon_id", "user_id"], unique=False)

    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("coupon_value", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("coupon", sa.BigInteger(), nullable=False, server_default="0")
        )
    _forbid_entry_changes()


# Affiliate entries are append-only, like the ledger's (migration 0001).
GUARD_SQLITE = [
    """CREATE TRIGGER affiliate_entries_no_update BEFORE UPDATE ON affiliate_entries
       BEGIN SELECT RAISE(ABORT, 'affiliate entries are append-only'); END""",
    """CREATE TRIGGER affiliate_entries_no_delete BEFORE DELETE ON affiliate_entries
       BEGIN SELECT RAISE(ABORT, 'affiliate entries are append-only'); END""",
]
GUARD_POSTGRES = [
    """CREATE FUNCTION affiliate_entries_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'affiliate entries are append-only'; END; $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER affiliate_entries_no_change BEFORE UPDATE OR DELETE ON affiliate_entries
       FOR EACH ROW EXECUTE FUNCTION affiliate_entries_append_only()""",
]


def _forbid_entry_changes() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in GUARD_SQLITE if sqlite else GUARD_POSTGRES:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS affiliate_entries_no_update")
        op.execute("DROP TRIGGER IF EXISTS affiliate_entries_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS affiliate_entries_no_change ON affiliate_entries")
        op.execute("DROP FUNCTION IF EXISTS affiliate_entries_append_only()")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_column("coupon")
        batch_op.drop_column("coupon_value")

    with op.batch_alter_table("coupon_uses", schema=None) as batch_op:
        batch_op.drop_index("ix_coupon_uses_coupon_user")

    op.drop_table("coupon_uses")
    with op.batch_alter_table("affiliate_commissions", schema=None) as batch_op:
        batch_op.drop_index("ix_affiliate_commissions_affiliate")

    op.drop_table("affiliate_commissions")
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.drop_index("ix_referrals_referrer_id")

    op.drop_table("referrals")
    op.drop_table("affiliates")
    with op.batch_alter_table("affiliate_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_affiliate_entries_user_id")

    op.drop_table("affiliate_entries")
    op.drop_table("coupons")
