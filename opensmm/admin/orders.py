"""Staff pages for orders and refills: filters, detail and history, status changes with
their refunds, held orders settled by a person."""

from __future__ import annotations

from starlette.responses import Response

from opensmm.admin.users import staff
from opensmm.catalog.routes import routes_with_providers
from opensmm.catalog.service import get_service
from opensmm.db.pagination import page_number
from opensmm.db.types import parse_id
from opensmm.errors import DomainError
from opensmm.fulfillment.routing import route_number
from opensmm.i18n import N_
from opensmm.orders import queries
from opensmm.orders import service as orders
from opensmm.orders import staff as orders_staff
from opensmm.orders import statuses as st
from opensmm.orders.fields import parse_int
from opensmm.orders.models import Order
from opensmm.orders.service import OrderNotFound
from opensmm.providers.models import Provider
from opensmm.refills import queries as refill_queries
from opensmm.refills import statuses as rs
from opensmm.subscriptions import service as subscriptions
from opensmm.web.context import Ctx
from opensmm.web.framework import Pages

pages = Pages()

STATUS_CHOICES = tuple(dict.fromkeys((*st.ORDER_STATUSES, *st.SUBSCRIPTION_STATUSES)))


def _optional_int(ctx: Ctx, name: str, label: str) -> int | None:
    raw = ctx.field(name).strip()
    if raw == "":
        return None
    return parse_int(raw, DomainError(N_('{label} must be a whole number'), label=label))


def _user_id(ctx: Ctx) -> int | None:
    return parse_id(ctx.arg("user"))


@pages.get("/admin/orders", who="staff")
def order_list(ctx: Ctx) -> Response:
    service = ctx.arg("service")
    wanted = queries.OrderFilter(
        user_id=_user_id(ctx),
        status=ctx.arg("status") or None,
        search=ctx.arg("q"),
        service_id=parse_id(service),
    )
    page = queries.list_orders(ctx.db, wanted, page_number(ctx.arg("page")))
    return ctx.render(
        "admin/orders.html",
        page=page,
        status=queries.canonical_status(wanted.status) or "",
        status_tabs=("", *st.ORDER_STATUSES),
        search=wanted.search,
    )


@pages.get("/admin/orders/{order_id:int}", who="staff")
def order_detail(ctx: Ctx) -> Response:
    row = queries.get_order(ctx.db, ctx.path_int("order_id"))
    if row is None:
        raise OrderNotFound()
    order = row.order
    provider = ctx.db.get(Provider, order.provider_id) if order.provider_id else None
    subscription = orders.is_subscription(order) and order.posts is not None
    allowed = st.SUBSCRIPTION_STATUSES if orders.is_subscription(order) else st.ORDER_STATUSES
    return ctx.render(
        "admin/order.html",
        row=row,
        order=order,
        service=get_service(ctx.db, order.service_id),
        provider=provider,
        events=queries.events(ctx.db, order.id),
        statuses=allowed,
        held=order.is_held,
        can_cancel=orders.can_staff_cancel(order),
        route_number=_route_number(ctx, order),
        upstream_cost=queries.upstream_cost_of(order),
        posts=subscriptions.posts_of(ctx.db, [order.id])[order.id] if subscription else None,
    )


def _route_number(ctx: Ctx, order: Order) -> int | None:
    return route_number(routes_with_providers(ctx.db, order.service_id), order)


def _to_order(ctx: Ctx, order_id: int) -> Response:
    return ctx.redirect(f"/admin/orders/{order_id}")


@pages.post("/admin/orders/{order_id:int}", who="staff", refused=order_detail)
def update_order(ctx: Ctx) -> Response:
    order_id = ctx.path_int("order_id")
    update = orders.OrderUpdate(
        status=ctx.field("status").strip() or None,
        start_count=_optional_int(ctx, "start_count", "The start count"),
        remains=_optional_int(ctx, "remains", "Remains"),
    )
    order = orders_staff.update_order(ctx.db, staff(ctx), order_id, update)
    ctx.flash("ok", ctx.t("Order {id} saved.", id=order.id))
    return _to_order(ctx, order.id)


@pages.post("/admin/orders/{order_id:int}/cancel", who="staff", refused=order_detail)
def cancel_order(ctx: Ctx) -> Response:
    """Cancel with a full refund of what was not refunded yet (exactly once)."""
    order_id = ctx.path_int("order_id")
    before = orders.lock_order(ctx.db, order_id).refunded
    order = orders_staff.update_order(
        ctx.db, staff(ctx), order_id, orders.OrderUpdate(status=st.CANCELED)
    )
    ctx.flash("ok", ctx.t("Order {id} canceled: {amount} refunded.", id=order.id,
                          amount=ctx.money(order.refunded - before)))
    return _to_order(ctx, order.id)


@pages.post("/admin/orders/{order_id:int}/posts", who="staff", refused=order_detail)
def record_post(ctx: Ctx) -> Response:
    """A new post of a subscription's account (manual mode): its order, charged now."""
    order_id = ctx.path_int("order_id")
    number = orders_staff.record_post(ctx.db, staff(ctx), order_id, ctx.field("link"))
    ctx.flash("ok", ctx.t("Post {number} recorded.", number=number))
    return _to_order(ctx, order_id)


@pages.post("/admin/orders/{order_id:int}/resolve", who="staff", refused=order_detail)
def resolve_held(ctx: Ctx) -> Response:
    """A held order: it exists upstream (record its id) or it does not (send it again)."""
    order_id = ctx.path_int("order_id")
    resend = ctx.field("choice") == "resend"
    upstream_id = None if resend else _optional_int(ctx, "upstream_id", "The upstream ID")
    order = orders_staff.resolve_order(
        ctx.db, staff(ctx), order_id, upstream_id=upstream_id, resend=resend
    )
    ctx.flash("ok", ctx.t("Order {id} saved.", id=order.id))
    return _to_order(ctx, order.id)


# --- refills -------------------------------------------------------------------------------
@pages.get("/admin/refills", who="staff")
def refill_list(ctx: Ctx) -> Response:
    status = ctx.arg("status")
    page = refill_queries.list_refills(
        ctx.db, status=status or None, page=page_number(ctx.arg("page"))
    )
    return ctx.render(
        "admin/refills.html",
        page=page,
        status=status,
        status_tabs=("", *rs.REFILL_STATUSES),
        statuses=rs.REFILL_STATUSES,
    )


@pages.post("/admin/refills/{refill_id:int}/resolve", who="staff")
def resolve_held_refill(ctx: Ctx) -> Response:
    """A held refill: it exists upstream (record its id) or it does not (send it again)."""
    resend = ctx.field("choice") == "resend"
    upstream_id = None if resend else _optional_int(ctx, "upstream_id", "The upstream ID")
    refill = orders_staff.resolve_refill(
        ctx.db, staff(ctx), ctx.path_int("refill_id"), upstream_id=upstream_id, resend=resend
    )
    ctx.flash("ok", ctx.t("Refill {id} saved.", id=refill.id))
    return ctx.back("/admin/refills")


@pages.post("/admin/refills/{refill_id:int}", who="staff")
def update_refill(ctx: Ctx) -> Response:
    refill = orders_staff.set_refill_status(
        ctx.db, staff(ctx), ctx.path_int("refill_id"), ctx.field("status")
    )
    ctx.flash("ok", ctx.t("Refill {id} saved.", id=refill.id))
    return ctx.back("/admin/refills")
