"""Plain completions, written for a batch at once, leave the rows ``apply_update`` leaves.

Each case is two twin orders in the same state. One twin's answer goes through
``record_observations`` (where plain completions are batched); the other's through
``tracking._apply`` alone, i.e. ``apply_update`` for every order, as before the batching.
Their order rows, events and money must then be the same.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, update

from opensmm.db import Database, utcnow
from opensmm.fulfillment import tracking
from opensmm.fulfillment.config import Tally
from opensmm.fulfillment.protocol import Observation
from opensmm.ledger.models import LedgerEntry
from opensmm.orders import service as orders
from opensmm.orders.models import Order, OrderEvent
from tests.fulfillment import helpers as h

BY = "provider:twin"
FINISHED_BEFORE = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
SENT_AT = datetime(2026, 1, 1, tzinfo=UTC)

# Columns that differ between twins by construction, or hold the clock.
UNCOMPARED = {
    "id", "link", "upstream_id", "created_at", "updated_at", "finished_at", "next_poll_at",
    "routed_at",
}
CLOCK_SLACK = timedelta(seconds=30)  # the twins' updates run a moment apart


@dataclass(frozen=True)
class Case:
    name: str
    state: dict[str, Any]  # the order's row before the answer
    answer: Observation
    batched: bool  # a plain completion: no apply_update on the batched side


def completed(start_count: int | None = None) -> Observation:
    return Observation(status="Completed", raw_status="Completed", start_count=start_count)


CASES = [
    Case("in progress, no start count yet", {"status": "In progress", "remains": 100},
         completed(start_count=500), batched=True),
    Case("part delivered, start count kept", {"status": "In progress", "remains": 40,
                                              "start_count": 10}, completed(), batched=True),
    Case("nothing remains already", {"status": "Processing", "remains": 0, "start_count": 3},
         completed(start_count=0), batched=True),
    Case("pending, finished once before", {"status": "Pending", "remains": 100,
                                           "finished_at": FINISHED_BEFORE},
         completed(start_count=7), batched=True),
    Case("an alert is cleared", {"status": "In progress", "remains": 100, "alert": "old"},
         completed(start_count=1), batched=True),
    Case("partial refunds through apply_update", {"status": "In progress", "remains": 100},
         Observation(status="Partial", raw_status="Partial", start_count=5, remains=30),
         batched=False),
    Case("canceled refunds through apply_update", {"status": "Processing", "remains": 100},
         Observation(status="Canceled", raw_status="Canceled"), batched=False),
    Case("still running", {"status": "Pending", "remains": 100},
         Observation(status="In progress", raw_status="In progress", start_count=9,
                     remains=80), batched=False),
]


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The order ids ``apply_update`` was called for."""
    seen: list[int] = []
    real = orders.apply_update

    def counting(session: Any, order_id: int, change: Any, actor: str) -> Order:
        seen.append(order_id)
        return real(session, order_id, change, actor)

    monkeypatch.setattr(orders, "apply_update", counting)
    yield seen


def _twins(db: Database, count: int) -> list[tuple[int, int]]:
    provider_id = h.provider(db, "http://127.0.0.1:9/", "k")
    service_id = h.provider_service(db, provider_id, rate=Decimal("2.00"))
    who = h.customer(db, "1000")
    return [(h.place(db, who, service_id, 100), h.place(db, who, service_id, 100))
            for _ in range(count)]


def _set_state(db: Database, order_id: int, state: dict[str, Any]) -> None:
    values = {"send_state": "sent", "upstream_id": 10_000 + order_id, "sent_at": SENT_AT,
              "next_poll_at": utcnow() - timedelta(seconds=1), **state}
    with db.write() as session:
        session.execute(update(Order).where(Order.id == order_id).values(**values))


def _claim(db: Database) -> dict[int, tracking.TrackedOrder]:
    claimed = tracking.claim_due_orders(db, "twin-worker", h.FAST, set())
    return {item.tracked.order_id: item for item in claimed}


def _through_apply_update(db: Database, items: list[tracking.TrackedOrder],
                          answers: dict[int, Observation]) -> None:
    """The batch as it was written before plain completions: ``_apply`` for each."""
    now = utcnow()
    with db.write() as session, session.no_autoflush:
        tracking._lock_orders(session, [item.tracked.order_id for item in items])
        for item in sorted(items, key=lambda i: (i.user_id, i.tracked.order_id)):
            answer = answers[item.tracked.order_id]
            tracking._apply(session, item, answer, BY, h.FAST, now, Tally())


def _anonymous(text: str, order_id: int) -> str:
    """Messages name their order: "Order 12 is canceled"; twins differ only there."""
    return text.replace(f"Order {order_id} ", "Order N ")


def _row(db: Database, order_id: int) -> dict[str, Any]:
    with db.read() as session:
        order = session.get(Order, order_id)
        assert order is not None
        row = {column.key: getattr(order, column.key) for column in Order.__table__.columns}
    if row["alert"] is not None:
        row["alert"] = _anonymous(row["alert"], order_id)
    return row


