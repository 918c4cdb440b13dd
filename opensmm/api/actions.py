"""The API v2 actions (spec §2): each turns parameters into the documented JSON shape.

Read actions run one statement that checks the key and reads what they answer (the hottest,
``status``, ``balance`` and ``services``, without the ORM: ``opensmm.api.reads``); actions that
change data run the domain services in one unit of work per order (so that one refused
id in a batch does not undo the others).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from opensmm.accounts.models import User
from opensmm.api import reads
from opensmm.api.auth import (
    caller_query,
    check_caller,
    id_list_or_refuse,
    load_caller,
    load_customer,
)
from opensmm.api.params import Params, as_int_id, id_list, text
from opensmm.db import Database
from opensmm.errors import DomainError, IncorrectRequest
from opensmm.orders import idempotency
from opensmm.orders import service as orders
from opensmm.refills import service as refills

Json = Any
# The parameter that carries an ``add``'s idempotency key (or its header, spec §7).
IDEMPOTENCY_PARAMETER = "idempotency_key"
Action = Callable[[Database, str, Params, str], Json]


def _error(exc: DomainError) -> dict[str, str]:
    return {"error": exc.message}


def _number_or_raw(raw: str) -> int | str:
    number = as_int_id(raw)
    return number if number is not None else raw


def add_input(params: Params) -> tuple[dict[str, object], str | None]:
    """An ``add``'s parameters as the order takes them, and its idempotency key (checked:
    a malformed one is refused before any database work)."""
    flat: dict[str, object] = {
        name: ("\n".join(value) if isinstance(value, list) else value)
        for name, value in params.items()
    }
    raw_key = flat.get(IDEMPOTENCY_PARAMETER)
    key = None if raw_key is None else idempotency.check_key(raw_key)
    return flat, key


def add_in(session: Session, key_hash: str, params: Params) -> Json:
    """One ``add`` in ``session``'s unit of work (its own, or its savepoint in a group
    commit: opensmm.api.group_commit); the answer, or the refusal raised."""
    flat, key = add_input(params)
    customer = load_customer(session, key_hash)
    if key is not None:
        earlier = idempotency.claim(session, customer.id, key, idempotency.params_hash(flat))
        if earlier is not None:
            return {"order": earlier}
    placed = orders.place(session, customer, flat)
    if key is not None:
        idempotency.record(session, customer.id, key, placed.id)
    return {"order": placed.id}


def add(db: Database, key_hash: str, params: Params, currency: str) -> Json:
    with db.write() as session:
        return add_in(session, key_hash, params)


@dataclass(frozen=True, slots=True)
class Units:
    """Where ``cancel`` and ``refill`` do their work: ``check``, the key's check before any
    id; ``each``, one id's unit of work (so that one refused id does not undo the others).
    Alone (``alone``): a read, and a transaction per id. In a group commit
    (opensmm.api.group_commit): a savepoint each, in the batch's transaction."""

    check: Callable[[], AbstractContextManager[Session]]
    each: Callable[[], AbstractContextManager[Session]]


def alone(db: Database) -> Units:
    return Units(check=db.read, each=db.write)


def _each(
    units: Units, key_hash: str, raw_ids: list[str], act: Callable[[Session, User, int], Json]
) -> list[tuple[str, Json]]:
    """Run ``act`` per id, each in its own unit of work; a refusal is that id's answer."""
    with units.check() as session:
        load_caller(session, key_hash)  # refuse a bad key before any work
    results = []
    for raw in raw_ids:
        number = as_int_id(raw)
        try:
            if number is None:
                raise orders.OrderNotFound()
            with units.each() as session:
                results.append((raw, act(session, load_caller(session, key_hash), number)))
        except DomainError as exc:
            results.append((raw, _error(exc)))
    return results


def _refill_one(session: Session, user: User, order_id: int) -> Json:
    return refills.request_refill(session, user, order_id).id


def refill(db: Database, key_hash: str, params: Params, currency: str) -> Json:
    return refill_in(db, alone(db), key_hash, params)


def refill_in(db: Database, units: Units, key_hash: str, params: Params) -> Json:
    """``refill`` with its work in ``units`` (alone, or in a group commit's batch)."""
    if "orders" in params:
        raw_ids = id_list_or_refuse(db, key_hash, params.get("orders"))
        return [
            {"order": _number_or_raw(raw), "refill": result}
            for raw, result in _each(units, key_hash, raw_ids, _refill_one)
        ]
    [(_, result)] = _each(units, key_hash, [text(params, "order") or ""], _refill_one)
    if isinstance(result, dict):
        return result
    return {"refill": str(result)}


def refill_status(db: Database, key_hash: str, params: Params, currency: str) -> Json:
    multi = "refills" in params
    raw_ids = (
        id_list_or_refuse(db, key_hash, params.get("refills"))
        if multi
        else [text(params, "refill") or ""]
    )
    with db.read() as session:
        user_id = check_caller(session.execute(caller_query(key_hash)).first(), key_hash)
        numbers = [as_int_id(raw) for raw in raw_ids]
        found = refills.find_refills(session, numbers, user_id)
        answers = [
            (raw, found[number].status if number in found else _error(refills.RefillNotFound()))
            for raw, number in zip(raw_ids, numbers, strict=True)
        ]
    if multi:
        return [{"refill": _number_or_raw(raw), "status": result} for raw, result in answers]
    result = answers[0][1]
    return result if isinstance(result, dict) else {"status": result}


def _cancel_one(session: Session, user: User, order_id: int) -> Json:
    orders.cancel_by_customer(session, user, order_id)
    return 1


def _ids_sent(params: Params) -> str | list[str] | None:
    """The ids of a ``cancel`` (or of a batched ``refill``): ``orders``, else ``order``."""
    return params.get("orders") if "orders" in params else params.get("order")


def cancel(db: Database, key_hash: str, params: Params, currency: str) -> Json:
    return cancel_in(db, alone(db), key_hash, params)


def cancel_in(db: Database, units: Units, key_hash: str, params: Params) -> Json:
    """``cancel`` with its work in ``units`` (alone, or in a group commit's batch)."""
    raw_ids = id_list_or_refuse(db, key_hash, _ids_sent(params))
    return [
        {"order": _number_or_raw(raw), "cancel": result}
        for raw, result in _each(units, key_hash, raw_ids, _cancel_one)
    ]


def named_ids(params: Params) -> list[int]:
    """The order ids a ``cancel`` or ``refill`` names, as far as they are ids at all: what
    a group commit locks up front (opensmm.api.group_commit). A malformed list names none
    (it is refused before any work)."""
    try:
        raw_ids = id_list(_ids_sent(params))
    except DomainError:
        return []
    return sorted({number for number in map(as_int_id, raw_ids) if number is not None})


def unknown_action(db: Database, key_hash: str, params: Params, currency: str) -> Json:
    """A missing or unknown action: refused, but a bad key is named first (spec §6)."""
    with db.read() as session:
        check_caller(session.execute(caller_query(key_hash)).first(), key_hash)
    raise IncorrectRequest()


# Actions cheap enough to run on the event loop (see ApiEndpoint).
INLINE_ACTIONS = frozenset({"status", "balance", "services"})

ACTIONS: dict[str, Action] = {
    # The hot reads: one statement each, without the ORM (opensmm.api.reads).
    "services": reads.services,
    "add": add,
    "status": reads.status,
    "refill": refill,
    "refill_status": refill_status,
    "cancel": cancel,
    "balance": reads.balance,
}
