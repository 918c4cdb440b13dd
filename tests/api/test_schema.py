"""The schema itself: models and migrations agree, and the ledger is append-only."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from opensmm.accounts import service as accounts
from opensmm.db import Database
from opensmm.db.migrate import pending_differences
from opensmm.ledger import service as ledger


def test_models_and_migrations_agree(database_url: str) -> None:
    assert pending_differences(database_url) == []


def test_ledger_entries_cannot_be_updated_or_deleted(db: Database) -> None:
    with db.write() as session:
        user = accounts.create_user(session, "ledgertest")
        ledger.add_funds(session, user.id, Decimal("5"), memo="seed", actor="test")
    for statement in (
        "UPDATE ledger_entries SET amount = 0",
        "UPDATE ledger_entries SET memo = 'changed'",
        "DELETE FROM ledger_entries",
    ):
        with pytest.raises(DatabaseError, match="append-only"), db.write() as session:
            session.execute(text(statement))
    with db.read() as session:
        rows = session.execute(text("SELECT amount, memo, code FROM ledger_entries")).all()
    assert [(int(amount), memo, code) for amount, memo, code in rows] == [
        (500_000, "seed", "ledger.funds_memo")]
    with db.read() as session:
        assert ledger.check(session) == []
