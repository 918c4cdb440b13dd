"""Placing orders and moving them through their statuses, with their money.

Every function runs inside the caller's unit of work and never commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import bindparam, exists, insert, select
from sqlalchemy.orm import Session

from opensmm.accounts.models import User
from opensmm.catalog.models import Service
from opensmm.catalog.service import MANUAL, SIMULATOR, ServiceNotFound
from opensmm.catalog.types import Units, service_type
from opensmm.db import utcnow
from opensmm.db.statements import Statement
from opensmm.db.types import JSONText, parse_id
from opensmm.errors import ALLOWED, Decision, DomainError, NotFound, refused
from opensmm.events import CUSTOMER, Actor, EventType, dumps
from opensmm.events import params as event_params
from opensmm.fulfillment import states as fs
from opensmm.i18n import N_, Term
from opensmm.ledger import events as ledger_events
from opensmm.ledger import service as ledger
from opensmm.ledger.models import CHARGE, REFUND
from opensmm.money import MAX_AMOUNT, QUANTUM, charge_for, refund_share
from opensmm.orders import events
from opensmm.orders import statuses as st
from opensmm.orders.fields import OrderRequest, validate_order
from opensmm.orders.models import Order, OrderEvent
from opensmm.panel_settings import service as panel_settings
from opensmm.webhooks import service as webhooks


class OrderNotFound(NotFound):
    message = N_("Incorrect order ID")


class EmailNotVerified(DomainError):
    message = N_("Please confirm your email address before placing orders: open the link "
                 "we mailed you, or ask for a new one.")


class ActiveOrderWithLink(DomainError):
    message = N_("You have active order with this link. Please wait until order being completed.")


@dataclass(frozen=True)
class Customer:
    """Who places an order: all that placing it needs to know of the account."""

    id: int
    discount_percent: Decimal
    email_verified: bool = True


@dataclass(frozen=True)
class PlacedOrder:
    """What placing an order answers (the order's row is in the unit, not in the ORM)."""

    id: int
    charge: Decimal


def customer_rate(service: Service, user: User | Customer) -> Decimal:
    """The service's rate after the customer's discount, rounded half-up to 0.00001."""
    return discounted_rate(service.rate, user.discount_percent)


def discounted_rate(rate: Decimal, discount_percent: Decimal) -> Decimal:
    """``rate`` less ``discount_percent`` percent, rounded half-up to 0.00001."""
    if not discount_percent:
        return rate
    factor = (Decimal(100) - discount_percent) / Decimal(100)
    return (rate * factor).quantize(QUANTUM, rounding=ROUND_HALF_UP)


def _charge(service: Service, rate: Decimal, units: int) -> Decimal:
    kind = service_type(service.type).units
    if kind is Units.SUBSCRIPTION:
        return Decimal(0).quantize(QUANTUM)  # charged as it runs: each post's order pays
    if kind is Units.FLAT:
        return rate
    return charge_for(rate, units)


def is_subscription(order_or_service: Order | Service) -> bool:
    """A subscription's own row (its posts' orders are plain orders)."""
    type_name = (
        order_or_service.type
        if isinstance(order_or_service, Service)
        else order_or_service.fields.get("type", "")
    )
    return type_name == "Subscriptions"


# Placing an order runs these statements, compiled once per dialect (opensmm.db.statements),
# in the caller's unit of work: through the ORM, building and flushing them cost several
# times the database's own work on the API's busiest write.
_SERVICE = Statement(
    lambda: select(*Service.__table__.c).where(Service.id == bindparam("service_id"))
)
_ACTIVE_STATUSES = st.RUNNING + st.SUBSCRIPTION_RUNNING
_ACTIVE_NAMES = {f"status{n}": status for n, status in enumerate(_ACTIVE_STATUSES)}
_ACTIVE_WITH_LINK = Statement(
    lambda: select(
        exists().where(
            Order.service_id == bindparam("service_id"),
            Order.link == bindparam("link"),
            Order.status.in_([bindparam(name) for name in _ACTIVE_NAMES]),
        ).label("found")
    )
)
# Every column the model gives a default is named here: the statement refuses to leave one
# to SQLAlchemy's execution (nothing would fill it in).
_NEW_ORDER_COLUMNS = (
    "user_id", "service_id", "link", "quantity", "units", "charge", "refunded", "status",
    "remains", "runs", "interval", "fields", "fulfillment", "provider_id",
    "provider_service_id", "routed_at", "upstream_estimated", "send_state", "attempts",
    "created_at", "updated_at", "posts", "next_poll_at",
)
_INSERT_ORDER = Statement(
    lambda: insert(Order)
    .values({name: bindparam(name) for name in _NEW_ORDER_COLUMNS})
    .returning(Order.id)
)
_INSERT_EVENT = Statement(
    lambda: insert(OrderEvent).values(
        order_id=bindparam("order_id"),
        actor_kind=bindparam("actor_kind"),
        actor=bindparam("actor"),
        code=bindparam("code"),
        params=bindparam("params", type_=JSONText()),  # JSON text: opensmm.events.dumps
        message=bindparam("message"),
        created_at=bindparam("created_at"),
    )
)


def orderable_service(session: Session, raw_id: object) -> Service:
    """The enabled service an order names, or ``ServiceNotFound``.

    A copy of its row, not attached to the session: for reading, not for changing.
    """
    # ASCII digits of a size the id column holds: "²" or a 30-digit number is no id.
    service_id = parse_id(raw_id)
    rows = _SERVICE.run(session, service_id=service_id) if service_id is not None else []
    if not rows or not rows[0].enabled:
        raise ServiceNotFound()
    return Service(**rows[0]._asdict())


@dataclass(frozen=True)
class PreparedOrder:
    """An order checked and priced, not yet placed: what ``place`` would charge."""

    service: Service
    request: OrderRequest
    rate: Decimal  # the customer's rate (after their discount)
    charge: Decimal


def prepare(
    session: Session, customer: User | Customer, params: dict[str, object]
) -> PreparedOrder:
    """Validate and price an order, with every refusal ``place`` makes; changes nothing.

    ``place`` places what this answers, and the new-order page's live price (``quote_order``)
    shows it: the price a customer sees is refused for the same reasons as the order.
    The balance is not checked here: the charge itself refuses what it cannot take.
    """
    can_place(session, customer).check(EmailNotVerified)
    service = orderable_service(session, params.get("service"))
    request = validate_order(service, params)
    if service.one_active_per_link and request.link:
        _refuse_a_second_active_order(session, service, request.link)
    rate = customer_rate(service, customer)
    charge = _charge(service, rate, request.units)
    if charge >= MAX_AMOUNT:  # more than any balance holds, and more than its column holds
        raise ledger.NotEnoughFunds()
    return PreparedOrder(service, request, rate, charge)


def can_place(session: Session, customer: User | Customer) -> Decision:
    """Whether this customer may place orders at all (every door asks here, through
    ``prepare``): with the panel setting ``email_verification`` at ``required``, only once
    their email address is confirmed."""
    if isinstance(customer, User):
        verified = customer.email_verified_at is not None
    else:
        verified = customer.email_verified
    # A verified customer costs no query: the setting is read only for the others.
    if verified or not panel_settings.email_verification_required(session):
        return ALLOWED
    return refused(EmailNotVerified.message)


def place(session: Session, customer: User | Customer, params: dict[str, object]) -> PlacedOrder:
    """Validate, price and charge an order; the charge and the order commit together.

    Every front door places orders here (the API directly, the pages and the CLI through
    ``place_order``).
    """
    prepared = prepare(session, customer, params)
    service, request, charge = prepared.service, prepared.request, prepared.charge
    now = utcnow()
    order_id = _insert_order(session, customer, service, request, charge, now)
    if is_subscription(service):
        # Nothing to charge: each post is charged when it is made (opensmm.subscriptions).
        _INSERT_EVENT.run_count(
            session, order_id=order_id, actor_kind=CUSTOMER, actor="",
            code=events.PLACED.code, params=dumps(event_params(charge=charge, units=0)),
            message="", created_at=now,
        )
        return PlacedOrder(order_id, charge)
    # The event before the charge: it needs nothing from it (a refused charge rolls back
    # the whole unit), and on PostgreSQL the account's row, which every order of the
    # account waits for, stays locked only from the charge to the commit.
    _INSERT_EVENT.run_count(
        session,
        order_id=order_id,
        actor_kind=CUSTOMER,
        actor="",
        code=events.PLACED.code,
        params=dumps(event_params(charge=charge, units=request.units)),
        message="",
        created_at=now,
    )
    ledger.post(
        session,
        user_id=customer.id,
        amount=-charge,
        kind=CHARGE,
        key=f"order:{order_id}:charge",
        event=ledger_events.ORDER_CHARGE,
        params=event_params(order=order_id, service=service.name),
        order_id=order_id,
    )
    return PlacedOrder(order_id, charge)


def _refuse_a_second_active_order(session: Session, service: Service, link: str) -> None:
    [running] = _ACTIVE_WITH_LINK.run(
        session, service_id=service.id, link=link, **_ACTIVE_NAMES
    )
    if running.found:
        raise ActiveOrderWithLink()


def _insert_order(
    session: Session,
    customer: User | Customer,
    service: Service,
    request: OrderRequest,
    charge: Decimal,
    now: datetime,
) -> int:
    subscription = is_subscription(service)
    # A subscription kept here (manual, simulator) runs at once, and the worker looks at it
    # at once (its old posts, its schedule); one sent upstream waits, Pending, to be sent.
    local = service.fulfillment in (MANUAL, SIMULATOR)
    status = st.ACTIVE if subscription and local else st.PENDING
    send_state = None if service.fulfillment == MANUAL or (subscription and local) else fs.NEW
    [order] = _INSERT_ORDER.run(
        session,
        user_id=customer.id,
        service_id=service.id,
        link=request.link,
        quantity=request.quantity,
        units=request.units,
        charge=charge,
        refunded=Decimal(0),
        status=status,
        remains=request.units,
        runs=request.runs,
        interval=request.interval,
        fields={**request.fields, "type": service.type},
        # The service's mode now decides how this order is fulfilled, whatever it becomes.
        fulfillment=service.fulfillment,
        # Route 1 (the service's own provider columns mirror it; opensmm.catalog.routes).
        provider_id=service.provider_id,
        provider_service_id=service.provider_service_id,
        routed_at=now if service.provider_id is not None else None,
        upstream_estimated=False,
        send_state=send_state,
        attempts=0,
        created_at=now,
        updated_at=now,
        posts=0 if subscription else None,
        next_poll_at=now if subscription and local else None,
    )
    return int(order.id)


def place_order(session: Session, user: User, params: dict[str, object]) -> Order:
    """``place``, for front doors that go on with the order through the ORM."""
    placed = place(session, user, params)
    order = session.get(Order, placed.id)
    assert order is not None  # inserted just now, in this transaction
    return order


def event_row(order_id: int, actor: str | Actor, event: EventType, **values: Any) -> OrderEvent:
    """A row of an order's history: ``event`` of opensmm.orders.events with its values."""
    who = Actor.of(actor)
    return OrderEvent(
        order_id=order_id,
        actor_kind=who.kind,
        actor=who.name,
        code=event.code,
        params=event_params(**values),
        message="",
    )


def record(
    session: Session, order: Order, actor: str | Actor, event: EventType, **values: Any
) -> None:
    session.add(event_row(order.id, actor, event, **values))


def lock_order(session: Session, order_id: int, user_id: int | None = None) -> Order:
    """The order's row, locked for this transaction; another customer's order is not found."""
    if parse_id(order_id) is None:  # no row has it (and PostgreSQL would refuse to bind it)
        raise OrderNotFound()
    order = session.scalar(select(Order).where(Order.id == order_id).with_for_update())
    if order is None or (user_id is not None and order.user_id != user_id):
        raise OrderNotFound()
    return order


def _refund(session: Session, order: Order, amount: Decimal, reason: str) -> Decimal:
    """Pay back ``amount`` once per ``reason``; what was paid (zero on a replay)."""
    amount = min(amount, order.net_charge)
    if amount <= 0:
        return Decimal(0)
    moved = ledger.post(
        session,
        user_id=order.user_id,
        amount=amount,
        kind=REFUND,
        key=f"order:{order.id}:refund:{reason}",
        event=ledger_events.REFUNDS.get(reason, ledger_events.ORDER_REFUND),
        params=event_params(order=order.id, reason=reason),
        order_id=order.id,
    )
    if not moved:
        return Decimal(0)
    order.refunded += amount
    return amount


@dataclass(frozen=True)
class OrderUpdate:
    status: str | None = None
    start_count: int | None = None
    remains: int | None = None


class StatusChangeRefused(DomainError):
    pass


CANCELED_FOR_GOOD = N_("Order {id} is canceled and refunded; it cannot change")
ONLY_CANCEL_LEFT = N_("Order {id} is {status} and partly refunded; it can only be canceled")


def can_set_status(order: Order, new: str) -> Decision:
    """May ``order`` (a known status) move to ``new``? Refunds only ever grow: a canceled
    order stays canceled, a partly refunded one may only be canceled."""
    if new == order.status:
        return ALLOWED
    if order.status == st.CANCELED:
        return refused(CANCELED_FOR_GOOD, id=order.id)
    if order.status in st.REFUNDS_REMAINS and new not in st.REFUNDS_ALL:
        return refused(ONLY_CANCEL_LEFT, id=order.id, status=Term(order.status))
    return ALLOWED


def can_staff_cancel(order: Order) -> Decision:
    """May staff cancel ``order`` with a refund (the back office's Cancel button)?
    Applying it again to a canceled order refunds nothing; there is just nothing to offer."""
    if order.status == st.CANCELED:
        return refused(ALREADY_CANCELED)
    return can_set_status(order, st.CANCELED)


def _check_transition(order: Order, new: str) -> None:
    can_set_status(order, new).check(StatusChangeRefused)


def apply_update(session: Session, order_id: int, update: OrderUpdate, actor: str) -> Order:
    """Set status, start count and remains; refund what the new status pays back, once.

    ``Partial`` (and ``Expired`` for subscriptions) refunds the remains' share of the charge;
    ``Canceled`` refunds everything not yet refunded. Applying the same update again moves
    no money: each refund has its own ledger key.
    """
    order = lock_order(session, order_id)
    allowed = st.SUBSCRIPTION_STATUSES if is_subscription(order) else st.ORDER_STATUSES
    new_status = order.status
    if update.status is not None:
        found = st.canonical(update.status, allowed)
        if found is None:
            raise DomainError(
                N_('Unknown status {status!r}; one of: {allowed}'),
                status=update.status,
                allowed=', '.join(allowed,
            ))
        new_status = found
    _check_transition(order, new_status)
    if update.start_count is not None:
        if not 0 <= update.start_count <= 2_000_000_000:
            raise DomainError(N_('The start count must be a whole number from 0'))
        order.start_count = update.start_count
    remains = order.remains if update.remains is None else update.remains
    if not 0 <= remains <= order.units:
        raise DomainError(N_('Remains must be between 0 and {units}'), units=order.units)
    stays_partial = order.status in st.REFUNDS_REMAINS and new_status == order.status
    if stays_partial and remains != order.remains:
        # The remains' share was refunded once, under its own ledger key: other remains
        # would show an undelivered part that no longer matches what was paid back.
        raise StatusChangeRefused(
            N_('Order {id} is {status} and partly refunded; its remains cannot change'),
            id=order.id,
            status=Term(order.status),
        )
    if new_status == st.COMPLETED and update.remains is None:
        remains = 0
    if new_status in st.REFUNDS_REMAINS and remains == 0 and not is_subscription(order):
        raise DomainError(
            N_('{new_status} needs remains above zero (what was not delivered)'),
            new_status=Term(new_status),
        )
    changes: dict[str, Any] = {}  # the params of events.CHANGED
    if new_status != order.status:
        changes["status"] = [order.status, new_status]
    if remains != order.remains:
        changes["remains"] = [order.remains, remains]
    order.status, order.remains = new_status, remains
    if new_status in st.REFUNDS_REMAINS:
        paid = _refund(session, order, refund_share(order.charge, remains, order.units), "partial")
        if paid:
            changes["refunded"] = paid
    elif new_status in st.REFUNDS_ALL:
        paid = _refund(session, order, order.net_charge, "cancel")
        if paid:
            changes["refunded"] = paid
    if new_status in (*st.FINISHED, st.EXPIRED) and order.finished_at is None:
        order.finished_at = utcnow()
    if update.start_count is not None:
        changes["start_count"] = update.start_count
    order.updated_at = utcnow()
    if changes:
        record(session, order, actor, events.CHANGED, **changes)
    if "status" in changes:
        webhooks.orders_changed(session, [(order.id, order.user_id, new_status)])
    return order


class CancelRefused(DomainError):
    pass


CANCEL_NOT_OFFERED = N_("Cancel is not available for this service")
ALREADY_CANCELED = N_("The order is already canceled")
ALREADY_FINISHED = N_("The order is already finished and can no longer be canceled")
CANCEL_ALREADY_REQUESTED = N_("A cancel for this order is already requested")
CANCEL_ALREADY_SENT = N_("A cancel for this order was already sent")
ALREADY_STARTED = N_("The order has already started and can no longer be canceled")


def is_upstream(order: Order) -> bool:
    """The order is (or may be) at a provider or the simulator: only they can cancel it."""
    return order.send_state in fs.MAYBE_UPSTREAM


def can_cancel(order: Order, service: Service | None) -> Decision:
    """May the customer cancel ``order`` now (``service`` is its service, if it still exists)?

    The one rule every door asks: the API's ``cancel``, the orders page's button.
    """
    if is_subscription(order) and not is_upstream(order):
        # Stopping a subscription kept here refunds nothing (its posts keep their own
        # orders): any running one may be canceled, whatever the service's cancel option.
        if order.status == st.CANCELED:
            return refused(ALREADY_CANCELED)
        if order.status not in st.SUBSCRIPTION_RUNNING:
            return refused(ALREADY_FINISHED)
        return ALLOWED
    if service is None or not service.cancel:
        return refused(CANCEL_NOT_OFFERED)
    if order.status == st.CANCELED:
        return refused(ALREADY_CANCELED)
    if is_upstream(order):
        if order.status not in st.RUNNING + st.SUBSCRIPTION_RUNNING:
            return refused(ALREADY_FINISHED)
        if order.cancel_state == fs.CANCEL_REQUESTED:
            return refused(CANCEL_ALREADY_REQUESTED)
        if order.cancel_state == fs.CANCEL_SENT:
            return refused(CANCEL_ALREADY_SENT)
        # Never asked, or refused by the provider before: it may say yes this time.
        return ALLOWED
    if order.status != st.PENDING:
        return refused(ALREADY_STARTED)
    return ALLOWED


def cancel_by_customer(session: Session, user: User, order_id: int) -> Order:
    """A customer's cancel, if ``can_cancel`` allows it.

    An order that is (or may be) at a provider or the simulator already cannot be refunded
    here: the cancel is asked of them (the worker forwards it), and the refund follows the
    status they answer, through ``apply_update``. Anything else may be canceled while it
    has not started, with a full refund at once.
    """
    order = lock_order(session, order_id, user.id)
    can_cancel(order, session.get(Service, order.service_id)).check(CancelRefused)
    if is_upstream(order):
        return _request_upstream_cancel(session, user, order)
    return apply_update(session, order.id, OrderUpdate(status=st.CANCELED), f"user:{user.name}")


def _request_upstream_cancel(session: Session, user: User, order: Order) -> Order:
    order.cancel_state = fs.CANCEL_REQUESTED
    # The worker forwards it at its next pass (held orders wait for a person).
    order.next_poll_at = utcnow()
    record(session, order, f"user:{user.name}", events.CANCEL_REQUESTED)
    return order
