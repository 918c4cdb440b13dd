"""Customer pages for support tickets: the list, a new ticket, a ticket's thread."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from opensmm.db.pagination import page_number
from opensmm.tickets import service as tickets
from opensmm.tickets import statuses as ts
from opensmm.tickets.models import Ticket
from opensmm.tickets.notify import reply_text
from opensmm.web.context import Ctx
from opensmm.web.framework import Pages

pages = Pages()


def thread_rows(ctx: Ctx, ticket: Ticket) -> list[dict[str, Any]]:
    """The thread as the page shows it: each message's author, side and text (translated
    when it is the outcome of a staff action)."""
    messages = tickets.thread(ctx.db, ticket.id)
    names = tickets.authors(ctx.db, messages)
    return [
        {
            "id": message.id,
            "author": names.get(message.author_id, ""),
            "from_staff": message.from_staff,
            "action": message.action is not None,
            "text": reply_text(ctx.t, message),
            "created_at": message.created_at,
        }
        for message in messages
    ]


@pages.get("/tickets")
def ticket_list(ctx: Ctx) -> Response:
    page = tickets.customer_tickets(ctx.db, ctx.me.id, page_number(ctx.arg("page")))
    return ctx.render("tickets.html", page=page, subjects=ts.SUBJECT_LABELS,
                      statuses=ts.STATUS_LABELS)


@pages.get("/tickets/new")
def new_ticket(ctx: Ctx) -> Response:
    subject = ctx.field("subject") or ctx.arg("subject")
    return ctx.render(
        "ticket_new.html",
        subjects=ts.SUBJECT_LABELS,
        with_orders=ts.WITH_ORDERS,
        subject=subject if subject in ts.SUBJECTS else "",
        title=ctx.field("title"),
        order_ids=ctx.field("order_ids") or ctx.arg("orders"),
        message=ctx.field("message"),
        limits={"title": tickets.TITLE_MAX, "message": tickets.MESSAGE_MAX},
    )


@pages.post("/tickets/new", refused=new_ticket)
def open_ticket(ctx: Ctx) -> Response:
    ticket = tickets.open_ticket(
        ctx.db, ctx.me,
        subject=ctx.field("subject"),
        title=ctx.field("title"),
        message=ctx.field("message"),
        order_ids=ctx.field("order_ids"),
    )
    ctx.flash("ok", ctx.t("Ticket {id} opened. We will answer here.", id=ticket.id))
    return ctx.redirect(f"/tickets/{ticket.id}")


def _ticket_page(ctx: Ctx, ticket: Ticket) -> Response:
    return ctx.render(
        "ticket.html",
        ticket=ticket,
        rows=thread_rows(ctx, ticket),
        subjects=ts.SUBJECT_LABELS,
        statuses=ts.STATUS_LABELS,
        reply=ctx.field("message"),
        closed=ticket.status == ts.CLOSED,
        limit=tickets.MESSAGE_MAX,
    )


@pages.get("/tickets/{ticket_id:int}", unit="write")
def ticket_page(ctx: Ctx) -> Response:
    ticket = tickets.get_ticket(ctx.db, ctx.path_int("ticket_id"), ctx.me.id)
    tickets.seen_by_customer(ticket)
    return _ticket_page(ctx, ticket)


def _refused_reply(ctx: Ctx) -> Response:
    ticket = tickets.get_ticket(ctx.db, ctx.path_int("ticket_id"), ctx.me.id)
    return _ticket_page(ctx, ticket)


@pages.post("/tickets/{ticket_id:int}/reply", refused=_refused_reply)
def reply(ctx: Ctx) -> Response:
    ticket_id = ctx.path_int("ticket_id")
    tickets.customer_reply(ctx.db, ctx.me, ticket_id, ctx.field("message"))
    ctx.flash("ok", ctx.t("Your reply was sent."))
    return ctx.redirect(f"/tickets/{ticket_id}")
