"""Auto-refill: for a service with ``auto_refill_days`` set, the worker asks a refill of
each finished order every that many days, inside the refill window.

An order is due when it is Completed or Partial, its service offers refills, it finished at
least N days ago and at most ``refill_days`` ago (the window ``can_refill`` applies), and it
has no refill open nor one asked in the last N days (by anyone: the customer's own counts),
and its customer is not suspended (staff suspend an account to stop spending on it: a refill
asked upstream costs the panel, so it waits until the account is active again).
Each refill is asked in its own short transaction that locks the order and checks all of
that again, so two workers never ask twice: the second finds the first one's refill. The
refill then travels as any other (sent upstream by the worker when the order went there).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Exists, SQLColumnExpression, or_, select
from sqlalchemy.orm import Session

from opensmm.accounts.models import USER_ACTIVE, User
from opensmm.catalog.models import Service
from opensmm.db import Database
from opensmm.events import WORKER
from opensmm.fulfillment import states as fs
from opensmm.orders import events
from opensmm.orders import statuses as st
from opensmm.orders.models import Order
from opensmm.orders.service import lock_order, record
from opensmm.refills.models import Refill
from opensmm.refills.service import can_refill, open_refills
from opensmm.refills.statuses import OPEN, PENDING

# Refills asked per worker pass, at most (the rest wait for the next passes).
BATCH = 100
MAX_DAYS = 3650


def _recent(order_id: int | SQLColumnExpression[int], since: datetime) -> Exists:
    """A refill of the order that is open or was asked after ``since``."""
    return (
        select(Refill.id)
        .where(Refill.order_id == order_id,
               or_(Refill.status.in_(OPEN), Refill.created_at > since))
        .exists()
    )


def due_orders(session: Session, now: datetime, limit: int = BATCH) -> list[int]:
    """Orders due for an auto-refill, oldest finish first, at most ``limit``."""
    services = session.execute(
        select(Service.id, Service.refill_days, Service.auto_refill_days)
        .where(Service.auto_refill_days.is_not(None), Service.refill.is_(True))
        .order_by(Service.id)
    ).all()
    found: list[int] = []
    for service_id, window, every in services:
        if len(found) >= limit:
            break
        if every is None:
            continue
        period = timedelta(days=every)
        found.extend(session.scalars(
            select(Order.id)
            .join(User, User.id == Order.user_id)
            .where(Order.service_id == service_id, Order.status.in_(st.FINISHED),
                   User.status == USER_ACTIVE,
                   Order.finished_at >= now - timedelta(days=window),
                   Order.finished_at <= now - period,
                   ~_recent(Order.id, now - period))
            .order_by(Order.finished_at, Order.id)
            .limit(limit - len(found))
        ))
    return found


def request(session: Session, order_id: int, now: datetime) -> Refill | None:
    """Ask the order's auto-refill if it is (still) due; None if it is not."""
    order = lock_order(session, order_id)
    service = session.get(Service, order.service_id)
    if service is None or service.auto_refill_days is None or order.finished_at is None:
        return None
    owner = session.get(User, order.user_id)
    if owner is None or owner.status != USER_ACTIVE:  # suspended since the pass began
        return None
    period = timedelta(days=service.auto_refill_days)
    has_open = bool(open_refills(session, [order.id]))
    if not can_refill(order, service, has_open_refill=has_open, now=now):
        return None
    if order.finished_at > now - period or session.scalar(
            select(_recent(order.id, now - period))):
        return None
    # As a customer's refill: it goes upstream too when the order did.
    send_state = fs.NEW if order.send_state == fs.SENT else None
    refill = Refill(order_id=order.id, user_id=order.user_id, status=PENDING,
                    send_state=send_state, automatic=True, created_at=now, updated_at=now)
    session.add(refill)
    session.flush()
    record(session, order, WORKER, events.AUTO_REFILL_REQUESTED, refill=refill.id)
    return refill


def run(db: Database, now: datetime, limit: int = BATCH) -> int:
    """One pass: the refills asked (each in its own transaction)."""
    with db.read() as session:
        due = due_orders(session, now, limit)
    asked = 0
    for order_id in due:
        with db.write() as session:
            asked += request(session, order_id, now) is not None
    return asked
