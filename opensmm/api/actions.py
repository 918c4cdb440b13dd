"""The API v2 actions (spec §2): each turns parameters into the documented JSON shape.

Read actions run one query that checks the key and reads what they answer; actions that
change data run the domain services in one unit of work per order (so that one refused
id in a batch does not undo the others).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from opensmm.accounts.models import User
from opensmm.api.auth import caller_query, check_caller, load_caller
from opensmm.api.params import Params, as_int_id, id_list, text
from opensmm.catalog.service import list_services
from opensmm.db import Database
from opensmm.errors import DomainError, IncorrectRequest
from opensmm.money import format_money
from opensmm.orders import service as orders
from opensmm.orders.models import Order
from opensmm.refills import service as refills
from opensmm.refills.models import Refill

Json = Any
Action = Callable[[Database, str, Params, str], Json]


def _error(exc: DomainError) -> dict[str, str]:
    return {"error": exc.message}


def _number_or_raw(raw: str) -> int | str:
    number = as_int_id(raw)
    return number if number is not None else raw


def balance(db: Database, key_hash: str, params: Params, currency: str) -> Json:
    with db.read() as session:
        row = session.execute(caller_query(key_hash).add_columns(User.balance)).first()
        check_caller(row, key_hash)
        assert row is not None
        return {"balance": format_money(row.balance), "currency": currency}


def services(db: Database, key_hash: str, params: Params, currency: str) -> Json:
    with db.read() as session:
        user = load_caller(session, key_hash)
        return [
            {
                "service": service.id,
                "name": service.name,
                "type": service.type,
                "category": category,
                "rate": format_money(orders.customer_rate(service, user)),
                "min": str(service.min_quantity),
                "max": str(service.max_quantity),
                "refill": service.refill,
                "cancel": service.cancel,
                "dripfeed": service.dripfeed,
                "desc": service.description,
            }
            for service, category in list_services(session)
        ]


def order_status(order: Order, currency: str) -> dict[str, str]:
    return {
        "charge": format_money(order.charge - order.refunded),
        "start_count": str(order.start_count or 0),
        "status": order.status,
        "remains": str(order.remains),
        "currency": currency,
    }


def _orders_of(session: Session, user_id: int, raw_ids: list[str]) -> dict[int, Order]:
    ids = [i for i in (as_int_id(raw) for raw in raw_ids) if i is not None]
    if not ids:
        return {}
    found = session.scalars(select(Order).where(Order.user_id == user_id, Order.id.in_(ids)))
    return {order.id: order for order in found}


def status(db: Database, key_hash: str, params: Params, currency: str) -> Json:
    multi = "orders" in params
    raw_ids = _ids_or_refuse(params.get("orders")) if multi else [text(params, "order") or ""]
    with db.read() as session:
        user_id = check_caller(session.execute(caller_query(key_hash)).first(), key_hash)
        found = _orders_of(session, user_id, raw_ids)
        answers: dict[str, Json] = {}
        for raw in raw_ids:
            order = found.get(as_int_id(raw) or 0)
            answers[raw] = (
                order_status(order, currency) if order else _error(orders.OrderNotFound())
            )
    if multi:
        return answers
    return answers[raw_ids[0]]


def add(db: Database, key_hash: str, params: Params, currency: str) -> Json:
    flat: dict[str, object] = {
        name: ("\n".join(value) if isinstance(value, list) else value)
        for name, value in params.items()
    }
    with db.write() as session:
        user = load_caller(session, key_hash)
        order = orders.place_order(session, user, flat)
        return {"order": order.id}


def _ids_or_refuse(value: str | list[str] | None) -> list[str]:
    ids = id_list(value)
    if not ids:
        raise IncorrectRequest()
    return ids


def _each(
    db: Database, key_hash: str, raw_ids: list[str], act: Callable[[Session, User, int], Json]
) -> list[tuple[str, Json]]:
    """Run ``act`` per id, each in its own unit of work; a refusal is that id's answer."""
    with db.read() as session:
        load_caller(session, key_hash)  # refuse a bad key before any work
    results = []
    for raw in raw_ids:
        number = as_int_id(raw)
        try:
            if number is None:
                raise orders.OrderNotFound()
            with db.write() as session:
                results.append((raw, act(session, load_caller(session, key_hash), number)))
        except DomainError as exc:
            results.append((raw, _error(exc)))
    return results


def _refill_one(session: Session, user: User, order_id: int) -> Json:
    return refills.request_refill(session, user, order_id).id


def refill(db: Database, key_hash: str, params: Params, currency: str) -> Json:
    if "orders" in params:
        raw_ids = _ids_or_refuse(params.get("orders"))
        return [
            {"order": _number_or_raw(raw), "refill": result}
            for raw, result in _each(db, key_hash, raw_ids, _refill_one)
        ]
    [(_, result)] = _each(db, key_hash, [text(params, "order") or ""], _refill_one)
    if isinstance(result, dict):
        return result
    return {"refill": str(result)}


def refill_status(db: Database, key_hash: str, params: Params, currency: str) -> Json:
    multi = "refills" in params
    raw_ids = _ids_or_refuse(params.get("refills")) if multi else [text(params, "refill") or ""]
    with db.read() as session:
        user_id = check_caller(session.execute(caller_query(key_hash)).first(), key_hash)
        ids = [i for i in (as_int_id(raw) for raw in raw_ids) if i is not None]
        found = {
            refill.id: refill
            for refill in session.scalars(
                select(Refill).where(Refill.user_id == user_id, Refill.id.in_(ids))
            )
        } if ids else {}
    answers = []
    for raw in raw_ids:
        item = found.get(as_int_id(raw) or 0)
        answers.append(
            (raw, item.status if item else _error(refills.RefillNotFound()))
        )
    if multi:
        return [{"refill": _number_or_raw(raw), "status": result} for raw, result in answers]
    result = answers[0][1]
    return result if isinstance(result, dict) else {"status": result}


def _cancel_one(session: Session, user: User, order_id: int) -> Json:
    orders.cancel_by_customer(session, user, order_id)
    return 1


def cancel(db: Database, key_hash: str, params: Params, currency: str) -> Json:
    source = params.get("orders") if "orders" in params else params.get("order")
    raw_ids = _ids_or_refuse(source)
    return [
        {"order": _number_or_raw(raw), "cancel": result}
        for raw, result in _each(db, key_hash, raw_ids, _cancel_one)
    ]


ACTIONS: dict[str, Action] = {
    "services": services,
    "add": add,
    "status": status,
    "refill": refill,
    "refill_status": refill_status,
    "cancel": cancel,
    "balance": balance,
}
