"""``INSERT … ON CONFLICT`` in the session's own dialect.

SQLite and PostgreSQL both take ``on_conflict_do_nothing``, but through their own ``insert``
constructs; every "write it once" in the panel (ledger entries, payment events, idempotency
keys, notices…) picks the construct here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def dialect_insert(dialect_name: str, table: Any) -> sqlite.Insert | postgresql.Insert:
    builder = sqlite.insert if dialect_name == "sqlite" else postgresql.insert
    return builder(table)


def insert_for(session: Session, table: Any) -> sqlite.Insert | postgresql.Insert:
    """An insert of ``table`` (a model or a table) for the dialect ``session`` talks to."""
    return dialect_insert(session.get_bind().dialect.name, table)
