"""Small factories for fulfillment tests: accounts, providers, services and orders are made
through the same services the CLI and the API use, on a real database."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from opensmm.accounts import service as accounts
from opensmm.accounts.models import User
from opensmm.catalog import service as catalog
from opensmm.db import Database
from opensmm.fulfillment.config import Tally, WorkerConfig
from opensmm.fulfillment.simulator import SimulatorConfig
from opensmm.fulfillment.worker import Worker
from opensmm.ledger import service as ledger
from opensmm.orders import service as orders
from opensmm.orders.models import Order
from opensmm.providers import service as providers
from opensmm.providers.models import Provider
from opensmm.refills import service as refills
from opensmm.refills.models import Refill

# Everything due at once, short calls and leases: tests drive passes by hand.
FAST = WorkerConfig(
    idle_seconds=0.05,
    poll_seconds=0,
    lease_seconds=1,
    http_timeout=1,
    backoff_seconds=60,
    backoff_max_seconds=600,
    batch=1000,
    send_threads=4,
    simulator=SimulatorConfig(seconds=0, seed=7, partial_percent=30),
)


@dataclass
class Customer:
    id: int
    name: str


def customer(db: Database, balance: str = "100") -> Customer:
    with db.write() as session:
        user = accounts.create_user(session, f"c{uuid.uuid4().hex[:10]}")
        ledger.add_funds(session, user.id, Decimal(balance), memo="test", actor="test")
        return Customer(user.id, user.name)


def provider(db: Database, url: str, key: str = "k") -> int:
    with db.write() as session:
        return providers.add_provider(session, f"p{uuid.uuid4().hex[:8]}", url, key).id


def service(db: Database, **fields: Any) -> int:
    values: dict[str, Any] = {
        "name": "Followers",
        "category": "Instagram",
        "rate": Decimal("1.00"),
        "min_quantity": 1,
        "max_quantity": 100_000,
        "cancel": True,
        "refill": True,
    }
    values.update(fields)
    with db.write() as session:
        return catalog.add_service(session, **values).id


def provider_service(
    db: Database, provider_id: int, upstream_service: int = 1, **fields: Any
) -> int:
    return service(
        db,
        fulfillment="provider",
        provider_id=provider_id,
        provider_service_id=upstream_service,
        **fields,
    )


def place(db: Database, who: Customer, service_id: int, quantity: int = 100, **extra: Any) -> int:
    params: dict[str, object] = {
        "service": str(service_id),
        "link": extra.pop("link", f"https://x.test/{uuid.uuid4().hex[:12]}"),
        "quantity": str(quantity),
    }
    params.update({k: str(v) for k, v in extra.items()})
    with db.write() as session:
        user = session.get(User, who.id)
        assert user is not None
        return orders.place_order(session, user, params).id


def cancel(db: Database, who: Customer, order_id: int) -> Order:
    with db.write() as session:
        user = session.get(User, who.id)
        assert user is not None
        return orders.cancel_by_customer(session, user, order_id)


def refill(db: Database, who: Customer, order_id: int) -> int:
    with db.write() as session:
        user = session.get(User, who.id)
        assert user is not None
        return refills.request_refill(session, user, order_id).id


def get_order(db: Database, order_id: int) -> Order:
    with db.read() as session:
        order = session.get(Order, order_id)
        assert order is not None
        return order


def get_refill(db: Database, refill_id: int) -> Refill:
    with db.read() as session:
        found = session.get(Refill, refill_id)
        assert found is not None
        return found


def get_provider(db: Database, provider_id: int) -> Provider:
    with db.read() as session:
        found = session.get(Provider, provider_id)
        assert found is not None
        return found


def balance(db: Database, who: Customer) -> Decimal:
    with db.read() as session:
        user = session.get(User, who.id)
        assert user is not None
        return user.balance


def refund_entries(db: Database, order_id: int) -> int:
    from opensmm.ledger.models import LedgerEntry

    with db.read() as session:
        return int(
            session.scalar(
                select(func.count()).where(
                    LedgerEntry.order_id == order_id, LedgerEntry.kind == "refund"
                )
            )
            or 0
        )


def ledger_clean(db: Database) -> bool:
    with db.read() as session:
        return ledger.check(session) == []


def passes(worker: Worker, count: int) -> Tally:
    total = Tally()
    for _ in range(count):
        total.add(worker.run_once())
    return total
