"""Log-in sessions and the log-in rate limit, kept in the database (so that several server
processes agree, and logging out or changing a password really ends a session)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import Session

from opensmm.accounts.models import USER_ACTIVE, User
from opensmm.db import utcnow
from opensmm.web.models import LoginAttempt, WebSession
from opensmm.web.tokens import new_token

SESSION_LIFETIME = timedelta(days=14)
# Log-in guessing: at most this many failures per name, and per address, in the window.
ATTEMPT_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_NAME = 5
MAX_FAILURES_PER_IP = 30
ATTEMPTS_KEPT = timedelta(days=1)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def start_session(session: Session, user: User) -> str:
    """A new session for ``user``; the token goes in the cookie and nowhere else."""
    token = new_token()
    now = utcnow()
    expires = now + SESSION_LIFETIME
    session.add(
        WebSession(token_hash=_hash(token), user_id=user.id, created_at=now, expires_at=expires)
    )
    session.flush()
    return token


def session_user(session: Session, token: str | None) -> User | None:
    """The active user a session token belongs to; None when unknown, expired or suspended."""
    if not token or len(token) > 100:
        return None
    row = session.execute(
        select(User, WebSession.expires_at)
        .join(WebSession, WebSession.user_id == User.id)
        .where(WebSession.token_hash == _hash(token))
    ).first()
    if row is None:
        return None
    user, expires_at = row
    if expires_at <= utcnow() or user.status != USER_ACTIVE:
        return None
    return user


def end_session(session: Session, token: str | None) -> None:
    if token:
        session.execute(delete(WebSession).where(WebSession.token_hash == _hash(token)))


def end_other_sessions(session: Session, user_id: int, keep: str | None = None) -> None:
    """Log a user out everywhere else (after a password change or a suspension)."""
    query = delete(WebSession).where(WebSession.user_id == user_id)
    if keep:
        query = query.where(WebSession.token_hash != _hash(keep))
    session.execute(query)


def _failures(session: Session, *conditions: ColumnElement[bool]) -> int:
    since = utcnow() - ATTEMPT_WINDOW
    return int(
        session.scalar(
            select(func.count()).select_from(LoginAttempt).where(
                LoginAttempt.created_at >= since,
                LoginAttempt.succeeded.is_(False),
                *conditions,
            )
        )
        or 0
    )


def login_blocked(session: Session, name: str, ip: str) -> bool:
    """Too many recent failures for this name (since its last success) or this address."""
    name = name.strip().lower()[:254]
    last_success = session.scalar(
        select(func.max(LoginAttempt.created_at)).where(
            LoginAttempt.name == name, LoginAttempt.succeeded.is_(True)
        )
    )
    by_name = [LoginAttempt.name == name]
    if last_success is not None:
        by_name.append(LoginAttempt.created_at > last_success)
    return (
        _failures(session, *by_name) >= MAX_FAILURES_PER_NAME
        or _failures(session, LoginAttempt.ip == ip) >= MAX_FAILURES_PER_IP
    )


def record_attempt(session: Session, name: str, ip: str, *, succeeded: bool) -> None:
    name = name.strip().lower()[:254]
    session.add(LoginAttempt(name=name, ip=ip[:64], succeeded=succeeded, created_at=utcnow()))
    # Keep the table small: this name's old attempts are of no more use.
    session.execute(
        delete(LoginAttempt).where(
            LoginAttempt.name == name, LoginAttempt.created_at < utcnow() - ATTEMPTS_KEPT
        )
    )
