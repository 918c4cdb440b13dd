"""Refills: asked for by customers, worked by staff (or an upstream panel)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from opensmm.accounts.models import User
from opensmm.catalog.models import Service
from opensmm.db import utcnow
from opensmm.db.types import parse_id
from opensmm.errors import ALLOWED, Decision, DomainError, NotFound, refused
from opensmm.fulfillment import states as fs
from opensmm.i18n import N_
from opensmm.orders import events
from opensmm.orders import statuses as order_statuses
from opensmm.orders.models import Order
from opensmm.orders.service import lock_order, record
from opensmm.refills.models import Refill
from opensmm.refills.statuses import OPEN, PENDING, REFILL_STATUSES
from opensmm.webhooks import service as webhooks


class RefillNotFound(NotFound):
    message = N_("Refill not found")


class RefillRefused(DomainError):
    pass


REFILL_NOT_OFFERED = N_("Refill is not available for this service")
NOT_FINISHED = N_("Refill is available only for completed or partial orders")
PERIOD_ENDED = N_("The refill period of {days} days has ended")
REFILL_OPEN = N_("A refill for this order is already in progress")


def can_refill(
    order: Order, service: Service | None, *, has_open_refill: bool, now: datetime | None = None
) -> Decision:
    """May the customer ask a refill of ``order`` now?

    The one rule every door asks: the API's ``refill``, the orders page's button.
    ``has_open_refill``: the order has a refill still open (``open_refills`` reads it).
    """
    if service is None or not service.refill:
        return refused(REFILL_NOT_OFFERED)
    if order.status not in order_statuses.FINISHED or order.finished_at is None:
        return refused(NOT_FINISHED)
    if (now or utcnow()) > order.finished_at + timedelta(days=service.refill_days):
        return refused(PERIOD_ENDED, days=service.refill_days)
    if has_open_refill:
        return refused(REFILL_OPEN)
    return ALLOWED


def open_refills(session: Session, order_ids: Collection[int]) -> set[int]:
    """Which of ``order_ids`` have a refill still open."""
    if not order_ids:
        return set()
    return set(
        session.scalars(
            select(Refill.order_id)
            .where(Refill.order_id.in_(list(order_ids)), Refill.status.in_(OPEN))
            .distinct()
        )
    )


def request_refill(session: Session, user: User, order_id: int) -> Refill:
    """Open a refill for the customer's order, if ``can_refill`` allows it."""
    order = lock_order(session, order_id, user.id)
    service = session.get(Service, order.service_id)
    has_open = bool(open_refills(session, [order.id]))
    can_refill(order, service, has_open_refill=has_open).check(RefillRefused)
    # A refill of an order that went upstream goes there too (the worker sends it).
    send_state = fs.NEW if order.send_state == fs.SENT else None
    refill = Refill(order_id=order.id, user_id=user.id, status=PENDING, send_state=send_state)
    session.add(refill)
    session.flush()
    record(session, order, f"user:{user.name}", events.REFILL_REQUESTED, refill=refill.id)
    return refill


def get_refill(session: Session, refill_id: int, user_id: int | None = None) -> Refill:
    """One refill; with ``user_id``, only if it is that customer's (else ``RefillNotFound``)."""
    refill = find_refills(session, [refill_id], user_id).get(refill_id)
    if refill is None:
        raise RefillNotFound()
    return refill


def find_refills(
    session: Session, refill_ids: Iterable[int | None], user_id: int | None = None
) -> dict[int, Refill]:
    """The refills among ``refill_ids`` that exist (and are ``user_id``'s), by id, in one read.

    An id no row can have (None, out of the column's range) is simply not found.
    """
    ids = [i for i in refill_ids if i is not None and parse_id(i) is not None]
    if not ids:
        return {}
    query = select(Refill).where(Refill.id.in_(ids))
    if user_id is not None:
        query = query.where(Refill.user_id == user_id)
    return {refill.id: refill for refill in session.scalars(query)}


def set_refill_status(session: Session, refill_id: int, status: str, actor: str) -> Refill:
    found = order_statuses.canonical(status, REFILL_STATUSES)
    if found is None:
        raise DomainError(
            N_('Unknown refill status {status!r}; one of: {allowed}'),
            status=status,
            allowed=', '.join(REFILL_STATUSES,
        ))
    if parse_id(refill_id) is None:  # no row has it (and PostgreSQL would refuse to bind it)
        raise RefillNotFound()
    refill = session.scalar(select(Refill).where(Refill.id == refill_id).with_for_update())
    if refill is None:
        raise RefillNotFound()
    if refill.status != found:
        order = lock_order(session, refill.order_id)
        record(
            session, order, actor, events.REFILL_STATUS,
            refill=refill.id, old=refill.status, new=found,
        )
        refill.status = found
        refill.updated_at = utcnow()
        webhooks.refill_changed(session, refill.id, refill.user_id, found)
    return refill
