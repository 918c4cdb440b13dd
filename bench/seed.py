"""A benchmark database: a few customers, keys and services made through the services, and
many orders inserted in bulk (``executemany`` on SQLite, ``COPY`` on PostgreSQL).

The orders are inserted directly, without their ledger entries: they exist to be read by
``status`` and brought up to date by the worker, not to be audited; do not run
``opensmm ledger check`` on a benchmark database. Every other row (customers, funds, keys,
services) comes from the same service calls as the CLI, so the schema is the real one.

Order ``id`` belongs to customer number ``id % customers``, so that each customer's orders
(the benchmark customer's too) are spread over the whole table as in a real panel.
"""

from __future__ import annotations

import os
import random
import sqlite3
import tempfile
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from opensmm.accounts import service as accounts
from opensmm.catalog import service as catalog
from opensmm.db import Database, utcnow
from opensmm.db.migrate import upgrade
from opensmm.ledger import service as ledger
from opensmm.orders.models import Order

DEFAULT_POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
# One database per run and role (runs may overlap: CI's smoke test beside a full run),
# dropped at the end.
DATABASE_PREFIX = "opensmm_bench"
# Customers funded to place orders (the first is the benchmark customer).
BUYERS = 32
BATCH = 50_000
# The status mix of a panel that has been running for a while.
STATUS_MIX = (
    ("Completed", 60),
    ("In progress", 15),
    ("Pending", 10),
    ("Partial", 10),
    ("Canceled", 5),
)


@dataclass
class Seeded:
    kind: str
    url: str
    key: str  # the benchmark customer's API key
    user_id: int
    # Keys of the first customers, each funded for any number of orders: the load of
    # resellers placing orders side by side (each account's movements queue on its own row).
    buyer_keys: list[str]
    customers: list[int]
    services: list[int]
    orders: int = 0
    # Ranges of ids inserted by the seeder: [first id, count].
    segments: list[list[int]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def owner_of(self, order_id: int) -> int:
        return self.customers[order_id % len(self.customers)]

    def customer_order_ids(
        self, count: int, rng: random.Random, *, unique: bool = False
    ) -> list[int]:
        """``count`` random ids of seeded orders that belong to the benchmark customer."""
        step = len(self.customers)
        owned = [
            order_id
            for first, size in self.segments
            for order_id in range(first + (-first) % step, first + size, step)
        ]
        if not owned:
            raise RuntimeError("the benchmark customer has no orders yet")
        if unique:
            return rng.sample(owned, min(count, len(owned)))
        return [rng.choice(owned) for _ in range(count)]

    def summary(self) -> dict[str, Any]:
        return {"kind": self.kind, "orders": self.orders, "customers": len(self.customers),
                "services": len(self.services), "seconds": self.seconds}


def postgres_admin_url() -> str:
    return os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES_ADMIN_URL)


