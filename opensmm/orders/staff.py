"""Staff actions on orders and refills, from every door: each writes one audit row."""

from __future__ import annotations

from sqlalchemy.orm import Session

from opensmm.audit import service as audit
from opensmm.audit.actor import Actor
from opensmm.fulfillment import held
from opensmm.money import format_money
from opensmm.orders import service as orders
from opensmm.orders import statuses as st
from opensmm.orders.models import Order
from opensmm.refills import service as refills
from opensmm.refills.models import Refill
from opensmm.subscriptions import service as subscriptions


def update_order(
    session: Session, actor: Actor, order_id: int, update: orders.OrderUpdate
) -> Order:
    """Set status, start count or remains; Partial and Canceled refund exactly once."""
    refunded_before = orders.lock_order(session, order_id).refunded
    order = orders.apply_update(session, order_id, update, actor.label)
    refunded = format_money(order.refunded - refunded_before)
    target = f"order:{order.id}"
    if update.status == st.CANCELED and update.start_count is None and update.remains is None:
        audit.record(session, actor, "order.cancel", target, order=order.id, refunded=refunded)
    else:
        audit.record(session, actor, "order.update", target, order=order.id,
                     status=order.status, remains=order.remains,
                     start_count=order.start_count, refunded=refunded)
    return order


def resolve_order(
    session: Session, actor: Actor, order_id: int, *, upstream_id: int | None, resend: bool
) -> Order:
    order = held.resolve_order(
        session, order_id, upstream_id=upstream_id, resend=resend, actor=actor.label
    )
    if resend:
        audit.record(session, actor, "order.resend", f"order:{order.id}", order=order.id)
    else:
        audit.record(session, actor, "order.resolve", f"order:{order.id}", order=order.id,
                     upstream_id=upstream_id)
    return order


def record_post(session: Session, actor: Actor, subscription_id: int, link: str) -> int:
    """A new post of a subscription's account (manual mode): its order is made and charged,
    or it waits unpaid with the subscription Paused. Returns the post's number."""
    post = subscriptions.record_post(session, subscription_id, link, actor.label)
    audit.record(session, actor, "subscription.post", f"order:{subscription_id}",
                 order=subscription_id, number=post.number, link=post.link)
    return post.number


def set_refill_status(session: Session, actor: Actor, refill_id: int, status: str) -> Refill:
    refill = refills.set_refill_status(session, refill_id, status, actor.label)
    audit.record(session, actor, "refill.update", f"refill:{refill.id}", refill=refill.id,
                 status=refill.status)
    return refill


def resolve_refill(
    session: Session, actor: Actor, refill_id: int, *, upstream_id: int | None, resend: bool
) -> Refill:
    refill = held.resolve_refill(
        session, refill_id, upstream_id=upstream_id, resend=resend, actor=actor.label
    )
    if resend:
        audit.record(session, actor, "refill.resend", f"refill:{refill.id}", refill=refill.id)
    else:
        audit.record(session, actor, "refill.resolve", f"refill:{refill.id}", refill=refill.id,
                     upstream_id=upstream_id)
    return refill
