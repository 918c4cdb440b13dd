"""A provider service's routes: the upstreams that can fulfil it, in the order to try them.

Route 1 is what the service's own ``provider_id``, ``provider_service_id`` and
``provider_rate`` say (imports, price sync and every page read those); every change made
here writes them again from the first route (:func:`_mirror`), so the two never disagree.
What happens when a route refuses an order is ``opensmm.fulfillment.routing``'s business.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from opensmm.catalog.models import Service, ServiceRoute
from opensmm.catalog.service import PROVIDER, get_service
from opensmm.errors import DomainError, NotFound
from opensmm.i18n import N_
from opensmm.providers.models import Provider

MAX_ROUTES = 20
MAX_UPSTREAM_SERVICE = 2**63 - 1


class RouteNotFound(NotFound):
    message = N_("No such route")


def list_routes(session: Session, service_id: int) -> list[ServiceRoute]:
    """The service's routes, in the order they are tried."""
    return list(
        session.scalars(
            select(ServiceRoute)
            .where(ServiceRoute.service_id == service_id)
            .order_by(ServiceRoute.position, ServiceRoute.id)
        )
    )


def routes_with_providers(
    session: Session, service_id: int
) -> list[tuple[ServiceRoute, Provider]]:
    return [
        (route, provider)
        for route, provider in session.execute(
            select(ServiceRoute, Provider)
            .join(Provider, Provider.id == ServiceRoute.provider_id)
            .where(ServiceRoute.service_id == service_id)
            .order_by(ServiceRoute.position, ServiceRoute.id)
        )
    ]


def _check(provider_service_id: int, cost: Decimal | None) -> None:
    if not 1 <= provider_service_id <= MAX_UPSTREAM_SERVICE:
        raise DomainError(N_("The provider's service ID must be a positive whole number"))
    if cost is not None and cost < 0:
        raise DomainError(N_("A route's cost must not be negative"))


def _renumber(routes: list[ServiceRoute]) -> None:
    for position, route in enumerate(routes, start=1):
        route.position = position


def _mirror(session: Session, service: Service, routes: list[ServiceRoute]) -> None:
    """Route 1 into the service's own provider columns."""
    session.flush()
    first = routes[0] if routes else None
    service.provider_id = first.provider_id if first else None
    service.provider_service_id = first.provider_service_id if first else None
    service.provider_rate = first.cost if first else None


def _provider_service(session: Session, service_id: int) -> Service:
    service = get_service(session, service_id)
    if service.fulfillment != PROVIDER:
        raise DomainError(
            N_("Only provider services have routes; service {id} is {mode}"),
            id=service.id,
            mode=service.fulfillment,
        )
    return service


def add_route(
    session: Session,
    service_id: int,
    provider_id: int,
    provider_service_id: int,
    cost: Decimal | None,
) -> ServiceRoute:
    """A new last route."""
    _check(provider_service_id, cost)
    service = _provider_service(session, service_id)
    if session.get(Provider, provider_id) is None:
        raise NotFound(N_("No such provider"))
    routes = list_routes(session, service.id)
    if len(routes) >= MAX_ROUTES:
        raise DomainError(N_("A service has at most {max} routes"), max=MAX_ROUTES)
    if any(
        r.provider_id == provider_id and r.provider_service_id == provider_service_id
        for r in routes
    ):
        raise DomainError(N_("The service already has this route"))
    route = ServiceRoute(
        service_id=service.id,
        position=len(routes) + 1,
        provider_id=provider_id,
        provider_service_id=provider_service_id,
        cost=cost,
    )
    session.add(route)
    routes.append(route)
    _renumber(routes)
    _mirror(session, service, routes)
    return route


def _find(routes: list[ServiceRoute], route_id: int) -> ServiceRoute:
    for route in routes:
        if route.id == route_id:
            return route
    raise RouteNotFound()


def remove_route(session: Session, service_id: int, route_id: int) -> ServiceRoute:
    """Orders already on the route keep it; new ones take the others. The last route of a
    provider service stays (switch the service to another mode first)."""
    service = _provider_service(session, service_id)
    routes = list_routes(session, service.id)
    route = _find(routes, route_id)
    if len(routes) == 1:
        raise DomainError(N_("A provider service keeps at least one route"))
    routes.remove(route)
    session.delete(route)
    _renumber(routes)
    _mirror(session, service, routes)
    return route


def move_route(session: Session, service_id: int, route_id: int, position: int) -> ServiceRoute:
    """Put a route at ``position`` (1 is tried first); the others keep their order."""
    service = _provider_service(session, service_id)
    routes = list_routes(session, service.id)
    route = _find(routes, route_id)
    if not 1 <= position <= len(routes):
        raise DomainError(N_("The position must be between 1 and {max}"), max=len(routes))
    routes.remove(route)
    routes.insert(position - 1, route)
    _renumber(routes)
    _mirror(session, service, routes)
    return route


def set_route_cost(session: Session, service_id: int, route_id: int, cost: Decimal) -> ServiceRoute:
    _check(1, cost)
    service = _provider_service(session, service_id)
    routes = list_routes(session, service.id)
    route = _find(routes, route_id)
    route.cost = cost
    _mirror(session, service, routes)
    return route


def sync_costs(session: Session, provider_id: int, costs: dict[int, Decimal]) -> None:
    """What ``provider sync`` learnt: this provider's rate for each of its service ids, on
    every route through it (route 1's is also the service's ``provider_rate``)."""
    for route in session.scalars(
        select(ServiceRoute).where(ServiceRoute.provider_id == provider_id)
    ):
        cost = costs.get(route.provider_service_id)
        if cost is not None:
            route.cost = cost
