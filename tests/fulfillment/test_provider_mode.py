"""The ``provider`` mode against a fake upstream on 127.0.0.1: sending, following, money."""

from __future__ import annotations

from decimal import Decimal

from opensmm.db import Database
from opensmm.fulfillment.worker import Worker
from opensmm.money import refund_share
from tests.fakepanel import FakePanel
from tests.fulfillment import helpers as h
from tests.fulfillment.conftest import KEY
from tests.fulfillment.upstream import Book


def test_orders_go_upstream_once_and_come_home_with_their_refunds(
    db: Database, fake: FakePanel, book: Book, worker: Worker
) -> None:
    provider_id = h.provider(db, fake.url, KEY)
    service_id = h.provider_service(db, provider_id, upstream_service=77, rate=Decimal("2.00"))
    who = h.customer(db, "10")
    first, second = h.place(db, who, service_id, 100), h.place(db, who, service_id, 300)

    h.passes(worker, 1)
    sent = [h.get_order(db, first), h.get_order(db, second)]
    assert [o.send_state for o in sent] == ["sent", "sent"]
    assert {o.upstream_id for o in sent} == set(book.orders)
    assert fake.last("add").params["service"] == "77"
    assert fake.last("add").params["key"] == KEY

    book.set(sent[0].upstream_id or 0, "In progress", remains=60, start_count=1234)
    book.set(sent[1].upstream_id or 0, "Partial", remains=120, start_count=10)
    h.passes(worker, 1)
    running, partial = h.get_order(db, first), h.get_order(db, second)
    assert (running.status, running.remains, running.start_count) == ("In progress", 60, 1234)
    assert (partial.status, partial.remains) == ("Partial", 120)
    assert partial.refunded == refund_share(partial.charge, 120, 300) == Decimal("0.24")

    book.set(sent[0].upstream_id or 0, "completed")  # loose spelling, mapped by the client
    h.passes(worker, 3)  # the Partial one is final: never asked again, never refunded again
    assert h.get_order(db, first).status == "Completed"
    assert h.get_order(db, first).remains == 0
    assert h.refund_entries(db, second) == 1
    assert h.balance(db, who) == Decimal("10") - Decimal("0.20") - Decimal("0.60") + Decimal(
        "0.24"
    )
    assert sum(book.adds_by_link.values()) == 2 and max(book.adds_by_link.values()) == 1
    assert h.ledger_clean(db)


def test_status_checks_go_at_most_100_ids_per_call(
    db: Database, fake: FakePanel, book: Book, worker: Worker
) -> None:
    provider_id = h.provider(db, fake.url, KEY)
    service_id = h.provider_service(db, provider_id, rate=Decimal("0.01"))
    who = h.customer(db, "100")
    placed = [h.place(db, who, service_id, 10) for _ in range(250)]
    h.passes(worker, 1)  # sends all, then checks them once
    assert fake.count("add") == 250
    before = fake.count("status")
    h.passes(worker, 1)
    calls = fake.received("status")[before:]
    sizes = sorted(len(call.params["orders"].split(",")) for call in calls)
    assert sizes == [50, 100, 100]
    asked = {int(i) for call in calls for i in call.params["orders"].split(",")}
    assert asked == {h.get_order(db, order_id).upstream_id for order_id in placed}


def test_drip_feed_and_type_fields_travel_with_the_order(
    db: Database, fake: FakePanel, book: Book, worker: Worker
) -> None:
    provider_id = h.provider(db, fake.url, KEY)
    drip = h.provider_service(db, provider_id, upstream_service=1, dripfeed=True)
    comments = h.provider_service(
        db, provider_id, upstream_service=2, type="Custom Comments", max_quantity=100
    )
    subscription = h.provider_service(
        db, provider_id, upstream_service=3, type="Subscriptions", min_quantity=10
    )
    package = h.provider_service(db, provider_id, upstream_service=4, type="Package")
    who = h.customer(db, "1000")
    h.place(db, who, drip, 100, runs=5, interval=30, link="https://x.test/drip")
    h.place(db, who, comments, 0, comments="nice\ngreat\n\nwow", link="https://x.test/c")
    with db.write() as session:
        from opensmm.accounts.models import User
        from opensmm.orders.service import place_order

        user = session.get(User, who.id)
        assert user is not None
        place_order(
            session,
            user,
            {
                "service": str(subscription),
                "username": "someone",
                "min": "10",
                "max": "20",
                "posts": "3",
                "delay": "30",
            },
        )
    h.place(db, who, package, 1, link="https://x.test/p")
    h.passes(worker, 1)

    by_service = {r.params["service"]: r.params for r in fake.received("add")}
    assert by_service["1"]["quantity"] == "100"
    assert (by_service["1"]["runs"], by_service["1"]["interval"]) == ("5", "30")
    assert by_service["2"]["comments"] == "nice\ngreat\nwow"
    assert "quantity" not in by_service["2"]
    sub = by_service["3"]
    assert (sub["username"], sub["min"], sub["max"], sub["posts"], sub["delay"]) == (
        "someone",
        "10",
        "20",
        "3",
        "30",
    )
    assert "quantity" not in sub and "type" not in sub
    assert "quantity" not in by_service["4"]


