"""Sending orders and refills upstream, never twice and never lost.

The API has no idempotency key, so a send is three short transactions around one call:

1. claim: a batch of ``new`` orders gets this worker's lease (``FOR UPDATE SKIP LOCKED`` on
   PostgreSQL, the single writer on SQLite), so no other worker takes them;
2. before each call: ``new`` -> ``sending`` (only if the lease is still ours and the order
   is still Pending and not canceled), committed;
3. after the call: the upstream id and ``sent``; or back to ``new`` when the upstream
   certainly did not create it; or ``held`` when nobody can tell.

A worker that dies between 2 and 3 leaves the order in ``sending``; once its lease is
over, :func:`recover` holds it for a person: it is never resent automatically. An order
claimed but not yet marked ``sending`` was certainly not sent, and is simply taken again
when the lease ends.

One exception: an upstream known to honour ``idempotency_key`` (it announced it, see
``Provider.idempotent``) makes a resend with the same key the same order. There, an order in
doubt (an in-doubt answer, or left in ``sending``) goes back to ``new`` and is resent with
its key, after a back-off, up to ``IN_DOUBT_RESENDS`` times; only then is it held. Meanwhile
it is ``resend``, not ``new``: it may exist upstream, so a customer's cancel is forwarded
(once the resend has told its upstream id), never refunded at once.

Orders and refills go through the same steps; what the two share is written once in
``opensmm.fulfillment.pipeline`` (its docstring says why each kind keeps its own claim and
record functions). The worker drives both through one loop (``Worker._send_group``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session

from opensmm.catalog.models import Service
from opensmm.catalog.service import PROVIDER, SIMULATOR
from opensmm.db import Database
from opensmm.events import Actor
from opensmm.fulfillment import pipeline, routing
from opensmm.fulfillment.config import Tally, WorkerConfig
from opensmm.fulfillment.protocol import (
    Accepted,
    Fulfillment,
    InDoubt,
    NotSent,
    Outbound,
    OutboundRefill,
    SendOutcome,
)
from opensmm.fulfillment.provider import quantity_to_send
from opensmm.fulfillment.states import CANCEL_REQUESTED, HELD, NEW, RESEND
from opensmm.orders import events
from opensmm.orders import statuses as st
from opensmm.orders.models import Order, OrderEvent
from opensmm.orders.service import event_row, record
from opensmm.providers.models import Provider
from opensmm.refills import statuses as rs
from opensmm.refills.models import Refill

log = logging.getLogger("opensmm.fulfillment")

SENDABLE_MODES = (PROVIDER, SIMULATOR)
LocalMode = Callable[[str], Fulfillment | None]


@dataclass(frozen=True)
class ClaimedOrder:
    outbound: Outbound
    fulfillment: str
    provider_id: int | None


@dataclass(frozen=True)
class ClaimedRefill:
    outbound: OutboundRefill
    fulfillment: str
    provider_id: int | None


# --- recovery ------------------------------------------------------------------------


IN_DOUBT_RESENDS = 5


def recover(db: Database, config: WorkerConfig, tally: Tally) -> None:
    """Hold every order and refill left in ``sending`` by a worker whose lease ran out;
    an order at an idempotent upstream is resent with its key instead (if tries are left)."""
    now = db.now()
    with db.read() as session:
        if not any(pipeline.any_stuck_sending(session, m, now) for m in (Order, Refill)):
            return
    detail = "a worker stopped (killed or crashed) in the middle of sending it"
    with db.write() as session:
        stuck = pipeline.stuck_sending(session, Order, now)
        for order in stuck:
            if _resend_in_doubt(session, order, detail, config, now):
                tally.retried += 1
                continue
            order.send_state = HELD
            order.held_reason = pipeline.in_doubt_reason("created it", detail, order.id, "order")
            record(session, order, "worker", events.HELD, reason=order.held_reason)
            log.error("ALERT order %s held: %s", order.id, order.held_reason)
        stuck_refills = pipeline.stuck_sending(session, Refill, now)
        for refill in stuck_refills:
            refill.send_state = HELD
            refill.held_reason = pipeline.in_doubt_reason("opened it", detail, refill.id, "refill")
            log.error("ALERT refill %s held: %s", refill.id, refill.held_reason)
        tally.held += sum(order.send_state == HELD for order in stuck) + len(stuck_refills)


def _resend_in_doubt(
    session: Session, order: Order, reason: str, config: WorkerConfig, now: datetime
) -> bool:
    """Put an in-doubt order back to be resent with its idempotency key, when its upstream
    honours keys and tries are left; False when it must be held."""
    if order.provider_id is None:
        return False
    if not session.scalar(select(Provider.idempotent).where(Provider.id == order.provider_id)):
        return False
    resent = _resends(session, order)
    if resent >= IN_DOUBT_RESENDS:
        return False
    pipeline.set_retry(order, f"in doubt ({reason}); resending with its idempotency key",
                       config, now)
    order.send_state = RESEND
    record(session, order, "worker", events.RESENDING, reason=reason, attempt=resent + 1)
    log.warning("order %s in doubt, to be resent with its idempotency key: %s", order.id, reason)
    return True


def _resends(session: Session, order: Order) -> int:
    """How often the order was put back to be resent in doubt (0: it never was in doubt)."""
    return session.scalar(
        select(func.count()).select_from(OrderEvent)
        .where(OrderEvent.order_id == order.id, OrderEvent.code == events.RESENDING.code)
    ) or 0


# --- orders --------------------------------------------------------------------------


def _new_order_filter(now: datetime, blocked: Collection[int]) -> list[ColumnElement[bool]]:
    return [
        _sendable(),
        Order.status == st.PENDING,
        Order.fulfillment.in_(SENDABLE_MODES),
        *pipeline.due(Order, now),
        *pipeline.not_blocked(blocked),
    ]


def _sendable() -> ColumnElement[bool]:
    """New and not canceled; or to be resent in doubt (with a cancel too: the resend tells
    its upstream id, then the cancel is forwarded)."""
    return or_(and_(Order.send_state == NEW, Order.cancel_state.is_(None)),
               Order.send_state == RESEND)


def outbound_for(order: Order, service: Service) -> Outbound:
    order_type = str(order.fields.get("type") or service.type)
    upstream_service = service.id
    if order.fulfillment == PROVIDER:
        upstream_service = int(order.provider_service_id or 0)  # the route it is on
    return Outbound(
        order_id=order.id,
        service=upstream_service,
        type=order_type,
        link=order.link,
        quantity=quantity_to_send(order_type, order.quantity),
        units=order.units,
        runs=order.runs,
        interval=order.interval,
        fields={name: value for name, value in order.fields.items() if name != "type"},
        idempotency_key=idempotency_key_for(order),
    )


def idempotency_key_for(order: Order) -> str:
    """The key an order is sent upstream with (spec §7): the same on every resend of the
    order, and not another order's, even on a panel whose database was started afresh (its
    ids begin again, its creation times do not)."""
    created = int(order.created_at.timestamp() * 1_000_000)
    return f"opensmm-{order.id}-{created:x}"


def _mapping_problem(order: Order, service: Service) -> str | None:
    if order.fulfillment != PROVIDER:
        return None
    if service.fulfillment != PROVIDER or service.provider_id is None:
        return "its service no longer sends to a provider"
    if not order.provider_service_id:
        return "its route has no provider service ID"
    return None


def claim_orders(
    db: Database,
    owner: str,
    config: WorkerConfig,
    blocked: Collection[int],
    local: LocalMode,
    tally: Tally,
) -> list[ClaimedOrder]:
    """Lease a batch of orders to send. Orders of a local mode (the simulator) cannot end
    in doubt: they are sent right here, in the claim's transaction."""
    now = db.now()
    conditions = _new_order_filter(now, blocked)
    with db.read() as session:
        if session.scalar(select(Order.id).where(*conditions).limit(1)) is None:
            return []
    claimed: list[ClaimedOrder] = []
    with db.write() as session:
        rows = session.execute(
            select(Order, Service)
            .join(Service, Service.id == Order.service_id)
            .where(*conditions)
            .order_by(Order.id)
            .limit(config.batch)
            .with_for_update(skip_locked=True, of=Order)
        ).all()
        routes = routing.routes_of(session, {service.id for _, service in rows})
        for order, service in rows:
            problem = _mapping_problem(order, service)
            if problem is not None:
                _hold(session, order, f"Not sent: {problem}. Fix the service, then resend it.")
                tally.held += 1
                continue
            if order.send_state == NEW and routing.route_gone(order, routes):
                # Staff removed its route: it was never created anywhere, so it starts
                # again on the service's routes (next pass, with their providers' state).
                # An order to resend stays with its provider: it may exist there.
                tally.routed += routing.restart(session, order, now)
                continue
            outbound = outbound_for(order, service)
            mode = local(order.fulfillment)
            if mode is not None:
                outcome = mode.send(outbound)
                if isinstance(outcome, Accepted):
                    _mark_sent(
                        session, order, outcome.upstream_id, mode.name, config, now, local=True
                    )
                    tally.sent += 1
                else:
                    _hold(session, order, f"Not sent: {_reason(outcome)}")
                    tally.held += 1
                continue
            order.lease_owner = owner
            order.lease_until = now + config.lease
            claimed.append(ClaimedOrder(outbound, order.fulfillment, order.provider_id))
    return claimed


