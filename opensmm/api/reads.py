"""The API's hottest reads, ``status``, ``balance`` and ``services``: one statement each.

Resellers poll ``status`` all day. Through the ORM an answer cost two queries, a session and
one to two milliseconds of Python (docs/performance.md); here the key check and the orders
come back from one statement, compiled by SQLAlchemy once per dialect and run on a plain
DBAPI connection (``Database.read_rows``), its values converted by the columns' own types.

Nothing about keys or accounts is cached: every request's statement checks the key, and
``check_caller`` applies every rule (revoked, suspended, allow-listed addresses) to what it
read just now. The statements are built from ``caller_query`` and the catalog's own query,
so that they follow the models and any rule the key lookup gains.

The only cache is the catalog's rendering: the catalog rows are read on every ``services``
request, and the rendered list is reused while those rows, and the customer's discount, are
exactly what they were; any change to the catalog shows in the very next answer.
"""

from __future__ import annotations

import threading
from collections import namedtuple
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Select, and_, bindparam

from opensmm.accounts.models import User
from opensmm.api.auth import caller_query, check_caller, id_list_or_refuse
from opensmm.api.params import MAX_IDS, Params, as_int_id, text
from opensmm.catalog.models import Category, Service
from opensmm.catalog.service import catalog_query
from opensmm.db import Database
from opensmm.errors import DomainError
from opensmm.money import format_money
from opensmm.orders.models import Order
from opensmm.orders.service import OrderNotFound, discounted_rate

Json = Any
AnySelect = Select[*tuple[Any, ...]]


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positional: tuple[str, ...] | None  # bind names in order for "?" styles; None: by name
    processors: tuple[Callable[[Any], Any] | None, ...]
    row_type: Any

    def fetch(self, db: Database, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """The rows as the driver gives them (Money as whole 0.00001 units, ...)."""
        arguments = (
            tuple(params[name] for name in self.positional) if self.positional is not None
            else params
        )
        return db.read_rows(self.sql, arguments)

    def convert(self, rows: list[tuple[Any, ...]]) -> list[Any]:
        """Driver rows as named tuples of the columns' Python values."""
        processors = self.processors
        return [
            self.row_type(*[p(v) if p is not None and v is not None else v
                            for p, v in zip(processors, row, strict=True)])
            for row in rows
        ]


class Statement:
    """A Core ``select`` compiled once per dialect, its rows as named tuples."""

    def __init__(self, build: Callable[[], AnySelect]) -> None:
        self._build = build
        self._compiled: dict[str, _Compiled] = {}
        self._lock = threading.Lock()

    def rows(self, db: Database, **params: Any) -> list[Any]:
        compiled = self.compiled(db)
        return compiled.convert(compiled.fetch(db, params))

    def compiled(self, db: Database) -> _Compiled:
        compiled = self._compiled.get(db.dialect)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(db.dialect) or self._compile(db)
        return compiled

    def _compile(self, db: Database) -> _Compiled:
        statement = self._build()
        dialect = db.read_engine.dialect
        compiled = statement.compile(dialect=dialect)
        for name, bind in compiled.binds.items():
            # A value fixed when the statement was built (a clock, a constant) would be
            # reused forever: every parameter must be named and given at each call.
            if bind.value is not None or bind.callable is not None:
                raise RuntimeError(f"statement parameter {name!r} has a built-in value")
        columns = list(statement.selected_columns)
        processors = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in columns
        )
        positional = compiled.positiontup if dialect.positional else None
        result = _Compiled(
            sql=compiled.string,
            positional=tuple(positional) if positional is not None else None,
            processors=processors,
            row_type=namedtuple("Row", list(statement.selected_columns.keys())),
        )
        self._compiled[db.dialect] = result
        return result


def _caller() -> AnySelect:
    # caller_query builds a comparison with whatever it is given: here a named parameter.
    return cast(AnySelect, caller_query(cast(str, bindparam("key_hash"))))


_ORDER_COLUMNS = (
    Order.id.label("order_id"),
    Order.charge.label("charge"),
    Order.refunded.label("refunded"),
    Order.start_count.label("start_count"),
    Order.status.label("order_status"),
    Order.remains.label("remains"),
)
_ID_NAMES = tuple(f"id{n}" for n in range(MAX_IDS))

