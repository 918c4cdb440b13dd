"""The admin API's operations: a thin front door over the services the back office and the
CLI use (the same rules, refunds, ledger entries and audit rows; no rule of its own)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import select

from opensmm.accounts import service as accounts
from opensmm.accounts.models import User
from opensmm.adminapi.framework import Call, Operations
from opensmm.adminapi.schemas import (
    Approval,
    BalanceChange,
    BalanceChanged,
    CancelsQuery,
    Listing,
    OrderChange,
    OrderList,
    OrderOut,
    OrderQuery,
    PageQuery,
    PartialBody,
    PaymentList,
    PaymentOut,
    PaymentQuery,
    RefillChange,
    RefillList,
    RefillOut,
    RefillQuery,
    Rejection,
    UserList,
    UserOut,
    UserQuery,
)
from opensmm.db.pagination import Page
from opensmm.errors import DomainError, NotFound
from opensmm.i18n import N_, Term
from opensmm.ledger import deposits
from opensmm.money import MoneyError, format_money, parse_money
from opensmm.orders import queries as order_queries
from opensmm.orders import service as orders
from opensmm.orders import staff as orders_staff
from opensmm.orders import statuses as st
from opensmm.orders.models import Order
from opensmm.orders.service import OrderNotFound
from opensmm.payments import queries as payment_queries
from opensmm.payments import service as payments
from opensmm.refills import queries as refill_queries
from opensmm.refills.models import Refill
from opensmm.refills.service import get_refill

operations = Operations()

L = TypeVar("L", bound=Listing)


def _listing(kind: type[L], page: Page[Any], items: Sequence[Any]) -> L:
    return kind(items=list(items), page=page.number, per_page=page.per_page, total=page.total,
                pages=page.pages)


def _money(text: str) -> Decimal:
    """An amount the schema's pattern let through (so this refuses only the odd corner)."""
    try:
        return parse_money(text)
    except MoneyError as exc:
        raise DomainError(N_('Incorrect {label}: {exc}'), label=Term(N_("amount")),
                          exc=Term(str(exc))) from None


# --- orders ---------------------------------------------------------------------------------
def order_out(row: order_queries.OrderRow) -> OrderOut:
    order = row.order
    return OrderOut(
        id=order.id, user_id=order.user_id, user=row.user_name, service_id=order.service_id,
        service=row.service_name, link=order.link, quantity=order.quantity, units=order.units,
        charge=format_money(order.charge), refunded=format_money(order.refunded),
        status=order.status, start_count=order.start_count, remains=order.remains,
        runs=order.runs, interval=order.interval, fulfillment=order.fulfillment,
        provider_id=order.provider_id, send_state=order.send_state,
        upstream_id=order.upstream_id, held_reason=order.held_reason, alert=order.alert,
        cancel_state=order.cancel_state, created_at=order.created_at,
        updated_at=order.updated_at, finished_at=order.finished_at,
    )


def _orders(call: Call[Any, Any], wanted: order_queries.OrderFilter, page: int) -> OrderList:
    found = order_queries.list_orders(call.session, wanted, page)
    return _listing(OrderList, found, [order_out(row) for row in found.items])


def _order(call: Call[Any, Any], order_id: int) -> OrderOut:
    row = order_queries.get_order(call.session, order_id)
    if row is None:
        raise OrderNotFound()
    return order_out(row)


@operations.get("/orders", OrderList, query=OrderQuery)
def list_orders(call: Call[OrderQuery, None]) -> OrderList:
    """Orders, newest first, by status, customer, service, mode, cancel state or search."""
    q = call.query
    wanted = order_queries.OrderFilter(
        user_id=q.user, status=q.status, search=q.search, service_id=q.service,
        fulfillment=q.fulfillment, cancel_state=q.cancel_state,
    )
    return _orders(call, wanted, q.page)


