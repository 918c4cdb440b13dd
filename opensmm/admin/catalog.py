"""Staff pages for the catalog: categories and services, their order, on and off."""

from __future__ import annotations

from itertools import groupby
from typing import Any

from starlette.responses import Response

from opensmm.admin.users import amount_field, staff
from opensmm.catalog import platforms, routes
from opensmm.catalog import service as catalog
from opensmm.catalog import staff as catalog_staff
from opensmm.catalog.models import Service
from opensmm.catalog.types import SERVICE_TYPES
from opensmm.db.types import parse_id
from opensmm.errors import DomainError
from opensmm.i18n import N_, Term
from opensmm.money import format_money
from opensmm.providers.service import list_providers
from opensmm.web.context import Ctx
from opensmm.web.framework import Pages

pages = Pages()

# Modes staff may pick in the form; "provider" comes from importing a provider's services.
EDITABLE_MODES = (catalog.MANUAL, catalog.SIMULATOR)
MAX_DESCRIPTION = 10_000


def _int_field(ctx: Ctx, name: str, label: str) -> int:
    raw = ctx.field(name).strip()
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10:
        raise DomainError(N_('{label} must be a whole number'), label=Term(label))
    return int(raw)


def _service_fields(ctx: Ctx) -> dict[str, Any]:
    """The service form, checked field by field with messages that name the field."""
    description = ctx.field("description").strip()
    if len(description) > MAX_DESCRIPTION:
        raise DomainError(N_('A description is at most {max} characters'), max=MAX_DESCRIPTION)
    return {
        "name": ctx.field("name"),
        "category": ctx.field("category"),
        "type": ctx.field("type", "Default"),
        "rate": amount_field(ctx, "rate", N_("rate")),
        "min_quantity": _int_field(ctx, "min_quantity", N_("Min")),
        "max_quantity": _int_field(ctx, "max_quantity", N_("Max")),
        "refill": ctx.field("refill") == "1",
        "refill_days": _int_field(ctx, "refill_days", N_("Refill days")),
        "cancel": ctx.field("cancel") == "1",
        "dripfeed": ctx.field("dripfeed") == "1",
        "one_active_per_link": ctx.field("one_active_per_link") == "1",
        "description": description,
        "enabled": ctx.field("enabled") == "1",
    }


def _mode(ctx: Ctx) -> str | None:
    wanted = ctx.field("fulfillment")
    return wanted if wanted in EDITABLE_MODES else None


# --- services ------------------------------------------------------------------------------
@pages.get("/admin/services", who="staff")
def service_list(ctx: Ctx) -> Response:
    rows = catalog.search_services(ctx.db, ctx.arg("q"), enabled_only=False)
    grouped = [(name, [s for s, _ in items]) for name, items in groupby(rows, lambda r: r[1])]
    return ctx.render("admin/services.html", grouped=grouped, search=ctx.arg("q"))


def _form_values(ctx: Ctx, service: Service | None) -> dict[str, Any]:
    if ctx.form:
        return dict(ctx.form)
    if service is None:
        return {"type": "Default", "refill_days": "30", "enabled": "1", "fulfillment": "manual"}
    category = catalog.get_category(ctx.db, service.category_id).name
    return {
        "name": service.name,
        "category": category,
        "type": service.type,
        "rate": format_money(service.rate),
        "min_quantity": str(service.min_quantity),
        "max_quantity": str(service.max_quantity),
        "refill": "1" if service.refill else "",
        "refill_days": str(service.refill_days),
        "cancel": "1" if service.cancel else "",
        "dripfeed": "1" if service.dripfeed else "",
        "one_active_per_link": "1" if service.one_active_per_link else "",
        "description": service.description,
        "enabled": "1" if service.enabled else "",
        "fulfillment": service.fulfillment,
    }


def _service_form(ctx: Ctx, service: Service | None) -> Response:
    routed = service if service is not None and service.fulfillment == catalog.PROVIDER else None
    return ctx.render(
        "admin/service_form.html",
        service=service,
        values=_form_values(ctx, service),
        types=list(SERVICE_TYPES),
        categories=catalog.list_categories(ctx.db),
        modes=EDITABLE_MODES,
        routes=routes.routes_with_providers(ctx.db, routed.id) if routed else [],
        providers=list_providers(ctx.db) if routed else [],
    )


@pages.get("/admin/services/new", who="staff")
def new_service_form(ctx: Ctx) -> Response:
    return _service_form(ctx, None)


@pages.post("/admin/services/new", who="staff", refused=new_service_form)
def create_service(ctx: Ctx) -> Response:
    fields = _service_fields(ctx)
    service = catalog_staff.add_service(
        ctx.db, staff(ctx), fulfillment=_mode(ctx) or catalog.MANUAL, **fields
    )
    ctx.flash("ok", ctx.t("Service {id} created.", id=service.id))
    return ctx.redirect("/admin/services")


@pages.get("/admin/services/{service_id:int}", who="staff")
def edit_service_form(ctx: Ctx) -> Response:
    return _service_form(ctx, catalog.get_service(ctx.db, ctx.path_int("service_id")))