def _reason(outcome: SendOutcome) -> str:
    return outcome.reason if isinstance(outcome, NotSent | InDoubt) else "accepted"


def _hold(session: Session, order: Order, reason: str) -> None:
    order.send_state = HELD
    order.held_reason = reason
    order.lease_owner = order.lease_until = None
    record(session, order, "worker", events.HELD, reason=reason)
    log.error("ALERT order %s held: %s", order.id, reason)


def _mark_sent(
    session: Session,
    order: Order,
    upstream_id: int,
    by: str,
    config: WorkerConfig,
    now: datetime,
    *,
    local: bool,
) -> None:
    pipeline.set_sent(order, upstream_id, now)
    # A cancel asked for while it was being sent goes out at the next pass; the simulator
    # tells at the first look when it will change next.
    soon = local or order.cancel_state == CANCEL_REQUESTED
    order.next_poll_at = now if soon else config.next_poll(now)
    record(session, order, "worker", events.SENT, by=Actor.of(by), upstream=upstream_id)


def release(db: Database, owner: str, order_ids: Sequence[int]) -> None:
    """Give back claimed orders this worker will not send now (the provider failed)."""
    if not order_ids:
        return
    with db.write() as session:
        session.execute(
            update(Order)
            .where(Order.id.in_(order_ids), Order.lease_owner == owner,
                   Order.send_state.in_((NEW, RESEND)))
            .values(lease_owner=None, lease_until=None)
            .execution_options(synchronize_session=False)
        )