def _conninfo(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_database(kind: str, workdir: Path, role: str = "api") -> str:
    """A new, empty, migrated database of ``kind``; its URL."""
    if kind == "sqlite":
        path = workdir / f"{role}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    else:
        admin = postgres_admin_url()
        name = f"{DATABASE_PREFIX}_{role}_{os.getpid()}"
        with psycopg.connect(_conninfo(admin), autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    return url


def drop_database(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{parsed.database}{suffix}").unlink(missing_ok=True)
        return
    with psycopg.connect(_conninfo(postgres_admin_url()), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')


def seed(
    kind: str, url: str, *, customers: int = 100, services: int = 50, **service_fields: Any
) -> Seeded:
    """Customers (the first with ample funds), their keys, and a catalog; no orders yet."""
    started = time.perf_counter()
    db = Database(url)
    try:
        with db.write() as session:
            service_ids = [
                catalog.add_service(
                    session,
                    name=f"Followers {n} [Real, fast]",
                    category=f"Instagram {n % 5}",
                    rate=Decimal("0.90") + Decimal(n) / 100,
                    min_quantity=10,
                    max_quantity=100_000,
                    refill=n % 2 == 0,
                    cancel=n % 3 == 0,
                    description=f"Start 0-1h, speed {n}k/day",
                    **service_fields,
                ).id
                for n in range(services)
            ]
            user_ids = []
            keys = []
            for n in range(customers):
                user = accounts.create_user(session, f"bench{n}")
                buyer = n < BUYERS
                ledger.add_funds(
                    session, user.id, Decimal(1_000_000_000 if buyer else 100),
                    memo="benchmark", actor="bench",
                )
                keys.append(accounts.create_key(session, user).key)
                user_ids.append(user.id)
    finally:
        db.dispose()
    seeded = Seeded(kind, url, keys[0], user_ids[0], keys[:BUYERS], user_ids, service_ids)
    seeded.seconds["customers_and_catalog"] = round(time.perf_counter() - started, 2)
    return seeded


def _order_rows(
    seeded: Seeded, start_id: int, count: int, status_mix: tuple[tuple[str, int], ...],
    overrides: dict[str, Any], upstream_start: int | None,
) -> tuple[list[str], list[tuple[Any, ...]], dict[str, Any]]:
    """Column names and DB-ready rows for ``count`` orders from id ``start_id``.

    Varying columns are plain ints and strings (``Money`` is stored in 0.00001 units);
    every other column gets its model default, converted once by the dialect's own type.
    """
    rng = random.Random(start_id)
    statuses = [status for status, weight in status_mix for _ in range(weight)]
    now = utcnow()
    varying = ["id", "user_id", "service_id", "link", "quantity", "units", "charge",
               "refunded", "status", "start_count", "remains"]
    if upstream_start is not None:
        varying.append("upstream_id")
    constants: dict[str, Any] = {"fields": {"type": "Default"}, "created_at": now,
                                 "updated_at": now, **overrides}
    for column in Order.__table__.columns:
        if column.name in varying or column.name in constants:
            continue
        default = column.default
        if default is None:
            constants[column.name] = None
        elif default.is_callable:
            constants[column.name] = default.arg(None)  # type: ignore[union-attr]
        else:
            constants[column.name] = default.arg  # type: ignore[union-attr]
    names = varying + list(constants)
    services = seeded.services
    rows = []
    for order_id in range(start_id, start_id + count):
        index = order_id - start_id
        # Its own generator: two databases seeded from the same first id (a panel and its
        # upstream) agree on every order's quantity.
        quantity = random.Random(order_id).randrange(100, 10_000)
        charge = quantity * 90  # 0.90 per 1000, in 0.00001 units
        status = rng.choice(statuses)
        remains = 0 if status == "Completed" else rng.randrange(1, quantity)
        refunded = charge * remains // quantity if status == "Partial" else (
            charge if status == "Canceled" else 0)
        rows.append((
            order_id, seeded.owner_of(order_id), services[index % len(services)],
            f"https://www.instagram.com/p/B{order_id:09d}/", quantity, quantity, charge,
            refunded, status, None if status == "Pending" else rng.randrange(0, 50_000), remains,
            *(() if upstream_start is None else (upstream_start + index,)),
        ))
    return names, rows, constants


def add_orders(
    seeded: Seeded, count: int, *, status_mix: tuple[tuple[str, int], ...] = STATUS_MIX,
    overrides: dict[str, Any] | None = None, upstream_start: int | None = None,
) -> float:
    """Insert ``count`` more orders in bulk; the seconds it took.

    ``overrides`` gives columns one value for every order (the worker's columns, say);
    with ``upstream_start``, order number ``n`` of this batch has upstream id
    ``upstream_start + n``.
    """
    started = time.perf_counter()
    db = Database(seeded.url)
    try:
        with db.read() as session:
            start = (session.scalar(select(func.max(Order.id))) or 0) + 1
        dialect = db.write_engine.dialect
    finally:
        db.dispose()
    done = 0
    if seeded.kind == "sqlite":
        conn = sqlite3.connect(make_url(seeded.url).database or "")
        try:
            while done < count:
                batch = min(BATCH, count - done)
                names, rows, constants = _order_rows(
                    seeded, start + done, batch, status_mix, overrides or {},
                    None if upstream_start is None else upstream_start + done)
                rows = _processed(rows, names, constants, dialect)
                marks = ",".join("?" * len(names))
                with conn:
                    conn.executemany(
                        f"INSERT INTO orders ({','.join(names)}) VALUES ({marks})", rows
                    )
                done += batch
            conn.execute("ANALYZE")
        finally:
            conn.close()
    else:
        with psycopg.connect(_conninfo(seeded.url)) as conn:
            # The rows are consistent by construction: skip the per-row foreign key triggers.
            conn.execute("SET session_replication_role = replica")
            while done < count:
                batch = min(BATCH, count - done)
                names, rows, constants = _order_rows(
                    seeded, start + done, batch, status_mix, overrides or {},
                    None if upstream_start is None else upstream_start + done)
                rows = _processed(rows, names, constants, dialect)
                with conn.cursor().copy(
                    f"COPY orders ({','.join(names)}) FROM STDIN"
                ) as copy:
                    for row in rows:
                        copy.write_row(row)
                done += batch
            conn.execute(
                "SELECT setval(pg_get_serial_sequence('orders', 'id'), "
                "(SELECT max(id) FROM orders))"
            )
            conn.commit()
            conn.autocommit = True
            # As a running panel's table would be: statistics, hint bits and visibility map
            # up to date, so that no autovacuum of the fresh rows runs during the loads.
            conn.execute("VACUUM (ANALYZE)")
    seeded.orders += count
    seeded.segments.append([start, count])
    return time.perf_counter() - started


def _processed(
    rows: list[tuple[Any, ...]], names: list[str], constants: dict[str, Any], dialect: Any
) -> list[tuple[Any, ...]]:
    """Replace the constant columns' Python values by what the dialect's types bind."""
    fixed = []
    for name, value in constants.items():
        processor = Order.__table__.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        fixed.append(processor(value) if processor and value is not None else value)
    tail = tuple(fixed)
    return [row + tail for row in rows]


def scratch_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="opensmm-bench-"))
