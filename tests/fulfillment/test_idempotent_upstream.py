"""An in-doubt send to an upstream that honours ``idempotency_key`` (an opensmm, known by the
``X-Opensmm-Idempotency`` header it answers with) is resent with the same key instead of
being held; to any other upstream it is held as before. Resends are bounded."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from opensmm.db import Database, utcnow
from opensmm.fulfillment import outbox
from opensmm.fulfillment.config import Tally
from opensmm.fulfillment.states import CANCEL_REQUESTED, HELD, RESEND, SENDING, SENT
from opensmm.fulfillment.worker import Worker
from opensmm.orders import events
from opensmm.orders.models import Order, OrderEvent
from opensmm.orders.service import record
from opensmm.providers import service as providers
from opensmm.providers.models import Provider
from tests.fakepanel import Drop, FakePanel, Json, Received
from tests.fulfillment import helpers as h
from tests.fulfillment.conftest import KEY

# Back-offs of a few milliseconds: the resend is due at the next pass.
QUICK = replace(h.FAST, backoff_seconds=0.001, backoff_max_seconds=0.001)


class KeyedUpstream:
    """Answers ``add`` by idempotency key (the same key: the same order), and drops the
    connection after creating the order the first ``drops`` times a key is sent."""

    def __init__(self, drops: int) -> None:
        self.drops = drops
        self.orders: dict[str, int] = {}
        self.calls: Counter[str] = Counter()

    def add(self, received: Received) -> Any:
        key = received.params.get("idempotency_key", "")
        self.calls[key] += 1
        order = self.orders.setdefault(key, 500 + len(self.orders))
        return Drop() if self.calls[key] <= self.drops else Json({"order": order})


def _set_idempotent(db: Database, provider_id: int, value: bool) -> None:
    with db.write() as session:
        provider = session.get(Provider, provider_id)
        assert provider is not None
        provider.idempotent = value


def _events(db: Database, order_id: int, kind: str) -> int:
    with db.read() as session:
        query = select(func.count()).select_from(OrderEvent).where(
            OrderEvent.order_id == order_id, OrderEvent.code == kind)
        return int(session.scalar(query) or 0)


def _setup(db: Database, fake: FakePanel, drops: int) -> tuple[KeyedUpstream, int, int]:
    upstream = KeyedUpstream(drops)
    fake.on("add", upstream.add)
    fake.on("balance", {"balance": "10.00", "currency": "USD"})
    provider_id = h.provider(db, fake.url, KEY)
    service_id = h.provider_service(db, provider_id)
    return upstream, provider_id, service_id


def test_an_in_doubt_send_to_an_idempotent_upstream_is_resent_with_its_key(
    db: Database, fake: FakePanel
) -> None:
    upstream, provider_id, service_id = _setup(db, fake, drops=2)
    _set_idempotent(db, provider_id, True)
    order_id = h.place(db, h.customer(db), service_id)
    worker = Worker(db, QUICK)
    try:
        tally = h.passes(worker, 8)
    finally:
        worker.close()
    order = h.get_order(db, order_id)
    assert order.send_state == SENT and order.held_reason is None and order.alert is None
    [(key, calls)] = upstream.calls.items()
    assert key == outbox.idempotency_key_for(order) and calls == 3  # twice in doubt, then known
    assert order.upstream_id == upstream.orders[key] == 500  # one order upstream, recorded
    assert tally.held == 0 and tally.retried == 2 and tally.sent == 1
    assert _events(db, order_id, "order.resending") == 2
    assert h.ledger_clean(db)


def test_a_cancel_while_in_doubt_waits_for_the_resend_and_refunds_nothing_at_once(
    db: Database, fake: FakePanel
) -> None:
    """In doubt, the order may exist upstream: a customer's cancel is not refunded on the
    spot as for an order never sent; the resend learns its upstream id, then the cancel is
    forwarded there."""
    upstream, provider_id, service_id = _setup(db, fake, drops=1)
    _set_idempotent(db, provider_id, True)
    fake.on("cancel", [{"order": 500, "cancel": 1}])
    who = h.customer(db, "10")
    order_id = h.place(db, who, service_id, 1000)
    worker = Worker(db, QUICK)
    try:
        h.passes(worker, 1)
        assert h.get_order(db, order_id).send_state == RESEND
        canceled = h.cancel(db, who, order_id)
        assert canceled.cancel_state == CANCEL_REQUESTED and canceled.status == "Pending"
        assert h.balance(db, who) == Decimal("9")  # charged; nothing refunded yet
        h.passes(worker, 4)
    finally:
        worker.close()
    order = h.get_order(db, order_id)
    assert (order.send_state, order.upstream_id) == (SENT, 500)
    assert sum(upstream.calls.values()) == 2 and fake.count("cancel") == 1


def test_an_upstream_that_does_not_announce_keys_gets_nothing_resent(
    db: Database, fake: FakePanel
) -> None:
    """A panel that ignores keys would create a second order: never guessed."""
    upstream, provider_id, service_id = _setup(db, fake, drops=1)
    checked = providers.probe(fake.url, KEY)  # the fake panel sends no such header
    assert checked.idempotent is False
    with db.write() as session:
        providers.record_balance(session, provider_id, checked.balance, checked.idempotent)
    order_id = h.place(db, h.customer(db), service_id)
    worker = Worker(db, QUICK)
    try:
        tally = h.passes(worker, 4)
    finally:
        worker.close()
    assert h.get_order(db, order_id).send_state == HELD
    assert sum(upstream.calls.values()) == 1 and tally.held == 1


def test_resends_are_bounded_then_the_order_is_held(db: Database, fake: FakePanel) -> None:
    upstream, provider_id, service_id = _setup(db, fake, drops=100)
    _set_idempotent(db, provider_id, True)
    order_id = h.place(db, h.customer(db), service_id)
    worker = Worker(db, QUICK)
    try:
        h.passes(worker, outbox.IN_DOUBT_RESENDS + 4)
    finally:
        worker.close()
    order = h.get_order(db, order_id)
    assert order.send_state == HELD and "In doubt" in (order.held_reason or "")
    assert sum(upstream.calls.values()) == outbox.IN_DOUBT_RESENDS + 1


@pytest.mark.parametrize("idempotent", [True, False])
def test_a_send_left_by_a_dead_worker(db: Database, fake: FakePanel, idempotent: bool) -> None:
    """``recover``: an order left in ``sending`` goes back to be resent with its key at an
    idempotent upstream (tries left), and is held anywhere else."""
    _, provider_id, service_id = _setup(db, fake, drops=0)
    _set_idempotent(db, provider_id, idempotent)
    who = h.customer(db)
    fresh, spent = h.place(db, who, service_id), h.place(db, who, service_id)
    with db.write() as session:
        for order in session.scalars(select(Order).where(Order.id.in_([fresh, spent]))):
            order.send_state = SENDING
            order.lease_owner = "dead:1:x"
            order.lease_until = utcnow() - timedelta(seconds=1)
            if order.id == spent:  # resent as often as it may be already
                for attempt in range(1, outbox.IN_DOUBT_RESENDS + 1):
                    record(session, order, "worker", events.RESENDING, reason="x",
                           attempt=attempt)
    tally = Tally()
    outbox.recover(db, QUICK, tally)
    assert h.get_order(db, spent).send_state == HELD
    assert h.get_order(db, fresh).send_state == (RESEND if idempotent else HELD)
    assert (tally.held, tally.retried) == ((1, 1) if idempotent else (2, 0))
