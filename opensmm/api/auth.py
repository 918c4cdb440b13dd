"""Who is calling: one indexed lookup by the key's hash, every request (no cache, so a
revoked key or a suspended account is refused at once)."""

from __future__ import annotations

import hmac

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from opensmm.accounts.keys import hash_key, looks_like_key
from opensmm.accounts.models import USER_ACTIVE, ApiKey, User
from opensmm.errors import DomainError


class InvalidKey(DomainError):
    message = "Invalid API key"


class AccountSuspended(DomainError):
    message = "Your account is suspended"


def key_hash_of(key: str | None) -> str:
    """The hash to look up, or ``InvalidKey`` for anything that cannot be a key."""
    if not key or not looks_like_key(key):
        raise InvalidKey()
    return hash_key(key)


def caller_query(key_hash: str):  # type: ignore[no-untyped-def]
    return (
        select(User.id, User.status, ApiKey.key_hash)
        .join(ApiKey, ApiKey.user_id == User.id)
        .where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
    )


def check_caller(row: Row[tuple[int, str, str]] | None, key_hash: str) -> int:
    """The caller's user id from a lookup row, or the refusal."""
    # The index found the row by hash; compare again in constant time so that the
    # answer's timing says nothing about how much of a guessed hash matched.
    if row is None or not hmac.compare_digest(row.key_hash, key_hash):
        raise InvalidKey()
    if row.status != USER_ACTIVE:
        raise AccountSuspended()
    return int(row.id)


def load_caller(session: Session, key_hash: str) -> User:
    """The calling user as an ORM object, for actions that change data."""
    user_id = check_caller(session.execute(caller_query(key_hash)).first(), key_hash)
    user = session.get(User, user_id)
    if user is None:  # deleted between the two statements
        raise InvalidKey()
    return user
