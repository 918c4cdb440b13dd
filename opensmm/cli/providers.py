"""``opensmm provider``: upstream panels, and the services we buy from them."""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from opensmm.audit.actor import Actor
from opensmm.cli.accounts import JsonFlag
from opensmm.cli.output import database, emit_json, fail, in_read, in_write, refusals_to_exit
from opensmm.client import Service as UpstreamService
from opensmm.money import MoneyError, format_money, parse_money
from opensmm.payments.keys import panel_secret
from opensmm.providers import service as providers
from opensmm.providers import staff as providers_staff
from opensmm.providers import webhooks as provider_webhooks
from opensmm.providers.models import Provider
from opensmm.providers.pricing import check_markup
from opensmm.settings import get_settings

provider_app = typer.Typer(help="Upstream panels that fulfill orders.", no_args_is_help=True)


def _masked(key: str) -> str:
    return f"{key[:4]}…" if len(key) > 8 else "…"


def provider_json(provider: Provider, services: int) -> dict[str, object]:
    return {
        "id": provider.id,
        "name": provider.name,
        "url": provider.url,
        "key": _masked(provider.api_key),
        "enabled": provider.enabled,
        "balance": format_money(provider.balance) if provider.balance is not None else None,
        "currency": provider.currency,
        "services": services,
        "failures": provider.failures,
        "backoff_until": provider.backoff_until.isoformat() if provider.backoff_until else None,
        "send_paused_until": (
            provider.send_paused_until.isoformat() if provider.send_paused_until else None
        ),
        "alert": provider.alert,
        "idempotent": provider.idempotent,
        "webhooks": provider.webhook_secret is not None,
    }


def _connection(name: str) -> tuple[int, str, str]:
    def work(session: Session) -> tuple[int, str, str]:
        provider = providers.get_provider(session, name)
        return provider.id, provider.url, provider.api_key

    return in_read(work)


def _fetch_services(name: str) -> tuple[int, list[UpstreamService]]:
    provider_id, url, key = _connection(name)
    with refusals_to_exit():
        return provider_id, providers.fetch_services(url, key)


@provider_app.command("add")
def provider_add(
    name: str,
    url: Annotated[str, typer.Argument(help="The provider's API endpoint, e.g. .../api/v2")],
    key: Annotated[str, typer.Argument(help="Our API key at the provider.")],
    check: Annotated[
        bool, typer.Option("--check/--no-check", help="Ask for the balance first.")
    ] = True,
    as_json: JsonFlag = False,
) -> None:
    """Add an upstream panel; by default its balance is asked first, to prove URL and key."""
    checked = None
    if check:
        url, checked = _check_endpoint(url.strip(), key.strip())

    def work(session: Session) -> Provider:
        return providers_staff.add_provider(
            session, Actor.cli(), name, url, key,
            checked.balance if checked else None, checked.idempotent if checked else None,
        )

    provider = in_write(work)
    if as_json:
        emit_json(provider_json(provider, 0))
        return
    shown = (
        f", balance {format_money(provider.balance)} {provider.currency or ''}".rstrip()
        if provider.balance is not None
        else ""
    )
    typer.echo(f"Added provider {provider.name} (id {provider.id}){shown}")


def _check_endpoint(url: str, key: str) -> tuple[str, providers.CheckedEndpoint]:
    """The provider's balance at ``url`` (or at its ``/api/v2``, noted), as the staff
    pages check it: :func:`opensmm.providers.service.check_endpoint`."""
    with refusals_to_exit():
        checked = providers.check_endpoint(url, key)
    if checked.guessed:
        typer.echo(f"note: {url} is the provider's site, not its API; using {checked.url}",
                   err=True)
    return checked.url, checked


