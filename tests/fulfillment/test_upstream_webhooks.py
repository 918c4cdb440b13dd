"""An upstream's status webhooks, received: a signed POST is applied like a status check's
answer (money rules and all); forged, stale, replayed or unreadable ones are refused and
change nothing; while they arrive the provider is checked only now and then."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from opensmm.db import Database, utcnow
from opensmm.fulfillment.config import WorkerConfig
from opensmm.fulfillment.health import load_providers
from opensmm.fulfillment.states import SENT
from opensmm.fulfillment.worker import Worker
from opensmm.orders.models import Order
from opensmm.providers import webhooks
from opensmm.providers.models import Provider, ProviderWebhookSeen
from opensmm.settings import Settings
from opensmm.webhooks.signing import signature
from tests.fulfillment import helpers as h

PANEL_SECRET = "p" * 40
UPSTREAM_SECRET = "whsec_upstream-secret-for-tests"
UPSTREAM_ID = 777


def _sent_order(db: Database) -> tuple[int, int, h.Customer]:
    provider_id = h.provider(db, "http://127.0.0.1:9/api/v2")
    service_id = h.provider_service(db, provider_id, rate=Decimal("1.00"))
    who = h.customer(db, "10")
    order_id = h.place(db, who, service_id, 1000)  # 1.00 charged
    with db.write() as session:
        order = session.get(Order, order_id)
        provider = session.get(Provider, provider_id)
        assert order is not None and provider is not None
        order.send_state, order.upstream_id = SENT, UPSTREAM_ID
        order.sent_at = order.next_poll_at = utcnow()
        webhooks.set_secret(session, provider, UPSTREAM_SECRET, PANEL_SECRET)
    return provider_id, order_id, who


def _post(
    db: Database, provider_id: int, body: dict[str, object], *,
    secret: str = UPSTREAM_SECRET, age: int = 0, header: str | None = None,
) -> webhooks.Answer:
    raw = json.dumps(body).encode()
    signed = signature(secret, raw, int(time.time()) - age) if header is None else header
    return webhooks.handle(db, PANEL_SECRET, provider_id, raw, signed, h.FAST)


def _seen(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(ProviderWebhookSeen)) or 0)


PARTIAL = {"order": UPSTREAM_ID, "charge": "0.4", "start_count": "5", "status": "Partial",
           "remains": "600", "currency": "USD"}


def test_a_signed_status_is_applied_once_and_bad_ones_change_nothing(db: Database) -> None:
    provider_id, order_id, who = _sent_order(db)
    # Refused, writing nothing: forged, stale, not ours, unreadable, for another provider.
    refused = [
        _post(db, provider_id, PARTIAL, secret="whsec_someone-else"),
        _post(db, provider_id, PARTIAL, age=301),
        _post(db, provider_id, PARTIAL, header="t=1,v1=00"),
        _post(db, provider_id, PARTIAL, header=""),
        _post(db, provider_id, {**PARTIAL, "order": UPSTREAM_ID + 1}),
        _post(db, provider_id, {**PARTIAL, "status": {"nested": 1}}),
        _post(db, provider_id, {"order": "777"}),
        _post(db, provider_id + 1000, PARTIAL),
    ]
    assert [a.status for a in refused] == [401, 401, 401, 401, 404, 400, 400, 404]
    garbage = b"not json"
    assert webhooks.handle(db, PANEL_SECRET, provider_id, garbage,
                           signature(UPSTREAM_SECRET, garbage, int(time.time())),
                           h.FAST).status == 400
    assert h.get_order(db, order_id).status == "Pending" and h.balance(db, who) == Decimal("9")
    assert _seen(db) == 0 and h.get_provider(db, provider_id).webhook_at is None

    raw = json.dumps(PARTIAL).encode()
    header = signature(UPSTREAM_SECRET, raw, int(time.time()))
    assert webhooks.handle(db, PANEL_SECRET, provider_id, raw, header, h.FAST).status == 200
    order = h.get_order(db, order_id)
    assert (order.status, order.remains, order.start_count) == ("Partial", 600, 5)
    assert h.balance(db, who) == Decimal("9.6")  # 600 of 1000 refunded
    # The same POST again: refused (the order is no longer running), nothing twice.
    assert webhooks.handle(db, PANEL_SECRET, provider_id, raw, header, h.FAST).status == 404
    assert h.balance(db, who) == Decimal("9.6") and h.refund_entries(db, order_id) == 1
    assert h.ledger_clean(db)
    assert _seen(db) == 1


def test_a_replay_of_a_running_status_is_refused(db: Database) -> None:
    provider_id, order_id, _ = _sent_order(db)
    body = {**PARTIAL, "status": "In progress", "remains": "900"}
    raw = json.dumps(body).encode()
    header = signature(UPSTREAM_SECRET, raw, int(time.time()))
    assert webhooks.handle(db, PANEL_SECRET, provider_id, raw, header, h.FAST).status == 200
    assert h.get_order(db, order_id).status == "In progress"
    assert webhooks.handle(db, PANEL_SECRET, provider_id, raw, header, h.FAST).status == 409
    assert _seen(db) == 1


def test_polling_slows_while_webhooks_arrive_and_resumes_when_they_stop(db: Database) -> None:
    provider_id, order_id, _ = _sent_order(db)
    worker = Worker(db, h.FAST)
    try:
        now = utcnow()
        views = load_providers(db)
        assert worker._poll_config(views[provider_id], now) is worker.config  # none yet
        running = {**PARTIAL, "status": "In progress", "remains": "900"}
        assert _post(db, provider_id, running).status == 200
        order = h.get_order(db, order_id)
        # Applied with the fallback interval: not checked again for a long while.
        assert order.next_poll_at is not None
        assert order.next_poll_at - utcnow() > timedelta(seconds=h.FAST.webhook_poll_seconds - 60)
        h.passes(worker, 1)
        views = worker._providers
        assert worker._poll_config(views[provider_id], now).poll_seconds == (
            h.FAST.webhook_poll_seconds)
        later = now + timedelta(seconds=h.FAST.webhook_quiet_seconds + 1)
        assert worker._poll_config(views[provider_id], later) is worker.config
    finally:
        worker.close()


def test_the_fallback_intervals_are_settings() -> None:
    config = WorkerConfig.from_settings(Settings(worker_webhook_poll_seconds=120,
                                                 worker_webhook_quiet_seconds=600))
    assert (config.webhook_poll_seconds, config.webhook_quiet_seconds) == (120, 600)
    default = WorkerConfig.from_settings(Settings())
    assert (default.webhook_poll_seconds, default.webhook_quiet_seconds) == (900, 1800)