@operations.get("/orders/{order_id}", OrderOut)
def get_order(call: Call[None, None]) -> OrderOut:
    """One order."""
    return _order(call, call.ids["order_id"])


@operations.patch("/orders/{order_id}", OrderOut, body=OrderChange)
def update_order(call: Call[None, OrderChange]) -> OrderOut:
    """Set an order's status, start count or remains (the back office's rules: Partial
    refunds the remains' share, Canceled all that was not refunded, each exactly once)."""
    change = call.body
    update = orders.OrderUpdate(status=change.status, start_count=change.start_count,
                                remains=change.remains)
    order = orders_staff.update_order(call.session, call.actor, call.ids["order_id"], update)
    return _order(call, order.id)


@operations.post("/orders/{order_id}/partial", OrderOut, body=PartialBody)
def partial_order(call: Call[None, PartialBody]) -> OrderOut:
    """Mark an order Partial with its remains: their share of the charge is refunded once."""
    update = orders.OrderUpdate(status=st.PARTIAL, remains=call.body.remains)
    order = orders_staff.update_order(call.session, call.actor, call.ids["order_id"], update)
    return _order(call, order.id)


@operations.post("/orders/{order_id}/cancel", OrderOut)
def cancel_order(call: Call[None, None]) -> OrderOut:
    """Cancel an order with a refund of all that was not refunded yet (exactly once)."""
    order = orders.lock_order(call.session, call.ids["order_id"])
    orders.can_staff_cancel(order).check(orders.StatusChangeRefused)
    orders_staff.update_order(call.session, call.actor, order.id,
                              orders.OrderUpdate(status=st.CANCELED))
    return _order(call, order.id)


@operations.get("/manual-orders", OrderList, query=PageQuery)
def manual_orders(call: Call[PageQuery, None]) -> OrderList:
    """Manual orders waiting for staff (Pending, In progress or Processing), newest first."""
    wanted = order_queries.OrderFilter(fulfillment="manual", statuses=st.RUNNING)
    return _orders(call, wanted, call.query.page)


@operations.get("/cancels", OrderList, query=CancelsQuery)
def cancels(call: Call[CancelsQuery, None]) -> OrderList:
    """Orders whose customer asked for a cancel at the provider (requested, sent to it, or
    refused by it). Staff may still cancel one with a refund: POST /orders/{id}/cancel."""
    wanted = order_queries.OrderFilter(cancel_state=call.query.state or "any")
    return _orders(call, wanted, call.query.page)


# --- refills --------------------------------------------------------------------------------
def _refill_out(refill: Refill, link: str, user: str) -> RefillOut:
    return RefillOut(
        id=refill.id, order_id=refill.order_id, user_id=refill.user_id, user=user, link=link,
        status=refill.status, send_state=refill.send_state, upstream_id=refill.upstream_id,
        held_reason=refill.held_reason, created_at=refill.created_at,
        updated_at=refill.updated_at,
    )


@operations.get("/refills", RefillList, query=RefillQuery)
def list_refills(call: Call[RefillQuery, None]) -> RefillList:
    """Refills, newest first, by status."""
    found = refill_queries.list_refills(call.session, status=call.query.status,
                                        page=call.query.page)
    items = [_refill_out(row.refill, row.link, row.user_name) for row in found.items]
    return _listing(RefillList, found, items)


@operations.patch("/refills/{refill_id}", RefillOut, body=RefillChange)
def update_refill(call: Call[None, RefillChange]) -> RefillOut:
    """Set a refill's status."""
    refill = orders_staff.set_refill_status(call.session, call.actor, call.ids["refill_id"],
                                            call.body.status)
    refill = get_refill(call.session, refill.id)
    link = call.session.scalar(select(Order.link).where(Order.id == refill.order_id)) or ""
    user = call.session.scalar(select(User.name).where(User.id == refill.user_id)) or ""
    return _refill_out(refill, link, user)


