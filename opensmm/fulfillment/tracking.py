"""Following orders and refills upstream: status checks, cancels, and what they change.

A pass claims the orders that are due (pushing their ``next_poll_at`` one lease ahead, so
another worker skips them), asks each provider about them 100 ids per call, outside any
transaction, then records a whole batch in one transaction. Every change of status,
remains or start count goes through ``apply_update``, the one place that applies statuses
and refunds (a replayed answer refunds nothing twice), except plain completions: a running
order the upstream calls Completed moves no money, and the batch's are written together
(``opensmm.fulfillment.completions``), leaving the same rows.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, select, update
from sqlalchemy.orm import Session

from opensmm.catalog.models import Service
from opensmm.db import Database
from opensmm.errors import DomainError
from opensmm.events import Actor
from opensmm.fulfillment import pipeline, routing
from opensmm.fulfillment.completions import (
    LOCKED_COLUMNS,
    Completion,
    LockedOrder,
    plain_completion,
    write_completions,
)
from opensmm.fulfillment.config import Tally, WorkerConfig
from opensmm.fulfillment.protocol import (
    CancelAnswer,
    ItemProblem,
    Observation,
    RefillObservation,
    Tracked,
    TrackedRefill,
)
from opensmm.fulfillment.states import CANCEL_REFUSED, CANCEL_REQUESTED, CANCEL_SENT, SENT
from opensmm.orders import events
from opensmm.orders import service as orders
from opensmm.orders import statuses as st
from opensmm.orders.models import Order
from opensmm.refills import service as refills
from opensmm.refills import statuses as rs
from opensmm.refills.models import Refill
from opensmm.subscriptions import service as subscriptions

log = logging.getLogger("opensmm.fulfillment")

RUNNING = tuple(dict.fromkeys(st.RUNNING + st.SUBSCRIPTION_RUNNING))
REFUNDING = st.REFUNDS_REMAINS + st.REFUNDS_ALL
CHUNK = 100  # ids per call, the API's limit


@dataclass(frozen=True)
class TrackedOrder:
    tracked: Tracked
    fulfillment: str
    provider_id: int | None
    user_id: int
    cancel_requested: bool
    alert: str | None


@dataclass(frozen=True)
class TrackedRefillClaim:
    tracked: TrackedRefill
    fulfillment: str
    provider_id: int | None
    alert: str | None


def chunks(items: Sequence[TrackedOrder], size: int = CHUNK) -> list[Sequence[TrackedOrder]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


# --- orders --------------------------------------------------------------------------


def _lease_due(
    db: Database,
    model: type[Order] | type[Refill],
    query: Select[*tuple[Any, ...]],
    conditions: list[ColumnElement[bool]],
    config: WorkerConfig,
    owner: str,
    now: datetime,
) -> Sequence[Row[*tuple[Any, ...]]]:
    """Up to a batch of ``query``'s rows whose ``model`` row is due (``conditions``), locked
    and leased to ``owner``: their next look is pushed one lease ahead, so that another
    worker skips them. Rows another worker holds locked right now are skipped."""
    with db.read() as session:  # most passes find nothing: a read says so without a lock
        probe = query.with_only_columns(model.id).where(*conditions).limit(1)
        if session.scalar(probe) is None:
            return []
    with db.write() as session:
        rows = session.execute(
            query.where(*conditions)
            .order_by(model.next_poll_at)
            .limit(config.batch)
            .with_for_update(skip_locked=True, of=model)
        ).all()
        if rows:
            session.execute(
                update(model)
                .where(model.id.in_([row.id for row in rows]))
                .values(next_poll_at=now + config.lease, lease_owner=owner)
                .execution_options(synchronize_session=False)
            )
    return rows


# What a status check knows of an order (``TrackedOrder``).
_TRACKED = select(
    Order.id,
    Order.upstream_id,
    Order.status,
    Order.remains,
    Order.start_count,
    Order.units,
    Order.runs,
    Order.sent_at,
    Order.fulfillment,
    Order.provider_id,
    Order.user_id,
    Order.cancel_state,
    Order.alert,
    Order.subscription_id,
    Service.type,
).join(Service, Service.id == Order.service_id)


def claim_due_orders(
    db: Database, owner: str, config: WorkerConfig, blocked: Collection[int]
) -> list[TrackedOrder]:
    now = db.now()
    conditions = [
        Order.send_state == SENT,
        Order.next_poll_at <= now,
        Order.status.in_(RUNNING),
        *pipeline.not_blocked(blocked),
    ]
    rows = _lease_due(db, Order, _TRACKED, conditions, config, owner, now)
    return [_tracked_order(row, now) for row in rows]


def pushed_order(db: Database, provider_id: int, upstream_id: int) -> TrackedOrder | None:
    """The running order that ``provider_id`` knows as ``upstream_id`` (its webhook told
    about it), as a status check would have claimed it; None if there is none."""
    with db.read() as session:
        row = session.execute(
            _TRACKED.where(
                Order.provider_id == provider_id,
                Order.upstream_id == upstream_id,
                Order.send_state == SENT,
                Order.status.in_(RUNNING),
            ).limit(1)
        ).first()
    return None if row is None else _tracked_order(row, db.now())


def _tracked_order(row: Row[*tuple[Any, ...]], now: datetime) -> TrackedOrder:
    return TrackedOrder(
        tracked=Tracked(
            order_id=row.id,
            upstream_id=int(row.upstream_id),  # sent: the upstream's id is set
            status=row.status,
            remains=row.remains,
            start_count=row.start_count,
            units=row.units,
            runs=row.runs,
            # A post's order is a plain order, though its service is a subscription.
            subscription=row.type == "Subscriptions" and row.subscription_id is None,
            sent_at=row.sent_at or now,
        ),
        fulfillment=row.fulfillment,
        provider_id=row.provider_id,
        user_id=row.user_id,
        cancel_requested=row.cancel_state == CANCEL_REQUESTED,
        alert=row.alert,
    )


def _lock_orders(session: Session, order_ids: Sequence[int]) -> dict[int, LockedOrder]:
    """Lock the whole batch's orders first, by id, before any account is locked for a
    refund: a customer's cancel (order, then account) then waits for us, never the
    reverse, and two workers lock accounts in one order (by id): no deadlock.

    Returns the locked rows as they now are (not as claimed): plain completions are
    judged on them, as ``apply_update`` would judge them."""
    rows = session.execute(
        select(*LOCKED_COLUMNS)
        .where(Order.id.in_(list(order_ids)))
        .order_by(Order.id)
        .with_for_update()
    ).all()
    return {row.id: LockedOrder(*row) for row in rows}  # LOCKED_COLUMNS: its fields, in order


def _unchanged(tracked: Tracked, seen: Observation) -> bool:
    return (
        seen.status == tracked.status
        and (seen.remains is None or seen.remains == tracked.remains)
        and (seen.start_count is None or seen.start_count == tracked.start_count)
    )


def _update_for(seen: Observation) -> orders.OrderUpdate:
    # Completed means nothing remains, whatever a panel says; Canceled keeps ours.
    keeps_remains = seen.status in (st.COMPLETED, st.CANCELED)
    return orders.OrderUpdate(
        status=seen.status,
        start_count=seen.start_count,
        remains=None if keeps_remains else seen.remains,
    )


def _cannot_apply(tracked: Tracked, update: orders.OrderUpdate) -> str | None:
    """What ``apply_update`` would refuse, checked first: refusals stay cheap (no savepoint)
    and leave nothing half-applied."""
    allowed = st.SUBSCRIPTION_STATUSES if tracked.subscription else st.ORDER_STATUSES
    if update.status not in allowed:
        return f"{update.status!r} is not a status this order can take"
    if update.start_count is not None and not 0 <= update.start_count <= 2_000_000_000:
        return f"start count {update.start_count} is out of range"
    remains = tracked.remains if update.remains is None else update.remains
    if update.status == st.COMPLETED and update.remains is None:
        remains = 0
    if not 0 <= remains <= tracked.units:
        return f"remains must be between 0 and {tracked.units}"
    if update.status in st.REFUNDS_REMAINS and remains == 0 and not tracked.subscription:
        return f"{update.status} needs remains above zero"
    return None


def _plain_completion(
    item: TrackedOrder, seen: Observation, locked: dict[int, LockedOrder]
) -> Completion | None:
    """The answer as a plain completion, written with the batch's others; None when it
    goes through ``apply_update`` (money moves, or it may be refused: ``_apply`` says why)."""
    change = _update_for(seen)
    if _cannot_apply(item.tracked, change) is not None:
        return None
    return plain_completion(locked.get(item.tracked.order_id), change)


def _alert(
    session: Session, item: TrackedOrder, message: str, config: WorkerConfig, now: datetime
) -> bool:
    """Leave the order as it is, say why, look again later (backing off). True if new."""
    order = session.get(Order, item.tracked.order_id)
    if order is None:
        return False
    order.attempts += 1
    order.next_poll_at = now + config.backoff(order.attempts)
    order.lease_owner = None
    if order.alert == message:
        return False
    order.alert = message
    orders.record(session, order, "worker", events.ALERT, message=message)
    log.error("ALERT order %s: %s", order.id, message)
    return True


def _apply(
    session: Session,
    item: TrackedOrder,
    seen: Observation,
    by: str,
    config: WorkerConfig,
    now: datetime,
    tally: Tally,
) -> None:
    update = _update_for(seen)
    problem = _cannot_apply(item.tracked, update)
    if problem is None:
        try:
            order = orders.apply_update(session, item.tracked.order_id, update, by)
        except DomainError as exc:  # the order changed since it was claimed
            problem = exc.message
            stale = session.get(Order, item.tracked.order_id)
            if stale is not None:
                session.expire(stale)  # drop whatever apply_update had set before refusing
    if problem is not None:
        message = (
            f"{by} says {seen.raw_status!r} (remains {seen.remains}), which cannot be "
            f"applied: {problem}. The order was left as it is."
        )
        if _alert(session, item, message, config, now):
            tally.alerts += 1
        return
    tally.updated += 1
    if order.status in REFUNDING and item.tracked.status not in REFUNDING:
        tally.refunds += 1
    order.attempts = 0
    order.alert = None
    order.lease_owner = None
    order.next_poll_at = (
        config.next_poll(now, seen.next_change_at) if order.status in RUNNING else None
    )


def record_observations(
    db: Database,
    config: WorkerConfig,
    by: str,
    items: Sequence[TrackedOrder],
    seen: dict[int, Observation | ItemProblem],
    tally: Tally,
) -> None:
    """One transaction for a batch. Orders are visited by account, then id, so that two
    workers lock accounts in the same order (no deadlock between their refunds)."""
    now = db.now()
    quiet: dict[datetime, list[int]] = {}
    # No autoflush: the batch's order updates and events go out together at commit
    # (rows are locked as they are read; nothing here reads back what it wrote). Plain
    # completions are written after the loop, in two statements for the whole batch.
    with db.write() as session, session.no_autoflush:
        locked = _lock_orders(session, [item.tracked.order_id for item in items])
        completions: list[Completion] = []
        charges: dict[int, Decimal] = {}
        for item in sorted(items, key=lambda i: (i.user_id, i.tracked.order_id)):
            tally.polled += 1
            answer = seen.get(item.tracked.order_id) or ItemProblem("no answer for this order")
            if isinstance(answer, Observation) and answer.charge is not None:
                charges[item.tracked.order_id] = answer.charge
            if item.tracked.subscription and isinstance(answer, Observation) and answer.status:
                # Its posts counted upstream become orders here, charged (opensmm.subscriptions).
                answer = subscriptions.reconcile(session, item.tracked, answer, by)
            if isinstance(answer, ItemProblem):
                message = f"{by} cannot tell this order's status: {answer.reason}"
                tally.alerts += _alert(session, item, message, config, now)
            elif answer.status is None:
                message = (
                    f"{by} answered an unknown status {answer.raw_status!r}; "
                    "the order was left as it is"
                )
                tally.alerts += _alert(session, item, message, config, now)
            elif _unchanged(item.tracked, answer) and item.alert is None:
                quiet.setdefault(config.next_poll(now, answer.next_change_at), []).append(
                    item.tracked.order_id
                )
            elif (done := _plain_completion(item, answer, locked)) is not None:
                completions.append(done)
                tally.updated += 1
            else:
                _apply(session, item, answer, by, config, now, tally)
        write_completions(session, completions, by)
        routing.record_charges(session, charges)
        for when, ids in quiet.items():
            session.execute(
                update(Order)
                .where(Order.id.in_(ids))
                .values(next_poll_at=when, attempts=0, lease_owner=None)
                .execution_options(synchronize_session=False)
            )


def postpone(db: Database, order_ids: Sequence[int], until: datetime) -> None:
    """The provider failed: look at these orders again when its back-off ends."""
    pipeline.postpone(db, Order, order_ids, until)


def record_cancels(
    db: Database,
    config: WorkerConfig,
    by: str,
    items: Sequence[TrackedOrder],
    answers: dict[int, CancelAnswer],
    tally: Tally,
) -> set[int]:
    """Write the cancels' answers; an outcome known at once is applied. Returns the ids
    that are settled (no status check needed in this pass)."""
    now = db.now()
    settled: set[int] = set()
    with db.write() as session:
        _lock_orders(session, [item.tracked.order_id for item in items])
        for item in sorted(items, key=lambda i: (i.user_id, i.tracked.order_id)):
            answer = answers.get(item.tracked.order_id)
            if answer is None:
                continue
            order = session.scalar(
                select(Order).where(Order.id == item.tracked.order_id).with_for_update()
            )
            if order is None or order.cancel_state != CANCEL_REQUESTED:
                continue
            tally.cancels += 1
            if answer.accepted:
                order.cancel_state = CANCEL_SENT
                orders.record(session, order, "worker", events.CANCEL_FORWARDED, by=Actor.of(by))
            else:
                order.cancel_state = CANCEL_REFUSED
                orders.record(
                    session, order, "worker", events.CANCEL_REFUSED,
                    by=Actor.of(by), reason=answer.reason,
                )
            if answer.observation is not None:
                _apply(session, item, answer.observation, by, config, now, tally)
                settled.add(item.tracked.order_id)
    return settled


# --- refills -------------------------------------------------------------------------


def claim_due_refills(
    db: Database, owner: str, config: WorkerConfig, blocked: Collection[int]
) -> list[TrackedRefillClaim]:
    now = db.now()
    conditions = [
        Refill.send_state == SENT,
        Refill.next_poll_at <= now,
        Refill.status.in_(rs.OPEN),
        *pipeline.not_blocked(blocked),
    ]
    query = select(
        Refill.id,
        Refill.upstream_id,
        Refill.status,
        Refill.sent_at,
        Refill.alert,
        Order.fulfillment,
        Order.provider_id,
    ).join(Order, Order.id == Refill.order_id)
    rows = _lease_due(db, Refill, query, conditions, config, owner, now)
    return [
        TrackedRefillClaim(
            tracked=TrackedRefill(
                refill_id=row.id,
                upstream_id=int(row.upstream_id),
                status=row.status,
                sent_at=row.sent_at or now,
            ),
            fulfillment=row.fulfillment,
            provider_id=row.provider_id,
            alert=row.alert,
        )
        for row in rows
    ]


def record_refill_observations(
    db: Database,
    config: WorkerConfig,
    by: str,
    items: Sequence[TrackedRefillClaim],
    seen: dict[int, RefillObservation | ItemProblem],
    tally: Tally,
) -> None:
    now = db.now()
    with db.write() as session:
        for item in items:
            refill_id = item.tracked.refill_id
            answer = seen.get(refill_id) or ItemProblem("no answer for this refill")
            refill = session.get(Refill, refill_id)
            if refill is None:
                continue
            refill.lease_owner = None
            problem = None
            if isinstance(answer, ItemProblem):
                problem = f"{by} cannot tell this refill's status: {answer.reason}"
            elif answer.status is None:
                problem = f"{by} answered an unknown refill status {answer.raw_status!r}"
            if problem is not None:
                refill.attempts += 1
                refill.next_poll_at = now + config.backoff(refill.attempts)
                if refill.alert != problem:
                    refill.alert = problem
                    session.add(
                        orders.event_row(
                            refill.order_id, "worker", events.REFILL_ALERT,
                            refill=refill.id, message=problem,
                        )
                    )
                    log.error("ALERT refill %s: %s", refill.id, problem)
                    tally.alerts += 1
                continue
            assert isinstance(answer, RefillObservation) and answer.status is not None
            if answer.status != refill.status:
                refills.set_refill_status(session, refill.id, answer.status, by)
                tally.refills_updated += 1
            refill.attempts = 0
            refill.alert = None
            refill.next_poll_at = (
                config.next_poll(now, answer.next_change_at)
                if answer.status in rs.OPEN
                else None
            )


def postpone_refills(db: Database, refill_ids: Sequence[int], until: datetime) -> None:
    pipeline.postpone(db, Refill, refill_ids, until)
