"""Reading the ledger: a customer's history, the staff view of every movement."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from opensmm.accounts.models import User
from opensmm.db.pagination import Page, paginate
from opensmm.ledger.models import AFFILIATE, CHARGE, DEPOSIT, PAYMENT, REFUND, LedgerEntry

KINDS = (DEPOSIT, PAYMENT, CHARGE, REFUND, AFFILIATE)


@dataclass(frozen=True)
class EntryRow:
    entry: LedgerEntry
    user_name: str


def history(
    session: Session, *, user_id: int | None = None, kind: str | None = None, page: int = 1
) -> Page[EntryRow]:
    """Ledger entries, newest first; one customer's with ``user_id``."""
    query = select(LedgerEntry, User.name).join(User, User.id == LedgerEntry.user_id)
    if user_id is not None:
        query = query.where(LedgerEntry.user_id == user_id)
    if kind in KINDS:
        query = query.where(LedgerEntry.kind == kind)
    result = paginate(session, query.order_by(LedgerEntry.id.desc()), page)
    rows = [EntryRow(entry, name) for entry, name in result.items]
    return Page(items=rows, number=result.number, per_page=result.per_page, total=result.total)
