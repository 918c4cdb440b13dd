"""The secret that signs CSRF tokens and flash messages.

``OPENSMM_SECRET_KEY`` when set; otherwise a random one, generated on first start and kept
in the database, so that every server process (and every restart) shares it. There is no
built-in default: a default secret would be the same on every panel.
"""

from __future__ import annotations

import secrets
import threading

from sqlalchemy import select

from opensmm.db import Database
from opensmm.db.insert import insert_for
from opensmm.errors import DomainError
from opensmm.i18n import N_
from opensmm.web.models import AppSecret

SECRET_NAME = "web"  # noqa: S105 - the row's name, not a secret
MIN_SECRET_LENGTH = 32


def _insert_once(db: Database, value: str) -> None:
    with db.write() as session:
        # Two processes starting at once: the first one's secret wins, the other reads it.
        session.execute(
            insert_for(session, AppSecret)
            .values(name=SECRET_NAME, value=value)
            .on_conflict_do_nothing(index_elements=["name"])
        )


def stored_secret(db: Database) -> bytes:
    """The database's secret, generated and stored on the first call."""
    with db.read() as session:
        value = session.scalar(select(AppSecret.value).where(AppSecret.name == SECRET_NAME))
    if value is None:
        _insert_once(db, secrets.token_urlsafe(48))
        with db.read() as session:
            value = session.scalar(
                select(AppSecret.value).where(AppSecret.name == SECRET_NAME)
            )
    assert value is not None
    return value.encode()


class SecretKey:
    """Loaded on first use (the database may not be migrated when the app is built)."""

    def __init__(self, db: Database, configured: str) -> None:
        if configured and len(configured) < MIN_SECRET_LENGTH:
            raise DomainError(
                N_('OPENSMM_SECRET_KEY must be at least {min} characters'),
                min=MIN_SECRET_LENGTH,
            )
        self._db = db
        self._value = configured.encode() if configured else None
        self._lock = threading.Lock()

    def get(self) -> bytes:
        if self._value is None:
            with self._lock:
                if self._value is None:
                    self._value = stored_secret(self._db)
        return self._value
