"""Moving money: the only code that changes a balance.

A movement, inside the caller's transaction:
1. lock the account's row (``SELECT … FOR NO KEY UPDATE``; SQLite's ``BEGIN IMMEDIATE`` already
   serializes writers), so that concurrent movements on one account queue up;
2. insert the ledger entry under its unique key, with the balance it leaves; if the key
   exists, the movement already happened and nothing more is done (a replay pays nothing);
3. ``UPDATE users SET balance = balance + :amount WHERE id = :id AND balance + :amount >= 0``
   and check that one row changed: the atomic guard, backed by a CHECK constraint.

Lock order everywhere: an order's row, then its account's row, then the ledger.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Update, bindparam, func, literal_column, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from opensmm.accounts.models import User
from opensmm.db import Money, utcnow
from opensmm.db.insert import dialect_insert
from opensmm.db.statements import Statement
from opensmm.db.types import JSONText
from opensmm.errors import DomainError
from opensmm.events import Actor, EventType, dumps
from opensmm.events import params as event_params
from opensmm.i18n import N_
from opensmm.ledger import events
from opensmm.ledger.models import DEPOSIT, LedgerEntry


class NotEnoughFunds(DomainError):
    message = N_("Not enough funds on balance")


def _insert_ignoring_duplicates(dialect_name: str) -> sqlite.Insert | postgresql.Insert:
    return dialect_insert(dialect_name, LedgerEntry).on_conflict_do_nothing(
        index_elements=["key"])


# The three steps of a movement, compiled once per dialect (opensmm.db.statements): post runs
# on every order, refund and deposit, where building them through the ORM cost most of the
# time. Every value is a named parameter.
#
# FOR NO KEY UPDATE, not FOR UPDATE: the order (or refill) this movement pays for was
# inserted earlier in the same transaction, and its foreign key holds a KEY SHARE lock on the
# account's row. FOR UPDATE conflicts with KEY SHARE, so two concurrent orders of one
# account would wait on each other (a deadlock); FOR NO KEY UPDATE still serializes every
# movement on the account. (SQLite has no row locks: BEGIN IMMEDIATE serializes writers.)
_LOCK_ACCOUNT = Statement(
    lambda: select(User.balance).where(User.id == bindparam("user_id"))
    .with_for_update(key_share=True)
)
_INSERT_ENTRY = Statement.by_dialect(
    lambda dialect_name: _insert_ignoring_duplicates(dialect_name)
    .values(
        user_id=bindparam("user_id"),
        amount=bindparam("amount"),
        balance_after=bindparam("balance_after"),
        kind=bindparam("kind"),
        key=bindparam("key"),
        memo=bindparam("memo"),
        code=bindparam("code"),
        # JSON text made by opensmm.events.dumps (faster than the JSON type's processor).
        params=bindparam("params", type_=JSONText()),
        order_id=bindparam("order_id"),
        created_at=bindparam("created_at"),
    )
    .returning(LedgerEntry.id)
)


def _guarded_update() -> Update:
    amount = bindparam("amount", type_=Money())
    # literal_column: the bound is zero in any unit, and a statement holds no fixed values.
    return (
        update(User)
        .where(User.id == bindparam("user_id"), User.balance + amount >= literal_column("0"))
        .values(balance=User.balance + amount)
    )


_MOVE_BALANCE = Statement(_guarded_update)
_ENTRY_EXISTS = Statement(
    lambda: select(LedgerEntry.id).where(LedgerEntry.key == bindparam("key"))
)


def already_posted(session: Session, key: str) -> bool:
    return bool(_ENTRY_EXISTS.run(session, key=key))


def post(
    session: Session,
    *,
    user_id: int,
    amount: Decimal,
    kind: str,
    key: str,
    event: EventType,
    params: Mapping[str, Any],
    memo: str = "",
    order_id: int | None = None,
) -> bool:
    """Move ``amount`` (negative: a debit) once per ``key``. False if already moved.

    ``event`` and ``params`` say what the entry is (opensmm.ledger.events, values made by
    ``opensmm.events.params``); ``memo`` is only for words a person typed.

    Raises ``NotEnoughFunds`` when a debit would take the balance below zero; the caller's
    transaction must then be rolled back (the unit of work does that).
    """
    [account] = _LOCK_ACCOUNT.run(session, user_id=user_id)
    after = account.balance + amount
    if after < 0:
        if already_posted(session, key):
            return False
        raise NotEnoughFunds()
    inserted = _INSERT_ENTRY.run(
        session,
        user_id=user_id,
        amount=amount,
        balance_after=after,
        kind=kind,
        key=key,
        memo=memo,
        code=event.code,
        params=dumps(params),
        order_id=order_id,
        created_at=utcnow(),
    )
    if not inserted:
        return False
    if _MOVE_BALANCE.run_count(session, user_id=user_id, amount=amount) != 1:
        raise NotEnoughFunds()
    return True


@dataclass(frozen=True)
class Mismatch:
    user_id: int
    name: str
    balance: Decimal
    entries_total: Decimal


def check(session: Session) -> list[Mismatch]:
    """Every account whose balance is not the sum of its ledger entries."""
    totals = (
        select(LedgerEntry.user_id, func.sum(LedgerEntry.amount).label("total"))
        .group_by(LedgerEntry.user_id)
        .subquery()
    )
    total = func.coalesce(totals.c.total, Decimal(0))
    rows = session.execute(
        select(User.id, User.name, User.balance, total).outerjoin(
            totals, totals.c.user_id == User.id
        )
    ).all()
    mismatches = []
    for user_id, name, balance, entries_total in rows:
        if balance != entries_total:
            mismatches.append(Mismatch(user_id, name, balance, entries_total))
    return mismatches


def add_funds(session: Session, user_id: int, amount: Decimal, *, memo: str, actor: str) -> bool:
    """Credit (or, negative, take back) funds under a fresh key: for seeding a panel (the demo,
    tests). Staff deposits go through ``opensmm.ledger.deposits.staff_deposit``: audited, with
    a memo, and replay-safe."""

    if amount == 0:
        raise DomainError(N_('The amount must not be zero'))
    if memo:
        event = events.FUNDS_WITH_MEMO
    else:
        event = events.FUNDS_ADDED if amount > 0 else events.FUNDS_REMOVED
    return post(
        session,
        user_id=user_id,
        amount=amount,
        kind=DEPOSIT,
        key=f"{DEPOSIT}:{uuid.uuid4().hex}",
        event=event,
        params=event_params(actor=Actor.of(actor)),
        memo=memo,
    )
