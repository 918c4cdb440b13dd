"""The fulfillment columns and tables: migration 0002 adds them, and goes down and up again.

That the models and the migrations agree as a whole is tests/api/test_schema.py's."""

from __future__ import annotations

from alembic import command
from sqlalchemy import create_engine, inspect, pool

from opensmm.db.engine import normalize_url
from opensmm.db.migrate import alembic_config, pending_differences


def _columns(url: str, table: str) -> set[str]:
    engine = create_engine(normalize_url(url), poolclass=pool.NullPool)
    try:
        return {column["name"] for column in inspect(engine).get_columns(table)}
    finally:
        engine.dispose()


def test_the_fulfillment_columns_are_migrated(database_url: str) -> None:
    assert {"send_state", "upstream_id", "lease_owner", "cancel_state"} <= _columns(
        database_url, "orders"
    )
    assert {"provider_id", "provider_service_id", "markup_percent"} <= _columns(
        database_url, "services"
    )


def test_migration_0002_goes_down_and_up_again(database_url: str) -> None:
    config = alembic_config(database_url)
    command.downgrade(config, "0001")
    assert "send_state" not in _columns(database_url, "orders")
    command.upgrade(config, "head")
    assert pending_differences(database_url) == []
