"""Customer pages for orders: new order (with a live price), mass order, orders, refills."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from starlette.responses import Response

from opensmm.accounts.models import User
from opensmm.catalog import platforms, storefront
from opensmm.catalog.models import Service
from opensmm.catalog.service import list_services, matching, services_by_id
from opensmm.catalog.types import Units, service_type
from opensmm.db import utcnow
from opensmm.db.pagination import page_number
from opensmm.errors import DomainError
from opensmm.i18n import N_, formatting
from opensmm.money import format_money
from opensmm.orders import queries
from opensmm.orders import service as orders
from opensmm.orders import statuses as st
from opensmm.orders.fields import SUBSCRIPTION_DELAYS
from opensmm.refills import queries as refill_queries
from opensmm.refills import service as refills
from opensmm.refills import statuses as rs
from opensmm.scorecards import service as scorecards
from opensmm.subscriptions import queries as subscription_queries
from opensmm.web.context import Ctx
from opensmm.web.framework import Pages

pages = Pages()

MAX_MASS_LINES = 100
CANCEL_FORWARDED = N_(
    "Cancel of order {id} requested: the provider is asked, and the refund follows what it "
    "answers."
)


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    kind: str  # "text", "number", "textarea", "select"
    hint: str = ""


# Every field an order form may need; each service shows the ones its type asks for.
ORDER_FIELDS = (
    FormField("link", N_("Link"), "text"),
    FormField("quantity", N_("Quantity"), "number"),
    FormField("comments", N_("Comments"), "textarea", N_("One per line")),
    FormField("usernames", N_("Usernames"), "textarea", N_("One per line")),
    FormField("hashtags", N_("Hashtags"), "textarea", N_("One per line")),
    FormField("hashtag", N_("Hashtag"), "text"),
    FormField("username", N_("Username"), "text"),
    FormField("media", N_("Media link"), "text"),
    FormField("groups", N_("Groups"), "textarea", N_("One per line")),
    FormField("answer_number", N_("Answer number"), "number"),
    FormField("min", N_("Minimum per post"), "number"),
    FormField("max", N_("Maximum per post"), "number"),
    FormField("posts", N_("Posts"), "number"),
    FormField("old_posts", N_("Old posts"), "number"),
    FormField("delay", N_("Delay (minutes)"), "select"),
    FormField("expiry", N_("Expiry (d/m/Y)"), "text", N_("Optional")),
)
ORDER_FIELD_NAMES = frozenset(f.name for f in ORDER_FIELDS) | {"runs", "interval", "service"}
SUBSCRIPTION_FIELDS = ("link", "username", "min", "max", "posts", "old_posts", "delay", "expiry")


def fields_for(service: Service) -> list[str]:
    """The form fields ``service``'s type asks for, in the form's order."""
    kind = service_type(service.type)
    if kind.units is Units.SUBSCRIPTION:
        return list(SUBSCRIPTION_FIELDS)
    wanted = {"link", *kind.required}
    if kind.units is Units.QUANTITY:
        wanted.add("quantity")
    return [f.name for f in ORDER_FIELDS if f.name in wanted]


def service_payload(
    service: Service,
    category: str,
    user: User | None,
    shown: Callable[[Decimal], str] = format_money,
    say: Callable[[str], str] = str,
) -> dict[str, Any]:
    """What the order form's script needs to know about a service (``shown``: the rate as
    the visitor reads money; ``say``: a word in the visitor's language, for its type)."""
    rate = orders.customer_rate(service, user) if user is not None else service.rate
    kind = service_type(service.type)
    return {
        "id": service.id,
        "name": service.name,
        "category": category,
        "type": service.type,
        "type_label": say(service.type),
        "rate": format_money(rate),
        "rate_shown": shown(rate),
        "min": service.min_quantity,
        "max": service.max_quantity,
        "desc": service.description,
        "refill": service.refill,
        "cancel": service.cancel,
        "dripfeed": service.dripfeed and kind.units is Units.QUANTITY,
        "flat": kind.units is Units.FLAT,
        "fields": fields_for(service),
    }