def mark_sending(db: Database, owner: str, config: WorkerConfig, order_id: int) -> bool:
    """``new`` -> ``sending``, committed before the call; False if the order is no longer
    ours to send (another worker took it after our lease ended, or it was canceled)."""
    still = (Order.status == st.PENDING,
             or_(Order.cancel_state.is_(None), Order.send_state == RESEND))
    return pipeline.mark_sending(db, Order, order_id, owner, config, still)


def record_send(
    db: Database,
    owner: str,
    config: WorkerConfig,
    claim: ClaimedOrder,
    outcome: SendOutcome,
    by: str,
    tally: Tally,
) -> None:
    """Write down what the call did. Only the worker that marked it ``sending`` may; a
    late answer still counts if the order was held meanwhile (the lease ran out)."""
    now = db.now()
    order_id = claim.outbound.order_id
    with db.write() as session:
        order = pipeline.lock_for_answer(session, Order, order_id, owner)
        if order is None:
            log.error(
                "order %s: the answer to our send (%s) came after someone else took it over",
                order_id,
                _reason(outcome) if not isinstance(outcome, Accepted) else "accepted",
            )
            return
        if isinstance(outcome, Accepted):
            _mark_sent(session, order, outcome.upstream_id, by, config, now, local=False)
            routing.estimate_charge(session, order)
            tally.sent += 1
        elif not _resends(session, order) and routing.reroute_refused(
            session, order, outcome, now
        ):
            # Never for an order once in doubt: an earlier send may exist at this provider,
            # and moving it could place it at two.
            tally.routed += 1
        elif isinstance(outcome, NotSent) and outcome.retry:
            pipeline.set_retry(order, outcome.reason, config, now)
            if _resends(session, order):
                order.send_state = RESEND  # an earlier send may still exist upstream
            tally.retried += 1
        elif isinstance(outcome, NotSent):
            _hold(session, order, f"Not sent: {outcome.reason}. Fix it and resend, or cancel it.")
            tally.held += 1
        elif _resend_in_doubt(session, order, outcome.reason, config, now):
            tally.retried += 1
        else:
            reason = pipeline.in_doubt_reason("created it", outcome.reason, order.id, "order")
            _hold(session, order, reason)
            tally.held += 1


