"""Reading payments: a customer's history, the staff list and detail, deposits per day."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from opensmm.accounts.models import User
from opensmm.db import utcnow
from opensmm.db.pagination import Page, paginate
from opensmm.ledger.models import LedgerEntry
from opensmm.money import QUANTUM
from opensmm.payments.models import STATES, Payment, PaymentEvent, PaymentMethod


@dataclass(frozen=True)
class PaymentFilter:
    user_id: int | None = None
    user_name: str | None = None
    state: str | None = None
    method: str | None = None
    needs_review: bool = False


@dataclass(frozen=True)
class PaymentRow:
    payment: Payment
    user_name: str
    method_name: str
    method_label: str


def list_payments(session: Session, where: PaymentFilter, page: int = 1,
                  per_page: int = 50) -> Page[PaymentRow]:
    query = (
        select(Payment, User.name, PaymentMethod.name, PaymentMethod.title)
        .join(User, User.id == Payment.user_id)
        .join(PaymentMethod, PaymentMethod.id == Payment.method_id)
    )
    if where.user_id is not None:
        query = query.where(Payment.user_id == where.user_id)
    if where.user_name:
        query = query.where(User.name == where.user_name)
    if where.state in STATES:
        query = query.where(Payment.state == where.state)
    if where.method:
        query = query.where(PaymentMethod.name == where.method)
    if where.needs_review:
        query = query.where(Payment.needs_review.is_(True))
    result = paginate(session, query.order_by(Payment.id.desc()), page, per_page=per_page)
    rows = [PaymentRow(p, user, name, title or name) for p, user, name, title in result.items]
    return Page(items=rows, number=result.number, per_page=result.per_page, total=result.total)


def by_token(session: Session, token: str, user_id: int) -> PaymentRow | None:
    """A customer's own payment by its token (another's is not found)."""
    found = session.execute(
        select(Payment, User.name, PaymentMethod.name, PaymentMethod.title)
        .join(User, User.id == Payment.user_id)
        .join(PaymentMethod, PaymentMethod.id == Payment.method_id)
        .where(Payment.token == token[:32], Payment.user_id == user_id)
    ).first()
    if found is None:
        return None
    payment, user, name, title = found
    return PaymentRow(payment, user, name, title or name)


def by_id(session: Session, payment_id: int) -> PaymentRow | None:
    found = session.execute(
        select(Payment, User.name, PaymentMethod.name, PaymentMethod.title)
        .join(User, User.id == Payment.user_id)
        .join(PaymentMethod, PaymentMethod.id == Payment.method_id)
        .where(Payment.id == payment_id)
    ).first()
    if found is None:
        return None
    payment, user, name, title = found
    return PaymentRow(payment, user, name, title or name)


def events_of(session: Session, payment_id: int) -> list[PaymentEvent]:
    return list(session.scalars(
        select(PaymentEvent).where(PaymentEvent.payment_id == payment_id)
        .order_by(PaymentEvent.id)
    ))


def entries_of(session: Session, payment_id: int) -> list[LedgerEntry]:
    """The payment's ledger entries (their keys start with ``payment:{id}:``)."""
    prefix = f"payment:{payment_id}:"
    return list(session.scalars(
        select(LedgerEntry).where(LedgerEntry.key.startswith(prefix, autoescape=True))
        .order_by(LedgerEntry.id)
    ))


def waiting_for_staff(session: Session) -> int:
    """Manual payments to approve, and payments flagged for a person."""
    return int(session.scalar(
        select(func.count(Payment.id)).where(or_(
            (Payment.gateway == "manual") & (Payment.state == "pending"),
            Payment.needs_review.is_(True),
        ))
    ) or 0)


def deposits_per_day(session: Session, days: int = 30) -> list[tuple[date, Decimal]]:
    """Money customers paid in each UTC day (less fees, without bonuses or coupons), oldest
    first."""
    today = utcnow().date()
    start = today - timedelta(days=days - 1)
    since = utcnow() - timedelta(days=days + 1)
    totals: dict[date, Decimal] = defaultdict(Decimal)
    rows = session.execute(
        select(LedgerEntry.created_at, LedgerEntry.amount)
        .where(LedgerEntry.kind == "payment", LedgerEntry.created_at >= since,
               LedgerEntry.key.not_like("%:bonus%"), LedgerEntry.key.not_like("%:coupon%"))
    )
    for created_at, amount in rows:
        totals[created_at.date()] += amount
    zero = Decimal(0).quantize(QUANTUM)
    return [(start + timedelta(days=i), totals.get(start + timedelta(days=i), zero))
            for i in range(days)]