def test_a_customers_cancel_travels_upstream_and_the_refund_follows_its_answer(
    db: Database, fake: FakePanel, book: Book, worker: Worker
) -> None:
    provider_id = h.provider(db, fake.url, KEY)
    service_id = h.provider_service(db, provider_id)
    who = h.customer(db, "10")
    order_id = h.place(db, who, service_id, 1000)
    h.passes(worker, 1)
    upstream_id = h.get_order(db, order_id).upstream_id or 0

    order = h.cancel(db, who, order_id)
    assert (order.status, order.cancel_state, order.refunded) == ("Pending", "requested", 0)
    h.passes(worker, 1)
    assert [r.params["orders"] for r in fake.received("cancel")] == [str(upstream_id)]
    assert book.orders[upstream_id].canceled
    assert h.get_order(db, order_id).cancel_state == "sent"
    assert h.balance(db, who) == Decimal("9")  # nothing back until the upstream says so

    book.set(upstream_id, "Canceled")
    h.passes(worker, 2)
    done = h.get_order(db, order_id)
    assert (done.status, done.refunded) == ("Canceled", Decimal("1"))
    assert h.balance(db, who) == Decimal("10")
    assert fake.count("cancel") == 1
    assert h.ledger_clean(db)


def test_a_cancel_before_sending_refunds_at_once_and_nothing_goes_upstream(
    db: Database, fake: FakePanel, book: Book, worker: Worker
) -> None:
    provider_id = h.provider(db, fake.url, KEY)
    service_id = h.provider_service(db, provider_id)
    who = h.customer(db, "10")
    order_id = h.place(db, who, service_id, 1000)
    assert h.cancel(db, who, order_id).status == "Canceled"
    h.passes(worker, 2)
    assert fake.count("add") == 0
    assert h.balance(db, who) == Decimal("10")


def test_refills_travel_upstream_and_their_status_comes_home(
    db: Database, fake: FakePanel, book: Book, worker: Worker
) -> None:
    provider_id = h.provider(db, fake.url, KEY)
    service_id = h.provider_service(db, provider_id)
    who = h.customer(db, "10")
    order_id = h.place(db, who, service_id, 100)
    h.passes(worker, 1)
    upstream_id = h.get_order(db, order_id).upstream_id or 0
    book.set(upstream_id, "Completed", remains=0)
    h.passes(worker, 1)
    refill_id = h.refill(db, who, order_id)
    h.passes(worker, 1)
    refill = h.get_refill(db, refill_id)
    assert (refill.send_state, refill.upstream_id) == ("sent", 900)
    assert fake.last("refill").params["order"] == str(upstream_id)
    book.refills[900] = "In progress"
    h.passes(worker, 1)
    assert h.get_refill(db, refill_id).status == "In progress"
    book.refills[900] = "Completed"
    h.passes(worker, 2)
    assert h.get_refill(db, refill_id).status == "Completed"
    assert fake.count("refill") == 1


def test_manual_orders_are_left_to_staff(
    db: Database, fake: FakePanel, book: Book, worker: Worker
) -> None:
    service_id = h.service(db)
    who = h.customer(db, "10")
    order_id = h.place(db, who, service_id, 100)
    tally = h.passes(worker, 2)
    assert not tally.busy()
    order = h.get_order(db, order_id)
    assert (order.status, order.send_state, order.fulfillment) == ("Pending", None, "manual")
    assert fake.count() == 0


def test_subscriptions_follow_their_own_status_scale(
    db: Database, fake: FakePanel, book: Book, worker: Worker
) -> None:
    from opensmm.accounts.models import User
    from opensmm.orders.service import place_order

    provider_id = h.provider(db, fake.url, KEY)
    service_id = h.provider_service(
        db, provider_id, type="Subscriptions", min_quantity=10, rate=Decimal("1.00")
    )
    who = h.customer(db, "10")
    with db.write() as session:
        user = session.get(User, who.id)
        assert user is not None
        params = {"service": str(service_id), "username": "someone", "min": "10",
                  "max": "100", "posts": "10", "delay": "0"}
        order_id = place_order(session, user, dict(params)).id
    h.passes(worker, 1)
    upstream_id = h.get_order(db, order_id).upstream_id or 0
    assert h.get_order(db, order_id).status == "Pending"  # "Pending" answered: understood
    book.set(upstream_id, "Active", remains=1000)
    h.passes(worker, 1)
    assert h.get_order(db, order_id).status == "Active"
    book.set(upstream_id, "Expired", remains=400)
    h.passes(worker, 1)
    expired = h.get_order(db, order_id)
    # Nothing was paid up front (each post is charged as it comes): nothing to pay back.
    assert (expired.status, expired.charge, expired.refunded) == ("Expired", 0, 0)
    assert h.ledger_clean(db)


def test_each_forwarded_order_carries_its_own_idempotency_key(
    db: Database, fake: FakePanel, book: Book, worker: Worker
) -> None:
    provider_id = h.provider(db, fake.url, KEY)
    service_id = h.provider_service(db, provider_id, upstream_service=77, rate=Decimal("1"))
    who = h.customer(db, "10")
    placed = [h.place(db, who, service_id, 100), h.place(db, who, service_id, 100)]
    h.passes(worker, 1)
    keys = {r.params["link"] + str(i): r.params.get("idempotency_key")
            for i, r in enumerate(fake.requests) if r.params.get("action") == "add"}
    assert len(set(keys.values())) == 2
    assert sorted(str(k).split("-")[1] for k in keys.values()) == sorted(map(str, placed))
