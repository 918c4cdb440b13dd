"""What needs a person: held orders and refills, alerts, and how staff settle them.

An order is *held* when nobody can tell whether the provider created it (a timeout after
sending, a dropped connection, a worker killed mid-call), or when the provider refused it.
The worker never resends it by itself (an order at an upstream that honours idempotency keys
is resent with its key a few times first: ``opensmm.fulfillment.outbox``). A person checks
at the provider, then either records the provider's order id (it exists: the worker follows
it from there) or releases it to be sent again (it does not). Giving up is
``opensmm order set ID --status Canceled``, which refunds it like any cancel.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from opensmm.accounts.models import User
from opensmm.db import utcnow
from opensmm.errors import DomainError, NotFound
from opensmm.fulfillment import pipeline
from opensmm.fulfillment.states import CANCEL_REQUESTED, HELD
from opensmm.i18n import N_, Term
from opensmm.orders import events
from opensmm.orders import service as orders
from opensmm.orders import statuses as st
from opensmm.orders.models import Order
from opensmm.providers.models import Provider
from opensmm.refills import statuses as rs
from opensmm.refills.models import Refill

RUNNING = tuple(dict.fromkeys(st.RUNNING + st.SUBSCRIPTION_RUNNING))
MAX_LISTED = 1000


@dataclass(frozen=True)
class Attention:
    """One order or refill a person should look at."""

    kind: str  # "order" or "refill"
    id: int
    order_id: int
    user: str
    status: str
    send_state: str | None
    held: bool
    reason: str
    provider: str | None
    upstream_id: int | None
    cancel_state: str | None = None


@dataclass(frozen=True)
class ProviderAlert:
    name: str
    alert: str
    since: str


def needing_attention(session: Session) -> tuple[list[Attention], list[ProviderAlert]]:
    """Held orders and refills, running orders with an alert, and providers' alerts."""
    found: list[Attention] = []
    order_rows = session.execute(
        select(Order, User.name, Provider.name)
        .join(User, User.id == Order.user_id)
        .outerjoin(Provider, Provider.id == Order.provider_id)
        .where(
            or_(Order.send_state == HELD, Order.alert.is_not(None)),
            Order.status.in_(RUNNING),
        )
        .order_by(Order.id)
        .limit(MAX_LISTED)
    ).all()
    for order, user, provider in order_rows:
        held = order.send_state == HELD
        found.append(
            Attention(
                kind="order",
                id=order.id,
                order_id=order.id,
                user=user,
                status=Term(order.status),
                send_state=order.send_state,
                held=held,
                reason=(order.held_reason if held else order.alert) or "",
                provider=provider,
                upstream_id=order.upstream_id,
                cancel_state=order.cancel_state,
            )
        )
    refill_rows = session.execute(
        select(Refill, User.name, Provider.name, Order.fulfillment)
        .join(Order, Order.id == Refill.order_id)
        .join(User, User.id == Refill.user_id)
        .outerjoin(Provider, Provider.id == Order.provider_id)
        .where(
            or_(Refill.send_state == HELD, Refill.alert.is_not(None)),
            Refill.status.in_(rs.OPEN),
        )
        .order_by(Refill.id)
        .limit(MAX_LISTED)
    ).all()
    for refill, user, provider, _mode in refill_rows:
        held = refill.send_state == HELD
        found.append(
            Attention(
                kind="refill",
                id=refill.id,
                order_id=refill.order_id,
                user=user,
                status=refill.status,
                send_state=refill.send_state,
                held=held,
                reason=(refill.held_reason if held else refill.alert) or "",
                provider=provider,
                upstream_id=refill.upstream_id,
            )
        )
    alerts = [
        ProviderAlert(p.name, p.alert or "", p.alert_at.isoformat() if p.alert_at else "")
        for p in session.scalars(
            select(Provider).where(Provider.alert.is_not(None)).order_by(Provider.name)
        )
    ]
    return found, alerts


class NotHeld(DomainError):
    pass


def _check_choice(upstream_id: int | None, resend: bool) -> None:
    if (upstream_id is None) == (not resend):
        raise DomainError(
            N_('Give either --upstream-id N (it exists upstream) or --resend (it does not)')
        )
    if upstream_id is not None and upstream_id < 1:
        raise DomainError(N_('The upstream ID must be a positive whole number'))


def resolve_order(
    session: Session, order_id: int, *, upstream_id: int | None, resend: bool, actor: str
) -> Order:
    """Settle a held order: it exists upstream as ``upstream_id``, or it was never created
    and may be sent again (if its customer asked to cancel meanwhile, it is canceled and
    refunded instead)."""
    _check_choice(upstream_id, resend)
    order = orders.lock_order(session, order_id)
    if order.send_state != HELD:
        raise NotHeld(N_('Order {id} is not held'), id=order.id)
    if order.status not in RUNNING:
        raise NotHeld(
            N_('Order {id} is {status}; there is nothing left to send'),
            id=order.id,
            status=Term(order.status),
        )
    if upstream_id is not None:
        pipeline.settle_exists(order, upstream_id, utcnow())
        orders.record(session, order, actor, events.RESOLVED_EXISTS, upstream=upstream_id)
        return order
    if order.cancel_state == CANCEL_REQUESTED:
        order.held_reason = None
        order.lease_owner = order.lease_until = None
        order.attempts = 0
        order.send_state = None
        order.cancel_state = None
        orders.record(session, order, actor, events.RESOLVED_CANCELED)
        return orders.apply_update(
            session, order.id, orders.OrderUpdate(status=st.CANCELED), actor
        )
    pipeline.settle_resend(order)
    orders.record(session, order, actor, events.RESOLVED_RESEND)
    return order


def resolve_refill(
    session: Session, refill_id: int, *, upstream_id: int | None, resend: bool, actor: str
) -> Refill:
    _check_choice(upstream_id, resend)
    refill = session.scalar(select(Refill).where(Refill.id == refill_id).with_for_update())
    if refill is None:
        raise NotFound(N_('Refill not found'))
    if refill.send_state != HELD:
        raise NotHeld(N_('Refill {id} is not held'), id=refill.id)
    if upstream_id is not None:
        pipeline.settle_exists(refill, upstream_id, utcnow())
        row = orders.event_row(
            refill.order_id, actor, events.REFILL_RESOLVED_EXISTS,
            refill=refill.id, upstream=upstream_id,
        )
    else:
        pipeline.settle_resend(refill)
        row = orders.event_row(
            refill.order_id, actor, events.REFILL_RESOLVED_RESEND, refill=refill.id
        )
    session.add(row)
    return refill
