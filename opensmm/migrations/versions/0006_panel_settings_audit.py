"""panel settings; the audit log as codes and parameters, with its door (issue 10)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

import json
import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every change to panel_settings sets a new random 63-bit stamp
# (see opensmm.panel_settings.models.SettingsStamp), as migration 0005 does for the catalog.
SQLITE_TRIGGERS = [
    "CREATE TRIGGER panel_settings_insert_settings_stamp AFTER INSERT ON panel_settings "
    "BEGIN UPDATE settings_stamp SET stamp = abs(random() % 9223372036854775807); END",
    "CREATE TRIGGER panel_settings_update_settings_stamp AFTER UPDATE ON panel_settings "
    "BEGIN UPDATE settings_stamp SET stamp = abs(random() % 9223372036854775807); END",
    "CREATE TRIGGER panel_settings_delete_settings_stamp AFTER DELETE ON panel_settings "
    "BEGIN UPDATE settings_stamp SET stamp = abs(random() % 9223372036854775807); END",
]
SQLITE_DROPS = [
    "DROP TRIGGER IF EXISTS panel_settings_insert_settings_stamp",
    "DROP TRIGGER IF EXISTS panel_settings_update_settings_stamp",
    "DROP TRIGGER IF EXISTS panel_settings_delete_settings_stamp",
]
POSTGRES_TRIGGERS = [
    """CREATE FUNCTION settings_stamp_renew() RETURNS trigger AS $$
       BEGIN
         UPDATE settings_stamp SET stamp = floor(random() * 9223372036854775807)::bigint;
         RETURN NULL;
       END; $$ LANGUAGE plpgsql""",
    "CREATE TRIGGER panel_settings_settings_stamp AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
    "ON panel_settings FOR EACH STATEMENT EXECUTE FUNCTION settings_stamp_renew()",
]
POSTGRES_DROPS = [
    "DROP TRIGGER IF EXISTS panel_settings_settings_stamp ON panel_settings",
    "DROP FUNCTION IF EXISTS settings_stamp_renew()",
]

# Rows written before the codes held an English sentence in ``details``; the ones whose
# shape is known become parameters, the others keep their sentence as ``{"details": …}``.
_FUNDS = re.compile(r"^(?P<user>.*): (?P<amount>-?[0-9.]+) \((?P<memo>.*)\)$", re.DOTALL)
_JUST_USER = {"user.suspend", "user.activate"}


def _params(action: str, details: str) -> dict[str, str]:
    if action == "funds.adjust":
        match = _FUNDS.match(details)
        if match:
            return match.groupdict()
    if action in _JUST_USER and details:
        return {"user": details}
    return {"details": details}


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    op.create_table(
        "panel_settings",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_panel_settings")),
    )
    op.create_table(
        "settings_stamp",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stamp", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_settings_stamp_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settings_stamp")),
    )
    op.execute("INSERT INTO settings_stamp (id, stamp) VALUES (1, 1)")
    for statement in SQLITE_TRIGGERS if _sqlite() else POSTGRES_TRIGGERS:
        op.execute(statement)

    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(
            sa.Column("door", sa.String(length=8), nullable=False, server_default="web")
        )
        batch.add_column(sa.Column("params", sa.JSON(), nullable=True))
    audit = sa.table(
        "audit_log",
        sa.column("id", sa.Integer()),
        sa.column("action", sa.String()),
        sa.column("details", sa.Text()),
        sa.column("params", sa.JSON()),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(audit.c.id, audit.c.action, audit.c.details)).all()
    for row_id, action, details in rows:
        bind.execute(
            audit.update().where(audit.c.id == row_id)
            .values(params=_params(action, details or ""))
        )
    with op.batch_alter_table("audit_log") as batch:
        batch.alter_column("door", server_default=None)
        batch.alter_column("params", existing_type=sa.JSON(), nullable=False)
        batch.drop_column("details")


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("details", sa.Text(), nullable=False, server_default=""))
    audit = sa.table(
        "audit_log",
        sa.column("id", sa.Integer()),
        sa.column("details", sa.Text()),
        sa.column("params", sa.JSON()),
    )
    bind = op.get_bind()
    for row_id, params in bind.execute(sa.select(audit.c.id, audit.c.params)).all():
        text = (params or {}).get("details") or json.dumps(params or {}, ensure_ascii=False)
        bind.execute(audit.update().where(audit.c.id == row_id).values(details=text[:4000]))
    with op.batch_alter_table("audit_log") as batch:
        batch.alter_column("details", server_default=None)
        batch.drop_column("params")
        batch.drop_column("door")
    for statement in SQLITE_DROPS if _sqlite() else POSTGRES_DROPS:
        op.execute(statement)
    op.drop_table("settings_stamp")
    op.drop_table("panel_settings")
