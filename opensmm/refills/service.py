"""Refills: asked for by customers, worked by staff (or an upstream panel)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from opensmm.accounts.models import User
from opensmm.catalog.models import Service
from opensmm.db import utcnow
from opensmm.db.types import parse_id
from opensmm.errors import DomainError, NotFound
from opensmm.i18n import N_
from opensmm.orders import events
from opensmm.orders import statuses as order_statuses
from opensmm.orders.service import lock_order, record
from opensmm.refills.models import Refill

PENDING = "Pending"
IN_PROGRESS = "In progress"
COMPLETED = "Completed"
REJECTED = "Rejected"
ERROR = "Error"
REFILL_STATUSES = (PENDING, IN_PROGRESS, COMPLETED, REJECTED, ERROR)
OPEN = (PENDING, IN_PROGRESS)


class RefillNotFound(NotFound):
    message = N_("Refill not found")


class RefillRefused(DomainError):
    pass


def request_refill(session: Session, user: User, order_id: int) -> Refill:
    """Open a refill for the customer's finished order, if its service and window allow."""
    order = lock_order(session, order_id, user.id)
    service = session.get(Service, order.service_id)
    if service is None or not service.refill:
        raise RefillRefused(N_('Refill is not available for this service'))
    if order.status not in order_statuses.FINISHED or order.finished_at is None:
        raise RefillRefused(N_('Refill is available only for completed or partial orders'))
    if utcnow() > order.finished_at + timedelta(days=service.refill_days):
        raise RefillRefused(
            N_('The refill period of {refill_days} days has ended'),
            refill_days=service.refill_days,
        )
    open_refill = session.scalar(
        select(Refill.id).where(Refill.order_id == order.id, Refill.status.in_(OPEN))
    )
    if open_refill is not None:
        raise RefillRefused(N_('A refill for this order is already in progress'))
    # A refill of an order that went upstream goes there too (the worker sends it).
    send_state = "new" if order.send_state == "sent" else None
    refill = Refill(order_id=order.id, user_id=user.id, status=PENDING, send_state=send_state)
    session.add(refill)
    session.flush()
    record(session, order, f"user:{user.name}", events.REFILL_REQUESTED, refill=refill.id)
    return refill


def get_refill(session: Session, refill_id: int, user_id: int | None = None) -> Refill:
    refill = session.get(Refill, refill_id) if parse_id(refill_id) is not None else None
    if refill is None or (user_id is not None and refill.user_id != user_id):
        raise RefillNotFound()
    return refill


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
    return refill
