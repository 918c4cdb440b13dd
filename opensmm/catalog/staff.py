"""Staff actions on the catalog, from every door: each writes one audit row."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from opensmm.audit import service as audit
from opensmm.audit.actor import Actor
from opensmm.catalog import routes
from opensmm.catalog import service as catalog
from opensmm.catalog.models import Category, Service, ServiceRoute
from opensmm.money import format_money


def add_service(session: Session, actor: Actor, **fields: Any) -> Service:
    service = catalog.add_service(session, **fields)
    audit.record(session, actor, "service.create", f"service:{service.id}", service=service.name)
    return service


def update_service(session: Session, actor: Actor, service_id: int, **fields: Any) -> Service:
    old_rate = catalog.get_service(session, service_id).rate
    service = catalog.update_service(session, service_id, **fields)
    target = f"service:{service.id}"
    if old_rate != service.rate:
        audit.record(session, actor, "service.edit", target, service=service.name,
                     before=format_money(old_rate), after=format_money(service.rate))
    else:
        audit.record(session, actor, "service.edit", target, service=service.name)
    return service


def set_service_enabled(session: Session, actor: Actor, service_id: int, enabled: bool) -> Service:
    service = catalog.set_service_enabled(session, service_id, enabled)
    audit.record(session, actor, "service.enable" if enabled else "service.disable",
                 f"service:{service.id}", service=service.name)
    return service


def set_auto_refill(
    session: Session, actor: Actor, service_id: int, every_days: int | None
) -> Service:
    service = catalog.set_auto_refill(session, service_id, every_days)
    target = f"service:{service.id}"
    if every_days is None:
        audit.record(session, actor, "service.auto_refill_off", target, service=service.name)
    else:
        audit.record(session, actor, "service.auto_refill", target, service=service.name,
                     days=every_days)
    return service


def move_service(session: Session, actor: Actor, service_id: int, step: int) -> Service:
    service = catalog.move_service(session, service_id, step)
    audit.record(session, actor, "service.move_up" if step < 0 else "service.move_down",
                 f"service:{service.id}", service=service.name)
    return service


def create_category(session: Session, actor: Actor, name: str) -> Category:
    category = catalog.create_category(session, name)
    audit.record(session, actor, "category.create", f"category:{category.id}",
                 category=category.name)
    return category


def rename_category(session: Session, actor: Actor, category_id: int, name: str) -> Category:
    old = catalog.get_category(session, category_id).name
    category = catalog.rename_category(session, category_id, name)
    audit.record(session, actor, "category.rename", f"category:{category.id}", before=old,
                 after=category.name)
    return category


def set_category_platform(session: Session, actor: Actor, category_id: int, raw: str
                          ) -> Category:
    category = catalog.get_category(session, category_id)
    before = category.platform or "auto"
    catalog.set_category_platform(session, category_id, raw)
    audit.record(session, actor, "category.platform", f"category:{category.id}",
                 category=category.name, before=before, after=category.platform or "auto")
    return category


def move_category(session: Session, actor: Actor, category_id: int, step: int) -> Category:
    category = catalog.move_category(session, category_id, step)
    audit.record(session, actor, "category.move_up" if step < 0 else "category.move_down",
                 f"category:{category.id}", category=category.name)
    return category


def _route_target(route: ServiceRoute) -> str:
    return f"service:{route.service_id}"


def add_route(
    session: Session, actor: Actor, service_id: int, provider_id: int, provider_service_id: int,
    cost: Decimal | None,
) -> ServiceRoute:
    route = routes.add_route(session, service_id, provider_id, provider_service_id, cost)
    audit.record(session, actor, "service.route_add", _route_target(route),
                 service=service_id, provider=provider_id, upstream=provider_service_id,
                 position=route.position)
    return route


def remove_route(session: Session, actor: Actor, service_id: int, route_id: int) -> ServiceRoute:
    route = routes.remove_route(session, service_id, route_id)
    audit.record(session, actor, "service.route_remove", _route_target(route),
                 service=service_id, provider=route.provider_id,
                 upstream=route.provider_service_id)
    return route


def move_route(
    session: Session, actor: Actor, service_id: int, route_id: int, position: int
) -> ServiceRoute:
    route = routes.move_route(session, service_id, route_id, position)
    audit.record(session, actor, "service.route_move", _route_target(route),
                 service=service_id, provider=route.provider_id,
                 upstream=route.provider_service_id, position=position)
    return route
