"""The API's fast reads (opensmm.api.reads) answer exactly what the ORM answers.

``status``, ``balance`` and ``services`` were rewritten for speed (one statement each, no
ORM, the catalog encoded once per catalog stamp; docs/performance.md). Here each answer is
compared with the ORM's reading of the same rows, and the catalog's reuse is shown to end
with any change: a rename, a move, a disabled service, a new rate, a customer's discount, and
changes made with plain SQL behind the application's back. Keys and accounts are never
cached: a revoked key and a suspended account are refused by the very next request.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import orjson
import pytest
from sqlalchemy import select, text

from opensmm.accounts import service as accounts
from opensmm.accounts.models import User
from opensmm.api import reads
from opensmm.api.auth import AccountSuspended, InvalidKey, key_hash_of
from opensmm.api.params import MAX_IDS
from opensmm.catalog import service as catalog
from opensmm.db import Database
from opensmm.db.async_reads import AsyncReader
from opensmm.ledger import service as ledger
from opensmm.money import format_money
from opensmm.orders import service as orders
from opensmm.orders.models import Order

CURRENCY = "USD"


def services_answer(db: Database, key_hash: str) -> Any:
    """The ``services`` answer as a client decodes it (it is kept encoded)."""
    return orjson.loads(orjson.dumps(reads.services(db, key_hash, {}, CURRENCY)))


def orm_status(db: Database, user_id: int, order_id: int) -> dict[str, str] | None:
    with db.read() as session:
        order = session.scalar(select(Order).where(Order.id == order_id,
                                                   Order.user_id == user_id))
        if order is None:
            return None
        return {
            "charge": format_money(order.charge - order.refunded),
            "start_count": str(order.start_count or 0),
            "status": order.status,
            "remains": str(order.remains),
            "currency": CURRENCY,
        }


def orm_services(db: Database, user_id: int) -> list[dict[str, Any]]:
    with db.read() as session:
        user = session.get(User, user_id)
        assert user is not None
        return [
            {
                "service": service.id, "name": service.name, "type": service.type,
                "category": category,
                "rate": format_money(orders.customer_rate(service, user)),
                "min": str(service.min_quantity), "max": str(service.max_quantity),
                "refill": service.refill, "cancel": service.cancel,
                "dripfeed": service.dripfeed, "desc": service.description,
            }
            for service, category in catalog.list_services(session)
        ]


@pytest.fixture
def shop(db: Database) -> dict[str, Any]:
    with db.write() as session:
        services = [
            catalog.add_service(session, name=f"S{n}", category=f"C{n % 3}",
                                rate=Decimal("0.33333") * (n + 1), min_quantity=10,
                                max_quantity=5000, refill=n % 2 == 0, cancel=n % 3 == 0,
                                description=f"d{n}").id
            for n in range(7)
        ]
        people = {}
        for name in ("alice", "bob"):
            user = accounts.create_user(session, name)
            ledger.add_funds(session, user.id, Decimal("1000"), memo="t", actor="t")
            people[name] = (user.id, accounts.create_key(session, user).key)
    placed = {}
    for name, (user_id, _) in people.items():
        with db.write() as session:
            user = session.get(User, user_id)
            assert user is not None
            placed[name] = [
                orders.place_order(session, user, {"service": str(services[n]),
                                                   "link": f"https://x.test/{name}{n}",
                                                   "quantity": str(100 + n)}).id
                for n in range(3)
            ]
    with db.write() as session:
        orders.apply_update(session, placed["alice"][1],
                            orders.OrderUpdate(status="Partial", remains=40, start_count=7), "t")
    return {"services": services, "people": people, "orders": placed}


def test_status_and_balance_match_the_orm(db: Database, shop: dict[str, Any]) -> None:
    alice_id, alice_key = shop["people"]["alice"]
    key_hash = key_hash_of(alice_key)
    mine, theirs = shop["orders"]["alice"], shop["orders"]["bob"]
    for order_id in [*mine, *theirs]:
        expected = orm_status(db, alice_id, order_id) or {"error": "Incorrect order ID"}
        assert reads.status(db, key_hash, {"order": str(order_id)}, CURRENCY) == expected
    for raw in ("", "abc", "0", "-1", "3000000000", "99999999999999999999", " 1 "):
        answer = reads.status(db, key_hash, {"order": raw}, CURRENCY)
        number = int(raw) if raw.strip().isdigit() and 0 < int(raw) < 2**31 else 0
        assert answer == (orm_status(db, alice_id, number) or {"error": "Incorrect order ID"})
    raw_ids = [str(mine[0]), str(theirs[0]), "x", f"0{mine[1]}", str(mine[2]), "3000000000"]
    answer = reads.status(db, key_hash, {"orders": ",".join(raw_ids)}, CURRENCY)
    assert list(answer) == raw_ids
    for raw in raw_ids:
        number = int(raw) if raw.isdigit() and int(raw) < 2**31 else 0
        assert answer[raw] == (orm_status(db, alice_id, number)
                               or {"error": "Incorrect order ID"})
    assert answer[f"0{mine[1]}"]["status"] == "Partial"
    with db.read() as session:
        user = session.get(User, alice_id)
        assert user is not None
        balance = format_money(user.balance)
    assert reads.balance(db, key_hash, {}, CURRENCY) == {"balance": balance,
                                                         "currency": CURRENCY}


def test_services_follow_every_catalog_and_discount_change(
    db: Database, shop: dict[str, Any]
) -> None:
    alice_id, alice_key = shop["people"]["alice"]
    key_hash = key_hash_of(alice_key)
    services = shop["services"]

    def check() -> None:
        assert services_answer(db, key_hash) == orm_services(db, alice_id)

    check()
    check()  # the rendering reused
    with db.write() as session:
        category = catalog.get_or_create_category(session, "C1")
        catalog.rename_category(session, category.id, "C1 renamed")
    check()
    with db.write() as session:
        catalog.move_category(session, category.id, -1)
    check()
    with db.write() as session:
        catalog.set_service_enabled(session, services[2], False)
    check()
    with db.write() as session:
        catalog.move_service(session, services[3], 1)
    check()
    with db.write() as session:
        user = session.get(User, alice_id)
        assert user is not None
        accounts.set_discount(session, user, Decimal("12.5"))
    check()
    bob_id, bob_key = shop["people"]["bob"]
    assert services_answer(db, key_hash_of(bob_key)) == orm_services(db, bob_id)
    assert [s["rate"] for s in services_answer(db, key_hash)] != [
        s["rate"] for s in services_answer(db, key_hash_of(bob_key))]


def test_services_follow_catalog_changes_made_with_plain_sql(
    db: Database, shop: dict[str, Any]
) -> None:
    """The stamp is kept by database triggers: a change that no opensmm code made (an
    operator's SQL, another tool) shows in the next answer too."""
    alice_id, alice_key = shop["people"]["alice"]
    key_hash = key_hash_of(alice_key)
    first = shop["services"][0]
    changes = [
        f"UPDATE services SET rate = rate + 100000 WHERE id = {first}",
        "UPDATE categories SET name = name || ' (new)'",
        f"UPDATE services SET description = 'changed' WHERE id = {first}",
        "INSERT INTO services (category_id, name, type, rate, min_quantity, max_quantity,"
        " refill, refill_days, cancel, dripfeed, one_active_per_link, description, enabled,"
        " position, fulfillment, created_at, updated_at) SELECT category_id, 'Added', type,"
        " rate, min_quantity, max_quantity, refill, refill_days, cancel, dripfeed,"
        " one_active_per_link, description, enabled, position, fulfillment, created_at,"
        f" updated_at FROM services WHERE id = {first}",
        "DELETE FROM services WHERE name = 'Added'",
    ]
    seen = [services_answer(db, key_hash)]
    for change in changes:
        services_answer(db, key_hash)  # the rendering is cached before each change
        with db.write() as session:
            session.execute(text(change))
        answer = services_answer(db, key_hash)
        assert answer == orm_services(db, alice_id), change
        assert answer != seen[-1], change
        seen.append(answer)
    assert seen[-1] != seen[0] and len(seen[-1]) == len(seen[0])


def test_a_revoked_key_and_a_suspended_account_are_refused_at_once(
    db: Database, shop: dict[str, Any]
) -> None:
    _, alice_key = shop["people"]["alice"]
    _, bob_key = shop["people"]["bob"]
    order = str(shop["orders"]["alice"][0])
    for read in (reads.balance, reads.services):
        read(db, key_hash_of(alice_key), {}, CURRENCY)
    reads.status(db, key_hash_of(alice_key), {"order": order}, CURRENCY)
    with db.write() as session:
        accounts.revoke_key(session, alice_key)
        accounts.set_status(session, "bob", active=False)
    for params in ({}, {"order": order}, {"orders": order}):
        for read in (reads.balance, reads.services, reads.status):
            with pytest.raises(InvalidKey):
                read(db, key_hash_of(alice_key), params, CURRENCY)
            with pytest.raises(AccountSuspended):
                read(db, key_hash_of(bob_key), params, CURRENCY)


def test_status_of_100_ids_is_one_statement_whatever_the_transport(
    db: Database, shop: dict[str, Any]
) -> None:
    """``status`` with the most ids an answer holds: the caller's orders, another customer's,
    ids that are no order, repeated ids; through plain connections and, on PostgreSQL,
    through the async ones the server uses (the ids as one array parameter there)."""
    _, alice_key = shop["people"]["alice"]
    key_hash = key_hash_of(alice_key)
    mine, theirs = shop["orders"]["alice"], shop["orders"]["bob"]
    raw_ids = [str(n) for n in [*mine, *theirs]] + [str(n) for n in range(10_000, 10_094)]
    assert len(raw_ids) == MAX_IDS
    answer = reads.status(db, key_hash, {"orders": ",".join(raw_ids)}, CURRENCY)
    assert list(answer) == raw_ids
    for order_id in mine:
        assert answer[str(order_id)] == reads.status(db, key_hash, {"order": str(order_id)},
                                                     CURRENCY)
    assert all(answer[raw] == {"error": "Incorrect order ID"} for raw in raw_ids[3:])
    repeated = reads.status(db, key_hash, {"orders": f"{mine[0]},{mine[0]}"}, CURRENCY)
    assert list(repeated.values()) == [answer[str(mine[0])]]
    if db.is_sqlite:
        return
    reader = AsyncReader(db.postgres_conninfo(), size=1)

    async def through_the_reader() -> list[Any]:
        try:
            # More than psycopg's prepare threshold: the prepared statement answers too.
            return [await reads.run_async(db, reader, reads.status_plan(
                db, key_hash, {"orders": ",".join(raw_ids)}, CURRENCY)) for _ in range(8)]
        finally:
            await reader.close()

    assert asyncio.run(through_the_reader()) == [answer] * 8
