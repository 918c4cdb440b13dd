"""Two-factor changes, audited: by the account's owner on their page, by staff (the user's
page, ``opensmm user reset-2fa``) for someone locked out."""

from __future__ import annotations

from sqlalchemy.orm import Session

from opensmm.accounts.models import User
from opensmm.audit import service as audit
from opensmm.audit.actor import Actor
from opensmm.twofactor import service as twofactor


def enabled(session: Session, actor: Actor, user: User) -> None:
    audit.record(session, actor, "2fa.enable", f"user:{user.id}", user=user.name)


def disabled(session: Session, actor: Actor, user: User) -> None:
    audit.record(session, actor, "2fa.disable", f"user:{user.id}", user=user.name)


def recovery_codes_renewed(session: Session, actor: Actor, user: User) -> None:
    audit.record(session, actor, "2fa.recovery_codes", f"user:{user.id}", user=user.name)


def reset(session: Session, actor: Actor, user: User) -> bool:
    """Turn a user's 2FA off for them (they log in with the password alone, and may enrol
    again); whether it was on. Audited either way: staff looked at it."""
    was_on = twofactor.is_enabled(session, user.id)
    twofactor.disable(session, user.id)
    audit.record(session, actor, "user.reset_2fa", f"user:{user.id}", user=user.name,
                 was_on=was_on)
    return was_on
