"""Single-use links mailed to a user: a password reset (one hour), an email verification
(24 hours).

The link holds a random token (256 bits); only its SHA-256 is stored, so the database
alone opens nothing. A token is used once (``used_at``), and a new link of the same kind
ends the ones before it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from opensmm.accounts.models import RESET_LINK, VERIFY_LINK, AccountToken, User
from opensmm.db import utcnow
from opensmm.errors import DomainError
from opensmm.i18n import N_

LIFETIMES = {RESET_LINK: timedelta(hours=1), VERIFY_LINK: timedelta(hours=24)}
MAX_TOKEN = 100


class LinkRefused(DomainError):
    message = N_("This link is not valid: it may have expired or been used already. "
                 "Please ask for a new one.")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def issue(session: Session, user: User, purpose: str, email: str | None = None) -> str:
    """A new link's token for ``user`` (the earlier unused ones of ``purpose`` end)."""
    now = utcnow()
    session.execute(
        update(AccountToken)
        .where(AccountToken.user_id == user.id, AccountToken.purpose == purpose,
               AccountToken.used_at.is_(None))
        .values(used_at=now)
    )
    token = secrets.token_urlsafe(32)
    session.add(AccountToken(
        user_id=user.id, purpose=purpose, token_hash=_hash(token), email=email,
        created_at=now, expires_at=now + LIFETIMES[purpose],
    ))
    session.flush()
    return token


@dataclass(frozen=True)
class Valid:
    token: AccountToken
    user: User


def check(session: Session, purpose: str, token: str, *, lock: bool = False) -> Valid:
    """The unused, unexpired link ``token`` and its user, else ``LinkRefused``."""
    if not token or len(token) > MAX_TOKEN or not token.isascii():
        raise LinkRefused()
    query = select(AccountToken).where(
        AccountToken.token_hash == _hash(token), AccountToken.purpose == purpose
    )
    row = session.scalar(query.with_for_update() if lock else query)
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        raise LinkRefused()
    user = session.get(User, row.user_id)
    if user is None:
        raise LinkRefused()
    return Valid(row, user)


def use(session: Session, purpose: str, token: str) -> Valid:
    """Check the link and mark it used, in the caller's unit of work (once: two uses at
    the same moment cannot both pass, the update counts)."""
    valid = check(session, purpose, token, lock=True)
    used = session.execute(
        update(AccountToken)
        .where(AccountToken.id == valid.token.id, AccountToken.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        raise LinkRefused()
    return valid
