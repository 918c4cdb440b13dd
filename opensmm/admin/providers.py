"""Staff pages for providers: add one, read its balance, import its services with a
markup, keep them in sync. Calls to a provider run outside any unit of work (these pages
open their own: read what the call needs, call, then write what it answered)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.orm import Session
from starlette.responses import Response

from opensmm.accounts.models import User
from opensmm.admin.users import amount_field, staff
from opensmm.errors import DomainError
from opensmm.i18n import N_, formatting
from opensmm.providers import service as providers
from opensmm.providers import staff as providers_staff
from opensmm.providers.models import Provider
from opensmm.web.context import Ctx
from opensmm.web.framework import Pages

pages = Pages()

MAX_CATEGORIES = 100


def _provider(session: Session, provider_id: int) -> Provider:
    provider = session.get(Provider, provider_id)
    if provider is None:
        raise providers.ProviderNotFound()
    return provider


def _credentials(ctx: Ctx, provider_id: int) -> tuple[str, str, str]:
    with ctx.web.db.read() as session:
        provider = _provider(session, provider_id)
        return provider.name, provider.url, provider.api_key


def _show(ctx: Ctx, provider_id: int, **report: object) -> Response:
    """The provider's page in a fresh read unit, with what an action just did."""
    with ctx.web.db.read() as session:
        ctx.session = session
        ctx.user = session.get(User, ctx.me.id)
        return _render_provider(ctx, _provider(session, provider_id), **report)


def _render_provider(ctx: Ctx, provider: Provider, **report: object) -> Response:
    values = {"markup": "", "categories": "", "keep_prices": ""}
    values.update({k: v for k, v in ctx.form.items() if k in values})
    return ctx.render(
        "admin/provider.html",
        provider=provider,
        services=providers.mapped_services(ctx.db, provider.id),
        values=values,
        imported=report.get("imported"),
        synced=report.get("synced"),
    )


@pages.get("/admin/providers", who="staff")
def provider_list(ctx: Ctx) -> Response:
    listed = providers.list_providers(ctx.db)
    counts = {p.id: len(providers.mapped_services(ctx.db, p.id)) for p in listed}
    return ctx.render("admin/providers.html", providers=listed, counts=counts,
                      values=ctx.form)


def _refused_on_list(ctx: Ctx, exc: DomainError) -> Response:
    ctx.error = ctx.t.error(exc)
    with ctx.web.db.read() as session:
        ctx.session = session
        ctx.user = session.get(User, ctx.me.id)
        response = provider_list(ctx)
    response.status_code = 400
    return response


@pages.post("/admin/providers", who="staff", unit="none")
def add_provider(ctx: Ctx) -> Response:
    """As ``opensmm provider add`` does: the provider's balance is asked first (outside any
    unit of work), proving the URL and the key, and recorded with the new provider."""
    name, url, key = ctx.field("name").strip(), ctx.field("url"), ctx.field("api_key")
    try:
        providers.validate_name(name)
        checked = providers.check_endpoint(url, key)
        with ctx.web.db.write() as session:
            provider = providers_staff.add_provider(
                session, staff(ctx), name, checked.url, key, checked.balance, checked.idempotent
            )
            provider_id = provider.id
    except DomainError as exc:
        return _refused_on_list(ctx, exc)
    ctx.flash("ok", ctx.t("Provider {name} added.", name=name))
    if checked.guessed:
        ctx.flash("ok", ctx.t("{url} is the provider's site, not its API: {used} is used.",
                              url=url.strip(), used=checked.url))
    return ctx.redirect(f"/admin/providers/{provider_id}")


@pages.get("/admin/providers/{provider_id:int}", who="staff")
def provider_detail(ctx: Ctx) -> Response:
    return _render_provider(ctx, _provider(ctx.db, ctx.path_int("provider_id")))


def _refused_here(ctx: Ctx, exc: DomainError) -> Response:
    ctx.error = ctx.t.error(exc)
    response = _show(ctx, ctx.path_int("provider_id"))
    response.status_code = 400
    return response


@pages.post("/admin/providers/{provider_id:int}/balance", who="staff", unit="none")
def check_balance(ctx: Ctx) -> Response:
    provider_id = ctx.path_int("provider_id")
    try:
        name, url, key = _credentials(ctx, provider_id)
        checked = providers.probe(url, key)
        balance = checked.balance
        with ctx.web.db.write() as session:
            providers_staff.record_balance(session, staff(ctx), provider_id, balance,
                                           checked.idempotent)
    except DomainError as exc:
        return _refused_here(ctx, exc)
    ctx.flash("ok", ctx.t("Balance of {name}: {amount} {currency}", name=name,
                          amount=formatting.decimal(balance.amount, ctx.lang, min_places=2),
                          currency=balance.currency or ""))
    return ctx.redirect(f"/admin/providers/{provider_id}")


def _categories(ctx: Ctx) -> list[str]:
    text = ctx.field("categories").replace("\r\n", "\n")
    return [line.strip() for line in text.split("\n") if line.strip()][:MAX_CATEGORIES]


@pages.post("/admin/providers/{provider_id:int}/import", who="staff", unit="none")
def import_services(ctx: Ctx) -> Response:
    provider_id = ctx.path_int("provider_id")
    try:
        markup: Decimal = amount_field(ctx, "markup", N_("markup"))
        _name, url, key = _credentials(ctx, provider_id)
        upstream = providers.fetch_services(url, key)
        with ctx.web.db.write() as session:
            report = providers_staff.import_services(
                session, staff(ctx), provider_id, upstream, markup_percent=markup,
                categories=_categories(ctx),
            )
    except DomainError as exc:
        return _refused_here(ctx, exc)
    ctx.flash("ok", ctx.t.ngettext("{n} service imported, {skipped} skipped.",
                                   "{n} services imported, {skipped} skipped.",
                                   len(report.created), skipped=len(report.skipped)))
    return _show(ctx, provider_id, imported=report)


@pages.post("/admin/providers/{provider_id:int}/sync", who="staff", unit="none")
def sync_services(ctx: Ctx) -> Response:
    provider_id = ctx.path_int("provider_id")
    try:
        _name, url, key = _credentials(ctx, provider_id)
        upstream = providers.fetch_services(url, key)
        with ctx.web.db.write() as session:
            report = providers_staff.sync_services(
                session, staff(ctx), provider_id, upstream,
                keep_prices=ctx.field("keep_prices") == "1",
            )
    except DomainError as exc:
        return _refused_here(ctx, exc)
    ctx.flash("ok", ctx.t("Sync done: {repriced} repriced, {changed} changed, {disabled} disabled.",
                          repriced=len(report.repriced), changed=len(report.changed),
                          disabled=len(report.disabled)))
    return _show(ctx, provider_id, synced=report)
