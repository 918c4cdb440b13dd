"""Staff pages for tickets: the inbox, a ticket (reply, assign, close, act on its orders)
and the canned replies."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.responses import Response

from opensmm.accounts.models import User
from opensmm.admin.users import staff
from opensmm.catalog.models import Service
from opensmm.db.pagination import page_number
from opensmm.db.types import parse_id
from opensmm.orders.models import Order
from opensmm.orders.service import can_cancel
from opensmm.refills.service import can_refill, open_refills
from opensmm.tickets import service as tickets
from opensmm.tickets import statuses as ts
from opensmm.tickets.models import Ticket
from opensmm.tickets.notify import reply_text
from opensmm.web.context import Ctx
from opensmm.web.framework import Pages
from opensmm.web.tickets import thread_rows

pages = Pages()


@pages.get("/admin/tickets", who="staff")
def inbox(ctx: Ctx) -> Response:
    wanted = tickets.InboxFilter(
        status=ctx.arg("status"),
        subject=ctx.arg("subject"),
        assignee=str(ctx.me.id) if ctx.arg("assignee") == "me" else ctx.arg("assignee"),
        unread=ctx.arg("unread") == "1",
    )
    page = tickets.inbox(ctx.db, wanted, page_number(ctx.arg("page")))
    members = tickets.staff_members(ctx.db)
    return ctx.render(
        "admin/tickets.html",
        page=page,
        wanted=wanted,
        assignee_arg=ctx.arg("assignee"),
        statuses=ts.STATUS_LABELS,
        subjects=ts.SUBJECT_LABELS,
        staff_names={member.id: member.name for member in members},
        members=members,
        unread=tickets.unread_for_staff(ctx.db),
    )


def _order_actions(ctx: Ctx, ticket: Ticket) -> list[dict[str, Any]]:
    """The ticket's orders, each with whether staff may act on it now and why not."""
    if not ticket.orders:
        return []
    found = {o.id: o for o in ctx.db.scalars(select(Order).where(
        Order.id.in_(ticket.orders), Order.user_id == ticket.user_id))}
    services = {s.id: s for s in ctx.db.scalars(select(Service).where(
        Service.id.in_({o.service_id for o in found.values()})))} if found else {}
    refilling = open_refills(ctx.db, list(found))
    rows: list[dict[str, Any]] = []
    for order_id in ticket.orders:
        order = found.get(order_id)
        if order is None:
            rows.append({"id": order_id, "order": None, "decision": None})
            continue
        service = services.get(order.service_id)
        decision = None
        if ticket.subject == ts.REFILL:
            decision = can_refill(order, service, has_open_refill=order.id in refilling)
        elif ticket.subject == ts.CANCEL:
            decision = can_cancel(order, service)
        rows.append({"id": order_id, "order": order, "decision": decision})
    return rows


def _ticket_page(ctx: Ctx, ticket: Ticket) -> Response:
    canned = tickets.canned_replies(ctx.db)
    reply = ctx.field("message")
    chosen = parse_id(ctx.arg("canned"))
    if chosen is not None and not reply:
        reply = tickets.get_canned(ctx.db, chosen).body
    customer_name = ctx.db.scalar(select(User.name).where(User.id == ticket.user_id)) or ""
    return ctx.render(
        "admin/ticket.html",
        ticket=ticket,
        customer_name=customer_name,
        rows=thread_rows(ctx, ticket),
        statuses=ts.STATUS_LABELS,
        subjects=ts.SUBJECT_LABELS,
        members=tickets.staff_members(ctx.db),
        canned=canned,
        reply=reply,
        limit=tickets.MESSAGE_MAX,
        order_rows=_order_actions(ctx, ticket),
        action=ticket.subject if ticket.subject in ts.ACTIONABLE else None,
    )


@pages.get("/admin/tickets/{ticket_id:int}", who="staff", unit="write")
def ticket_page(ctx: Ctx) -> Response:
    ticket = tickets.get_ticket(ctx.db, ctx.path_int("ticket_id"))
    tickets.seen_by_staff(ticket)
    return _ticket_page(ctx, ticket)


def _refused(ctx: Ctx) -> Response:
    return _ticket_page(ctx, tickets.get_ticket(ctx.db, ctx.path_int("ticket_id")))


