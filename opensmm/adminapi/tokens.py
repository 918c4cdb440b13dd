"""Making, listing, revoking and checking admin API tokens (every door: CLI, staff page)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from opensmm.accounts.keys import hash_key, new_key
from opensmm.adminapi.models import SCOPES, AdminToken
from opensmm.audit import service as audit
from opensmm.audit.actor import Actor
from opensmm.db import utcnow
from opensmm.db.types import parse_id
from opensmm.errors import DomainError, NotFound
from opensmm.i18n import N_

# "osa_" (opensmm admin) and 40 letters and digits: told apart from an API v2 key at a glance.
TOKEN_PREFIX = "osa_"  # noqa: S105 - a marker, not a secret
PREFIX_SHOWN = 10
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._:-]{0,63}")


class TokenNotFound(NotFound):
    message = N_("Admin token not found")


class TokenRefused(DomainError):
    pass


@dataclass(frozen=True)
class NewToken:
    id: int
    name: str
    scope: str
    token: str  # the only time the plain token exists


def check_name(name: str) -> str:
    name = name.strip()
    if not _NAME.fullmatch(name):
        raise TokenRefused(
            N_("A token name is 1 to 64 letters, digits, spaces or . _ : - (starting with a "
               "letter or digit)")
        )
    return name


def check_scope(scope: str) -> str:
    scope = scope.strip().lower()
    if scope not in SCOPES:
        raise TokenRefused(N_("The scope is read or write"))
    return scope


def looks_like_token(value: str) -> bool:
    """Cheap screen before any query."""
    rest = value[len(TOKEN_PREFIX):]
    return value.startswith(TOKEN_PREFIX) and len(rest) == 40 and rest.isascii() and rest.isalnum()


def create(session: Session, actor: Actor, name: str, scope: str) -> NewToken:
    name, scope = check_name(name), check_scope(scope)
    token = TOKEN_PREFIX + new_key()
    row = AdminToken(name=name, scope=scope, token_hash=hash_key(token),
                     prefix=token[:PREFIX_SHOWN], created_by=actor.name[:64])
    session.add(row)
    session.flush()
    audit.record(session, actor, "admin_token.create", f"admin_token:{row.id}", token=row.id,
                 name=name, scope=scope)
    return NewToken(row.id, name, scope, token)


def all_tokens(session: Session) -> list[AdminToken]:
    return list(session.scalars(select(AdminToken).order_by(AdminToken.id)))


def revoke(session: Session, actor: Actor, token_id: object) -> AdminToken:
    """Revoke by id; revoking a revoked token changes nothing (and writes no audit row)."""
    number = parse_id(token_id)
    row = None if number is None else session.get(AdminToken, number, with_for_update=True)
    if row is None:
        raise TokenNotFound()
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record(session, actor, "admin_token.revoke", f"admin_token:{row.id}",
                     token=row.id, name=row.name)
    return row


def authenticate(session: Session, token: str) -> AdminToken | None:
    """The live token ``token`` is, or None (unknown, revoked, malformed)."""
    if not looks_like_token(token):
        return None
    row = session.scalar(select(AdminToken).where(AdminToken.token_hash == hash_key(token)))
    if row is None or row.revoked_at is not None:
        return None
    return row


def actor_of(row: AdminToken, ip: str = "") -> Actor:
    """How a token signs audit rows, ledger memos and order histories."""
    return Actor.token(row.id, row.name, ip=ip)
