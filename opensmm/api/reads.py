"""The API's hottest reads, ``status``, ``balance`` and ``services``: one statement each.

Resellers poll ``status`` all day. Through the ORM an answer cost two queries, a session and
one to two milliseconds of Python (docs/performance.md); here the key check and the orders
come back from one statement, compiled by SQLAlchemy once per dialect and run on a plain
DBAPI connection (``Database.read_rows``), its values converted by the columns' own types.

Nothing about keys or accounts is cached: every request's statement checks the key, and
``check_caller`` applies every rule (revoked, suspended, allow-listed addresses) to what it
read just now. The statements are built from ``caller_query`` and the catalog's own query,
so that they follow the models and any rule the key lookup gains.

The only cache is the catalog's rendering: the ``services`` answer is encoded once per
catalog stamp and discount. The stamp changes, by database triggers, with every change to
services and categories (``CatalogStamp``), and it is read in the same statement as the
caller's key: any change to the catalog shows in the very next answer.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from weakref import WeakKeyDictionary

import orjson
from sqlalchemy import BigInteger, and_, any_, bindparam, cast, func, select, type_coerce
from sqlalchemy.dialects.postgresql import ARRAY

from opensmm.accounts.models import User
from opensmm.api.auth import caller_by_key_hash, check_caller, required_ids
from opensmm.api.params import MAX_IDS, Params, as_int_id, text
from opensmm.catalog.models import CatalogStamp, Category, Service
from opensmm.catalog.service import catalog_query
from opensmm.db import Database
from opensmm.db.async_reads import AsyncReader
from opensmm.db.statements import Compiled, Statement
from opensmm.db.types import parse_ids
from opensmm.errors import DomainError
from opensmm.money import format_minor, format_money
from opensmm.orders.models import Order
from opensmm.orders.service import OrderNotFound, discounted_rate

Json = Any


_caller = caller_by_key_hash  # every hot read starts from the caller's key


def _units(column: Any) -> Any:
    """A Money column read as its stored whole number of 0.00001 (``format_minor`` shows
    it): no ``Decimal`` made and unmade per row of the hottest answers."""
    return type_coerce(column, BigInteger)


_ORDER_COLUMNS = (
    Order.id.label("order_id"),
    # Net of refunds, computed by the database: the one expression (``Order.net_charge``).
    _units(Order.net_charge).label("net_charge_units"),
    Order.start_count.label("start_count"),
    Order.status.label("order_status"),
    Order.remains.label("remains"),
    # Set on subscriptions only: their answer adds it, and its charge is their posts'.
    Order.posts.label("posts"),
)
_ID_NAMES = tuple(f"id{n}" for n in range(MAX_IDS))

# The caller and one order of theirs (or none: a LEFT JOIN, so the key row still comes).
STATUS_ONE = Statement(lambda: _caller().add_columns(*_ORDER_COLUMNS).outerjoin(
    Order, and_(Order.user_id == User.id, Order.id == bindparam("order_id"))))


def _in_ids(column: Any, dialect_name: str) -> Any:
    """``column`` is one of the ids given: on PostgreSQL ``= ANY`` of one array parameter,
    ``ids``; elsewhere ``IN`` of MAX_IDS parameters, ``id0``…, unused places holding 0 (no
    id is 0), so that one statement (one prepared plan) serves every list.

    Why two forms: psycopg (the plain connections) caches its conversion of a query's
    placeholders only for statements of at most 50 parameters, so the 100 of an ``IN`` list
    were parsed again by a regular expression on every ``status`` (343 µs of CPU per call
    against 115 with the array, more than PostgreSQL's own work; docs/performance.md), and
    asyncpg (the server's async reads) encodes one array in one call too. SQLite has no
    arrays, and its driver binds positional parameters without parsing anything."""
    if dialect_name == "postgresql":
        return column == any_(cast(bindparam("ids"), ARRAY(BigInteger)))
    return column.in_([bindparam(name) for name in _ID_NAMES])


def ids_params(is_sqlite: bool, ids: list[int]) -> dict[str, Any]:
    """The parameters of ``_in_ids`` for these ids (at most MAX_IDS)."""
    if not is_sqlite:
        return {"ids": ids}
    return dict(zip(_ID_NAMES, ids + [0] * (MAX_IDS - len(ids)), strict=True))


# The caller and up to MAX_IDS orders of theirs.
STATUS_MANY = Statement.by_dialect(lambda dialect: _caller().add_columns(*_ORDER_COLUMNS)
                                   .outerjoin(Order, and_(Order.user_id == User.id,
                                                          _in_ids(Order.id, dialect))))
# What a caller's subscriptions cost so far: the net charges of their posts' orders.
SUBSCRIPTION_CHARGES = Statement.by_dialect(lambda dialect: select(
    Order.subscription_id, func.sum(_units(Order.net_charge))
).where(_in_ids(Order.subscription_id, dialect)).group_by(Order.subscription_id))
BALANCE = Statement(lambda: _caller().add_columns(_units(User.balance).label("balance_units")))
# The caller's discount, and the catalog's stamp (it changes with every catalog change).
SERVICES_CALLER = Statement(lambda: _caller().add_columns(
    User.discount_percent.label("discount_percent"),
    select(CatalogStamp.stamp).scalar_subquery().label("catalog_stamp")))
CATALOG = Statement(lambda: catalog_query().with_only_columns(
    Service.id, Service.name, Service.type, Category.name.label("category"), Service.rate,
    Service.min_quantity, Service.max_quantity, Service.refill, Service.cancel,
    Service.dripfeed, Service.description, maintain_column_froms=True,
))


def _error(exc: DomainError) -> dict[str, str]:
    return {"error": exc.message}


def order_status(row: Any, currency: str) -> dict[str, str]:
    return _answer(row.net_charge_units, row.start_count, row.order_status, row.remains,
                   currency)


def _answer(net_charge_units: int, start_count: int | None, order_status: str, remains: int,
            currency: str) -> dict[str, str]:
    return {
        "charge": format_minor(net_charge_units),
        "start_count": str(start_count or 0),
        "status": order_status,
        "remains": str(remains),
        "currency": currency,
    }


# --- Plans: what to read and what to answer, with no I/O of their own ---------------------
#
# Each read is a generator that yields the statements it needs (a ``Query``), receives their
# rows (``Fetched``) and returns the answer. ``run`` drives one with plain connections (SQLite
# on the event loop, or any database in a worker thread); ``run_async`` drives the same plan
# with PostgreSQL's async connections on the event loop. One set of rules, two transports.


@dataclass(frozen=True, slots=True)
class Query:
    statement: Statement
    params: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Fetched:
    compiled: Compiled
    raw: list[tuple[Any, ...]]  # as the driver gives them

    def records(self) -> list[Any]:
        """The rows as named tuples of the columns' Python values."""
        return self.compiled.convert(self.raw)

    def first(self) -> Any | None:
        return self.compiled.convert(self.raw[:1])[0] if self.raw else None


Plan = Generator[Query, Fetched, Json]
PlanMaker = Callable[[Database, str, Params, str], Plan]


def run(db: Database, plan: Plan) -> Json:
    try:
        query = next(plan)
        while True:
            compiled = query.statement.compiled(db)
            query = plan.send(Fetched(compiled, compiled.fetch(db, query.params)))
    except StopIteration as finished:
        return finished.value


async def run_async(db: Database, reader: AsyncReader, plan: Plan) -> Json:
    try:
        query = next(plan)
        while True:
            compiled = query.statement.compiled(db)
            rows = await reader.rows(compiled.sql, compiled.arguments(query.params))
            query = plan.send(Fetched(compiled, rows))
    except StopIteration as finished:
        return finished.value


CALLER = Statement(_caller)


def _checked(fetched: Fetched, key_hash: str) -> Any:
    """The first row (the caller's, with what was read beside it), or the key's refusal."""
    row = fetched.first()
    check_caller(row, key_hash)
    return row


def _refuse_bad_key(key_hash: str) -> Generator[Query, Fetched, None]:
    """Raise the key's refusal, if it has one (spec §6: a bad key is named first)."""
    _checked((yield Query(CALLER, {"key_hash": key_hash})), key_hash)


def _subscription_charges(
    db: Database, ids: list[int]
) -> Generator[Query, Fetched, dict[int, int]]:
    """The net charges of these subscriptions' posts, in 0.00001 (a second read, made only
    when an answer holds subscriptions)."""
    fetched = yield Query(SUBSCRIPTION_CHARGES, ids_params(db.is_sqlite, ids))
    return {int(row[0]): int(row[1]) for row in fetched.raw}


def _subscription_answer(answer: dict[str, str], posts: int, charge_units: int) -> dict[str, str]:
    """A subscription's answer (spec §4): its status on the subscription scale, what its
    posts cost so far, the posts still to come as ``remains`` (0: no limit), and ``posts``,
    the posts so far (an extension other panels ignore; a reseller's opensmm reads it)."""
    answer["charge"] = format_minor(charge_units)
    answer["posts"] = str(posts)
    return answer


def status_plan(db: Database, key_hash: str, params: Params, currency: str) -> Plan:
    if "orders" not in params:
        order_id = as_int_id(text(params, "order") or "") or 0
        fetched = yield Query(STATUS_ONE, {"key_hash": key_hash, "order_id": order_id})
        row = _checked(fetched, key_hash)
        if row.order_id is None:
            return _error(OrderNotFound())
        if row.posts is not None:
            charges = yield from _subscription_charges(db, [row.order_id])
            return _subscription_answer(
                order_status(row, currency), row.posts, charges.get(row.order_id, 0)
            )
        return order_status(row, currency)
    try:
        raw_ids = required_ids(params.get("orders"))
    except DomainError:
        yield from _refuse_bad_key(key_hash)
        raise
    return (yield from _status_many(db, key_hash, raw_ids, currency))


# Where an order's columns start in a row of STATUS_MANY (after the caller's); the columns
# after its id are _answer's arguments, in order.
_ORDER_AT = len(_caller().selected_columns)
assert tuple(c.key for c in _ORDER_COLUMNS[1:5]) == _answer.__code__.co_varnames[:4]


def _status_many(db: Database, key_hash: str, raw_ids: list[str], currency: str) -> Plan:
    wanted = parse_ids(raw_ids)
    fetched = yield Query(STATUS_MANY, {"key_hash": key_hash, **ids_params(db.is_sqlite, wanted)})
    _checked(fetched, key_hash)
    # Up to 100 rows: used as the driver gives them (ints and strings, nothing to convert),
    # by position.
    at = _ORDER_AT
    found = {
        row[at]: _answer(row[at + 1], row[at + 2], row[at + 3], row[at + 4], currency)
        for row in fetched.raw if row[at] is not None
    }
    posts = {row[at]: row[at + 5] for row in fetched.raw
             if row[at] is not None and row[at + 5] is not None}
    if posts:
        charges = yield from _subscription_charges(db, list(posts))
        for number, count in posts.items():
            _subscription_answer(found[number], count, charges.get(number, 0))
    not_found = _error(OrderNotFound())
    return {raw: found.get(number, not_found) for raw, number in zip(raw_ids, wanted, strict=True)}


def balance_plan(db: Database, key_hash: str, params: Params, currency: str) -> Plan:
    row = _checked((yield Query(BALANCE, {"key_hash": key_hash})), key_hash)
    return {"balance": format_minor(row.balance_units), "currency": currency}


class _CatalogCache:
    """One database's ``services`` answer, encoded once per catalog stamp and discount."""

    def __init__(self) -> None:
        # One attribute, replaced whole: a thread sees an old pair or a new one, never a mix.
        self.state: tuple[int | None, dict[Decimal, orjson.Fragment]] = (None, {})

    def get(self, stamp: int, discount: Decimal) -> orjson.Fragment | None:
        cached_stamp, rendered = self.state
        return rendered.get(discount) if stamp == cached_stamp else None

    def put(self, stamp: int, discount: Decimal, entries: list[Any]) -> orjson.Fragment:
        encoded = orjson.Fragment(orjson.dumps(entries))
        cached_stamp, rendered = self.state
        if stamp != cached_stamp or len(rendered) >= 64:  # a few discounts are normal
            rendered = {}
        self.state = (stamp, {**rendered, discount: encoded})
        return encoded


def _service_entry(row: Any, discount: Decimal) -> dict[str, Any]:
    return {
        "service": row.id,
        "name": row.name,
        "type": row.type,
        "category": row.category,
        "rate": format_money(discounted_rate(row.rate, discount)),
        "min": str(row.min_quantity),
        "max": str(row.max_quantity),
        "refill": row.refill,
        "cancel": row.cancel,
        "dripfeed": row.dripfeed,
        "desc": row.description,
    }


# Per database: two panels in one process (tests) may hold the same stamp.
_catalogs: WeakKeyDictionary[Database, _CatalogCache] = WeakKeyDictionary()


def services_plan(db: Database, key_hash: str, params: Params, currency: str) -> Plan:
    caller = _checked((yield Query(SERVICES_CALLER, {"key_hash": key_hash})), key_hash)
    cache = _catalogs.get(db) or _catalogs.setdefault(db, _CatalogCache())
    stamp, discount = caller.catalog_stamp, caller.discount_percent
    found = cache.get(stamp, discount)
    if found is None:
        # Rows read after the stamp are as new as it or newer: a reader that still sees
        # this stamp started before the newer catalog committed, so both are right.
        catalog = yield Query(CATALOG, {})
        found = cache.put(stamp, discount,
                          [_service_entry(row, discount) for row in catalog.records()])
    return found


PLANS: dict[str, PlanMaker] = {
    "status": status_plan,
    "balance": balance_plan,
    "services": services_plan,
}


def _action(make: PlanMaker) -> Callable[[Database, str, Params, str], Json]:
    def action(db: Database, key_hash: str, params: Params, currency: str) -> Json:
        return run(db, make(db, key_hash, params, currency))

    action.__name__ = action.__qualname__ = make.__name__.removesuffix("_plan")
    return action


# The actions as the API's table of actions calls them (with plain connections).
status = _action(status_plan)
balance = _action(balance_plan)
services = _action(services_plan)
