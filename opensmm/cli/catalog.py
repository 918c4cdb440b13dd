"""``opensmm service``."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy.orm import Session

from opensmm.audit.actor import Actor
from opensmm.catalog import service as catalog
from opensmm.catalog import staff as catalog_staff
from opensmm.catalog.models import Service
from opensmm.cli.accounts import JsonFlag
from opensmm.cli.output import emit_json, fail, in_read, in_write
from opensmm.money import MoneyError, format_money, parse_money
from opensmm.providers.service import get_provider

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
