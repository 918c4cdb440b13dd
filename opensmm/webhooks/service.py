"""Setting a key's webhook, and recording the changes to tell it about.

A change is recorded in the transaction that makes it (one ``INSERT … SELECT`` per change,
which adds a row for each of the owner's keys that has a webhook, and nothing for the others),
so a status that commits is told, and one that rolls back is not. The worker sends them
(``opensmm.webhooks.sender``). A customer's orders are told to every webhook of theirs: the
API does not record which key placed an order.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Insert, and_, bindparam, insert, literal, select
from sqlalchemy.orm import Session

from opensmm.accounts.models import ApiKey
from opensmm.db import utcnow
from opensmm.errors import DomainError
from opensmm.i18n import N_
from opensmm.security import secrets as sealed
from opensmm.webhooks.models import PENDING, WebhookDelivery

PURPOSE = sealed.Purpose(salt=b"opensmm/webhooks/secret", info=b"API key webhook secret v1")
MAX_URL = 500
ORDER, REFILL = "order", "refill"


class WebhookRefused(DomainError):
    pass


def check_url(raw: str) -> str:
    url = raw.strip()
    if len(url) > MAX_URL or any(ch.isspace() or not ch.isprintable() for ch in url):
        raise WebhookRefused(N_("A webhook URL is an http(s) address of at most 500 characters"))
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookRefused(N_("A webhook URL is an http(s) address of at most 500 characters"))
    if parts.username or parts.password:
        raise WebhookRefused(N_("A webhook URL must not hold a user name or password"))
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError:
        raise WebhookRefused(N_("A webhook URL is an http(s) address of at most 500 characters")
                             ) from None
    return url


def is_public(address: str) -> bool:
    """Whether a webhook may be sent to this address (no loopback, private, link-local…):
    a customer's URL must not reach the panel's own network."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def set_webhook(session: Session, key: ApiKey, url: str, panel_secret: str) -> str | None:
    """Set (or, with an empty ``url``, turn off) ``key``'s webhook. Returns the new signing
    secret, to be shown once; ``None`` when turned off. Setting it again makes a new secret."""
    if not url.strip():
        key.webhook_url = key.webhook_secret = None
        return None
    key.webhook_url = check_url(url)
    secret = "whsec_" + secrets.token_urlsafe(32)
    key.webhook_secret = sealed.encrypt(secret, panel_secret, PURPOSE)
    return secret


def secret_of(key: ApiKey, panel_secret: str) -> str:
    if not key.webhook_secret:
        raise sealed.SecretError("no webhook secret")
    return sealed.decrypt(key.webhook_secret, panel_secret, PURPOSE)


def _tell(kind: str) -> Insert:
    """One row per webhook of the object's owner (none when they have none)."""
    columns: list[Any] = [
        ApiKey.id, literal(kind), bindparam("object_id"), bindparam("status"),
        literal(PENDING), literal(0), bindparam("now"), literal(""), bindparam("now"),
    ]
    rows = select(*columns).where(and_(
        ApiKey.user_id == bindparam("user_id"), ApiKey.webhook_url.is_not(None),
        ApiKey.revoked_at.is_(None)))
    # The table, not the entity: an ORM insert with parameters is a bulk insert of rows.
    return insert(WebhookDelivery.metadata.tables[WebhookDelivery.__tablename__]).from_select(
        ["key_id", "kind", "object_id", "status", "state", "attempts", "next_attempt_at",
         "last_error", "created_at"], rows)


_TELL_ORDER = _tell(ORDER)
_TELL_REFILL = _tell(REFILL)


def orders_changed(session: Session, changes: Iterable[tuple[int, int, str]]) -> None:
    """``(order id, its owner's id, the new status)`` for each order whose status changed.

    The worker reports a whole batch of changes at once: one query first finds which of
    their owners have a webhook at all (most have none), and only their changes pay the
    ``INSERT … SELECT`` each (rather than one statement per changed order)."""
    changes = list(changes)
    if not changes:
        return
    owners = {user_id for _, user_id, _ in changes}
    if len(changes) > 1:
        owners = set(session.scalars(
            select(ApiKey.user_id).distinct().where(
                ApiKey.user_id.in_(owners), ApiKey.webhook_url.is_not(None),
                ApiKey.revoked_at.is_(None))
        ))
    now = utcnow()
    for order_id, user_id, status in changes:
        if user_id in owners:
            session.execute(_TELL_ORDER, {"object_id": order_id, "user_id": user_id,
                                          "status": status, "now": now})


def refill_changed(session: Session, refill_id: int, user_id: int, status: str) -> None:
    session.execute(_TELL_REFILL, {"object_id": refill_id, "user_id": user_id,
                                   "status": status, "now": utcnow()})


def recent_deliveries(session: Session, user_id: int, limit: int = 20) -> list[WebhookDelivery]:
    return list(session.scalars(
        select(WebhookDelivery).join(ApiKey, ApiKey.id == WebhookDelivery.key_id)
        .where(ApiKey.user_id == user_id).order_by(WebhookDelivery.id.desc()).limit(limit)
    ))
