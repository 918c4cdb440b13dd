"""Reading refills, for the customer's list and the staff's queue."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from opensmm.accounts.models import User
from opensmm.db.pagination import Page, paginate
from opensmm.orders.models import Order
from opensmm.refills.models import Refill
from opensmm.refills.statuses import REFILL_STATUSES


@dataclass(frozen=True)
class RefillRow:
    refill: Refill
    link: str
    user_name: str


def list_refills(
    session: Session, *, user_id: int | None = None, status: str | None = None, page: int = 1
) -> Page[RefillRow]:
    query = (
        select(Refill, Order.link, User.name)
        .join(Order, Order.id == Refill.order_id)
        .join(User, User.id == Refill.user_id)
    )
    if user_id is not None:
        query = query.where(Refill.user_id == user_id)
    if status in REFILL_STATUSES:
        query = query.where(Refill.status == status)
    result = paginate(session, query.order_by(Refill.id.desc()), page)
    rows = [RefillRow(refill, link, name) for refill, link, name in result.items]
    return Page(items=rows, number=result.number, per_page=result.per_page, total=result.total)
