"""One malformed entry in a multi ``status`` answer (``"charge": "N/A"``) spoils only its own
order: the good entries are applied, the bad one gets an alert naming our order and the
upstream id, and is asked again after a back-off that doubles (bounded by the maximum)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import update

from opensmm.client import ItemError, MalformedItem, OrderStatus
from opensmm.client.parse import ShapeError, parse_cancels, parse_order_statuses
from opensmm.db import Database, utcnow
from opensmm.fulfillment import held
from opensmm.fulfillment.worker import Worker
from opensmm.orders.models import Order
from tests.fakepanel import FakePanel, Received
from tests.fulfillment import helpers as h
from tests.fulfillment.conftest import KEY
from tests.fulfillment.upstream import Book

LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


def test_the_client_reads_the_good_entries_and_marks_the_bad_one() -> None:
    good = {"charge": "0.1", "start_count": "3", "status": "Completed", "remains": "0"}
    answer = {
        "1": good,
        "2": {**good, "charge": "N/A"},
        "3": {"error": "Incorrect order ID"},
        "4": {**good, "start_count": "many"},
        "5": "what",
    }
    parsed = parse_order_statuses(answer, [1, 2, 3, 4, 5])
    assert isinstance(parsed[1], OrderStatus)
    assert isinstance(parsed[2], MalformedItem) and '"N/A"' in parsed[2].message
    assert '"charge": "N/A"' in parsed[2].entry
    assert type(parsed[3]) is ItemError
    assert isinstance(parsed[4], MalformedItem)
    assert isinstance(parsed[5], MalformedItem)
    cancels = parse_cancels([{"order": 1, "cancel": 1}, {"order": 2, "cancel": "maybe"}], [1, 2])
    assert cancels[1] is True and isinstance(cancels[2], MalformedItem)
    # One bad entry alone is still that entry's problem ...
    alone = parse_order_statuses({"2": {**good, "charge": "N/A"}}, [2])
    assert isinstance(alone[2], MalformedItem)
    # ... but no object at all for any id is an answer of the wrong shape (the call fails).
    with pytest.raises(ShapeError):
        parse_order_statuses({"1": "Completed", "2": None}, [1, 2])


def _due_now(db: Database, order_ids: list[int]) -> None:
    with db.write() as session:
        session.execute(update(Order).where(Order.id.in_(order_ids)).values(next_poll_at=LONG_AGO))


def test_a_malformed_entry_affects_only_its_own_order(
    db: Database, fake: FakePanel, book: Book, worker: Worker
) -> None:
    provider_id = h.provider(db, fake.url, KEY)
    service_id = h.provider_service(db, provider_id)
    who = h.customer(db, "100")
    ids = [h.place(db, who, service_id, 100) for _ in range(6)]
    h.passes(worker, 1)
    upstream = {i: h.get_order(db, i).upstream_id or 0 for i in ids}
    bad, odd = ids[1], ids[4]
    broken = {upstream[bad]: {"charge": "N/A"}, upstream[odd]: {"remains": {"n": 1}}}
    book.set_all("Partial", remains=50)

    def status(received: Received) -> Any:
        answer = book.status(received)
        for upstream_id, spoil in broken.items():
            if str(upstream_id) in answer:
                answer[str(upstream_id)] = {**answer[str(upstream_id)], **spoil}
        return answer

    fake.on("status", status)
    tally = h.passes(worker, 1)
    assert tally.failures == 0 and tally.alerts == 2 and tally.refunds == 4
    for order_id in ids:
        order = h.get_order(db, order_id)
        if order_id in (bad, odd):
            assert (order.status, order.remains, order.refunded) == ("Pending", 100, 0)
            assert f"order {upstream[order_id]} is unreadable" in (order.alert or "")
            assert order.attempts == 1 and order.next_poll_at is not None
        else:
            assert (order.status, order.refunded) == ("Partial", Decimal("0.05"))
    assert '"N/A"' in (h.get_order(db, bad).alert or "")
    provider = h.get_provider(db, provider_id)
    assert provider.failures == 0 and provider.backoff_until is None  # the provider is fine
    with db.read() as session:
        attention = held.needing_attention(session)[0]
    assert [(a.id, a.upstream_id) for a in attention] == [
        (bad, upstream[bad]),
        (odd, upstream[odd]),
    ]

    # Asked again after its back-off, which doubles each time (capped by the maximum).
    first_wait = (h.get_order(db, bad).next_poll_at or LONG_AGO).replace(tzinfo=UTC) - utcnow()
    _due_now(db, [bad, odd])
    h.passes(worker, 1)
    again = h.get_order(db, bad)
    assert again.attempts == 2
    second_wait = (again.next_poll_at or LONG_AGO).replace(tzinfo=UTC) - utcnow()
    assert second_wait > first_wait * 1.5

    # The provider fixes its answer: the orders are settled, the alerts cleared.
    broken.clear()
    _due_now(db, [bad, odd])
    h.passes(worker, 1)
    for order_id in (bad, odd):
        order = h.get_order(db, order_id)
        assert (order.status, order.refunded, order.alert) == ("Partial", Decimal("0.05"), None)
    assert h.ledger_clean(db)
