"""Staff actions on accounts and keys, from every door: each writes one audit row."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.orm import Session

from opensmm.accounts import service as accounts
from opensmm.accounts.models import ApiKey, User
from opensmm.audit import service as audit
from opensmm.audit.actor import Actor
from opensmm.money import format_money
from opensmm.security.network import normalize_allow_list


def create_user(
    session: Session,
    actor: Actor,
    name: str,
    *,
    email: str | None = None,
    password: str | None = None,
    is_admin: bool = False,
) -> User:
    user = accounts.create_user(session, name, email=email, password=password, is_admin=is_admin)
    action = "user.create_staff" if is_admin else "user.create"
    audit.record(session, actor, action, f"user:{user.id}", user=user.name)
    return user


def set_status(session: Session, actor: Actor, name: str, *, active: bool) -> User:
    user = accounts.set_status(session, name, active=active)
    audit.record(session, actor, "user.activate" if active else "user.suspend",
                 f"user:{user.id}", user=user.name)
    return user


def set_discount(session: Session, actor: Actor, user: User, percent: Decimal) -> User:
    before = user.discount_percent
    accounts.set_discount(session, user, percent)
    audit.record(session, actor, "user.discount", f"user:{user.id}", user=user.name,
                 before=format_money(before), after=format_money(percent))
    return user


def create_key(session: Session, actor: Actor, user: User, label: str = "") -> accounts.NewKey:
    new = accounts.create_key(session, user, label)
    audit.record(session, actor, "key.create", f"key:{new.id}", key=new.id, user=user.name)
    return new


def revoke_key(session: Session, actor: Actor, key: str) -> ApiKey:
    row = accounts.revoke_key(session, key)
    owner = session.get(User, row.user_id)
    audit.record(session, actor, "key.revoke", f"key:{row.id}", key=row.id,
                 user=owner.name if owner else "")
    return row


def allow_ips(session: Session, actor: Actor, key_id: int, addresses: str) -> str | None:
    """Where an API key may be used from (None: anywhere)."""
    row = session.get(ApiKey, key_id)
    if row is None:
        raise accounts.KeyNotFound()
    row.allowed_ips = normalize_allow_list(addresses)
    audit.record(session, actor, "key.allow_ips", f"key:{row.id}", key=row.id,
                 ips=row.allowed_ips or "*")
    return row.allowed_ips


def set_webhook(session: Session, actor: Actor, key_id: int, url: str,
                panel_secret: str) -> str | None:
    """Set (empty ``url``: turn off) an API key's status webhook; its new secret, once."""
    from opensmm.webhooks import service as webhooks

    row = session.get(ApiKey, key_id)
    if row is None or row.revoked_at is not None:
        raise accounts.KeyNotFound()
    secret = webhooks.set_webhook(session, row, url, panel_secret)
    audit.record(session, actor, "key.webhook", f"key:{row.id}", key=row.id,
                 url=row.webhook_url or "-")
    return secret


def send_reset_link(session: Session, actor: Actor, user: User, base_url: str) -> int:
    """Mail the user a password reset link; the outbox row's id."""
    from opensmm.accounts import recovery

    mail_id = recovery.send_reset(session, user, base_url)
    audit.record(session, actor, "user.reset_link", f"user:{user.id}", user=user.name)
    return mail_id


def set_password(session: Session, actor: Actor, user: User, password: str) -> User:
    """Set the user's password; every session of the user ends."""
    from opensmm.web.sessions import end_other_sessions

    accounts.set_password(session, user, password)
    end_other_sessions(session, user.id)
    audit.record(session, actor, "user.set_password", f"user:{user.id}", user=user.name)
    return user
