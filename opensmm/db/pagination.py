"""Pages of query results, for lists that people scroll through (orders, ledger, users)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")

PER_PAGE = 25
MAX_PAGE = 100_000


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    number: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def page_number(raw: object) -> int:
    """A page number from a query string: anything odd is page 1."""
    text = str(raw or "").strip()
    if not (text.isascii() and text.isdigit()):
        return 1
    return min(max(int(text), 1), MAX_PAGE)


def paginate(
    session: Session, query: Select[*tuple[Any, ...]], number: int, per_page: int = PER_PAGE
) -> Page[Any]:
    """One page of ``query`` (whose ORDER BY must be stable) and the total count."""
    counted = select(func.count()).select_from(query.order_by(None).subquery())
    total = int(session.scalar(counted) or 0)
    number = min(max(number, 1), max(1, -(-total // per_page)))
    rows = session.execute(query.limit(per_page).offset((number - 1) * per_page)).all()
    items = [row[0] if len(row) == 1 else tuple(row) for row in rows]
    return Page(items=items, number=number, per_page=per_page, total=total)
