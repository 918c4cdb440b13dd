"""A secret shown once after a redirect (a new API key, a webhook secret): kept in the log-in
session, encrypted with a key only the browser's session token gives, cleared when read."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from opensmm.accounts.service import create_user
from opensmm.db import Database
from opensmm.web import sessions
from opensmm.web.models import WebSession


def test_a_reveal_is_read_once_by_its_own_session_only(db: Database) -> None:
    with db.write() as session:
        user = create_user(session, f"r{uuid.uuid4().hex[:8]}")
        mine, other = sessions.start_session(session, user), sessions.start_session(session, user)
        sessions.keep_reveal(session, mine, {"api_key": "the-new-key"})
    with db.read() as session:
        stored = session.scalars(select(WebSession.reveal)).all()
        assert not any("the-new-key" in (value or "") for value in stored)  # encrypted
    with db.write() as session:
        assert sessions.take_reveal(session, other) == {}
        assert sessions.take_reveal(session, None) == {}
        assert sessions.take_reveal(session, mine) == {"api_key": "the-new-key"}
    with db.write() as session:
        assert sessions.take_reveal(session, mine) == {}  # once
        sessions.keep_reveal(session, mine, {"webhook_secret": "whsec_1"})
        row = session.scalars(select(WebSession).where(WebSession.reveal.is_not(None))).one()
        row.reveal = "not a sealed value"
    with db.write() as session:
        assert sessions.take_reveal(session, mine) == {}  # tampered: nothing, no error