def _back(ctx: Ctx, ticket_id: int) -> Response:
    return ctx.redirect(f"/admin/tickets/{ticket_id}")


def _base_url(ctx: Ctx) -> str:
    return str(ctx.request.base_url).rstrip("/")


@pages.post("/admin/tickets/{ticket_id:int}/reply", who="staff", refused=_refused)
def reply(ctx: Ctx) -> Response:
    ticket_id = ctx.path_int("ticket_id")
    tickets.staff_reply(ctx.db, staff(ctx), ticket_id, ctx.field("message"),
                        base_url=_base_url(ctx))
    if ctx.field("close") == "1":
        tickets.set_closed(ctx.db, staff(ctx), ticket_id, True)
    ctx.flash("ok", ctx.t("Reply sent."))
    return _back(ctx, ticket_id)


@pages.post("/admin/tickets/{ticket_id:int}/assign", who="staff")
def assign(ctx: Ctx) -> Response:
    ticket_id = ctx.path_int("ticket_id")
    raw = ctx.field("assignee").strip()
    assignee = None if raw in ("", "none") else (parse_id(raw) or -1)
    ticket = tickets.assign(ctx.db, staff(ctx), ticket_id, assignee)
    ctx.flash("ok", ctx.t("Ticket {id} assigned.", id=ticket.id) if ticket.assignee_id
              else ctx.t("Ticket {id} unassigned.", id=ticket.id))
    return _back(ctx, ticket_id)


@pages.post("/admin/tickets/{ticket_id:int}/close", who="staff")
def close(ctx: Ctx) -> Response:
    ticket = tickets.set_closed(ctx.db, staff(ctx), ctx.path_int("ticket_id"), True)
    ctx.flash("ok", ctx.t("Ticket {id} closed.", id=ticket.id))
    return _back(ctx, ticket.id)


@pages.post("/admin/tickets/{ticket_id:int}/reopen", who="staff")
def reopen(ctx: Ctx) -> Response:
    ticket = tickets.set_closed(ctx.db, staff(ctx), ctx.path_int("ticket_id"), False)
    ctx.flash("ok", ctx.t("Ticket {id} reopened.", id=ticket.id))
    return _back(ctx, ticket.id)


def _act(ctx: Ctx, action: str) -> Response:
    ticket_id = ctx.path_int("ticket_id")
    message = tickets.act_on_order(ctx.db, staff(ctx), ticket_id, ctx.path_int("order_id"),
                                   action, base_url=_base_url(ctx))
    if message.action == tickets.REFUSED:
        ctx.flash("error", reply_text(ctx.t, message))
    else:
        ctx.flash("ok", reply_text(ctx.t, message))
    return _back(ctx, ticket_id)


@pages.post("/admin/tickets/{ticket_id:int}/orders/{order_id:int}/refill", who="staff")
def refill(ctx: Ctx) -> Response:
    return _act(ctx, ts.REFILL)


@pages.post("/admin/tickets/{ticket_id:int}/orders/{order_id:int}/cancel", who="staff")
def cancel(ctx: Ctx) -> Response:
    return _act(ctx, ts.CANCEL)


# --- canned replies -----------------------------------------------------------------------
@pages.get("/admin/canned", who="staff")
def canned(ctx: Ctx) -> Response:
    return ctx.render("admin/canned.html", rows=tickets.canned_replies(ctx.db),
                      title=ctx.field("title"), body=ctx.field("body"),
                      limit=tickets.MESSAGE_MAX)


@pages.post("/admin/canned", who="staff", refused=canned)
def add_canned(ctx: Ctx) -> Response:
    row = tickets.add_canned(ctx.db, staff(ctx), ctx.field("title"), ctx.field("body"))
    ctx.flash("ok", ctx.t("Canned reply {title} added.", title=row.title))
    return ctx.redirect("/admin/canned")


@pages.post("/admin/canned/{canned_id:int}/delete", who="staff")
def delete_canned(ctx: Ctx) -> Response:
    tickets.delete_canned(ctx.db, staff(ctx), ctx.path_int("canned_id"))
    ctx.flash("ok", ctx.t("Canned reply deleted."))
    return ctx.redirect("/admin/canned")
