"""``Idempotency-Key`` on ``add`` (spec §7): a retried request is the same order.

A client whose ``add`` timed out cannot know whether the order exists; without a key, trying
again may create and charge a second one. With a key (a header, or the ``idempotency_key``
parameter), the same key from the same account with the same parameters, within
``KEEP_FOR``, answers the first order and creates and charges nothing; with other
parameters it is refused. Keys of different accounts never meet.

The key's row is written *before* the order, in the same transaction: a concurrent request
with the same key waits on it at the unique index (PostgreSQL) or on the write lock (SQLite),
then finds it. If the order is refused, the row is rolled back with it, and the key may be
used again.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import datetime, timedelta

import orjson
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from opensmm.db import Database, utcnow
from opensmm.db.insert import insert_for
from opensmm.errors import DomainError
from opensmm.i18n import N_
from opensmm.orders.models import IdempotencyKey

KEEP_FOR = timedelta(hours=24)
# Every API v2 answer says so (an extension other panels do not send): a reseller's opensmm
# learns from it that resending an in-doubt ``add`` with the same key is safe here.
ANNOUNCE_HEADER = "X-Opensmm-Idempotency"
ANNOUNCE_VALUE = "add"
_KEY = re.compile(r"[A-Za-z0-9_-]{1,100}")
# What is not part of the order: who asks, what for, and the key itself.
_NOT_PARAMETERS = frozenset({"key", "action", "idempotency_key"})


class BadIdempotencyKey(DomainError):
    message = N_("An idempotency key is 1 to 100 letters, digits, - or _")


class KeyUsedForAnotherOrder(DomainError):
    message = N_("This idempotency key was used for another order")


def check_key(raw: object) -> str:
    if not isinstance(raw, str) or not _KEY.fullmatch(raw):
        raise BadIdempotencyKey()
    return raw


def params_hash(params: Mapping[str, object]) -> str:
    kept = {name: str(value) for name, value in params.items() if name not in _NOT_PARAMETERS}
    return hashlib.sha256(orjson.dumps(kept, option=orjson.OPT_SORT_KEYS)).hexdigest()


def claim(session: Session, user_id: int, key: str, digest: str) -> int | None:
    """Reserve ``key`` for the order about to be placed: ``None`` if it is ours to place;
    the earlier order's id if this is a retry of it. Refuses a key used for another order."""
    now = utcnow()
    # An expired row of this key: the key is free again.
    session.execute(delete(IdempotencyKey).where(
        IdempotencyKey.user_id == user_id, IdempotencyKey.key == key,
        IdempotencyKey.created_at < now - KEEP_FOR))
    inserted = session.execute(
        insert_for(session, IdempotencyKey)
        .values(user_id=user_id, key=key, params_hash=digest, order_id=None, created_at=now)
        .on_conflict_do_nothing(index_elements=["user_id", "key"])
        .returning(IdempotencyKey.id)
    ).first()
    if inserted is not None:
        return None
    earlier = session.execute(
        select(IdempotencyKey.params_hash, IdempotencyKey.order_id)
        .where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
    ).one()
    if earlier.params_hash != digest or earlier.order_id is None:
        raise KeyUsedForAnotherOrder()
    return int(earlier.order_id)


def record(session: Session, user_id: int, key: str, order_id: int) -> None:
    session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
        .values(order_id=order_id)
    )


def purge_expired(db: Database, now: datetime | None = None) -> int:
    """Forget keys older than ``KEEP_FOR`` (the worker calls it now and then)."""
    with db.write() as session:
        result = session.execute(delete(IdempotencyKey).where(
            IdempotencyKey.created_at < (now or utcnow()) - KEEP_FOR))
        return int(getattr(result, "rowcount", 0) or 0)
