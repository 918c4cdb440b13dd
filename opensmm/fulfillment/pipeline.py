"""What the order and refill pipelines share: the steps of a send, and the queue's filters.

An order and a refill go upstream the same way: ``new`` -> ``sending`` (committed before the
call, only by the worker holding the lease) -> ``sent`` with the upstream's id, or back to
``new`` (certainly not created), or ``held`` (nobody can tell: never resent by itself). The
rows have the same send columns (``send_state``, ``upstream_id``, ``sent_at``,
``next_poll_at``, ``lease_owner``, ``lease_until``, ``attempts``, ``held_reason``,
``alert``), so each step that only touches those is written once, here, for both models.

What differs stays with each kind (``outbox``, ``tracking``, ``held``): which rows may be
claimed (a Pending, uncanceled order; a Pending refill of an order already upstream), what
is sent (an ``Outbound`` built from the order and its service; an ``OutboundRefill`` of the
upstream order), where the history goes (the order's own events), and what an order has that
a refill has not (a cancel asked for while it was being sent, the service mapping checked
before the call, claimed orders handed back when a provider fails). Those differences are
few, but each one guards a rule of "never sent twice" (a canceled order must not go out; a
refill of an order not upstream has nothing to refer to); spelled out in each kind's own
claim and record functions they can be read and tested as they are, where one generic
pipeline would hide them behind parameters.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session

from opensmm.db import Database
from opensmm.fulfillment.config import WorkerConfig
from opensmm.fulfillment.states import HELD, NEW, RESEND, SENDING, SENT
from opensmm.orders.models import Order
from opensmm.refills.models import Refill

Item = Order | Refill
Model = type[Order] | type[Refill]
M = TypeVar("M", Order, Refill)


def not_blocked(blocked: Collection[int]) -> list[ColumnElement[bool]]:
    """Leave out the orders (or the refills' orders: join ``Order``) of ``blocked`` providers:
    backed off, or not to be sent to for now."""
    if not blocked:
        return []
    return [or_(Order.provider_id.is_(None), Order.provider_id.not_in(list(blocked)))]


def due(model: Model, now: datetime) -> list[ColumnElement[bool]]:
    """Rows whose next try has come and whose lease (if any) has run out."""
    return [
        or_(model.next_poll_at.is_(None), model.next_poll_at <= now),
        or_(model.lease_until.is_(None), model.lease_until < now),
    ]


def postpone(db: Database, model: Model, item_ids: Sequence[int], until: datetime) -> None:
    """Look at these rows again at ``until`` (their provider is backed off till then)."""
    if not item_ids:
        return
    with db.write() as session:
        session.execute(
            update(model)
            .where(model.id.in_(list(item_ids)))
            .values(next_poll_at=until, lease_owner=None)
            .execution_options(synchronize_session=False)
        )


def in_doubt_reason(what: str, detail: str, item_id: int, kind: str) -> str:
    command = f"opensmm {kind} resolve {item_id}"
    return (
        f"In doubt: {detail}. The provider may or may not have {what}; never resent "
        f"automatically. Check at the provider, then `{command} --upstream-id N` (it exists) "
        f"or `{command} --resend` (it does not)."
    )


def stuck_sending(session: Session, model: type[M], now: datetime) -> Sequence[M]:
    """Rows left in ``sending`` by a worker whose lease ran out, locked (others skipped)."""
    return session.scalars(
        select(model)
        .where(model.send_state == SENDING, model.lease_until < now)
        .with_for_update(skip_locked=True)
    ).all()


def any_stuck_sending(session: Session, model: Model, now: datetime) -> bool:
    probe = select(model.id).where(model.send_state == SENDING, model.lease_until < now)
    return session.scalar(probe.limit(1)) is not None


def mark_sending(
    db: Database,
    model: Model,
    item_id: int,
    owner: str,
    config: WorkerConfig,
    still: Collection[ColumnElement[bool]],
) -> bool:
    """``new`` -> ``sending``, committed before the call, only if the row is still ``owner``'s
    and still meets ``still`` (the kind's own rule: Pending, not canceled...); False if not."""
    with db.write() as session:
        changed = session.execute(
            update(model)
            .where(
                model.id == item_id,
                model.send_state.in_((NEW, RESEND)),
                model.lease_owner == owner,
                *still,
            )
            .values(send_state=SENDING, lease_until=db.now() + config.sending_lease)
            .execution_options(synchronize_session=False)
        )
        return bool(changed.rowcount == 1)  # type: ignore[attr-defined]


def lock_for_answer(
    session: Session, model: type[M], item_id: int, owner: str
) -> M | None:
    """The row a send's answer is written to, locked: only the worker that marked it
    ``sending`` may write it, and a late answer still counts if the row was held meanwhile
    (its lease ran out) but not resolved (no upstream id yet)."""
    return session.scalar(
        select(model)
        .where(
            model.id == item_id,
            model.lease_owner == owner,
            model.send_state.in_((SENDING, HELD)),
            model.upstream_id.is_(None),
        )
        .with_for_update()
    )


def set_sent(item: Item, upstream_id: int, now: datetime) -> None:
    """The upstream has it as ``upstream_id`` (the caller sets when to look at it next)."""
    item.send_state = SENT
    item.upstream_id = upstream_id
    item.sent_at = now
    item.held_reason = item.alert = None
    item.attempts = 0
    item.lease_owner = item.lease_until = None


def set_retry(item: Item, reason: str, config: WorkerConfig, now: datetime) -> None:
    """Certainly not created upstream, and worth another try after the back-off."""
    item.send_state = NEW
    item.attempts += 1
    item.next_poll_at = now + config.backoff(item.attempts)
    item.lease_owner = item.lease_until = None
    item.alert = f"Waiting to be sent: {reason}"


def settle_exists(item: Item, upstream_id: int, now: datetime) -> None:
    """A person found a held row upstream as ``upstream_id``: follow it from there."""
    _unhold(item)
    item.send_state = SENT
    item.upstream_id = upstream_id
    item.sent_at = item.sent_at or now
    item.next_poll_at = now


def settle_resend(item: Item) -> None:
    """A person found that a held row was never created upstream: send it again."""
    _unhold(item)
    item.send_state = NEW
    item.upstream_id = None
    item.next_poll_at = None


def _unhold(item: Item) -> None:
    item.held_reason = None
    item.lease_owner = item.lease_until = None
    item.attempts = 0
