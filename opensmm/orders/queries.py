"""Reading orders: lists with filters and pages, counts, daily totals, price quotes.

Nothing here changes data; the pages, the CLI and the API can all use these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    case,
    func,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session

from opensmm.accounts.models import User
from opensmm.catalog.models import Service
from opensmm.catalog.types import SERVICE_TYPES, Units
from opensmm.db import utcnow
from opensmm.db.pagination import PER_PAGE, Page, paginate
from opensmm.db.types import parse_id
from opensmm.money import QUANTUM, from_minor, to_minor
from opensmm.orders import statuses as st
from opensmm.orders.models import Order, OrderEvent
from opensmm.orders.service import prepare

MAX_SEARCH_LENGTH = 200
FLAT_TYPES = tuple(name for name, kind in SERVICE_TYPES.items() if kind.units is Units.FLAT)


@dataclass(frozen=True)
class OrderFilter:
    user_id: int | None = None
    status: str | None = None
    # An order id ("123" or "#123"), or else a piece of the link.
    search: str = ""
    service_id: int | None = None
    # Any of these statuses (with ``status``, both apply).
    statuses: tuple[str, ...] = ()
    # "manual", "provider" or "simulator": the mode the order was placed in.
    fulfillment: str | None = None
    # A customer's cancel of an upstream order: "requested", "sent", "refused"; "any": one
    # of them.
    cancel_state: str | None = None


@dataclass(frozen=True)
class OrderRow:
    order: Order
    service_name: str
    user_name: str


def canonical_status(value: str | None) -> str | None:
    """A status from a query string, in the API's spelling; None for "all" or unknown."""
    if not value:
        return None
    return st.canonical(value, (*st.ORDER_STATUSES, *st.SUBSCRIPTION_STATUSES))


def _filtered(query: Select[Order, str, str], wanted: OrderFilter) -> Select[Order, str, str]:
    if wanted.user_id is not None:
        query = query.where(Order.user_id == wanted.user_id)
    status = canonical_status(wanted.status)
    if status is not None:
        query = query.where(Order.status == status)
    if wanted.service_id is not None:
        query = query.where(Order.service_id == wanted.service_id)
    if wanted.statuses:
        query = query.where(Order.status.in_(wanted.statuses))
    if wanted.fulfillment is not None:
        query = query.where(Order.fulfillment == wanted.fulfillment)
    if wanted.cancel_state == "any":
        query = query.where(Order.cancel_state.is_not(None))
    elif wanted.cancel_state is not None:
        query = query.where(Order.cancel_state == wanted.cancel_state)
    search = wanted.search.strip()[:MAX_SEARCH_LENGTH]
    order_id = parse_id(search.lstrip("#"))
    if order_id is not None:
        # A number is an order id (a link is never just digits).
        query = query.where(Order.id == order_id)
    elif search:
        query = query.where(Order.link.contains(search, autoescape=True))
    return query


def list_orders(
    session: Session, wanted: OrderFilter, page: int = 1, per_page: int = PER_PAGE
) -> Page[OrderRow]:
    """Orders matching ``wanted``, newest first, one page of them."""
    query = (
        select(Order, Service.name, User.name)
        .join(Service, Service.id == Order.service_id)
        .join(User, User.id == Order.user_id)
    )
    result = paginate(session, _filtered(query, wanted).order_by(Order.id.desc()), page, per_page)
    rows = [OrderRow(order, service, user) for order, service, user in result.items]
    return Page(items=rows, number=result.number, per_page=result.per_page, total=result.total)


def get_order(session: Session, order_id: int, user_id: int | None = None) -> OrderRow | None:
    """One order with its names; with ``user_id``, only if it is that customer's."""
    row = session.execute(
        select(Order, Service.name, User.name)
        .join(Service, Service.id == Order.service_id)
        .join(User, User.id == Order.user_id)
        .where(Order.id == order_id)
    ).first()
    if row is None or (user_id is not None and row[0].user_id != user_id):
        return None
    return OrderRow(row[0], row[1], row[2])


def events(session: Session, order_id: int) -> list[OrderEvent]:
    return list(
        session.scalars(
            select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)
        )
    )