@provider_app.command("list")
def provider_list(as_json: JsonFlag = False) -> None:
    """Every provider, with its last known balance and any alert."""

    def work(session: Session) -> list[tuple[Provider, int]]:
        return [
            (provider, len(providers.mapped_services(session, provider.id)))
            for provider in providers.list_providers(session)
        ]

    rows = in_read(work)
    if as_json:
        emit_json({"providers": [provider_json(p, count) for p, count in rows]})
        return
    if not rows:
        typer.echo("No providers yet: opensmm provider add NAME URL KEY")
    for provider, count in rows:
        balance = (
            f"{format_money(provider.balance)} {provider.currency or ''}".strip()
            if provider.balance is not None
            else "balance unknown"
        )
        alert = f"  ALERT: {provider.alert}" if provider.alert else ""
        typer.echo(
            f"{provider.id:>4}  {provider.name:<16} {provider.url}  {balance}, "
            f"{count} services{alert}"
        )


@provider_app.command("balance")
def provider_balance(name: str, as_json: JsonFlag = False) -> None:
    """Ask the provider for our balance there (and remember it, with whether it is an
    opensmm honouring idempotency keys)."""
    provider_id, url, key = _connection(name)
    with refusals_to_exit():
        checked = providers.probe(url, key)
    balance = checked.balance
    in_write(lambda s: providers_staff.record_balance(
        s, Actor.cli(), provider_id, balance, checked.idempotent))
    amount = format_money(balance.amount.quantize(Decimal("0.00001")))
    if as_json:
        emit_json({"provider": name, "balance": amount, "currency": balance.currency})
    else:
        typer.echo(f"{name}: {amount} {balance.currency or ''}".rstrip())


@provider_app.command("services")
def provider_services(name: str, as_json: JsonFlag = False) -> None:
    """The provider's own services (ids to use with `service add --provider-service`)."""
    _, upstream = _fetch_services(name)
    if as_json:
        emit_json(
            {
                "services": [
                    {
                        "service": item.id,
                        "name": item.name,
                        "type": item.type,
                        "category": item.category,
                        "rate": str(item.rate),
                        "min": item.min,
                        "max": item.max,
                    }
                    for item in upstream
                ]
            }
        )
        return
    for item in upstream:
        typer.echo(
            f"{item.id:>6}  {item.category} / {item.name} [{item.type}] {item.rate} per 1000, "
            f"{item.min}-{item.max}"
        )


def _markup(value: str) -> Decimal:
    """Checked before any call to the provider: a bad markup fails fast."""
    try:
        percent = parse_money(value)
    except MoneyError as exc:
        fail(f"Incorrect markup {value!r}: {exc}")
    with refusals_to_exit():
        return check_markup(percent)


