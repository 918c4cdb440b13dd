"""``opensmm service``."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from opensmm.audit.actor import Actor
from opensmm.catalog import routes
from opensmm.catalog import service as catalog
from opensmm.catalog import staff as catalog_staff
from opensmm.catalog.models import Service
from opensmm.cli.accounts import JsonFlag
from opensmm.cli.output import emit_json, fail, in_read, in_write
from opensmm.db.types import parse_id
from opensmm.money import MoneyError, format_money, parse_money
from opensmm.providers.service import get_provider

MAX_DESCRIPTION = 10_000
service_app = typer.Typer(help="The catalog of services.", no_args_is_help=True)


def service_json(service: Service, category: str) -> dict[str, object]:
    return {
        "id": service.id,
        "name": service.name,
        "type": service.type,
        "category": category,
        "rate": format_money(service.rate),
        "min": service.min_quantity,
        "max": service.max_quantity,
        "refill": service.refill,
        "refill_days": service.refill_days,
        "auto_refill_days": service.auto_refill_days,
        "cancel": service.cancel,
        "dripfeed": service.dripfeed,
        "enabled": service.enabled,
        "fulfillment": service.fulfillment,
        "provider_id": service.provider_id,
        "provider_service": service.provider_service_id,
        "description": service.description,
    }


@service_app.command("add")
def service_add(
    name: Annotated[str, typer.Option("--name")],
    category: Annotated[str, typer.Option("--category")],
    rate: Annotated[str, typer.Option("--rate", help="Price per 1000 (per package).")],
    min_quantity: Annotated[int, typer.Option("--min")],
    max_quantity: Annotated[int, typer.Option("--max")],
    type_: Annotated[str, typer.Option("--type")] = "Default",
    refill: Annotated[bool, typer.Option("--refill")] = False,
    refill_days: Annotated[int, typer.Option("--refill-days")] = 30,
    cancel: Annotated[bool, typer.Option("--cancel")] = False,
    dripfeed: Annotated[bool, typer.Option("--dripfeed")] = False,
    one_active: Annotated[
        bool, typer.Option("--one-active-per-link", help="Refuse a 2nd running order per link.")
    ] = False,
    description: Annotated[str, typer.Option("--description")] = "",
    mode: Annotated[
        str,
        typer.Option("--mode", help="How orders are fulfilled: manual, provider or simulator."),
    ] = "manual",
    provider: Annotated[
        str | None, typer.Option("--provider", help="With --mode provider: its name.")
    ] = None,
    provider_service: Annotated[
        int | None,
        typer.Option("--provider-service", help="With --mode provider: its service ID."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Add a service; prints its id."""
    try:
        price = parse_money(rate)
    except MoneyError as exc:
        fail(f"Incorrect rate {rate!r}: {exc}")

    def work(s: Session) -> Service:
        provider_id = None
        if provider is not None:
            provider_id = get_provider(s, provider).id
        return catalog_staff.add_service(
            s,
            Actor.cli(),
            name=name,
            category=category,
            rate=price,
            min_quantity=min_quantity,
            max_quantity=max_quantity,
            type=type_,
            refill=refill,
            refill_days=refill_days,
            cancel=cancel,
            dripfeed=dripfeed,
            one_active_per_link=one_active,
            description=description,
            fulfillment=mode,
            provider_id=provider_id,
            provider_service_id=provider_service,
        )

    service = in_write(work)
    if as_json:
        emit_json({"id": service.id})
    else:
        typer.echo(service.id)


@service_app.command("list")
def service_list(as_json: JsonFlag = False) -> None:
    """Every service, enabled or not."""
    rows = in_read(lambda s: catalog.list_services(s, enabled_only=False))
    if as_json:
        emit_json({"services": [service_json(service, category) for service, category in rows]})
        return
    for service, category in rows:
        state = "" if service.enabled else " (disabled)"
        typer.echo(
            f"{service.id:>5}  {category} / {service.name} [{service.type}] "
            f"{format_money(service.rate)} per 1000, {service.min_quantity}-"
            f"{service.max_quantity}{state}"
        )


