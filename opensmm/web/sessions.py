"""Log-in sessions and the log-in rate limit, kept in the database (so that several server
processes agree, and logging out or changing a password really ends a session)."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from typing import TYPE_CHECKING

import orjson
from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.orm import Session

from opensmm.accounts.models import USER_ACTIVE, User
from opensmm.db import utcnow
from opensmm.web.models import LoginAttempt, WebSession
from opensmm.web.tokens import new_token

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

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


# A secret kept for the next page is dropped if that page is not shown within this time.
REVEAL_SECONDS = 600


def _reveal_cipher(token: str) -> Fernet:
    # Imported when a secret is first revealed, not by every server process (idle memory).
    from cryptography.fernet import Fernet

    key = hashlib.sha256(b"opensmm reveal:" + token.encode("utf-8", "surrogatepass")).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def keep_reveal(session: Session, token: str, values: dict[str, str]) -> None:
    """Keep secrets (``{"api_key": ...}``) for the next page of this session only, for a
    POST-redirect-GET: refreshing that page shows them no more and creates nothing."""
    sealed = _reveal_cipher(token).encrypt(orjson.dumps(values)).decode("ascii")
    session.execute(
        update(WebSession).where(WebSession.token_hash == _hash(token)).values(reveal=sealed)
    )


def take_reveal(session: Session, token: str | None) -> dict[str, str]:
    """The secrets kept by :func:`keep_reveal`, once: they are cleared as they are read."""
    if not token:
        return {}
    where = WebSession.token_hash == _hash(token)
    sealed = session.scalar(select(WebSession.reveal).where(where))
    if not sealed:
        return {}
    session.execute(update(WebSession).where(where).values(reveal=None))
    from cryptography.fernet import InvalidToken

    try:
        values = orjson.loads(_reveal_cipher(token).decrypt(sealed.encode("ascii"), REVEAL_SECONDS))
    except (InvalidToken, ValueError):
        return {}
    return {str(k): str(v) for k, v in values.items()} if isinstance(values, dict) else {}


def end_session(session: Session, token: str | None) -> None:
    if token:
        session.execute(delete(WebSession).where(WebSession.token_hash == _hash(token)))


def end_other_sessions(session: Session, user_id: int, keep: str | None = None) -> None:
    """Log a user out everywhere else (after a password change or a suspension)."""
    query = delete(WebSession).where(WebSession.user_id == user_id)
    if keep:
        query = query.where(WebSession.token_hash != _hash(keep))
    session.execute(query)


# Sign-ups are kept among the attempts under this name ('+' is in no user name and no
# login is ever counted under it), as successes: they never count as log-in failures.
SIGNUP = "+signup"
SIGNUP_WINDOW = timedelta(hours=1)


def signup_allowed(session: Session, ip: str, per_hour: int) -> bool:
    """Whether this address may sign up once more; call it in the sign-up's own write unit,
    before ``record_signup``: the count and the insert are one serialized step."""
    if per_hour <= 0:
        return True
    _serialize(session, "signup-ip:" + ip)
    recent = session.scalar(
        select(func.count()).select_from(LoginAttempt).where(
            LoginAttempt.name == SIGNUP,
            LoginAttempt.ip == ip[:64],
            LoginAttempt.created_at >= utcnow() - SIGNUP_WINDOW,
        )
    )
    return int(recent or 0) < per_hour


def record_signup(session: Session, ip: str) -> None:
    now = utcnow()
    session.add(LoginAttempt(name=SIGNUP, ip=ip[:64], succeeded=True, created_at=now))
    session.execute(
        delete(LoginAttempt).where(
            LoginAttempt.name == SIGNUP, LoginAttempt.created_at < now - ATTEMPTS_KEPT
        )
    )


def attempt_key(user_id: int | None, typed: str) -> str:
    """What the per-name limit counts: the account (``#12``, whichever of its name or email
    was typed), or, for a name that matches no account, the typed string normalized (so
    that probing unknown names is limited too). ``#`` is in no user name and no email."""
    if user_id is not None:
        return f"#{user_id}"
    return typed.strip().lower()[:254]


