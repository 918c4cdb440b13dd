"""Subscriptions charged as they run (spec §3, §4): each post a child order, charged once;
Paused when the balance cannot pay, resumed after a deposit; Completed, Expired, Canceled.
Service level, on both databases; the upstream is a real HTTP fake on 127.0.0.1."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from opensmm.accounts.models import User
from opensmm.db import Database, utcnow
from opensmm.fulfillment.worker import Worker
from opensmm.ledger import service as ledger
from opensmm.ledger.models import LedgerEntry
from opensmm.money import charge_for
from opensmm.orders import service as orders
from opensmm.orders.models import Order
from opensmm.subscriptions import service as subscriptions
from opensmm.subscriptions.models import SubscriptionPost
from tests.fakepanel import FakePanel
from tests.fulfillment import helpers as h
from tests.fulfillment.conftest import KEY
from tests.fulfillment.upstream import Book

RATE = Decimal("1.23457")


def _subscribe(db: Database, who: h.Customer, service_id: int, **fields: Any) -> int:
    params: dict[str, object] = {"service": str(service_id), "username": "nasa",
                                 "min": "100", "max": "200", "delay": "0"}
    params.update({k: str(v) for k, v in fields.items()})
    with db.write() as session:
        user = session.get(User, who.id)
        assert user is not None
        return orders.place(session, user, params).id


def _post(db: Database, sub: int, link: str) -> SubscriptionPost:
    with db.write() as session:
        return subscriptions.record_post(session, sub, link, "staff:boss")


def _children(db: Database, sub: int) -> list[Order]:
    with db.read() as session:
        return list(session.scalars(
            select(Order).where(Order.subscription_id == sub).order_by(Order.id)
        ))


def _deposit(db: Database, who: h.Customer, amount: str) -> None:
    with db.write() as session:
        ledger.add_funds(session, who.id, Decimal(amount), memo="deposit", actor="test")


def _charges(db: Database, who: h.Customer) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).where(
            LedgerEntry.user_id == who.id, LedgerEntry.kind == "charge")) or 0)


def test_each_post_is_a_charged_order_paused_without_funds_resumed_after_a_deposit(
    db: Database, worker: Worker
) -> None:
    service_id = h.service(db, type="Subscriptions", rate=RATE)
    who = h.customer(db, "0.30")
    sub = _subscribe(db, who, service_id, posts=3)
    placed = h.get_order(db, sub)
    # Accepted without a charge, running at once (manual mode), 3 posts to come.
    assert (placed.status, placed.charge, placed.units, placed.remains, placed.posts) == (
        "Active", 0, 3, 3, 0)
    assert h.balance(db, who) == Decimal("0.30")

    _post(db, sub, "https://insta.test/p/1")
    [first] = _children(db, sub)
    assert 100 <= first.quantity <= 200 and first.status == "Pending"
    assert first.quantity == subscriptions.post_quantity(sub, 1, 100, 200)  # the same draw
    assert first.charge == charge_for(RATE, first.quantity)
    assert first.link == "https://insta.test/p/1" and first.fields["type"] == "Default"
    assert h.balance(db, who) == Decimal("0.30") - first.charge

    # The second post costs more than what is left: no order, nothing charged, Paused.
    _post(db, sub, "https://insta.test/p/2")
    assert len(_children(db, sub)) == 1 and h.get_order(db, sub).status == "Paused"
    assert h.balance(db, who) == Decimal("0.30") - first.charge
    h.passes(worker, 1)  # still no funds: still paused, nothing charged
    assert h.get_order(db, sub).status == "Paused" and _charges(db, who) == 1

    _deposit(db, who, "1")
    with db.write() as session:  # the worker's next look at it (no wait for the recheck)
        session.get(Order, sub).next_poll_at = utcnow()  # type: ignore[union-attr]
    h.passes(worker, 1)
    assert h.get_order(db, sub).status == "Active"
    second = _children(db, sub)[1]
    assert second.link == "https://insta.test/p/2"
    assert second.charge == charge_for(RATE, subscriptions.post_quantity(sub, 2, 100, 200))

    _post(db, sub, "https://insta.test/p/3")
    done = h.get_order(db, sub)
    assert (done.status, done.posts, done.remains) == ("Completed", 3, 0)
    with pytest.raises(subscriptions.SubscriptionNotRunning):
        _post(db, sub, "https://insta.test/p/4")
    spent = sum((c.charge for c in _children(db, sub)), Decimal(0))
    assert h.balance(db, who) == Decimal("1.30") - spent
    assert _charges(db, who) == 3 and h.ledger_clean(db)
    # A child is the customer's own order: a staff refund of it goes through as any other.
    with db.write() as session:
        orders.apply_update(session, first.id, orders.OrderUpdate(status="Canceled"), "staff:b")
    assert h.balance(db, who) == Decimal("1.30") - spent + first.charge


def test_expiry_cancel_and_the_same_post_never_twice(db: Database, worker: Worker) -> None:
    service_id = h.service(db, type="Subscriptions", rate=RATE, cancel=False)
    who = h.customer(db, "10")
    unlimited = _subscribe(db, who, service_id)  # no posts: until expiry or cancel
    assert h.get_order(db, unlimited).units == 0
    _post(db, unlimited, "https://insta.test/a")
    # Canceled by the customer (even though the service offers no cancel of orders): it
    # refunds nothing, its post's order keeps its own life.
    canceled = h.cancel(db, who, unlimited)
    assert (canceled.status, canceled.refunded) == ("Canceled", 0)
    assert [c.status for c in _children(db, unlimited)] == ["Pending"]
    with pytest.raises(subscriptions.SubscriptionNotRunning):
        _post(db, unlimited, "https://insta.test/b")

    tomorrow = (utcnow() + timedelta(days=1)).strftime("%d/%m/%Y")
    expiring = _subscribe(db, who, service_id, expiry=tomorrow, old_posts=1)
    h.passes(worker, 1)
    assert h.get_order(db, expiring).status == "Active"  # not yet
    assert subscriptions.run_due(db, utcnow(), 0) == 0  # next looked at when it expires
    with db.write() as session:  # a subscription from before: paid up front, no posts kept
        legacy = session.get(Order, expiring)
        assert legacy is not None
        legacy.posts = None
    with pytest.raises(subscriptions.PaidUpFront):
        _post(db, expiring, "https://insta.test/legacy")
    with db.write() as session:
        session.get(Order, expiring).posts = 1  # type: ignore[union-attr]
    assert subscriptions.run_due(db, utcnow() + timedelta(days=3), 0) == 1
    assert h.get_order(db, expiring).status == "Expired"

    # Staff refusals: a post's own order is no subscription; a subscription whose every
    # post is recorded (the last one waiting for funds) takes no more.
    with pytest.raises(subscriptions.NotASubscription):
        _post(db, _children(db, unlimited)[0].id, "https://insta.test/x")
    broke = h.customer(db, "0.01")
    one = _subscribe(db, broke, service_id, posts=1)
    _post(db, one, "https://insta.test/one")
    assert h.get_order(db, one).status == "Paused" and _children(db, one) == []
    with pytest.raises(subscriptions.AllPostsRecorded):
        _post(db, one, "https://insta.test/two")

    # Two workers cannot make the same post: (subscription, number) is unique.
    other = _subscribe(db, who, service_id)
    _post(db, other, "https://insta.test/c")
    with pytest.raises(IntegrityError), db.write() as session:
        session.add(SubscriptionPost(subscription_id=other, number=1, link="x", source="staff"))
    assert len(_children(db, other)) == 1 and h.ledger_clean(db)


def test_simulator_makes_old_posts_then_new_ones_until_posts(
    db: Database, worker: Worker
) -> None:
    service_id = h.service(db, type="Subscriptions", rate=RATE, fulfillment="simulator")
    who = h.customer(db, "100")
    sub = _subscribe(db, who, service_id, posts=2, old_posts=2)
    start = utcnow()
    subscriptions.run_due(db, start, 10)
    assert [c.link for c in _children(db, sub)] == [
        "https://example.com/nasa/posts/1", "https://example.com/nasa/posts/2"]
    for step in (31, 62):  # one new post every 3 stages of 10 s
        with db.write() as session:
            session.get(Order, sub).next_poll_at = start  # type: ignore[union-attr]
        subscriptions.run_due(db, start + timedelta(seconds=step), 10)
    assert h.get_order(db, sub).status == "Completed"
    assert len(_children(db, sub)) == 4
    h.passes(worker, 3)  # the simulator delivers each post's order as any other
    assert {c.status for c in _children(db, sub)} <= {"Completed", "Partial"}
    assert h.ledger_clean(db)


def test_upstream_posts_become_charged_orders_once(
    db: Database, fake: FakePanel, book: Book, worker: Worker
) -> None:
    provider_id = h.provider(db, fake.url, KEY)
    service_id = h.provider_service(db, provider_id, upstream_service=9, type="Subscriptions",
                                    rate=RATE)
    who = h.customer(db, "0.40")
    tomorrow = (utcnow() + timedelta(days=1)).strftime("%d/%m/%Y")
    sub = _subscribe(db, who, service_id, posts=0, old_posts=1, delay=30, expiry=tomorrow)
    h.passes(worker, 1)
    [sent] = fake.received("add")
    assert {k: sent.params.get(k) for k in ("service", "username", "min", "max", "posts",
                                             "old_posts", "delay", "expiry")} == {
        "service": "9", "username": "nasa", "min": "100", "max": "200", "posts": "0",
        "old_posts": "1", "delay": "30", "expiry": tomorrow}
    upstream_id = h.get_order(db, sub).upstream_id or 0

    book.set(upstream_id, "Active")  # counts no posts: none are made here
    h.passes(worker, 1)
    assert h.get_order(db, sub).status == "Active" and _children(db, sub) == []

    book.orders[upstream_id].posts = 2
    h.passes(worker, 2)  # the second pass replays the same answer: nothing more
    children = _children(db, sub)
    assert [c.status for c in children] == ["In progress", "In progress"]
    assert _charges(db, who) == 2
    paid = sum((c.charge for c in children), Decimal(0))
    assert h.balance(db, who) == Decimal("0.40") - paid

    book.orders[upstream_id].posts = 4  # the balance pays for neither: Paused, no charge
    h.passes(worker, 1)
    assert h.get_order(db, sub).status == "Paused" and _charges(db, who) == 2
    _deposit(db, who, "5")
    h.passes(worker, 1)
    assert h.get_order(db, sub).status == "Active" and len(_children(db, sub)) == 4

    book.set(upstream_id, "Completed")
    h.passes(worker, 1)
    assert h.get_order(db, sub).status == "Completed"
    assert [c.status for c in _children(db, sub)] == ["Completed"] * 4
    assert _charges(db, who) == 4 and h.ledger_clean(db)