def _set_enabled(service_id: int, enabled: bool) -> None:
    service = in_write(
        lambda s: catalog_staff.set_service_enabled(s, Actor.cli(), service_id, enabled)
    )
    typer.echo(f"Service {service.id} ({service.name}) {'enabled' if enabled else 'disabled'}")


@service_app.command("disable")
def service_disable(service_id: int) -> None:
    """Stop selling a service (its running orders go on); `service enable` sells it again."""
    _set_enabled(service_id, False)


@service_app.command("enable")
def service_enable(service_id: int) -> None:
    """Sell a disabled service again."""
    _set_enabled(service_id, True)


@service_app.command("auto-refill")
def service_auto_refill(
    service_id: int,
    every_days: Annotated[
        int | None,
        typer.Option("--every-days", help="Ask a refill of each finished order every N days, "
                     "inside the refill window."),
    ] = None,
    off: Annotated[bool, typer.Option("--off", help="Turn auto-refill off.")] = False,
) -> None:
    """Auto-refill: the worker asks refills by itself (`--every-days N`, or `--off`)."""
    if off == (every_days is not None):
        fail("Give either --every-days N or --off")
    service = in_write(
        lambda s: catalog_staff.set_auto_refill(s, Actor.cli(), service_id, every_days)
    )
    if service.auto_refill_days is None:
        typer.echo(f"Service {service.id} ({service.name}): auto-refill off")
    else:
        typer.echo(f"Service {service.id} ({service.name}): a refill every "
                   f"{service.auto_refill_days} days, within {service.refill_days} days")


def _service_id(raw: int) -> int:
    """An id no row can have (negative, past 32 bits) is refused here, not by the database."""
    if parse_id(raw) is None:
        fail(f"No service {raw}")
    return raw


def _money_option(value: str | None, what: str) -> Decimal | None:
    if value is None:
        return None
    try:
        return parse_money(value)
    except MoneyError as exc:
        fail(f"Incorrect {what} {value!r}: {exc}")