def _serialize(session: Session, *keys: str) -> None:
    """Make the count-then-insert below one step per key. SQLite's write unit already holds
    the database's write lock (``BEGIN IMMEDIATE``); on PostgreSQL take a transaction-scoped
    advisory lock per key, in a fixed order so that two attempts never wait on each other."""
    if session.get_bind().dialect.name != "postgresql":
        return
    lock_ids = sorted(
        {int.from_bytes(hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()[:8],
                        "big", signed=True) for key in keys}
    )
    for lock_id in lock_ids:
        session.execute(select(func.pg_advisory_xact_lock(lock_id)))


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


def login_blocked(session: Session, key: str, ip: str) -> bool:
    """Too many recent failures for this account or name (since its last success), or for
    this address. ``key`` is an ``attempt_key``. Attempts still being checked count as
    failures."""
    last_success = session.scalar(
        select(func.max(LoginAttempt.created_at)).where(
            LoginAttempt.name == key, LoginAttempt.succeeded.is_(True)
        )
    )
    by_name = [LoginAttempt.name == key]
    if last_success is not None:
        by_name.append(LoginAttempt.created_at > last_success)
    return (
        _failures(session, *by_name) >= MAX_FAILURES_PER_NAME
        or _failures(session, LoginAttempt.ip == ip[:64]) >= MAX_FAILURES_PER_IP
    )


def reserve_attempt(session: Session, key: str, ip: str) -> int | None:
    """Check the limits and, when not blocked, record this attempt as a failure, in one
    serialized step (call it in a write unit of its own, committed before the password is
    checked): however many attempts run at once, no more than the limit get past. Returns
    the attempt's id (``attempt_succeeded`` clears it), or None when blocked."""
    _serialize(session, "login:" + key, "login-ip:" + ip)
    if login_blocked(session, key, ip):
        return None
    now = utcnow()
    attempt = LoginAttempt(name=key, ip=ip[:64], succeeded=False, created_at=now)
    session.add(attempt)
    session.flush()
    # Keep the table small: this name's old attempts are of no more use.
    session.execute(
        delete(LoginAttempt).where(
            LoginAttempt.name == key, LoginAttempt.created_at < now - ATTEMPTS_KEPT
        )
    )
    return attempt.id


def attempt_succeeded(session: Session, attempt_id: int) -> None:
    """The password was right: the attempt no longer counts as a failure, and the account's
    earlier failures are forgiven (the per-name count starts after the last success)."""
    session.execute(
        update(LoginAttempt).where(LoginAttempt.id == attempt_id).values(succeeded=True)
    )


def hourly_allowed(session: Session, bucket: str, ip: str, per_hour: int) -> bool:
    """Whether one more action fits ``bucket``'s limit of ``per_hour``, and if so the action
    is recorded, in one serialized step (as ``signup_allowed`` then ``record_signup``).
    Buckets start with ``+`` (no log-in name does) and are kept as successes, so they never
    count as log-in failures: ``+reset-ip:203.0.113.7``, ``+reset#12``."""
    if per_hour <= 0:
        return True
    _serialize(session, bucket)
    now = utcnow()
    recent = session.scalar(
        select(func.count()).select_from(LoginAttempt).where(
            LoginAttempt.name == bucket[:254],
            LoginAttempt.created_at >= now - SIGNUP_WINDOW,
        )
    )
    if int(recent or 0) >= per_hour:
        return False
    session.add(LoginAttempt(name=bucket[:254], ip=ip[:64], succeeded=True, created_at=now))
    session.execute(
        delete(LoginAttempt).where(
            LoginAttempt.name == bucket[:254], LoginAttempt.created_at < now - ATTEMPTS_KEPT
        )
    )
    return True
