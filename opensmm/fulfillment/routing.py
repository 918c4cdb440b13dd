"""Routes with failover: which upstream an order goes to, and when it moves to the next.

A provider service has ordered routes (``opensmm.catalog.routes``). An order is placed on
route 1 and keeps its route in ``provider_id`` + ``provider_service_id``. It moves on
only while it is ``new``: never sent, or answered with a refusal that proves the upstream
created nothing. An order in ``sending`` or ``held`` (in doubt) never moves, so an order is
never at two providers: the exactly-once rules of ``outbox`` hold across routes.

It moves to the next route (the first later one whose provider can take orders now):

- at once, when its route refused it with such a proof (``NotSent.reroute``: not enough
  funds, the key refused, the service unknown or disabled upstream);
- at once, when its route's provider is disabled by staff;
- when it has waited ``route_failover_minutes`` on a provider that is down (backed off) or
  whose sends are paused.

Routes are only tried forward: an order never goes back to a route it left. When no later
route can take it, what happened before routes existed happens: back off and try again,
or held for a person.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import cast

from sqlalchemy import Table, bindparam, or_, select, update
from sqlalchemy.orm import Session

from opensmm.catalog.models import ServiceRoute
from opensmm.catalog.service import PROVIDER
from opensmm.catalog.types import Units, service_type
from opensmm.db import Database
from opensmm.fulfillment.config import Tally, WorkerConfig
from opensmm.fulfillment.health import ProviderView
from opensmm.fulfillment.protocol import NotSent, SendOutcome
from opensmm.fulfillment.states import NEW
from opensmm.money import QUANTUM
from opensmm.orders import events
from opensmm.orders import statuses as st
from opensmm.orders.models import Order
from opensmm.orders.service import record
from opensmm.providers.models import Provider

log = logging.getLogger("opensmm.fulfillment")

# A ``charge`` above this in an upstream's answer is no charge (and would not fit).
MAX_CHARGE = Decimal(10) ** 12


def _open_to_orders(provider: Provider, now: datetime) -> bool:
    return (
        provider.enabled
        and (provider.backoff_until is None or provider.backoff_until <= now)
        and (provider.send_paused_until is None or provider.send_paused_until <= now)
    )


def _routes(session: Session, order: Order) -> list[tuple[ServiceRoute, Provider]]:
    return [
        (route, provider)
        for route, provider in session.execute(
            select(ServiceRoute, Provider)
            .join(Provider, Provider.id == ServiceRoute.provider_id)
            .where(ServiceRoute.service_id == order.service_id)
            .order_by(ServiceRoute.position, ServiceRoute.id)
        )
    ]


def route_number(rows: Sequence[tuple[ServiceRoute, Provider]], order: Order) -> int | None:
    """The order's route's number among ``rows`` (1 is tried first); None if it is gone."""
    for number, (route, _) in enumerate(rows, start=1):
        if (route.provider_id, route.provider_service_id) == (
            order.provider_id,
            order.provider_service_id,
        ):
            return number
    return None


def _next(
    rows: Sequence[tuple[ServiceRoute, Provider]], current: int, now: datetime
) -> tuple[int, ServiceRoute] | None:
    for number, (route, provider) in enumerate(rows[current:], start=current + 1):
        if _open_to_orders(provider, now):
            return number, route
    return None


def _try_next(session: Session, order: Order, reason: str, now: datetime) -> bool:
    """Move the order to the first later route whose provider takes orders now; False
    if there is none (or the order's own route was removed: a person decides)."""
    rows = _routes(session, order)
    current = route_number(rows, order)
    found = _next(rows, current, now) if current is not None else None
    if current is None or found is None:
        return False
    move(session, order, current, found, reason, now)
    return True


def move(
    session: Session, order: Order, current: int | str, to: tuple[int, ServiceRoute],
    reason: str, now: datetime,
) -> None:
    """Put a ``new`` order on another route, to be sent at once."""
    number, route = to
    order.provider_id = route.provider_id
    order.provider_service_id = route.provider_service_id
    order.routed_at = now
    order.send_state = NEW
    order.next_poll_at = now
    order.attempts = 0
    order.alert = order.held_reason = None
    order.lease_owner = order.lease_until = None
    record(
        session, order, "worker", events.ROUTED, old=current, new=number,
        provider=route.provider_id, service=route.provider_service_id, reason=reason,
    )
    log.warning("order %s moved to route %s: %s", order.id, number, reason)


def reroute_refused(session: Session, order: Order, outcome: SendOutcome, now: datetime) -> bool:
    """After a refusal that proves nothing was created: on to the next route, if any."""
    if not (isinstance(outcome, NotSent) and outcome.reroute):
        return False
    if order.fulfillment != PROVIDER or order.cancel_state is not None:
        return False
    return _try_next(session, order, outcome.reason, now)


RouteKeys = set[tuple[int, int, int]]  # (service, provider, provider service) of each route


def routes_of(session: Session, service_ids: Collection[int]) -> RouteKeys:
    if not service_ids:
        return set()
    rows = session.execute(
        select(
            ServiceRoute.service_id, ServiceRoute.provider_id, ServiceRoute.provider_service_id
        ).where(ServiceRoute.service_id.in_(list(service_ids)))
    )
    return {(int(s), int(p), int(u)) for s, p, u in rows}


def route_gone(order: Order, routes: RouteKeys) -> bool:
    """A provider order whose route is no longer one of its service's."""
    if order.fulfillment != PROVIDER or order.provider_id is None:
        return False
    key = (order.service_id, order.provider_id, int(order.provider_service_id or 0))
    return key not in routes


def restart(session: Session, order: Order, now: datetime) -> int:
    """Put a ``new`` order whose route was removed on its service's route 1; 0 if the
    service has no route left (it is left where it is, for the mapping check to hold)."""
    rows = _routes(session, order)
    if not rows:
        return 0
    move(session, order, "—", (1, rows[0][0]), "its route was removed from the service", now)
    return 1


def _waiting_reason(view: ProviderView, now: datetime) -> str:
    if not view.enabled:
        return f"the provider {view.name} is disabled"
    if view.backoff_until is not None and view.backoff_until > now:
        return f"the provider {view.name} is down: {view.alert or 'its calls fail'}"
    return f"the provider {view.name} takes no new orders: {view.alert or 'sends paused'}"


def reroute_waiting(
    db: Database,
    config: WorkerConfig,
    providers: Mapping[int, ProviderView],
    now: datetime,
    tally: Tally,
) -> int:
    """Move the ``new`` orders waiting on a provider that cannot take them: at once if it
    is disabled, after ``route_failover_minutes`` if it is down or paused. Returns how many
    moved."""
    closed = {pid: view for pid, view in providers.items() if not view.can_send(now)}
    if not closed:
        return 0
    waited = now - timedelta(minutes=config.route_failover_minutes)
    disabled = [pid for pid, view in closed.items() if not view.enabled]
    conditions = [
        Order.send_state == NEW,
        Order.status == st.PENDING,
        Order.cancel_state.is_(None),
        Order.fulfillment == PROVIDER,
        Order.provider_id.in_(list(closed)),
        or_(Order.lease_until.is_(None), Order.lease_until < now),
        or_(Order.provider_id.in_(disabled), Order.routed_at <= waited),
    ]
    with db.read() as session:
        if session.scalar(select(Order.id).where(*conditions).limit(1)) is None:
            return 0
    moved = 0
    with db.write() as session:
        orders = session.scalars(
            select(Order).where(*conditions).order_by(Order.id).limit(config.batch)
            .with_for_update(skip_locked=True)
        ).all()
        for order in orders:
            view = closed[int(order.provider_id or 0)]
            moved += _try_next(session, order, _waiting_reason(view, now), now)
    tally.routed += moved
    return moved


def estimate_charge(session: Session, order: Order) -> None:
    """At ``add``: the route's cost for the order, an estimate until the upstream's
    ``status`` answer tells its own ``charge``."""
    cost = session.scalar(
        select(ServiceRoute.cost).where(
            ServiceRoute.service_id == order.service_id,
            ServiceRoute.provider_id == order.provider_id,
            ServiceRoute.provider_service_id == order.provider_service_id,
        )
    )
    if cost is None:
        return
    order_type = str(order.fields.get("type") or "Default")
    flat = service_type(order_type).units is Units.FLAT
    per = Decimal(1) if flat else Decimal(1000)
    order.upstream_charge = (cost * order.units / per).quantize(QUANTUM)
    order.upstream_estimated = True


_ORDERS = cast(Table, Order.__table__)
# One row per order, many at once (executemany): the same statement for every batch, so it
# is compiled once, where a CASE over the batch's ids was a new statement each time (and a
# literal's type was built for each order).
_RECORD_CHARGE = (
    update(_ORDERS)
    .where(
        _ORDERS.c.id == bindparam("b_id"),
        or_(
            _ORDERS.c.upstream_charge.is_(None),
            _ORDERS.c.upstream_estimated.is_(True),
            _ORDERS.c.upstream_charge != bindparam("b_charge"),
        ),
    )
    .values(upstream_charge=bindparam("b_charge"), upstream_estimated=False)
)


def record_charges(session: Session, charges: Mapping[int, Decimal]) -> None:
    """What the upstreams' ``status`` answers say they charge for these orders: the exact
    cost from now on. One statement for the batch; rows already showing it are not written."""
    known = [
        {"b_id": order_id, "b_charge": charge.quantize(QUANTUM)}
        for order_id, charge in charges.items()
        if 0 <= charge <= MAX_CHARGE
    ]
    if not known:
        return
    session.execute(_RECORD_CHARGE, known)
