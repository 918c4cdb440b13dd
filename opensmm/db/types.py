"""Column types shared by every domain."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from opensmm.money import from_minor, to_minor

# Ids are INTEGER columns: 32 bits on PostgreSQL, where binding a larger number fails
# ("integer out of range") instead of finding nothing. Such a number names no row.
MAX_ID = 2**31 - 1


def parse_id(value: object) -> int | None:
    """A positive id from what a caller sent (ASCII digits), or None; never an exception."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    raw = str(value).strip()
    if raw.isascii() and raw.isdigit() and len(raw) <= 10:
        number = int(raw)
        if 0 < number <= MAX_ID:
            return number
    return None


def parse_ids(raws: Iterable[str]) -> list[int]:
    """``parse_id`` of many already stripped strings (a 100-id ``status``), 0 for each that
    is no id (no row has id 0)."""
    return [
        int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 10 and
        0 < int(raw) <= MAX_ID else 0
        for raw in raws
    ]


class Money(TypeDecorator[Decimal]):
    """A ``Decimal`` stored as a whole number of 0.00001 (see ``opensmm.money``)."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if isinstance(value, int):
            value = Decimal(value)
        return to_minor(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else from_minor(int(value))


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both databases (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        result: datetime = value.astimezone(UTC)
        return result

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


def utcnow() -> datetime:
    return datetime.now(UTC)


class JSONText(TypeDecorator[str]):
    """A JSON column's parameter given as JSON text already (``opensmm.events.dumps``), for
    compiled statements on hot paths: the JSON type's own serializer costs several times
    more. On PostgreSQL the parameter is still cast to ``json``."""

    impl = JSON
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> None:
        return None
