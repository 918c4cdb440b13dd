"""a stamp that changes with the catalog (issue: Benchmarks)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every change to the catalog's tables sets a new random 63-bit stamp
# (see opensmm.catalog.models.CatalogStamp). SQLite has row triggers only.
SQLITE_TRIGGERS = [
    "CREATE TRIGGER services_insert_catalog_stamp AFTER INSERT ON services "
    "BEGIN UPDATE catalog_stamp SET stamp = abs(random() % 9223372036854775807); END",
    "CREATE TRIGGER services_update_catalog_stamp AFTER UPDATE ON services "
    "BEGIN UPDATE catalog_stamp SET stamp = abs(random() % 9223372036854775807); END",
    "CREATE TRIGGER services_delete_catalog_stamp AFTER DELETE ON services "
    "BEGIN UPDATE catalog_stamp SET stamp = abs(random() % 9223372036854775807); END",
    "CREATE TRIGGER categories_insert_catalog_stamp AFTER INSERT ON categories "
    "BEGIN UPDATE catalog_stamp SET stamp = abs(random() % 9223372036854775807); END",
    "CREATE TRIGGER categories_update_catalog_stamp AFTER UPDATE ON categories "
    "BEGIN UPDATE catalog_stamp SET stamp = abs(random() % 9223372036854775807); END",
    "CREATE TRIGGER categories_delete_catalog_stamp AFTER DELETE ON categories "
    "BEGIN UPDATE catalog_stamp SET stamp = abs(random() % 9223372036854775807); END",
]
SQLITE_DROPS = [
    "DROP TRIGGER IF EXISTS services_insert_catalog_stamp",
    "DROP TRIGGER IF EXISTS services_update_catalog_stamp",
    "DROP TRIGGER IF EXISTS services_delete_catalog_stamp",
    "DROP TRIGGER IF EXISTS categories_insert_catalog_stamp",
    "DROP TRIGGER IF EXISTS categories_update_catalog_stamp",
    "DROP TRIGGER IF EXISTS categories_delete_catalog_stamp",
]
POSTGRES_TRIGGERS = [
    """CREATE FUNCTION catalog_stamp_renew() RETURNS trigger AS $$
       BEGIN
         UPDATE catalog_stamp SET stamp = floor(random() * 9223372036854775807)::bigint;
         RETURN NULL;
       END; $$ LANGUAGE plpgsql""",
    "CREATE TRIGGER services_catalog_stamp AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
    "ON services FOR EACH STATEMENT EXECUTE FUNCTION catalog_stamp_renew()",
    "CREATE TRIGGER categories_catalog_stamp AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
    "ON categories FOR EACH STATEMENT EXECUTE FUNCTION catalog_stamp_renew()",
]
POSTGRES_DROPS = [
    "DROP TRIGGER IF EXISTS services_catalog_stamp ON services",
    "DROP TRIGGER IF EXISTS categories_catalog_stamp ON categories",
    "DROP FUNCTION IF EXISTS catalog_stamp_renew()",
]


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    op.create_table(
        "catalog_stamp",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stamp", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_catalog_stamp_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_stamp")),
    )
    op.execute("INSERT INTO catalog_stamp (id, stamp) VALUES (1, 1)")
    for statement in SQLITE_TRIGGERS if _sqlite() else POSTGRES_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    for statement in SQLITE_DROPS if _sqlite() else POSTGRES_DROPS:
        op.execute(statement)
    op.drop_table("catalog_stamp")