# The caller and one order of theirs (or none: a LEFT JOIN, so the key row still comes).
STATUS_ONE = Statement(lambda: _caller().add_columns(*_ORDER_COLUMNS).outerjoin(
    Order, and_(Order.user_id == User.id, Order.id == bindparam("order_id"))))
# The caller and up to MAX_IDS orders of theirs. Unused places hold 0 (no id is 0), so that
# one statement (one prepared plan) serves every list.
STATUS_MANY = Statement(lambda: _caller().add_columns(*_ORDER_COLUMNS).outerjoin(
    Order, and_(Order.user_id == User.id,
                Order.id.in_([bindparam(name) for name in _ID_NAMES]))))
BALANCE = Statement(lambda: _caller().add_columns(User.balance.label("balance")))
DISCOUNT = Statement(lambda: _caller().add_columns(
    User.discount_percent.label("discount_percent")))
CATALOG = Statement(lambda: catalog_query().with_only_columns(
    Service.id, Service.name, Service.type, Category.name.label("category"), Service.rate,
    Service.min_quantity, Service.max_quantity, Service.refill, Service.cancel,
    Service.dripfeed, Service.description, maintain_column_froms=True,
))


def _error(exc: DomainError) -> dict[str, str]:
    return {"error": exc.message}


def order_status(row: Any, currency: str) -> dict[str, str]:
    return {
        "charge": format_money(row.charge - row.refunded),
        "start_count": str(row.start_count or 0),
        "status": row.order_status,
        "remains": str(row.remains),
        "currency": currency,
    }


def status(db: Database, key_hash: str, params: Params, currency: str) -> Json:
    if "orders" not in params:
        raw = text(params, "order") or ""
        rows = STATUS_ONE.rows(db, key_hash=key_hash, order_id=as_int_id(raw) or 0)
        check_caller(rows[0] if rows else None, key_hash)
        row = rows[0]
        return order_status(row, currency) if row.order_id is not None else _error(
            OrderNotFound())
    raw_ids = id_list_or_refuse(db, key_hash, params.get("orders"))
    wanted = [as_int_id(raw) or 0 for raw in raw_ids]
    values = dict(zip(_ID_NAMES, wanted + [0] * (MAX_IDS - len(wanted)), strict=True))
    rows = STATUS_MANY.rows(db, key_hash=key_hash, **values)
    check_caller(rows[0] if rows else None, key_hash)
    found = {row.order_id: row for row in rows if row.order_id is not None}
    answers: dict[str, Json] = {}
    for raw, number in zip(raw_ids, wanted, strict=True):
        row = found.get(number)
        answers[raw] = order_status(row, currency) if row is not None else _error(
            OrderNotFound())
    return answers


def balance(db: Database, key_hash: str, params: Params, currency: str) -> Json:
    rows = BALANCE.rows(db, key_hash=key_hash)
    check_caller(rows[0] if rows else None, key_hash)
    return {"balance": format_money(rows[0].balance), "currency": currency}


class _CatalogCache:
    """The last catalog rows read (as the driver gave them), and their rendering per
    discount (read-only lists)."""

    def __init__(self) -> None:
        # One attribute, replaced whole: a thread sees an old pair or a new one, never a mix.
        self.state: tuple[list[Any] | None, dict[Decimal, list[dict[str, Any]]]] = (None, {})

    def answer(self, db: Database, discount: Decimal) -> list[dict[str, Any]]:
        compiled = CATALOG.compiled(db)
        rows = compiled.fetch(db, {})
        cached_rows, rendered = self.state
        if rows != cached_rows:
            rendered = {}
        found = rendered.get(discount)
        if found is None:
            found = [_service_entry(row, discount) for row in compiled.convert(rows)]
            # A copy with the new entry (bounded: a few discounts are normal, not thousands).
            rendered = {**(rendered if len(rendered) < 64 else {}), discount: found}
            self.state = (rows, rendered)
        return found


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


_catalog = _CatalogCache()


def services(db: Database, key_hash: str, params: Params, currency: str) -> Json:
    rows = DISCOUNT.rows(db, key_hash=key_hash)
    check_caller(rows[0] if rows else None, key_hash)
    return _catalog.answer(db, rows[0].discount_percent)
