"""Who is calling: one indexed lookup by the key's hash, every request (no cache, so a
revoked key, a changed allow-list or a suspended account takes effect at once).

The same lookup notes the key's id for the request's log line and checks the key's IP
allow-list against the request's address (both carried by ``current_request``)."""

from __future__ import annotations

import hmac
from typing import Any, cast

from sqlalchemy import Row, Select, bindparam, select
from sqlalchemy.orm import Session

from opensmm.accounts.keys import hash_key, looks_like_key
from opensmm.accounts.models import USER_ACTIVE, ApiKey, User
from opensmm.api.params import id_list
from opensmm.db import Database
from opensmm.db.statements import Statement
from opensmm.errors import DomainError, IncorrectRequest
from opensmm.i18n import N_
from opensmm.observability.requests import current_request
from opensmm.orders.service import Customer
from opensmm.security.network import ip_allowed

AnySelect = Select[*tuple[Any, ...]]


class InvalidKey(DomainError):
    message = N_("Invalid API key")


class KeyNotAllowedFromAddress(InvalidKey):
    message = N_("This API key cannot be used from your IP address")


class AccountSuspended(DomainError):
    message = N_("Your account is suspended")


def key_hash_of(key: str | None) -> str:
    """The hash to look up, or ``InvalidKey`` for anything that cannot be a key."""
    if not key or not looks_like_key(key):
        raise InvalidKey()
    return hash_key(key)


def caller_query(key_hash: str):  # type: ignore[no-untyped-def]
    return (
        select(
            User.id,
            User.status,
            ApiKey.key_hash,
            ApiKey.id.label("key_id"),
            ApiKey.allowed_ips,
        )
        .join(ApiKey, ApiKey.user_id == User.id)
        .where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
    )


def check_caller(row: Row[tuple[int, str, str, int, str | None]] | None, key_hash: str) -> int:
    """The caller's user id from a lookup row, or the refusal."""
    # The index found the row by hash; compare again in constant time so that the
    # answer's timing says nothing about how much of a guessed hash matched.
    if row is None or not hmac.compare_digest(row.key_hash, key_hash):
        raise InvalidKey()
    request = current_request.get()
    if request is not None:  # an API request (other callers have no address to check)
        request.key_id = row.key_id
        if row.allowed_ips is not None and not ip_allowed(row.allowed_ips, request.ip):
            raise KeyNotAllowedFromAddress()
    if row.status != USER_ACTIVE:
        raise AccountSuspended()
    return int(row.id)


def refuse_bad_key(db: Database, key_hash: str) -> None:
    """Raise the key's refusal, if it has one."""
    with db.read() as session:
        check_caller(session.execute(caller_query(key_hash)).first(), key_hash)


def required_ids(value: str | list[str] | None) -> list[str]:
    """The ids sent; none is ``IncorrectRequest``, too many ``TooManyIds``."""
    ids = id_list(value)
    if not ids:
        raise IncorrectRequest()
    return ids


def id_list_or_refuse(db: Database, key_hash: str, value: str | list[str] | None) -> list[str]:
    """The ids sent; an empty or too long list is refused, but a bad key is named first
    (spec §6), as for every other request."""
    try:
        return required_ids(value)
    except DomainError:
        refuse_bad_key(db, key_hash)
        raise


def caller_by_key_hash() -> AnySelect:
    """``caller_query`` with the key's hash as a named parameter, ``key_hash``: the start of
    the statements compiled once (opensmm.db.statements)."""
    # caller_query builds a comparison with whatever it is given: here a parameter.
    return cast(AnySelect, caller_query(cast(str, bindparam("key_hash"))))


def _customer_query() -> AnySelect:
    return caller_by_key_hash().add_columns(User.discount_percent, User.email_verified_at)


# Compiled once per dialect (opensmm.db.statements): the caller of every ``add``.
_CUSTOMER = Statement(_customer_query)


def load_customer(session: Session, key_hash: str) -> Customer:
    """The caller, checked, as what placing an order needs, read in ``session``'s unit."""
    rows = _CUSTOMER.run(session, key_hash=key_hash)
    user_id = check_caller(rows[0] if rows else None, key_hash)
    return Customer(user_id, rows[0].discount_percent, rows[0].email_verified_at is not None)


def load_caller(session: Session, key_hash: str) -> User:
    """The calling user as an ORM object, for actions that change data."""
    # One statement: the key's row and the user's, loaded into the session as an entity.
    row = session.execute(caller_query(key_hash).add_columns(User)).first()
    check_caller(row, key_hash)
    assert row is not None
    user: User = row.User
    return user