# --- users ----------------------------------------------------------------------------------
def _user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id, name=user.name, email=user.email, is_admin=user.is_admin,
        status=user.status, balance=format_money(user.balance),
        discount_percent=format_money(user.discount_percent), created_at=user.created_at,
    )


@operations.get("/users", UserList, query=UserQuery)
def list_users(call: Call[UserQuery, None]) -> UserList:
    """Users (customers and staff) with their balances, newest first, by name or email."""
    found = accounts.search_users(call.session, call.query.search, call.query.page)
    return _listing(UserList, found, [_user_out(user) for user in found.items])


@operations.get("/users/{user_id}", UserOut)
def get_user(call: Call[None, None]) -> UserOut:
    """One user and their balance."""
    return _user_out(accounts.get_user_by_id(call.session, call.ids["user_id"]))


@operations.post("/users/{user_id}/balance", BalanceChanged, body=BalanceChange)
def adjust_balance(call: Call[None, BalanceChange]) -> BalanceChanged:
    """Add to (or take from) a balance through the ledger, once per idempotency key."""
    user = accounts.get_user_by_id(call.session, call.ids["user_id"])
    amount = _money(call.body.amount)
    done = deposits.staff_deposit(call.session, call.actor, user, amount,
                                  memo=call.body.memo, key=call.body.idempotency_key)
    call.session.refresh(user)
    return BalanceChanged(user_id=user.id, amount=format_money(done.amount),
                          idempotency_key=done.key, replayed=done.replayed,
                          balance=format_money(user.balance))


# --- payments -------------------------------------------------------------------------------
def _payment_out(row: payment_queries.PaymentRow) -> PaymentOut:
    payment = row.payment
    return PaymentOut(
        id=payment.id, user_id=payment.user_id, user=row.user_name, method=row.method_name,
        gateway=payment.gateway, state=payment.state, amount=format_money(payment.amount),
        currency=payment.currency, paid=format_money(payment.paid),
        fee=format_money(payment.fee), bonus=format_money(payment.bonus),
        reference=payment.reference, needs_review=payment.needs_review, note=payment.note,
        created_at=payment.created_at, settled_at=payment.settled_at,
    )


def _payment(call: Call[Any, Any], payment_id: int) -> PaymentOut:
    row = payment_queries.by_id(call.session, payment_id)
    if row is None:
        raise NotFound(N_("No payment #{id}"), id=payment_id)
    return _payment_out(row)


@operations.get("/payments", PaymentList, query=PaymentQuery)
def list_payments(call: Call[PaymentQuery, None]) -> PaymentList:
    """Payments, newest first, by state, customer, method, or those flagged for review."""
    q = call.query
    where = payment_queries.PaymentFilter(user_name=q.user, state=q.state, method=q.method,
                                          needs_review=q.needs_review)
    found = payment_queries.list_payments(call.session, where, q.page)
    return _listing(PaymentList, found, [_payment_out(row) for row in found.items])


@operations.get("/payments/{payment_id}", PaymentOut)
def get_payment(call: Call[None, None]) -> PaymentOut:
    """One payment."""
    return _payment(call, call.ids["payment_id"])


@operations.post("/payments/{payment_id}/approve", PaymentOut, body=Approval)
def approve_payment(call: Call[None, Approval]) -> PaymentOut:
    """Approve a manual payment waiting for staff: its amount (or what really came) is
    credited through the ledger."""
    amount = None if call.body.amount is None else _money(call.body.amount)
    payment = payments.approve(call.session, call.actor, call.ids["payment_id"], amount)
    return _payment(call, payment.id)


@operations.post("/payments/{payment_id}/reject", PaymentOut, body=Rejection)
def reject_payment(call: Call[None, Rejection]) -> PaymentOut:
    """Reject a manual payment waiting for staff, with the reason the customer sees."""
    payment = payments.reject(call.session, call.actor, call.ids["payment_id"],
                              call.body.reason)
    return _payment(call, payment.id)

