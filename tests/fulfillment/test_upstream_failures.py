"""A misbehaving upstream (a real HTTP server on 127.0.0.1): slow, 500s, HTML, empty bodies,
dropped connections, unknown statuses, not enough funds. Nothing is ever sent twice, no
money moves on a guess, and every doubt or alert is shown to staff."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import update

from opensmm.db import Database
from opensmm.fulfillment import held
from opensmm.fulfillment.worker import Worker
from opensmm.orders.models import Order
from opensmm.providers.models import Provider
from tests.fakepanel import Drop, Empty, FakePanel, Json, Slow, Text, Truncated, free_port
from tests.fulfillment import helpers as h
from tests.fulfillment.conftest import KEY
from tests.fulfillment.upstream import Book

LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)
HTML = "<html><body><h1>502 Bad Gateway</h1></body></html>"

DOUBTFUL_ADDS = {
    "slow (timeout after sending)": Slow(Json({"order": 1}), 3.0),
    "HTTP 500": Text("Internal Server Error", status=500),
    "an HTML page": Text(HTML),
    "an empty body": Empty(),
    "a dropped connection": Drop(),
    "a connection dropped mid-answer": Truncated({"order": 12345}, keep=4),
    "PHP warning before the JSON": Text('<b>Warning</b>: mysql gone\n{"order": 77}'),
}


def _unblock(db: Database, provider_id: int) -> None:
    """Lift every back-off, as if time had passed (tests never sleep it out)."""
    with db.write() as session:
        session.execute(
            update(Provider)
            .where(Provider.id == provider_id)
            .values(backoff_until=None, send_paused_until=None)
        )


def _due_now(db: Database, order_ids: list[int]) -> None:
    """Make orders due again, as if their back-off had passed."""
    with db.write() as session:
        session.execute(
            update(Order).where(Order.id.in_(order_ids)).values(next_poll_at=LONG_AGO)
        )


def _attention(db: Database) -> list[held.Attention]:
    with db.read() as session:
        return held.needing_attention(session)[0]


@pytest.mark.parametrize("reply", list(DOUBTFUL_ADDS.values()), ids=list(DOUBTFUL_ADDS))
def test_an_add_that_ends_in_doubt_is_held_and_never_resent(
    db: Database, fake: FakePanel, worker: Worker, reply: Any
) -> None:
    fake.on("add", reply)
    provider_id = h.provider(db, fake.url, KEY)
    service_id = h.provider_service(db, provider_id)
    who = h.customer(db, "10")
    order_id = h.place(db, who, service_id, 100)

    tally = h.passes(worker, 1)
    order = h.get_order(db, order_id)
    assert (order.send_state, order.upstream_id, order.status) == ("held", None, "Pending")
    assert order.held_reason is not None and order.held_reason.startswith("In doubt")
    assert tally.held == 1 and tally.sent == 0
    assert h.get_provider(db, provider_id).backoff_until is not None  # a sick upstream

    for _ in range(3):
        _unblock(db, provider_id)
        h.passes(worker, 1)
    assert fake.count("add") == 1
    assert [(a.kind, a.id, a.held) for a in _attention(db)] == [("order", order_id, True)]
    assert h.balance(db, who) == Decimal("9.90")  # charged; a person decides the rest
    assert h.ledger_clean(db)


def test_an_unreachable_upstream_is_backed_off_and_the_order_waits(
    db: Database, worker: Worker
) -> None:
    provider_id = h.provider(db, f"http://127.0.0.1:{free_port()}/api/v2", KEY)
    service_id = h.provider_service(db, provider_id)
    order_id = h.place(db, h.customer(db), service_id, 100)
    tally = h.passes(worker, 1)
    order = h.get_order(db, order_id)
    # Refused to connect: certainly not created, so not held: it will go later.
    assert (order.send_state, tally.retried, tally.held) == ("new", 1, 0)
    provider = h.get_provider(db, provider_id)
    assert provider.failures == 1 and provider.backoff_until is not None
    assert "could not be reached" in (provider.alert or "")
    assert not h.passes(worker, 2).busy()  # backed off: not even tried


def test_not_enough_funds_upstream_holds_the_orders_back_and_alerts(
    db: Database, fake: FakePanel, book: Book, worker: Worker
) -> None:
    provider_id = h.provider(db, fake.url, KEY)
    service_id = h.provider_service(db, provider_id)
    who = h.customer(db, "100")
    running = h.place(db, who, service_id, 100)
    h.passes(worker, 1)
    upstream_id = h.get_order(db, running).upstream_id or 0

    fake.on("add", {"error": "Not enough funds on balance"})
    waiting = [h.place(db, who, service_id, 100) for _ in range(5)]
    tally = h.passes(worker, 1)
    assert fake.count("add") == 2  # one refused call, then the provider's sends pause
    assert tally.retried == 1
    assert all(h.get_order(db, i).send_state == "new" for i in waiting)
    provider = h.get_provider(db, provider_id)
    assert provider.send_paused_until is not None and provider.backoff_until is None
    assert "Not enough funds" in (provider.alert or "")
    with db.read() as session:
        items, alerts = held.needing_attention(session)
    assert [a.name for a in alerts] == [provider.name]
    assert [i.id for i in items] == [waiting[0]]  # the order that was refused says why

    # Paused for new orders, not for following the running ones.
    book.set(upstream_id, "In progress", remains=50)
    h.passes(worker, 2)
    assert fake.count("add") == 2
    assert h.get_order(db, running).status == "In progress"

    # Funds are back: everything waiting goes, once each, and the alerts clear.
    fake.on("add", book.add)
    _unblock(db, provider_id)
    _due_now(db, waiting)
    h.passes(worker, 1)
    assert all(h.get_order(db, i).send_state == "sent" for i in waiting)
    assert fake.count("add") == 2 + 5
    assert max(book.adds_by_link.values()) == 1
    assert h.get_provider(db, provider_id).alert is None
    assert _attention(db) == []


def test_an_order_the_upstream_refuses_is_held_for_a_person(
    db: Database, fake: FakePanel, worker: Worker
) -> None:
    fake.on("add", {"error": "Incorrect service ID"})
    provider_id = h.provider(db, fake.url, KEY)
    order_id = h.place(db, h.customer(db), h.provider_service(db, provider_id), 100)
    h.passes(worker, 3)
    order = h.get_order(db, order_id)
    assert order.send_state == "held"
    assert "refused the order: Incorrect service ID" in (order.held_reason or "")
    assert fake.count("add") == 1
    assert h.get_provider(db, provider_id).backoff_until is None  # the provider is fine


def test_a_refused_key_pauses_sends_and_alerts(
    db: Database, fake: FakePanel, worker: Worker
) -> None:
    provider_id = h.provider(db, fake.url, "not-the-key")
    order_id = h.place(db, h.customer(db), h.provider_service(db, provider_id), 100)
    h.passes(worker, 2)
    assert h.get_order(db, order_id).send_state == "new"
    assert "API key" in (h.get_provider(db, provider_id).alert or "")
    assert fake.count("add") == 1


def _sent_orders(db: Database, fake: FakePanel, worker: Worker, count: int) -> list[int]:
    provider_id = h.provider(db, fake.url, KEY)
    service_id = h.provider_service(db, provider_id)
    who = h.customer(db, "100")
    ids = [h.place(db, who, service_id, 100) for _ in range(count)]
    h.passes(worker, 1)
    assert all(h.get_order(db, i).send_state == "sent" for i in ids)
    return ids


def test_an_unknown_status_leaves_the_order_as_it_is_and_alerts(
    db: Database, fake: FakePanel, book: Book, worker: Worker
) -> None:
    first, second = _sent_orders(db, fake, worker, 2)
    book.set(h.get_order(db, first).upstream_id or 0, "Refunding soon", remains=0)
    book.set(h.get_order(db, second).upstream_id or 0, "In progress", remains=10)
    tally = h.passes(worker, 1)
    odd = h.get_order(db, first)
    assert (odd.status, odd.remains, odd.refunded) == ("Pending", 100, 0)
    assert "unknown status 'Refunding soon'" in (odd.alert or "")
    assert tally.alerts == 1
    assert h.get_order(db, second).status == "In progress"  # the others go on
    assert [(a.id, a.held) for a in _attention(db)] == [(first, False)]

    book.set(h.get_order(db, first).upstream_id or 0, "Partial", remains=30)
    _due_now(db, [first])  # its back-off is over
    h.passes(worker, 1)
    settled = h.get_order(db, first)
    assert (settled.status, settled.alert) == ("Partial", None)
    assert settled.refunded == Decimal("0.03")


GARBAGE_STATUS = {
    "HTTP 500": Text("oops", status=500),
    "HTML": Text(HTML),
    "empty": Empty(),
    "dropped": Drop(),
    "a list instead of an object": Json(["what"]),
    "slow": Slow(Json({}), 3.0),
}


@pytest.mark.parametrize("reply", list(GARBAGE_STATUS.values()), ids=list(GARBAGE_STATUS))
def test_an_upstream_answering_garbage_to_status_is_backed_off_and_nothing_moves(
    db: Database, fake: FakePanel, book: Book, worker: Worker, reply: Any
) -> None:
    ids = _sent_orders(db, fake, worker, 3)
    book.set_all("Partial", remains=50)
    fake.on("status", reply)
    before = fake.count("status")
    tally = h.passes(worker, 3)
    assert fake.count("status") == before + 1  # then backed off
    assert tally.failures == 1
    for order_id in ids:
        order = h.get_order(db, order_id)
        assert (order.status, order.refunded) == ("Pending", 0)
    provider = h.get_provider(db, h.get_order(db, ids[0]).provider_id or 0)
    assert provider.failures == 1 and provider.backoff_until is not None
    assert h.ledger_clean(db)


def test_a_status_that_cannot_be_applied_is_an_alert_not_a_refund(
    db: Database, fake: FakePanel, book: Book, worker: Worker
) -> None:
    no_remains, too_many, lost = _sent_orders(db, fake, worker, 3)
    book.set(h.get_order(db, no_remains).upstream_id or 0, "Partial", remains=0)
    book.set(h.get_order(db, too_many).upstream_id or 0, "In progress", remains=5000)
    del book.orders[h.get_order(db, lost).upstream_id or 0]  # "Incorrect order ID"
    tally = h.passes(worker, 1)
    assert tally.alerts == 3 and tally.refunds == 0
    for order_id in (no_remains, too_many, lost):
        order = h.get_order(db, order_id)
        assert (order.status, order.remains, order.refunded) == ("Pending", 100, 0)
        assert order.alert
    assert "Incorrect order ID" in (h.get_order(db, lost).alert or "")
    assert h.ledger_clean(db)
