"""Migration 0008 (ledger entries and order history as codes): rows written before it read
as they were stored, the ledger stays append-only and adds up, and it goes down and up."""

from __future__ import annotations

from decimal import Decimal

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, pool, select, text
from sqlalchemy.exc import DatabaseError

from opensmm.accounts import service as accounts
from opensmm.db import Database
from opensmm.db.engine import normalize_url
from opensmm.db.migrate import alembic_config, pending_differences
from opensmm.ledger import service as ledger
from opensmm.ledger.models import LedgerEntry
from opensmm.orders.models import OrderEvent
from opensmm.web.i18n import Translator, language

AR = Translator(language("ar"))


def _columns(url: str, table: str) -> set[str]:
    engine = create_engine(normalize_url(url), poolclass=pool.NullPool)
    try:
        return {column["name"] for column in inspect(engine).get_columns(table)}
    finally:
        engine.dispose()


def test_rows_from_before_0008_read_as_stored(database_url: str) -> None:
    db = Database(database_url)
    try:
        with db.write() as session:
            user_id = accounts.create_user(session, "old").id
    finally:
        db.dispose()
    config = alembic_config(database_url)
    command.downgrade(config, "0005")
    assert "code" not in _columns(database_url, "ledger_entries")
    engine = create_engine(normalize_url(database_url), poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:  # as the version before 0008 wrote them
            connection.execute(text(
                "INSERT INTO ledger_entries (user_id, amount, balance_after, kind, key, memo, "
                "created_at) VALUES (:u, 0, 0, 'deposit', 'deposit:old', "
                "'Funds added (by cli)', CURRENT_TIMESTAMP)"), {"u": user_id})
    finally:
        engine.dispose()
    command.upgrade(config, "head")
    assert pending_differences(database_url) == []
    db = Database(database_url)
    try:
        with db.write() as session:
            [entry] = session.scalars(select(LedgerEntry))
            assert entry.code is None
            assert entry.description.render(AR) == "Funds added (by cli)"  # as stored
            user = accounts.get_user(session, "old")
            ledger.add_funds(session, user.id, Decimal("1"), memo="", actor="cli")
            assert ledger.check(session) == []
        with pytest.raises(DatabaseError, match="append-only"), db.write() as session:
            session.execute(text("UPDATE ledger_entries SET code = 'x'"))
        with db.read() as session:
            codes = list(session.scalars(select(LedgerEntry.code).order_by(LedgerEntry.id)))
        assert codes == [None, "ledger.funds_added"]
    finally:
        db.dispose()


def test_0008_goes_down_and_up_again_keeping_the_ledger_append_only(database_url: str) -> None:
    db = Database(database_url)
    try:
        with db.write() as session:
            user = accounts.create_user(session, "mover")
            ledger.add_funds(session, user.id, Decimal("2"), memo="", actor="cli")
    finally:
        db.dispose()
    config = alembic_config(database_url)
    command.downgrade(config, "0005")
    assert {"code", "params"}.isdisjoint(_columns(database_url, "ledger_entries"))
    assert {"code", "params", "actor_kind"}.isdisjoint(_columns(database_url, "order_events"))
    command.upgrade(config, "head")
    assert pending_differences(database_url) == []
    db = Database(database_url)
    try:
        with pytest.raises(DatabaseError, match="append-only"), db.write() as session:
            session.execute(text("DELETE FROM ledger_entries"))
        with db.read() as session:
            assert session.scalars(select(OrderEvent)).all() == []
            assert ledger.check(session) == []
    finally:
        db.dispose()