@provider_app.command("import")
def provider_import(
    name: str,
    markup: Annotated[
        str, typer.Option("--markup", help="Percent over the provider's rate, e.g. 25.")
    ] = "0",
    category: Annotated[
        list[str] | None,
        typer.Option("--category", help="Only this provider category (repeatable)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create local services from the provider's, priced at its rate plus the markup
    (rounded UP to 0.00001: never below cost plus markup)."""
    percent = _markup(markup)
    provider_id, upstream = _fetch_services(name)
    report = in_write(
        lambda s: providers_staff.import_services(
            s, Actor.cli(), provider_id, upstream, markup_percent=percent,
            categories=category or (),
        )
    )
    if as_json:
        emit_json(
            {
                "created": [
                    {
                        "id": item.service_id,
                        "provider_service": item.upstream_id,
                        "name": item.name,
                        "rate": format_money(item.rate),
                    }
                    for item in report.created
                ],
                "skipped": [
                    {"provider_service": s.upstream_id, "name": s.name, "reason": s.reason}
                    for s in report.skipped
                ],
            }
        )
        return
    for item in report.created:
        typer.echo(
            f"created service {item.service_id} <- {name} #{item.upstream_id} {item.name} "
            f"at {format_money(item.rate)}"
        )
    for skipped in report.skipped:
        typer.echo(f"skipped {name} #{skipped.upstream_id} {skipped.name}: {skipped.reason}")
    typer.echo(f"{len(report.created)} imported, {len(report.skipped)} skipped")
    _unmatched_categories(name, category or [], upstream)


def _unmatched_categories(name: str, asked: list[str], upstream: list[UpstreamService]) -> None:
    """Name the --category values that matched nothing, and list the provider's own."""
    theirs = sorted({item.category.strip() for item in upstream if item.category.strip()},
                    key=str.casefold)
    known = {c.casefold() for c in theirs}
    missing = [c for c in asked if c.strip() and c.strip().casefold() not in known]
    if not missing:
        return
    typer.echo(
        f"no category {', '.join(repr(c) for c in missing)} at {name}; its categories: "
        + (", ".join(theirs) or "none"),
        err=True,
    )


def _sync(
    provider_id: int, upstream: list[UpstreamService], keep_prices: bool, session: Session
) -> providers.SyncReport:
    return providers_staff.sync_services(
        session, Actor.cli(), provider_id, upstream, keep_prices=keep_prices
    )


@provider_app.command("sync")
def provider_sync(
    name: Annotated[str | None, typer.Argument(help="One provider (default: all).")] = None,
    keep_prices: Annotated[
        bool,
        typer.Option("--keep-prices", help="Do not reprice imported services; only check."),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Refresh prices, bounds and flags from each provider. A service the provider removed,
    or whose cost rose above our rate, is disabled and reported: never sold at a loss."""
    names = [name] if name else in_read(lambda s: [p.name for p in providers.list_providers(s)])
    results: dict[str, object] = {}
    for provider_name in names:
        provider_id, upstream = _fetch_services(provider_name)
        report = in_write(partial(_sync, provider_id, upstream, keep_prices))
        results[provider_name] = {
            "repriced": [vars(c) for c in report.repriced],
            "changed": [vars(c) for c in report.changed],
            "disabled": [vars(c) for c in report.disabled],
            "unchanged": report.unchanged,
        }
        if as_json:
            continue
        for change in report.repriced:
            typer.echo(f"{provider_name}: service {change.service_id} {change.name}: {change.what}")
        for change in report.changed:
            typer.echo(f"{provider_name}: service {change.service_id} {change.name}: {change.what}")
        for change in report.disabled:
            typer.echo(
                f"{provider_name}: DISABLED service {change.service_id} {change.name}: "
                f"{change.what}"
            )
        typer.echo(
            f"{provider_name}: {len(report.repriced)} repriced, {len(report.changed)} changed, "
            f"{len(report.disabled)} disabled, {report.unchanged} unchanged"
        )
    if as_json:
        emit_json({"providers": results})


@provider_app.command("webhook")
def provider_webhook(
    name: str,
    secret: Annotated[str | None, typer.Option(
        "--secret",
        help="The signing secret the provider printed when the URL was set there; "
        "an empty string turns webhooks off.")] = None,
) -> None:
    """Receive the provider's status webhooks (an opensmm upstream) instead of polling it.
    Without --secret: the URL to set on the provider's API keys page. With it: store the
    secret the provider printed (encrypted); from then on its orders are checked only now
    and then, as long as its webhooks arrive."""
    base = get_settings().public_url.rstrip("/")
    secret_of_panel = panel_secret(database()) if secret is not None else ""

    def work(session: Session) -> Provider:
        provider = providers.get_provider(session, name)
        if secret is not None:
            providers_staff.set_webhook_secret(
                session, Actor.cli(), provider, secret, secret_of_panel)
        return provider

    provider = in_write(work)
    url = (base or "https://YOUR-PANEL") + provider_webhooks.path_for(provider.id)
    if secret is not None and not secret.strip():
        typer.echo(f"{name}: webhooks turned off; its orders are checked as usual")
    elif secret is not None:
        typer.echo(f"{name}: webhook secret stored; statuses posted to {url} are applied")
    else:
        typer.echo(f"Set this webhook URL on {name}'s API keys page (or: opensmm key webhook "
                   f"KEY_ID {url} there), then run: opensmm provider webhook {name} "
                   "--secret SECRET")
        if not base:
            typer.echo("note: set OPENSMM_PUBLIC_URL to this panel's address", err=True)
        typer.echo(url)
