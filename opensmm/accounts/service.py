"""Users and API keys."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from opensmm.accounts.keys import PREFIX_LENGTH, hash_key, new_key
from opensmm.accounts.models import USER_ACTIVE, USER_SUSPENDED, ApiKey, User
from opensmm.accounts.passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    hash_password,
    verify_password,
)
from opensmm.db import utcnow
from opensmm.db.pagination import Page, paginate
from opensmm.errors import DomainError, NotFound
from opensmm.i18n import N_
from opensmm.web.sessions import end_other_sessions

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,63}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,185}\.[^@\s]{1,63}$")


class UserNotFound(NotFound):
    message = N_("User not found")


class KeyNotFound(NotFound):
    message = N_("API key not found")


def validate_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise DomainError(
            N_("A user name is 2-64 letters, digits, '.', '_' or '-', starting with a letter or digit"),  # noqa: E501
        )
    return name


def validate_password(password: str) -> str:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise DomainError(
            N_('A password is {min} to {max} characters long'),
            min=MIN_PASSWORD_LENGTH,
            max=MAX_PASSWORD_LENGTH,
        )
    return password


def create_user(
    session: Session,
    name: str,
    *,
    email: str | None = None,
    password: str | None = None,
    is_admin: bool = False,
) -> User:
    validate_name(name)
    if email is not None:
        email = email.strip().lower()
        if not EMAIL_PATTERN.match(email):
            raise DomainError(N_('That email address does not look valid'))
        if session.scalar(select(User.id).where(User.email == email)) is not None:
            raise DomainError(N_('That email address is already registered'))
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise DomainError(N_('The user name {name!r} is taken'), name=name)
    user = User(
        name=name,
        email=email,
        password_hash=hash_password(validate_password(password)) if password else None,
        is_admin=is_admin,
    )
    try:
        # Two sign-ups for one name at once both pass the checks above on PostgreSQL; the
        # unique index decides, and the loser gets the same refusal (a savepoint keeps the
        # caller's unit of work usable).
        with session.begin_nested():
            session.add(user)
            session.flush()
    except IntegrityError:
        if email is not None and session.scalar(
            select(User.id).where(User.email == email)
        ) is not None and session.scalar(select(User.id).where(User.name == name)) is None:
            raise DomainError(N_('That email address is already registered')) from None
        raise DomainError(N_('The user name {name!r} is taken'), name=name) from None
    return user


def get_user(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise UserNotFound(N_('No user named {name!r}'), name=name)
    return user


def set_status(session: Session, name: str, *, active: bool) -> User:
    """Activate or suspend; a suspension also ends every web session of the user, whichever
    door suspends them (CLI, staff page), so that an ``activate`` does not revive them."""
    user = get_user(session, name)
    user.status = USER_ACTIVE if active else USER_SUSPENDED
    if not active:
        end_other_sessions(session, user.id)
    return user


def set_password(session: Session, user: User, password: str) -> None:
    user.password_hash = hash_password(validate_password(password))


@dataclass(frozen=True)
class NewKey:
    id: int
    key: str  # the only time the plain key exists outside its owner's hands
    prefix: str


def create_key(session: Session, user: User, label: str = "") -> NewKey:
    key = new_key()
    row = ApiKey(user_id=user.id, key_hash=hash_key(key), prefix=key[:PREFIX_LENGTH], label=label)
    session.add(row)
    session.flush()
    return NewKey(id=row.id, key=key, prefix=row.prefix)


def revoke_key(session: Session, key: str, *, user_id: int | None = None) -> ApiKey:
    """Revoke by the plain key (CLI) or, with ``user_id``, a key id owned by that user."""
    query = select(ApiKey).where(ApiKey.key_hash == hash_key(key))
    row = session.scalar(query)
    if row is None or (user_id is not None and row.user_id != user_id):
        raise KeyNotFound()
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return row


def revoke_key_by_id(session: Session, key_id: int, *, user_id: int) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None or row.user_id != user_id:
        raise KeyNotFound()
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return row


def list_keys(session: Session, user_id: int) -> list[ApiKey]:
    query = select(ApiKey).where(ApiKey.user_id == user_id).order_by(ApiKey.id)
    return list(session.scalars(query))


def get_user_by_id(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise UserNotFound()
    return user


@cache
def _dummy_hash() -> str:
    """Verified against when no user matches, so that a wrong name takes as long as a wrong
    password and the timing does not tell which names exist."""
    return hash_password("opensmm-no-such-user")


def find_login(session: Session, login: str) -> User | None:
    """The user whose name or email is ``login``, if any (the password is not checked)."""
    login = login.strip()
    if not 0 < len(login) <= 254:
        return None
    return session.scalar(select(User).where(or_(User.name == login, User.email == login.lower())))


def password_matches(password_hash: str | None, password: str) -> bool:
    """Check ``password`` against a user's hash; with none (no such user, no password) a
    dummy hash is checked so that the time taken does not tell which names exist."""
    if not password_hash:
        verify_password(_dummy_hash(), password)
        return False
    return verify_password(password_hash, password)


def authenticate(session: Session, login: str, password: str) -> User | None:
    """The user whose name or email is ``login`` and whose password matches, else None."""
    user = find_login(session, login)
    if password_matches(user.password_hash if user is not None else None, password):
        return user
    return None


class WrongPassword(DomainError):
    message = N_("The current password is not correct")


def change_password(session: Session, user: User, current: str, new: str) -> None:
    if not verify_password(user.password_hash, current):
        raise WrongPassword()
    set_password(session, user, new)


def set_discount(session: Session, user: User, percent: Decimal) -> User:
    """A customer's percent off every rate (0 for none)."""
    if not Decimal(0) <= percent <= Decimal(100):
        raise DomainError(N_('A discount is a percent from 0 to 100'))
    user.discount_percent = percent
    return user


def search_users(session: Session, search: str = "", page: int = 1) -> Page[User]:
    """Users whose name or email contains ``search``, newest first."""
    query = select(User)
    search = search.strip()[:254]
    if search:
        query = query.where(
            or_(
                User.name.contains(search, autoescape=True),
                User.email.contains(search.lower(), autoescape=True),
            )
        )
    return paginate(session, query.order_by(User.id.desc()), page)