def with_average_times(ctx: Ctx, payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each service's average time per 1000 (stored by the worker: one small read), in the
    visitor's words; "" when the service has none yet."""
    seconds = scorecards.average_times(ctx.db)
    for item in payloads:
        known = seconds.get(item["id"])
        item["avg_time"] = "" if known is None else scorecards.human_duration(ctx.t, known)
    return payloads


def _order_params(form: dict[str, str]) -> dict[str, object]:
    """The form's order fields, as the API would receive them."""
    params: dict[str, object] = {
        name: value for name, value in form.items() if name in ORDER_FIELD_NAMES and value != ""
    }
    if form.get("dripfeed") != "1":
        params.pop("runs", None)
        params.pop("interval", None)
    return params


# --- new order -----------------------------------------------------------------------------
@pages.get("/order/new")
def new_order_form(ctx: Ctx) -> Response:
    # ?q= narrows the lists without a script (the script filters the same way as you type).
    search = ctx.arg("q")
    rows = list_services(ctx.db)
    found = matching(rows, search)
    icons = storefront.icons(ctx.db)
    services = with_average_times(
        ctx, [service_payload(s, c, ctx.me, ctx.money, ctx.t) for s, c in found]
    )
    for item in services:
        item["rate_approx"] = ctx.approx(Decimal(item["rate"]))
        item["platform"] = icons.get(item["category"]) or platforms.GENERIC
    categories = list(dict.fromkeys(item["category"] for item in services))
    values = dict(ctx.form) if ctx.form else {"service": ctx.arg("service")}
    chosen = next((s for s in services if str(s["id"]) == values.get("service")), None)
    if chosen is None and services:
        chosen = services[0]
    return ctx.render(
        "order_new.html",
        services=services,
        any_service=bool(rows),
        search=search,
        counting=ctx.t.plural_forms("{n} service", "{n} services"),
        categories=categories,
        chosen=chosen,
        values=values,
        fields=ORDER_FIELDS,
        delays=SUBSCRIPTION_DELAYS,
    )


@pages.post("/order/new", refused=new_order_form)
def place_order(ctx: Ctx) -> Response:
    order = orders.place_order(ctx.db, ctx.me, _order_params(ctx.form))
    charge = ctx.money(order.charge)
    ctx.flash("ok", ctx.t("Order {id} placed: {charge} charged.", id=order.id, charge=charge))
    return ctx.redirect("/orders")


@pages.post("/order/quote", unit="read")
def quote(ctx: Ctx) -> Response:
    """The live price of the form as it stands, with the API's own validation message."""
    try:
        found = queries.quote_order(ctx.db, ctx.me, _order_params(ctx.form))
    except DomainError as exc:  # read-only: nothing to roll back
        return ctx.json({"error": ctx.t.error(exc)})
    enough = found.charge <= ctx.me.balance
    return ctx.json(
        {
            "charge": format_money(found.charge),
            "shown": ctx.money(found.charge),
            "approx": ctx.approx(found.charge),
            "units": found.units,
            "rate": format_money(found.rate),
            "enough": enough,
            "note": "" if enough else ctx.t("Not enough funds on balance"),
            # Drip-feed: the price is for every run, so the total quantity is said beside it.
            "quantity_note": ctx.t(
                "{total} in total: {per_run}", total=formatting.number(found.units, ctx.lang),
                per_run=ctx.t.ngettext(
                    "{quantity} per run × {n} run", "{quantity} per run × {n} runs", found.runs,
                    quantity=formatting.number(found.quantity, ctx.lang),
                ),
            ) if found.runs else "",
        }
    )


# --- mass order ----------------------------------------------------------------------------
@dataclass(frozen=True)
class MassLine:
    number: int
    text: str
    order_id: int | None
    message: str


def _split_line(line: str) -> dict[str, object]:
    parts = [part.strip() for part in line.split("|")]
    if len(parts) != 3:
        raise DomainError(N_('Each line is: service | link | quantity'))
    return {"service": parts[0], "link": parts[1], "quantity": parts[2]}


@pages.get("/order/mass")
def mass_order_form(ctx: Ctx) -> Response:
    return ctx.render("order_mass.html", text="", results=[])


@pages.post("/order/mass", unit="none")
def mass_order(ctx: Ctx) -> Response:
    """Each line is its own order in its own unit of work: one refusal does not undo others."""
    text = ctx.field("orders")
    lines = [line for line in text.replace("\r\n", "\n").split("\n") if line.strip()]
    results: list[MassLine] = []
    for number, line in enumerate(lines[:MAX_MASS_LINES], start=1):
        try:
            with ctx.web.db.write() as session:
                user = session.get(User, ctx.me.id)
                assert user is not None
                order = orders.place_order(session, user, _split_line(line))
                message = ctx.t("Order {id} placed: {charge} charged.", id=order.id,
                                charge=ctx.money(order.charge))
                results.append(MassLine(number, line, order.id, message))
        except DomainError as exc:
            results.append(MassLine(number, line, None, ctx.t.error(exc)))
    if len(lines) > MAX_MASS_LINES:
        ctx.error = ctx.t.ngettext(
            "Only the first {n} line was read.",
            "Only the first {n} lines were read.",
            MAX_MASS_LINES,
        )
    with ctx.web.db.read() as session:
        ctx.session = session
        ctx.user = session.get(User, ctx.me.id)
        return ctx.render("order_mass.html", text=text, results=results)


# --- orders and refills --------------------------------------------------------------------
ORDER_TABS = ("", *st.ORDER_STATUSES)


@pages.get("/orders")
def order_list(ctx: Ctx) -> Response:
    wanted = queries.OrderFilter(
        user_id=ctx.me.id, status=ctx.arg("status") or None, search=ctx.arg("q")
    )
    page = queries.list_orders(ctx.db, wanted, page_number(ctx.arg("page")))
    services = services_by_id(ctx.db, {row.order.service_id for row in page.items})
    open_refills = refills.open_refills(ctx.db, [row.order.id for row in page.items])
    now = utcnow()
    return ctx.render(
        "orders.html",
        page=page,
        services=services,
        status=queries.canonical_status(wanted.status) or "",
        status_tabs=ORDER_TABS,
        search=wanted.search,
        # The services' own rules (the API asks the same): truthy decisions with a reason.
        can_refill=lambda order, service: refills.can_refill(
            order, service, has_open_refill=order.id in open_refills, now=now
        ),
        can_cancel=orders.can_cancel,
    )


@pages.post("/orders/{order_id:int}/refill")
def ask_refill(ctx: Ctx) -> Response:
    refill = refills.request_refill(ctx.db, ctx.me, ctx.path_int("order_id"))
    ctx.flash("ok", ctx.t("Refill {id} requested for order {order}.", id=refill.id,
                          order=refill.order_id))
    return ctx.back("/orders")


@pages.post("/orders/{order_id:int}/cancel")
def cancel_order(ctx: Ctx) -> Response:
    order = orders.cancel_by_customer(ctx.db, ctx.me, ctx.path_int("order_id"))
    if orders.is_upstream(order):  # asked of the provider: nothing refunded yet
        ctx.flash("ok", ctx.t(CANCEL_FORWARDED, id=order.id))
    else:
        ctx.flash("ok", ctx.t("Order {id} canceled: {amount} refunded.", id=order.id,
                              amount=ctx.money(order.refunded)))
    return ctx.back("/orders")


@pages.get("/subscriptions")
def subscription_list(ctx: Ctx) -> Response:
    page = subscription_queries.list_subscriptions(ctx.db, ctx.me.id, page_number(ctx.arg("page")))
    services = services_by_id(ctx.db, {row.order.service_id for row in page.items})
    return ctx.render(
        "subscriptions.html",
        page=page,
        can_cancel=lambda order: orders.can_cancel(order, services.get(order.service_id)),
    )


@pages.get("/refills")
def refill_list(ctx: Ctx) -> Response:
    status = ctx.arg("status")
    page = refill_queries.list_refills(
        ctx.db, user_id=ctx.me.id, status=status or None, page=page_number(ctx.arg("page"))
    )
    return ctx.render(
        "refills.html", page=page, status=status, status_tabs=("", *rs.REFILL_STATUSES)
    )