def count_by_status(session: Session, user_id: int | None = None) -> dict[str, int]:
    query = select(Order.status, func.count()).group_by(Order.status)
    if user_id is not None:
        query = query.where(Order.user_id == user_id)
    return {status: int(count) for status, count in session.execute(query).all()}


def net_charged() -> ColumnElement[int]:
    """The sum of charges less refunds, in whole 0.00001 (exact on both databases)."""
    return func.coalesce(func.sum(type_coerce(Order.net_charge, BigInteger)), 0)


def total_spent(session: Session, user_id: int) -> Decimal:
    """What a customer has paid for orders, net of refunds."""
    spent = session.scalar(select(net_charged()).where(Order.user_id == user_id))
    return from_minor(int(spent or 0))


@dataclass(frozen=True)
class DayTotal:
    day: date
    orders: int
    revenue: Decimal  # charged minus refunded, for orders placed that day
    # What the upstreams charge for the day's orders, as recorded on each order
    # (``upstream_charge``, see ``upstream_cost``); zero for manual and simulated orders.
    cost: Decimal = Decimal(0)

    @property
    def profit(self) -> Decimal:
        return self.revenue - self.cost


def upstream_cost() -> ColumnElement[int]:
    """Upstream cost in whole 0.00001, from what each order recorded: the upstream's own
    ``charge`` where its ``status`` answer tells it (exact: it follows partials and
    cancels); else the route's cost at sending (an estimate) for what was delivered, and
    nothing for a canceled order (the provider refunds it too)."""
    recorded = type_coerce(Order.upstream_charge, BigInteger)
    delivered = Order.units - Order.remains
    per_order = case(
        (Order.upstream_charge.is_(None), 0),
        (Order.upstream_estimated.is_(False), recorded),
        (Order.status == st.CANCELED, 0),
        (Order.units <= 0, 0),
        else_=recorded * delivered / Order.units,
    )
    return func.coalesce(func.sum(per_order), 0)


def upstream_cost_of(order: Order) -> Decimal:
    """``upstream_cost`` for one order (the staff order page shows the profit with it)."""
    if order.upstream_charge is None:
        return Decimal(0)
    if not order.upstream_estimated:
        return order.upstream_charge
    if order.status == st.CANCELED or order.units <= 0:
        return Decimal(0)
    minor = to_minor(order.upstream_charge) * (order.units - order.remains) // order.units
    return from_minor(minor)


def _day_of(session: Session) -> ColumnElement[str]:
    if session.get_bind().dialect.name == "sqlite":
        return func.substr(Order.created_at, 1, 10)
    return func.to_char(func.timezone("UTC", Order.created_at), "YYYY-MM-DD")


def daily_totals(session: Session, days: int = 30) -> list[DayTotal]:
    """Orders and revenue per UTC day for the last ``days`` days, every day present."""
    today = utcnow().date()
    first = today - timedelta(days=days - 1)
    day = _day_of(session).label("day")
    rows = session.execute(
        select(day, func.count(), net_charged(), upstream_cost())
        .where(Order.created_at >= utcnow() - timedelta(days=days + 1))
        .group_by(day)
    ).all()
    found = {
        str(d): DayTotal(first, int(n), from_minor(int(total or 0)), from_minor(int(cost or 0)))
        for d, n, total, cost in rows
    }
    result = []
    for offset in range(days):
        current = first + timedelta(days=offset)
        known = found.get(current.isoformat())
        if known is None:
            result.append(DayTotal(current, 0, Decimal(0).quantize(QUANTUM)))
        else:
            result.append(DayTotal(current, known.orders, known.revenue, known.cost))
    return result


@dataclass(frozen=True)
class Quote:
    service: Service
    rate: Decimal
    units: int
    charge: Decimal
    # Drip-feed: the quantity of each run and the runs (``units`` is their product).
    quantity: int = 0
    runs: int | None = None


def quote_order(session: Session, user: User, params: dict[str, object]) -> Quote:
    """What ``place_order`` would charge, refused as it would be (``prepare``); no change."""
    prepared = prepare(session, user, params)
    request = prepared.request
    return Quote(prepared.service, prepared.rate, request.units, prepared.charge,
                 request.quantity, request.runs)
