"""An upstream opensmm's status webhooks, received: statuses pushed instead of polled.

The upstream posts to ``/providers/webhook/{provider_id}`` when one of our orders or refills
there changes status (spec §7: the body is its ``status`` answer with its id, signed in
``X-Opensmm-Signature`` with the secret the upstream printed when the URL was set). The
secret is stored encrypted on the provider (:func:`set_secret`).

A POST is refused, writing nothing, when its signature is wrong, more than five minutes
old, or already seen (a replay: the signatures of the last ten minutes are kept), or when
its body is not such an answer (4xx). A good one is applied exactly like a status check's
answer (``opensmm.fulfillment.tracking``: the same status rules and exactly-once refunds),
and marks the provider's webhooks as live: its orders are then checked only now and then
(``WorkerConfig.webhook_poll_seconds``), as usual again when they stop.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from opensmm.client import ClientError
from opensmm.client.parse import parse_order_status, parse_refill_status
from opensmm.db import Database, utcnow
from opensmm.db.insert import insert_for
from opensmm.errors import DomainError
from opensmm.fulfillment import tracking
from opensmm.fulfillment.config import Tally, WorkerConfig
from opensmm.fulfillment.protocol import RefillObservation, TrackedRefill
from opensmm.fulfillment.states import SENT
from opensmm.fulfillment.statuses import order_observation, refill_observation
from opensmm.i18n import N_
from opensmm.orders.models import Order
from opensmm.providers.models import Provider, ProviderWebhookSeen
from opensmm.refills import statuses as rs
from opensmm.refills.models import Refill
from opensmm.security import secrets as sealed
from opensmm.webhooks.signing import HEADER, verify

log = logging.getLogger("opensmm.fulfillment")

PURPOSE = sealed.Purpose(salt=b"opensmm/providers/webhook", info=b"provider webhook secret v1")
MAX_BODY = 16_384
__all__ = ["HEADER", "Answer", "handle", "path_for", "set_secret"]
MAX_SECRET = 200
KEEP_SEEN = timedelta(minutes=10)


class WebhookSecretRefused(DomainError):
    pass


def path_for(provider_id: int) -> str:
    return f"/providers/webhook/{provider_id}"


def set_secret(session: Session, provider: Provider, secret: str, panel_secret: str) -> None:
    """Store the upstream's signing secret (encrypted); an empty one turns webhooks off."""
    secret = secret.strip()
    if not secret:
        provider.webhook_secret = None
        provider.webhook_at = None
        return
    if len(secret) > MAX_SECRET or not secret.isprintable() or any(c.isspace() for c in secret):
        raise WebhookSecretRefused(
            N_("A webhook secret is the one line the provider printed (at most 200 characters)")
        )
    provider.webhook_secret = sealed.encrypt(secret, panel_secret, PURPOSE)


@dataclass(frozen=True)
class Answer:
    status: int
    message: str


@dataclass(frozen=True)
class _Pushed:
    kind: str  # "order" or "refill"
    upstream_id: int
    payload: dict[str, object]


def _read(body: bytes) -> _Pushed | None:
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    if not isinstance(payload, dict):
        return None
    for kind in ("order", "refill"):
        value = payload.get(kind)
        if type(value) is int and value > 0:
            return _Pushed(kind, value, payload)
    return None


def _mac(header: str) -> str:
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    return parts.get("v1", "")[:64]


def handle(
    db: Database, panel_secret: str, provider_id: int, body: bytes, header: str,
    config: WorkerConfig, *, now: float | None = None,
) -> Answer:
    """Check and apply one POST from provider ``provider_id``."""
    with db.read() as session:
        provider = session.get(Provider, provider_id)
        stored = provider.webhook_secret if provider is not None else None
        name = provider.name if provider is not None else ""
    if stored is None:
        return Answer(404, "no webhooks expected here")
    try:
        secret = sealed.decrypt(stored, panel_secret, PURPOSE)
    except sealed.SecretError:
        log.error("ALERT provider %s: its webhook secret cannot be read; set it again", name)
        return Answer(503, "not ready")
    if len(body) > MAX_BODY or not verify(secret, body, header, now=now):
        return Answer(401, "bad signature")
    pushed = _read(body)
    if pushed is None:
        return Answer(400, "not an order or refill status")
    by = f"provider:{name}"
    if pushed.kind == "order":
        return _order(db, provider_id, pushed, header, by, config)
    return _refill(db, provider_id, pushed, header, by, config)


def _first_time(db: Database, provider_id: int, header: str) -> bool:
    """Record the signature as seen, and the provider's webhooks as live; False if it was
    seen already (a replay)."""
    now = utcnow()
    with db.write() as session:
        added = session.execute(
            insert_for(session, ProviderWebhookSeen)
            .values(provider_id=provider_id, mac=_mac(header), received_at=now)
            .on_conflict_do_nothing(index_elements=["provider_id", "mac"])
            .returning(ProviderWebhookSeen.id)
        ).first()
        if added is None:
            return False
        provider = session.get(Provider, provider_id)
        if provider is not None:
            provider.webhook_at = now
        return True


def _order(
    db: Database, provider_id: int, pushed: _Pushed, header: str, by: str, config: WorkerConfig
) -> Answer:
    item = tracking.pushed_order(db, provider_id, pushed.upstream_id)
    if item is None:
        return Answer(404, "no running order of ours has this id")
    try:  # read as a status check reads it (a subscription's status on its own scale)
        seen = order_observation(
            parse_order_status(pushed.payload, pushed.upstream_id),
            subscription=item.tracked.subscription,
        )
    except ClientError:
        return Answer(400, "not a status answer")
    if seen.status is None:  # a status check alerts on it; its fallback check will
        return Answer(400, "an unknown status")
    if not _first_time(db, provider_id, header):
        return Answer(409, "already received")
    tracking.record_observations(
        db, config.pushed(), by, [item], {item.tracked.order_id: seen}, Tally()
    )
    return Answer(200, "applied")


def _refill(
    db: Database, provider_id: int, pushed: _Pushed, header: str, by: str, config: WorkerConfig
) -> Answer:
    with db.read() as session:
        row = session.execute(
            select(Refill.id, Refill.status, Refill.sent_at, Refill.alert, Order.fulfillment)
            .join(Order, Order.id == Refill.order_id)
            .where(
                Order.provider_id == provider_id,
                Refill.upstream_id == pushed.upstream_id,
                Refill.send_state == SENT,
                Refill.status.in_(rs.OPEN),
            )
            .limit(1)
        ).first()
    if row is None:
        return Answer(404, "no open refill of ours has this id")
    try:
        seen: RefillObservation = refill_observation(parse_refill_status(pushed.payload))
    except ClientError:
        return Answer(400, "not a refill status answer")
    if seen.status is None:
        return Answer(400, "an unknown refill status")
    if not _first_time(db, provider_id, header):
        return Answer(409, "already received")
    claim = tracking.TrackedRefillClaim(
        tracked=TrackedRefill(row.id, pushed.upstream_id, row.status, row.sent_at or utcnow()),
        fulfillment=row.fulfillment,
        provider_id=provider_id,
        alert=row.alert,
    )
    tracking.record_refill_observations(
        db, config.pushed(), by, [claim], {row.id: seen}, Tally()
    )
    return Answer(200, "applied")


def forget_seen(db: Database, now: datetime | None = None) -> None:
    """Drop signatures older than ``KEEP_SEEN`` (past the five minutes they are valid)."""
    with db.write() as session:
        session.execute(
            delete(ProviderWebhookSeen).where(
                ProviderWebhookSeen.received_at < (now or utcnow()) - KEEP_SEEN
            )
        )
