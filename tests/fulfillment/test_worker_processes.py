"""Real ``opensmm worker`` processes: several at once never send an order twice; one killed
with SIGKILL at any point and restarted loses no order and sends none twice."""

from __future__ import annotations

import itertools
import threading
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from opensmm.db import Database
from opensmm.ledger.models import LedgerEntry
from opensmm.money import refund_share
from opensmm.orders.models import Order
from tests.fakepanel import FakePanel, Json, Received, Slow
from tests.fulfillment import helpers as h
from tests.fulfillment.conftest import KEY
from tests.fulfillment.processes import WorkerProcess, count_orders, wait_until
from tests.fulfillment.upstream import Book


def _fate(link: str, quantity: int) -> tuple[str, int]:
    """Every third order comes back Partial, the others Completed."""
    return ("Partial", quantity // 4) if int(link.rsplit("/", 1)[1]) % 3 == 0 else ("Completed", 0)


def _orders(db: Database, database_url: str, fake: FakePanel, count: int) -> tuple[
    h.Customer, list[int]
]:
    provider_id = h.provider(db, fake.url, KEY)
    service_id = h.provider_service(db, provider_id, rate=Decimal("1.00"))
    who = h.customer(db, "1000")
    ids = [h.place(db, who, service_id, 100, link=f"https://x.test/{n}") for n in range(count)]
    return who, ids


def _check_money(db: Database, who: h.Customer, ids: list[int]) -> int:
    """Every Partial refunded exactly once, the balance what the orders say; returns the
    number of refunds."""
    with db.read() as session:
        orders = session.scalars(select(Order).where(Order.id.in_(ids))).all()
        refunds = session.scalars(
            select(LedgerEntry.order_id).where(LedgerEntry.kind == "refund")
        ).all()
    assert sorted(refunds) == sorted(o.id for o in orders if o.status == "Partial")
    for order in orders:
        expected = refund_share(order.charge, order.remains, order.units)
        assert order.refunded == (expected if order.status == "Partial" else 0)
    spent = sum((o.charge - o.refunded for o in orders), Decimal(0))
    assert h.balance(db, who) == Decimal(1000) - spent
    assert h.ledger_clean(db)
    return len(refunds)


@pytest.mark.parametrize("workers", [2, 4])
def test_several_workers_never_send_an_order_twice(
    database_url: str, db: Database, fake: FakePanel, workers: int
) -> None:
    book = Book(initial=_fate)
    book.install(fake)
    # A little latency, so that the workers' batches overlap in time.
    fake.on("add", lambda received: Slow(Json(book.add(received)), 0.01))
    who, ids = _orders(db, database_url, fake, 300)
    processes = [
        WorkerProcess(database_url, OPENSMM_WORKER_BATCH="25") for _ in range(workers)
    ]
    try:
        wait_until(
            lambda: count_orders(db, Order.status.in_(("Completed", "Partial"))) == len(ids),
            "every order to be sent and finished",
        )
    finally:
        outputs = [(p.stop(), p.output()) for p in processes]
        for p in processes:
            p.cleanup()
    assert [code for code, _ in outputs] == [0] * workers, outputs
    assert fake.count("add") == len(ids)
    assert sorted(book.adds_by_link.values()) == [1] * len(ids)  # sent twice: none
    assert count_orders(db, Order.send_state == "sent") == len(ids)
    assert count_orders(db, Order.send_state == "held") == 0
    with db.read() as session:
        upstream = session.scalars(select(Order.upstream_id).where(Order.id.in_(ids))).all()
    assert sorted(upstream) == sorted(book.orders)
    refunds = _check_money(db, who, ids)
    assert refunds == len([n for n in range(300) if n % 3 == 0])
    statuses = fake.received("status")
    assert all(len(r.params["orders"].split(",")) <= 100 for r in statuses)


def test_a_worker_killed_in_the_middle_of_a_call_loses_nothing_and_resends_nothing(
    database_url: str, db: Database, fake: FakePanel
) -> None:
    book = Book(initial=_fate)
    book.install(fake)
    calls = itertools.count()
    hung: list[str] = []
    hanging = threading.Event()

    def add(received: Received) -> Any:
        answer = book.add(received)  # the upstream creates it ...
        if next(calls) == 19:
            hung.append(received.params["link"])
            hanging.set()
            return Slow(Json(answer), 600)  # ... but the answer never comes
        return answer

    fake.on("add", add)
    who, ids = _orders(db, database_url, fake, 60)
    first = WorkerProcess(database_url, OPENSMM_WORKER_SEND_THREADS="1",
                          OPENSMM_WORKER_HTTP_TIMEOUT="5")
    try:
        assert hanging.wait(120), first.output()
        first.kill()  # SIGKILL in the middle of the 20th call, 40 orders still to send
    finally:
        first.cleanup()
    assert count_orders(db, Order.send_state == "sending") == 1

    second = WorkerProcess(database_url, OPENSMM_WORKER_SEND_THREADS="1")
    try:
        wait_until(
            lambda: count_orders(db, Order.status.in_(("Completed", "Partial")))
            + count_orders(db, Order.send_state == "held")
            == len(ids),
            "every order to be sent and finished, or held",
        )
    finally:
        second.stop()
        log = second.output()
        second.cleanup()
    with db.read() as session:
        held = session.scalars(select(Order).where(Order.send_state == "held")).all()
    assert [o.link for o in held] == hung  # the one in doubt, and only that one
    assert held[0].held_reason is not None and "worker stopped" in held[0].held_reason
    assert "ALERT order" in log
    assert sorted(book.adds_by_link.values()) == [1] * len(ids)  # nothing sent twice
    assert count_orders(db, Order.send_state == "sent") == len(ids) - 1  # nothing lost
    _check_money(db, who, ids)


def test_a_worker_killed_while_checking_statuses_applies_them_once_after_restart(
    database_url: str, db: Database, fake: FakePanel
) -> None:
    book = Book(initial=lambda link, quantity: ("Partial", 40))
    book.install(fake)
    who, ids = _orders(db, database_url, fake, 30)
    asked = threading.Event()

    def slow_status(received: Received) -> Any:
        asked.set()
        return Slow(Json(book.status(received)), 600)

    fake.on("status", slow_status)
    first = WorkerProcess(database_url, OPENSMM_WORKER_HTTP_TIMEOUT="5")
    try:
        assert asked.wait(120), first.output()
        wait_until(lambda: count_orders(db, Order.send_state == "sent") == len(ids), "sends")
        first.kill()
    finally:
        first.cleanup()
    assert count_orders(db, Order.status == "Partial") == 0

    fake.on("status", book.status)
    second = WorkerProcess(database_url)
    try:
        wait_until(lambda: count_orders(db, Order.status == "Partial") == len(ids), "statuses")
    finally:
        second.stop()
        second.cleanup()
    assert fake.count("add") == len(ids)
    assert _check_money(db, who, ids) == len(ids)