# --- refills -------------------------------------------------------------------------


def claim_refills(
    db: Database,
    owner: str,
    config: WorkerConfig,
    blocked: Collection[int],
    local: LocalMode,
    tally: Tally,
) -> list[ClaimedRefill]:
    now = db.now()
    conditions = [
        Refill.send_state == NEW,
        Refill.status == rs.PENDING,
        *pipeline.due(Refill, now),
        *pipeline.not_blocked(blocked),
    ]
    joined = and_(Order.id == Refill.order_id, Order.upstream_id.is_not(None))
    with db.read() as session:
        probe = select(Refill.id).join(Order, joined).where(*conditions).limit(1)
        if session.scalar(probe) is None:
            return []
    claimed: list[ClaimedRefill] = []
    with db.write() as session:
        rows = session.execute(
            select(Refill, Order.fulfillment, Order.provider_id, Order.upstream_id)
            .join(Order, joined)
            .where(*conditions)
            .order_by(Refill.id)
            .limit(config.batch)
            .with_for_update(skip_locked=True, of=Refill)
        ).all()
        for refill, fulfillment, provider_id, upstream_id in rows:
            outbound = OutboundRefill(refill.id, refill.order_id, int(upstream_id or 0))
            mode = local(fulfillment)
            if mode is not None:
                outcome = mode.send_refill(outbound)
                _record_refill(session, refill, outcome, mode.name, config, now, tally)
                continue
            refill.lease_owner = owner
            refill.lease_until = now + config.lease
            claimed.append(ClaimedRefill(outbound, fulfillment, provider_id))
    return claimed


def mark_refill_sending(db: Database, owner: str, config: WorkerConfig, refill_id: int) -> bool:
    still = (Refill.status == rs.PENDING,)
    return pipeline.mark_sending(db, Refill, refill_id, owner, config, still)


def record_refill_send(
    db: Database,
    owner: str,
    config: WorkerConfig,
    claim: ClaimedRefill,
    outcome: SendOutcome,
    by: str,
    tally: Tally,
) -> None:
    with db.write() as session:
        refill = pipeline.lock_for_answer(session, Refill, claim.outbound.refill_id, owner)
        if refill is None:
            log.error("refill %s: our send's answer came too late", claim.outbound.refill_id)
            return
        _record_refill(session, refill, outcome, by, config, db.now(), tally)


def _record_refill(
    session: Session,
    refill: Refill,
    outcome: SendOutcome,
    by: str,
    config: WorkerConfig,
    now: datetime,
    tally: Tally,
) -> None:
    refill.lease_owner = refill.lease_until = None
    if isinstance(outcome, Accepted):
        pipeline.set_sent(refill, outcome.upstream_id, now)
        refill.next_poll_at = now
        session.add(
            event_row(
                refill.order_id, "worker", events.REFILL_SENT,
                refill=refill.id, by=Actor.of(by), upstream=outcome.upstream_id,
            )
        )
        tally.refills_sent += 1
        return
    if isinstance(outcome, NotSent) and outcome.retry:
        pipeline.set_retry(refill, outcome.reason, config, now)
        tally.retried += 1
        return
    if isinstance(outcome, NotSent):
        refill.send_state = HELD
        refill.held_reason = f"Not sent: {outcome.reason}"
    else:
        refill.send_state = HELD
        refill.held_reason = pipeline.in_doubt_reason(
            "opened it", outcome.reason, refill.id, "refill"
        )
    session.add(
        event_row(
            refill.order_id, "worker", events.REFILL_HELD,
            refill=refill.id, reason=refill.held_reason,
        )
    )
    log.error("ALERT refill %s held: %s", refill.id, refill.held_reason)
    tally.held += 1