@pages.post("/admin/services/{service_id:int}", who="staff", refused=edit_service_form)
def edit_service(ctx: Ctx) -> Response:
    service_id = ctx.path_int("service_id")
    service = catalog_staff.update_service(
        ctx.db, staff(ctx), service_id, fulfillment=_mode(ctx), **_service_fields(ctx)
    )
    ctx.flash("ok", ctx.t("Service {id} saved.", id=service.id))
    return ctx.redirect("/admin/services")


@pages.post("/admin/services/{service_id:int}/enabled", who="staff")
def toggle_service(ctx: Ctx) -> Response:
    enabled = ctx.field("enabled") == "1"
    catalog_staff.set_service_enabled(ctx.db, staff(ctx), ctx.path_int("service_id"), enabled)
    return ctx.back("/admin/services")


@pages.post("/admin/services/{service_id:int}/auto-refill", who="staff")
def set_auto_refill(ctx: Ctx) -> Response:
    service_id = ctx.path_int("service_id")
    every = None if ctx.field("off") == "1" else _int_field(ctx, "every_days", N_("Every (days)"))
    service = catalog_staff.set_auto_refill(ctx.db, staff(ctx), service_id, every)
    ctx.flash("ok", ctx.t("Service {id} saved.", id=service.id))
    return ctx.redirect(f"/admin/services/{service.id}")


@pages.post("/admin/services/{service_id:int}/move", who="staff")
def move_service(ctx: Ctx) -> Response:
    step = -1 if ctx.field("step") == "up" else 1
    catalog_staff.move_service(ctx.db, staff(ctx), ctx.path_int("service_id"), step)
    return ctx.back("/admin/services")


# --- routes ------------------------------------------------------------------------------
def _routes_page(ctx: Ctx, service_id: int) -> Response:
    return ctx.redirect(f"/admin/services/{service_id}#routes")


@pages.post("/admin/services/{service_id:int}/routes", who="staff", refused=edit_service_form)
def add_route(ctx: Ctx) -> Response:
    service_id = ctx.path_int("service_id")
    provider_id = parse_id(ctx.field("provider_id"))
    if provider_id is None:
        raise DomainError(N_("Choose a provider"))
    upstream = _int_field(ctx, "provider_service_id", N_("Provider service ID"))
    cost = amount_field(ctx, "cost", N_("cost")) if ctx.field("cost").strip() else None
    route = catalog_staff.add_route(ctx.db, staff(ctx), service_id, provider_id, upstream, cost)
    ctx.flash("ok", ctx.t("Route {position} added.", position=route.position))
    return _routes_page(ctx, service_id)


@pages.post(
    "/admin/services/{service_id:int}/routes/{route_id:int}/remove", who="staff",
    refused=edit_service_form,
)
def remove_route(ctx: Ctx) -> Response:
    service_id = ctx.path_int("service_id")
    catalog_staff.remove_route(ctx.db, staff(ctx), service_id, ctx.path_int("route_id"))
    ctx.flash("ok", ctx.t("Route removed."))
    return _routes_page(ctx, service_id)


@pages.post(
    "/admin/services/{service_id:int}/routes/{route_id:int}/move", who="staff",
    refused=edit_service_form,
)
def move_route(ctx: Ctx) -> Response:
    service_id = ctx.path_int("service_id")
    position = parse_id(ctx.field("position"))
    if position is None:
        raise DomainError(N_("The position must be a whole number"))
    catalog_staff.move_route(ctx.db, staff(ctx), service_id, ctx.path_int("route_id"), position)
    return _routes_page(ctx, service_id)


# --- categories ----------------------------------------------------------------------------
@pages.get("/admin/categories", who="staff")
def category_list(ctx: Ctx) -> Response:
    categories = catalog.list_categories(ctx.db)
    return ctx.render(
        "admin/categories.html",
        categories=[(c, platforms.platform_of(c.name, c.platform)) for c in categories],
        platforms=sorted(platforms.PLATFORMS.values(), key=lambda p: p.name.casefold()),
        names={p.slug: p.name for p in platforms.PLATFORMS.values()},
    )


@pages.post("/admin/categories/{category_id:int}/platform", who="staff", refused=category_list)
def set_category_platform(ctx: Ctx) -> Response:
    category = catalog_staff.set_category_platform(
        ctx.db, staff(ctx), ctx.path_int("category_id"), ctx.field("platform")
    )
    ctx.flash("ok", ctx.t("Category {name} saved.", name=category.name))
    return ctx.redirect("/admin/categories")


@pages.post("/admin/categories", who="staff")
def create_category(ctx: Ctx) -> Response:
    category = catalog_staff.create_category(ctx.db, staff(ctx), ctx.field("name"))
    ctx.flash("ok", ctx.t("Category {name} created.", name=category.name))
    return ctx.redirect("/admin/categories")


@pages.post("/admin/categories/{category_id:int}/rename", who="staff")
def rename_category(ctx: Ctx) -> Response:
    category = catalog_staff.rename_category(
        ctx.db, staff(ctx), ctx.path_int("category_id"), ctx.field("name")
    )
    ctx.flash("ok", ctx.t("Category {name} saved.", name=category.name))
    return ctx.redirect("/admin/categories")


@pages.post("/admin/categories/{category_id:int}/move", who="staff")
def move_category(ctx: Ctx) -> Response:
    step = -1 if ctx.field("step") == "up" else 1
    catalog_staff.move_category(ctx.db, staff(ctx), ctx.path_int("category_id"), step)
    return ctx.redirect("/admin/categories")
