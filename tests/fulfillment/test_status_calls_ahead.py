"""A provider's next status call goes out while the answers before it are recorded.

What must not change: a failing provider still gets one failed call per pass, and a
customer's cancel still reaches the upstream before the status call about its order.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from opensmm.db import Database
from opensmm.fulfillment.worker import Worker
from opensmm.orders.models import Order
from tests.fakepanel import FakePanel, Text
from tests.fulfillment import helpers as h
from tests.fulfillment.conftest import KEY
from tests.fulfillment.upstream import Book

ORDERS = 250  # three status calls: 100, 100 and 50 ids


def _sent(db: Database, fake: FakePanel, worker: Worker) -> tuple[h.Customer, list[int]]:
    provider_id = h.provider(db, fake.url, KEY)
    service_id = h.provider_service(db, provider_id, rate=Decimal("0.01"))
    who = h.customer(db, "100")
    placed = [h.place(db, who, service_id, 10) for _ in range(ORDERS)]
    h.passes(worker, 1)  # sends them all, then checks them once
    assert fake.count("add") == ORDERS
    return who, placed


def _completed(db: Database) -> int:
    with db.read() as session:
        return int(
            session.scalar(select(func.count()).where(Order.status == "Completed")) or 0
        )


def test_a_provider_failing_mid_pass_gets_no_further_call(
    db: Database, fake: FakePanel, book: Book, worker: Worker
) -> None:
    _, placed = _sent(db, fake, worker)
    book.set_all("Completed")
    fake.on("status", book.status, Text("Internal Server Error", status=500))
    before = fake.count("status")

    tally = h.passes(worker, 1)

    assert fake.count("status") == before + 2  # the first answered, the second failed
    assert tally.failures == 1
    assert _completed(db) == 100  # the first call's orders, recorded
    provider = h.get_provider(db, h.get_order(db, placed[0]).provider_id or 0)
    assert provider.failures == 1 and provider.backoff_until is not None
    assert h.passes(worker, 1).polled == 0  # the others wait out the back-off
    assert fake.count("status") == before + 2
    assert h.ledger_clean(db)


def test_a_cancel_reaches_the_upstream_before_the_status_call_about_its_order(
    db: Database, fake: FakePanel, book: Book, worker: Worker
) -> None:
    who, placed = _sent(db, fake, worker)
    upstream_ids = {order_id: h.get_order(db, order_id).upstream_id for order_id in placed}
    # A cancel makes its order due now, after the others: asked about in the last call.
    canceled = [placed[120], placed[240]]
    for order_id in canceled:
        h.cancel(db, who, order_id)
    before = len(fake.requests)

    h.passes(worker, 1)

    requests = fake.requests[before:]
    assert sum(r.action == "status" for r in requests) == 3
    for order_id in canceled:
        wanted = str(upstream_ids[order_id])
        cancel_at = next(
            n for n, r in enumerate(requests)
            if r.action == "cancel" and wanted in r.params.get("orders", "").split(",")
        )
        status_at = next(
            n for n, r in enumerate(requests)
            if r.action == "status" and wanted in r.params.get("orders", "").split(",")
        )
        assert cancel_at < status_at
        assert h.get_order(db, order_id).cancel_state == "sent"