@service_app.command("edit")
def service_edit(
    service_id: int,
    name: Annotated[str | None, typer.Option("--name")] = None,
    category: Annotated[str | None, typer.Option("--category")] = None,
    rate: Annotated[
        str | None, typer.Option("--rate", help="Price per 1000 (per package).")
    ] = None,
    min_quantity: Annotated[int | None, typer.Option("--min")] = None,
    max_quantity: Annotated[int | None, typer.Option("--max")] = None,
    type_: Annotated[str | None, typer.Option("--type")] = None,
    refill: Annotated[bool | None, typer.Option("--refill/--no-refill")] = None,
    refill_days: Annotated[int | None, typer.Option("--refill-days")] = None,
    cancel: Annotated[bool | None, typer.Option("--cancel/--no-cancel")] = None,
    dripfeed: Annotated[bool | None, typer.Option("--dripfeed/--no-dripfeed")] = None,
    one_active: Annotated[
        bool | None, typer.Option("--one-active-per-link/--any-per-link")
    ] = None,
    description: Annotated[str | None, typer.Option("--description")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Change some fields of a service; the others stay as they are. Orders already placed
    keep their price."""
    _service_id(service_id)
    price = _money_option(rate, "rate")
    given = {
        "name": name, "category": category, "rate": price, "min_quantity": min_quantity,
        "max_quantity": max_quantity, "type": type_, "refill": refill,
        "refill_days": refill_days, "cancel": cancel, "dripfeed": dripfeed,
        "one_active_per_link": one_active, "description": description,
    }
    changes = {key: value for key, value in given.items() if value is not None}
    if not changes:
        fail("Nothing to change: give at least one option (see --help)")
    if description is not None and len(description) > MAX_DESCRIPTION:
        fail(f"A description is at most {MAX_DESCRIPTION} characters")

    def work(s: Session) -> tuple[Service, str]:
        service = catalog.get_service(s, service_id)
        current = {
            "name": service.name,
            "category": catalog.get_category(s, service.category_id).name,
            "rate": service.rate, "min_quantity": service.min_quantity,
            "max_quantity": service.max_quantity, "type": service.type,
            "refill": service.refill, "refill_days": service.refill_days,
            "cancel": service.cancel, "dripfeed": service.dripfeed,
            "one_active_per_link": service.one_active_per_link,
            "description": service.description, "enabled": service.enabled,
        }
        fields = {**current, **changes}
        edited = catalog_staff.update_service(s, Actor.cli(), service_id, **fields)
        return edited, str(fields["category"])

    service, category_name = in_write(work)
    if as_json:
        emit_json(service_json(service, category_name))
    else:
        typer.echo(f"Service {service.id} ({service.name}) saved: {', '.join(sorted(changes))}")


# --- routes ----------------------------------------------------------------------------

route_app = typer.Typer(
    help="A provider service's routes: the upstreams tried in turn (failover).",
    no_args_is_help=True,
)
service_app.add_typer(route_app, name="route")


def _route_id(raw: int) -> int:
    if parse_id(raw) is None:
        fail(f"No route {raw}")
    return raw


@route_app.command("list")
def route_list(service_id: int, as_json: JsonFlag = False) -> None:
    """The routes in the order they are tried."""
    _service_id(service_id)

    def work(s: Session) -> list[dict[str, object]]:
        catalog.get_service(s, service_id)
        return [
            {
                "id": route.id,
                "position": number,
                "provider": provider.name,
                "provider_id": provider.id,
                "provider_enabled": provider.enabled,
                "provider_service": route.provider_service_id,
                "cost": format_money(route.cost) if route.cost is not None else None,
            }
            for number, (route, provider) in enumerate(
                routes.routes_with_providers(s, service_id), start=1
            )
        ]

    rows = in_read(work)
    if as_json:
        emit_json({"service": service_id, "routes": rows})
        return
    if not rows:
        typer.echo(f"Service {service_id} has no routes (it is not a provider service)")
    for row in rows:
        off = "" if row["provider_enabled"] else " (provider disabled)"
        typer.echo(
            f"{row['position']}. route {row['id']}: {row['provider']} service "
            f"{row['provider_service']}, cost {row['cost'] or '-'} per 1000{off}"
        )


@route_app.command("add")
def route_add(
    service_id: int,
    provider: Annotated[str, typer.Option("--provider", help="The provider's name.")],
    provider_service: Annotated[
        int, typer.Option("--provider-service", help="Its service ID at that provider.")
    ],
    cost: Annotated[
        str | None, typer.Option("--cost", help="What it charges per 1000 (per package).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Add a route after the others."""
    _service_id(service_id)
    price = _money_option(cost, "cost")

    def work(s: Session) -> tuple[int, int]:
        provider_id = get_provider(s, provider).id
        route = catalog_staff.add_route(
            s, Actor.cli(), service_id, provider_id, provider_service, price
        )
        return route.id, route.position

    route_id, position = in_write(work)
    if as_json:
        emit_json({"id": route_id, "position": position})
    else:
        typer.echo(f"Route {route_id} added as route {position} of service {service_id}")


@route_app.command("remove")
def route_remove(service_id: int, route_id: int) -> None:
    """Remove a route (orders already on it keep it; a service keeps at least one)."""
    _service_id(service_id)
    _route_id(route_id)
    in_write(lambda s: catalog_staff.remove_route(s, Actor.cli(), service_id, route_id))
    typer.echo(f"Route {route_id} removed from service {service_id}")


@route_app.command("move")
def route_move(service_id: int, route_id: int, position: int) -> None:
    """Put a route at POSITION (1 is tried first)."""
    _service_id(service_id)
    _route_id(route_id)
    in_write(lambda s: catalog_staff.move_route(s, Actor.cli(), service_id, route_id, position))
    typer.echo(f"Route {route_id} is now route {position} of service {service_id}")