def _events(db: Database, order_id: int) -> list[tuple[Any, ...]]:
    with db.read() as session:
        rows = session.execute(
            select(OrderEvent.actor_kind, OrderEvent.actor, OrderEvent.code, OrderEvent.params,
                   OrderEvent.message)
            .where(OrderEvent.order_id == order_id)
            .order_by(OrderEvent.id)
        ).all()
    return [(row.actor_kind, row.actor, row.code,
             _anonymous(json.dumps(row.params), order_id), _anonymous(row.message, order_id))
            for row in rows]


def _money(db: Database, order_id: int) -> list[tuple[Decimal, str, str]]:
    with db.read() as session:
        rows = session.execute(
            select(LedgerEntry.amount, LedgerEntry.kind, LedgerEntry.key)
            .where(LedgerEntry.order_id == order_id)
            .order_by(LedgerEntry.id)
        ).all()
    return [(row.amount, row.kind, row.key.replace(str(order_id), "N")) for row in rows]


def _close_in_time(ours: datetime | None, theirs: datetime | None) -> None:
    assert (ours is None) == (theirs is None)
    if ours is not None and theirs is not None:
        assert abs(ours - theirs) < CLOCK_SLACK


def _compare(db: Database, batched: int, alone: int, finished_before: datetime | None) -> None:
    ours, theirs = _row(db, batched), _row(db, alone)
    assert {k: v for k, v in ours.items() if k not in UNCOMPARED} == {
        k: v for k, v in theirs.items() if k not in UNCOMPARED
    }
    assert (ours["finished_at"] is None) == (theirs["finished_at"] is None)
    if finished_before is not None:
        assert ours["finished_at"] == theirs["finished_at"] == finished_before
    _close_in_time(ours["next_poll_at"], theirs["next_poll_at"])
    assert _events(db, batched) == _events(db, alone)
    assert _money(db, batched) == _money(db, alone)


def test_the_batch_leaves_the_rows_apply_update_leaves(db: Database, calls: list[int]) -> None:
    pairs = _twins(db, len(CASES))
    for case, (batched, alone) in zip(CASES, pairs, strict=True):
        _set_state(db, batched, case.state)
        _set_state(db, alone, case.state)
    claimed = _claim(db)
    answers = {}
    for case, (batched, alone) in zip(CASES, pairs, strict=True):
        answers[batched] = answers[alone] = case.answer

    tally = Tally()
    started = utcnow()
    tracking.record_observations(db, h.FAST, BY, [claimed[b] for b, _ in pairs],
                                 {b: answers[b] for b, _ in pairs}, tally)
    batched_calls = list(calls)
    _through_apply_update(db, [claimed[a] for _, a in pairs], answers)

    assert sorted(batched_calls) == sorted(b for case, (b, _) in zip(CASES, pairs, strict=True)
                                           if not case.batched)
    assert tally.updated == len(CASES)
    assert tally.refunds == 2
    for case, (batched, alone) in zip(CASES, pairs, strict=True):
        _compare(db, batched, alone, case.state.get("finished_at"))
        assert _row(db, batched)["updated_at"] >= started
        assert _row(db, alone)["updated_at"] >= started
    completed_rows = [_row(db, b) for case, (b, _) in zip(CASES, pairs, strict=True)
                      if case.batched]
    assert {(r["status"], r["remains"], r["alert"], r["next_poll_at"], r["lease_owner"])
            for r in completed_rows} == {("Completed", 0, None, None, None)}
    assert h.ledger_clean(db)


Change = Callable[[Database, int], None]


def _canceled_by_staff(db: Database, order_id: int) -> None:
    with db.write() as session:
        orders.apply_update(session, order_id, orders.OrderUpdate(status="Canceled"), "staff")


def _remains_above_units(db: Database, order_id: int) -> None:
    with db.write() as session:
        session.execute(update(Order).where(Order.id == order_id).values(units=10, remains=50))


def _completed_by_staff(db: Database, order_id: int) -> None:
    with db.write() as session:
        orders.apply_update(session, order_id, orders.OrderUpdate(status="Completed"), "staff")


@pytest.mark.parametrize("change", [_canceled_by_staff, _remains_above_units,
                                    _completed_by_staff])
def test_an_order_changed_since_its_claim_is_judged_by_apply_update(
    db: Database, calls: list[int], change: Change
) -> None:
    """The batch judges the rows it locked, not what was claimed: an order that another
    hand changed in between goes through ``apply_update``, which refuses or accepts it
    as it always did (an alert, or nothing to change)."""
    ((batched, alone),) = _twins(db, 1)
    for order_id in (batched, alone):
        _set_state(db, order_id, {"status": "In progress", "remains": 100})
    claimed = _claim(db)
    for order_id in (batched, alone):
        change(db, order_id)
    calls.clear()
    answer = completed(start_count=4)

    tracking.record_observations(db, h.FAST, BY, [claimed[batched]], {batched: answer}, Tally())
    assert calls == [batched]
    _through_apply_update(db, [claimed[alone]], {alone: answer})
    _compare(db, batched, alone, None)
