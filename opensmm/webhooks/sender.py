"""Sending the recorded webhooks: the worker's job, with retries and back-off.

Due deliveries are claimed first (pushed back by a lease, ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so two workers never send one twice at once), then posted with no transaction
open. The body is the object's status answer at that moment, signed with the key's secret.
A 2xx ends it; anything else is tried again later (30 s, doubling to an hour), up to
``MAX_ATTEMPTS``. A URL whose host resolves to a loopback, private or link-local address is
refused unless ``OPENSMM_WEBHOOKS_ALLOW_PRIVATE`` (tests, and panels on one private network):
a customer's URL must not reach the panel's own network.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select

from opensmm.accounts.models import ApiKey
from opensmm.api.reads import order_status
from opensmm.db import Database
from opensmm.money import to_minor
from opensmm.orders.models import Order
from opensmm.refills.models import Refill
from opensmm.security.secrets import SecretError
from opensmm.settings import get_settings
from opensmm.webhooks import service
from opensmm.webhooks.models import DELIVERED, FAILED, PENDING, WebhookDelivery
from opensmm.webhooks.signing import HEADER, signature

log = logging.getLogger("opensmm.webhooks")

MAX_ATTEMPTS = 12
FIRST_WAIT = 30.0
LONGEST_WAIT = 3600.0
LEASE = timedelta(minutes=2)
TIMEOUT = 10.0
BATCH = 50


@dataclass(frozen=True)
class Due:
    delivery_id: int
    key_id: int
    kind: str
    object_id: int
    attempts: int


def claim(db: Database, now: datetime) -> list[Due]:
    due_now = (WebhookDelivery.state == PENDING, WebhookDelivery.next_attempt_at <= now)
    with db.read() as session:  # every worker pass asks: no write lock when idle
        if session.scalar(select(WebhookDelivery.id).where(*due_now).limit(1)) is None:
            return []
    with db.write() as session:
        query = (select(WebhookDelivery).where(*due_now)
                 .order_by(WebhookDelivery.next_attempt_at).limit(BATCH))
        if not db.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        claimed = []
        for row in session.scalars(query):
            row.next_attempt_at = now + LEASE
            claimed.append(Due(row.id, row.key_id, row.kind, row.object_id, row.attempts))
        return claimed


def _body(db: Database, due: Due, currency: str) -> bytes | None:
    with db.read() as session:
        if due.kind == service.ORDER:
            order = session.get(Order, due.object_id)
            if order is None:
                return None
            answer = order_status(_Row(order), currency)
            return json.dumps({"order": order.id, **answer}).encode()
        refill = session.get(Refill, due.object_id)
        if refill is None:
            return None
        return json.dumps({"refill": refill.id, "status": refill.status}).encode()


class _Row:
    """An order as the API's status answer reads it."""

    def __init__(self, order: Order) -> None:
        self.net_charge_units = to_minor(order.net_charge)
        self.start_count = order.start_count
        self.order_status = order.status
        self.remains = order.remains


def _public_host(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return True  # the POST will fail and be retried: nothing reached
    return all(service.is_public(str(info[4][0])) for info in infos)


def _wait(attempts: int) -> timedelta:
    return timedelta(seconds=min(FIRST_WAIT * 2 ** max(attempts - 1, 0), LONGEST_WAIT))


def send_one(db: Database, http: httpx.Client, panel_secret: str, due: Due) -> bool:
    settings = get_settings()
    with db.read() as session:
        key = session.get(ApiKey, due.key_id)
        url = key.webhook_url if key is not None and key.revoked_at is None else None
        try:
            secret = service.secret_of(key, panel_secret) if url and key else ""
        except SecretError:
            url, secret = None, ""
    body = _body(db, due, settings.currency)
    code: int | None = None
    error = ""
    if url is None or body is None:
        error = "the key, its webhook or the object is gone"
        _finish(db, due, FAILED, None, error)
        return False
    if not settings.webhooks_allow_private and not _public_host(url):
        error = "the URL leads to a private or local address"
    else:
        stamp = int(time.time())
        try:
            response = http.post(url, content=body, headers={
                "Content-Type": "application/json", HEADER: signature(secret, body, stamp),
                "User-Agent": "opensmm-webhooks"}, timeout=TIMEOUT)
            code = response.status_code
            if 200 <= code < 300:
                _finish(db, due, DELIVERED, code, "")
                return True
            error = f"HTTP {code}"
        except httpx.HTTPError as exc:
            error = type(exc).__name__
    attempts = due.attempts + 1
    state = FAILED if attempts >= MAX_ATTEMPTS else PENDING
    _finish(db, due, state, code, error, attempts=attempts)
    return False


def _finish(db: Database, due: Due, state: str, code: int | None, error: str, *,
            attempts: int | None = None) -> None:
    with db.write() as session:
        row = session.get(WebhookDelivery, due.delivery_id)
        if row is None:
            return
        row.state, row.last_code, row.last_error = state, code, error[:500]
        row.attempts = due.attempts + 1 if attempts is None else attempts
        if state == DELIVERED:
            row.delivered_at = db.now()
        elif state == PENDING:
            row.next_attempt_at = db.now() + _wait(row.attempts)


def run_once(db: Database, http: httpx.Client | Callable[[], httpx.Client], panel_secret: str,
             now: datetime | None = None) -> int:
    """Send what is due; how many were attempted. ``http`` may be a function that makes the
    client, called only when something is due (a client's TLS context holds megabytes)."""
    due = claim(db, now or db.now())
    if not due:
        return 0
    client = http if isinstance(http, httpx.Client) else http()
    for item in due:
        try:
            send_one(db, client, panel_secret, item)
        except Exception:  # one delivery's surprise must not stop the others
            log.exception("webhook delivery %s failed", item.delivery_id)
    return len(due)

