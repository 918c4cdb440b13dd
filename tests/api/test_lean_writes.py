"""Placing an order without the ORM (opensmm.db.statements): the rows are the model's rows.

``add`` writes through statements compiled once per dialect and run on the unit of work's
own DBAPI connection. These tests hold that path to what the ORM guaranteed: every column
as the model describes it (its defaults, exact Money, aware UTC times), the charge in the
same transaction as the order, and pending ORM work flushed before a statement sees it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import bindparam, insert, select
from sqlalchemy.dialects.postgresql import psycopg
from sqlalchemy.dialects.sqlite import pysqlite
from sqlalchemy.engine import Dialect

from opensmm.accounts import service as accounts
from opensmm.accounts.models import User
from opensmm.api import actions
from opensmm.api.auth import key_hash_of
from opensmm.catalog import service as catalog
from opensmm.db import Database
from opensmm.db.statements import Statement
from opensmm.ledger import events as ledger_events
from opensmm.ledger import service as ledger
from opensmm.ledger.models import LedgerEntry
from opensmm.orders import service as orders
from opensmm.orders.models import Order, OrderEvent

RATE = Decimal("1.23457")  # five places: any conversion that is not exact shows
QUANTITY = 1234
CHARGE = Decimal("1.52346")  # 1.23457 × 1234 / 1000 = 1.5234593.., half-up
START = Decimal("10.00001")


def _customer(db: Database, balance: Decimal = START) -> tuple[int, str]:
    with db.write() as session:
        user = accounts.create_user(session, "lean")
        ledger.add_funds(session, user.id, balance, memo="test", actor="test")
        return user.id, accounts.create_key(session, user).key


def _service(db: Database, **fields: Any) -> int:
    values: dict[str, Any] = {
        "name": "Followers", "category": "Instagram", "rate": RATE,
        "min_quantity": 10, "max_quantity": 10_000,
    }
    with db.write() as session:
        return catalog.add_service(session, **(values | fields)).id


def _add(db: Database, key: str, **params: str) -> Any:
    return actions.add(db, key_hash_of(key), params, "USD")


def test_an_api_order_has_every_column_the_model_describes(db: Database) -> None:
    user_id, key = _customer(db)
    service_id = _service(db)
    before = datetime.now(UTC)
    placed = _add(db, key, service=str(service_id), link="https://x.test/1",
                  quantity=str(QUANTITY))
    with db.read() as session:
        order = session.get(Order, placed["order"])
        assert order is not None
        assert (order.user_id, order.service_id, order.link) == (
            user_id, service_id, "https://x.test/1")
        assert (order.quantity, order.units, order.remains) == (QUANTITY, QUANTITY, QUANTITY)
        assert order.charge == CHARGE
        assert order.fields == {"type": "Default"}
        assert (order.fulfillment, order.send_state, order.provider_id) == ("manual", None, None)
        assert (order.runs, order.interval, order.start_count) == (None, None, None)
        # Each column the model gives a fixed default has it, as an ORM insert would set
        # (but the link, which the request gives).
        for column in Order.__table__.c:
            default = column.default
            if default is not None and default.is_scalar and column.key != "link":
                assert getattr(order, column.key) == default.arg, column.key
        assert order.created_at == order.updated_at
        assert order.created_at.tzinfo is not None
        assert before - timedelta(seconds=1) <= order.created_at <= datetime.now(UTC)
        for column in ("finished_at", "upstream_id", "sent_at", "next_poll_at", "lease_until"):
            assert getattr(order, column) is None, column


def test_the_charge_is_one_exact_ledger_entry_and_one_event(db: Database) -> None:
    user_id, key = _customer(db)
    service_id = _service(db)
    order_id = _add(db, key, service=str(service_id), link="https://x.test/2",
                    quantity=str(QUANTITY))["order"]
    with db.read() as session:
        [entry] = session.scalars(select(LedgerEntry).where(LedgerEntry.order_id == order_id))
        assert (entry.user_id, entry.kind, entry.key) == (
            user_id, "charge", f"order:{order_id}:charge")
        assert (entry.amount, entry.balance_after) == (-CHARGE, START - CHARGE)
        assert (entry.code, entry.params, entry.memo) == (
            "ledger.order_charge", {"order": order_id, "service": "Followers"}, "")
        assert entry.description.english == f"Order {order_id}: Followers"
        assert entry.created_at.tzinfo is not None
        assert session.scalar(select(User.balance).where(User.id == user_id)) == START - CHARGE
        [event] = session.scalars(select(OrderEvent).where(OrderEvent.order_id == order_id))
        assert (event.actor_kind, event.actor, event.code, event.params) == (
            "customer", "", "order.placed", {"charge": str(CHARGE), "units": QUANTITY})
        assert event.description.english == f"Placed for {CHARGE} ({QUANTITY} units)"
        assert ledger.check(session) == []


def test_the_order_and_its_charge_roll_back_with_the_unit(db: Database) -> None:
    user_id, _ = _customer(db)
    service_id = _service(db)
    params: dict[str, object] = {
        "service": service_id, "link": "https://x.test/3", "quantity": str(QUANTITY)}
    with pytest.raises(LookupError), db.write() as session:
        user = session.get(User, user_id)
        assert user is not None
        placed = orders.place_order(session, user, params)
        assert placed.charge == CHARGE  # the ORM sees the row written without it
        raise LookupError("something later in the unit fails")
    with db.read() as session:
        assert session.scalar(select(User.balance).where(User.id == user_id)) == START
        assert session.scalars(select(Order.id).where(Order.user_id == user_id)).all() == []
        assert session.scalars(
            select(LedgerEntry.id).where(LedgerEntry.kind == "charge")).all() == []


def test_not_enough_funds_leaves_nothing(db: Database) -> None:
    user_id, key = _customer(db, Decimal("1.52345"))  # one unit of 0.00001 short
    service_id = _service(db)
    with pytest.raises(ledger.NotEnoughFunds):
        _add(db, key, service=str(service_id), link="https://x.test/4", quantity=str(QUANTITY))
    with db.read() as session:
        assert session.scalar(select(User.balance).where(User.id == user_id)) == Decimal(
            "1.52345")
        assert session.scalars(select(Order.id).where(Order.user_id == user_id)).all() == []


def test_a_movement_sees_what_the_unit_has_not_flushed_yet(db: Database) -> None:
    user_id, _ = _customer(db)
    with db.write() as session:
        # An entry the ORM holds, not yet flushed: the movement's statements must flush it
        # first and then find its key taken (a replay), as an ORM query would have.
        session.add(LedgerEntry(user_id=user_id, amount=Decimal(0), balance_after=START,
                                kind="deposit", key="test:pending", memo=""))
        assert not ledger.post(session, user_id=user_id, amount=Decimal("3.5"),
                               kind="deposit", key="test:pending",
                               event=ledger_events.FUNDS_ADDED, params={})
    with db.read() as session:
        assert session.scalar(select(User.balance).where(User.id == user_id)) == START


DIALECTS: list[Dialect] = [pysqlite.dialect(), psycopg.dialect()]


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
def test_a_statement_refuses_a_value_fixed_when_it_was_built(dialect: Dialect) -> None:
    fixed = Statement(lambda: select(User.id).where(User.id == 5))
    with pytest.raises(RuntimeError, match="built-in value"):
        fixed.for_dialect(dialect)


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
def test_a_statement_refuses_to_leave_a_column_to_its_python_default(
    dialect: Dialect,
) -> None:
    # OrderEvent.created_at defaults to the clock at each insert: nothing here would run it.
    no_time = Statement(lambda: insert(OrderEvent).values(
        order_id=bindparam("order_id"), actor=bindparam("actor"),
        message=bindparam("message")))
    with pytest.raises(RuntimeError, match="Python-side default"):
        no_time.for_dialect(dialect)
