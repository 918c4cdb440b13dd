"""Orders that simply complete, written for a whole batch at once.

Nine answers in ten of a status check say ``Completed`` for an order that was running:
no money moves and nothing can be refused. Through ``apply_update`` each would still cost
its own locking ``SELECT``, its own ``UPDATE`` and its own event ``INSERT``. Here the
batch's completions are one ``UPDATE`` (executemany) and one ``INSERT`` of their events,
inside the batch's transaction, after ``tracking._lock_orders`` has locked every order of
the batch (so no lock is taken here that was not taken before).

They must leave exactly the rows ``apply_update`` (and ``tracking._apply`` after it)
would: ``tests/fulfillment/test_completions.py`` applies the same answers both ways and
compares. Anything else (a refund, a finished or changed order, remains out of range)
goes through ``apply_update``, the one place that moves an order's money.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy.orm import Session

from opensmm.db import utcnow
from opensmm.events import Actor, params
from opensmm.orders import events
from opensmm.orders import statuses as st
from opensmm.orders.models import Order, OrderEvent
from opensmm.orders.service import OrderUpdate
from opensmm.webhooks import service as webhooks

# The statuses a completion may leave: neither refunded (Partial, Expired, Canceled) nor
# finished, so ``apply_update`` would accept ``Completed`` and change the status.
_STILL_RUNNING = frozenset(st.RUNNING + st.SUBSCRIPTION_RUNNING)
_MAX_START_COUNT = 2_000_000_000  # apply_update's bound


@dataclass(frozen=True)
class LockedOrder:
    """An order's row as the batch locked it: what ``apply_update`` would read."""

    id: int
    status: str
    remains: int
    units: int
    start_count: int | None
    finished_at: datetime | None
    user_id: int


# What ``tracking._lock_orders`` reads while it locks: the fields of ``LockedOrder``.
LOCKED_COLUMNS = (
    Order.id,
    Order.status,
    Order.remains,
    Order.units,
    Order.start_count,
    Order.finished_at,
    Order.user_id,
)


@dataclass(frozen=True)
class Completion:
    order: LockedOrder
    start_count: int | None  # what the upstream said; None keeps ours

    def changes(self) -> dict[str, Any]:
        """The ``events.CHANGED`` params ``apply_update`` records for the same change."""
        changes: dict[str, Any] = {"status": [self.order.status, st.COMPLETED]}
        if self.order.remains != 0:
            changes["remains"] = [self.order.remains, 0]
        if self.start_count is not None:
            changes["start_count"] = self.start_count
        return changes


def plain_completion(row: LockedOrder | None, change: OrderUpdate) -> Completion | None:
    """``change`` as a plain completion, or None when ``apply_update`` must judge it.

    Plain: ``Completed`` with the remains left to us (they become 0), for an order that
    is still running with remains in range, and a start count in range (or none).
    """
    if row is None or change.status != st.COMPLETED or change.remains is not None:
        return None
    if row.status not in _STILL_RUNNING or not 0 <= row.remains <= row.units:
        return None
    if change.start_count is not None and not 0 <= change.start_count <= _MAX_START_COUNT:
        return None
    return Completion(row, change.start_count)


_ORDERS = cast(Table, Order.__table__)
_EVENTS = cast(Table, OrderEvent.__table__)
# Core statements, run executemany: the ORM's bulk forms cost a third more per row here.
_COMPLETE = (
    update(_ORDERS)
    .where(_ORDERS.c.id == bindparam("b_id"))
    .values(
        status=st.COMPLETED,
        remains=0,
        start_count=bindparam("b_start_count"),
        finished_at=bindparam("b_finished_at"),
        updated_at=bindparam("b_now"),
        # What ``tracking._apply`` sets after any update: a finished order is not polled.
        attempts=0,
        alert=None,
        lease_owner=None,
        next_poll_at=None,
    )
)
_RECORD = insert(_EVENTS)


def write_completions(session: Session, completions: Sequence[Completion], actor: str) -> None:
    """Write the completions: their orders (already locked) and one event each."""
    if not completions:
        return
    now = utcnow()
    who = Actor.of(actor)
    session.execute(
        _COMPLETE,
        [
            {
                "b_id": done.order.id,
                "b_start_count": (
                    done.order.start_count if done.start_count is None else done.start_count
                ),
                # The first time an order finishes counts (the refill window starts there).
                "b_finished_at": done.order.finished_at or now,
                "b_now": now,
            }
            for done in completions
        ],
    )
    webhooks.orders_changed(session, [(done.order.id, done.order.user_id, st.COMPLETED)
                                      for done in completions])
    session.execute(
        _RECORD,
        [
            {
                "order_id": done.order.id,
                "actor_kind": who.kind,
                "actor": who.name,
                "code": events.CHANGED.code,
                "params": params(**done.changes()),
                "message": "",
                "created_at": now,
            }
            for done in completions
        ],
    )
