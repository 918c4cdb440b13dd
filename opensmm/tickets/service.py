"""Tickets: opened and answered by customers, answered, assigned, closed and acted on by
staff. Services never commit; every staff action writes an audit row."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opensmm.accounts.models import User
from opensmm.audit import service as audit
from opensmm.audit.actor import Actor
from opensmm.db import utcnow
from opensmm.db.pagination import Page, paginate
from opensmm.db.types import parse_id
from opensmm.errors import DomainError, NotFound
from opensmm.i18n import N_, Term
from opensmm.orders import service as orders
from opensmm.orders import statuses as order_statuses
from opensmm.orders.models import Order
from opensmm.refills import service as refills
from opensmm.tickets import notify
from opensmm.tickets import statuses as ts
from opensmm.tickets.models import CannedReply, Ticket, TicketMessage

TITLE_MAX = 150
MESSAGE_MAX = 5000
MAX_OPEN_TICKETS = 5
MESSAGES_PER_MINUTE = 5
MAX_ORDER_IDS = 20
CANNED_TITLE_MAX = 100


class TicketNotFound(NotFound):
    message = N_("Ticket not found")


class TicketRefused(DomainError):
    pass


class CannedReplyNotFound(NotFound):
    message = N_("Canned reply not found")


# --- what a message says when it is the outcome of a staff action --------------------------
REFILLED = "refill"
CANCELED = "cancel"
CANCEL_REQUESTED = "cancel_requested"
REFUSED = "refused"
ACTIONS = {
    REFILLED: N_("Refill {refill} requested for order {order}."),
    CANCELED: N_("Order {order} canceled and refunded."),
    CANCEL_REQUESTED: N_("Cancel of order {order} requested from the provider."),
    REFUSED: N_("Order {order} was not changed: {reason}"),
}


# --- reading input ------------------------------------------------------------------------
_ID_SEPARATORS = re.compile(r"[\s,;]+")


def parse_order_ids(raw: str) -> list[int]:
    """``"12, 15"`` (commas, spaces or semicolons; ``#12`` too) as ids, each once."""
    ids: list[int] = []
    for part in _ID_SEPARATORS.split(raw.strip()):
        if not part:
            continue
        number = parse_id(part.removeprefix("#"))
        if number is None:
            raise TicketRefused(N_("{value!r} is not an order id"), value=part[:30])
        if number not in ids:
            ids.append(number)
    if len(ids) > MAX_ORDER_IDS:
        raise TicketRefused(N_("At most {n} order ids per ticket"), n=MAX_ORDER_IDS)
    return ids


# Like the pages' ``Ctx.field``: no control characters (a NUL cannot even be stored on
# PostgreSQL), whichever door the text came through; a title is one line.
_CONTROL_IN_LINE = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _text(raw: str, limit: int, empty: str, too_long: str, *, one_line: bool = False) -> str:
    text = (_CONTROL_IN_LINE if one_line else _CONTROL_IN_TEXT).sub("", raw).strip()
    if not text:
        raise TicketRefused(empty)
    if len(text) > limit:
        raise TicketRefused(too_long, max=limit)
    return text


def _message_text(raw: str) -> str:
    return _text(raw, MESSAGE_MAX, N_("Please write a message"),
                 N_("A message is at most {max} characters"))


def _check_own_orders(session: Session, user: User, ids: list[int]) -> None:
    if not ids:
        return
    owned = set(session.scalars(select(Order.id).where(Order.id.in_(ids),
                                                        Order.user_id == user.id)))
    missing = [str(i) for i in ids if i not in owned]
    if missing:
        raise TicketRefused(N_("These are not your orders: {ids}"), ids=", ".join(missing))


def _lock_user(session: Session, user_id: int) -> User:
    """The customer's row, locked: their open-ticket count and message rate are checked
    and changed by one request at a time."""
    user = session.scalar(select(User).where(User.id == user_id).with_for_update())
    if user is None:
        raise TicketNotFound()
    return user


def _check_rate(session: Session, user_id: int) -> None:
    since = utcnow() - timedelta(minutes=1)
    recent = session.scalar(
        select(func.count()).select_from(TicketMessage)
        .where(TicketMessage.author_id == user_id, TicketMessage.created_at > since)
    )
    if int(recent or 0) >= MESSAGES_PER_MINUTE:
        raise TicketRefused(N_("You are sending messages too fast; please wait a minute"))


# --- customers ----------------------------------------------------------------------------
def open_ticket(
    session: Session, user: User, *, subject: str, title: str, message: str, order_ids: str = ""
) -> Ticket:
    """A customer's new ticket with its first message."""
    if subject not in ts.SUBJECTS:
        raise TicketRefused(N_("Please choose a subject"))
    title = _text(title, TITLE_MAX, N_("Please give the ticket a title"),
                  N_("A title is at most {max} characters"), one_line=True)
    body = _message_text(message)
    ids = parse_order_ids(order_ids)
    if subject in ts.WITH_ORDERS and not ids:
        raise TicketRefused(N_("Please give the ids of the orders this is about"))
    _lock_user(session, user.id)
    open_count = session.scalar(
        select(func.count()).select_from(Ticket)
        .where(Ticket.user_id == user.id, Ticket.status != ts.CLOSED)
    )
    if int(open_count or 0) >= MAX_OPEN_TICKETS:
        raise TicketRefused(
            N_("You have {n} open tickets; please wait for an answer before opening another"),
            n=MAX_OPEN_TICKETS,
        )
    _check_rate(session, user.id)
    _check_own_orders(session, user, ids)
    now = utcnow()
    ticket = Ticket(
        user_id=user.id, subject=subject, title=title, order_ids=",".join(map(str, ids)),
        status=ts.OPEN, customer_unread=False, staff_unread=True, created_at=now, updated_at=now,
    )
    session.add(ticket)
    session.flush()
    session.add(TicketMessage(ticket_id=ticket.id, author_id=user.id, from_staff=False,
                              body=body, created_at=now))
    return ticket


def customer_reply(session: Session, user: User, ticket_id: int, message: str) -> TicketMessage:
    body = _message_text(message)
    _lock_user(session, user.id)
    ticket = lock_ticket(session, ticket_id, user.id)
    if ticket.status == ts.CLOSED:
        raise TicketRefused(N_("This ticket is closed; please open a new one"))
    _check_rate(session, user.id)
    now = utcnow()
    reply = TicketMessage(ticket_id=ticket.id, author_id=user.id, from_staff=False, body=body,
                          created_at=now)
    session.add(reply)
    if ticket.status != ts.OPEN:
        ticket.status = ts.CUSTOMER_REPLY
    ticket.staff_unread = True
    ticket.updated_at = now
    session.flush()
    return reply


def get_ticket(session: Session, ticket_id: int, user_id: int | None = None) -> Ticket:
    """One ticket; with ``user_id``, only if it is that customer's."""
    ticket = session.get(Ticket, ticket_id) if parse_id(ticket_id) is not None else None
    if ticket is None or (user_id is not None and ticket.user_id != user_id):
        raise TicketNotFound()
    return ticket


def lock_ticket(session: Session, ticket_id: int, user_id: int | None = None) -> Ticket:
    if parse_id(ticket_id) is None:
        raise TicketNotFound()
    ticket = session.scalar(select(Ticket).where(Ticket.id == ticket_id).with_for_update())
    if ticket is None or (user_id is not None and ticket.user_id != user_id):
        raise TicketNotFound()
    return ticket


def thread(session: Session, ticket_id: int) -> list[TicketMessage]:
    query = select(TicketMessage).where(TicketMessage.ticket_id == ticket_id)
    return list(session.scalars(query.order_by(TicketMessage.id)))


def authors(session: Session, messages: list[TicketMessage]) -> dict[int, str]:
    ids = {m.author_id for m in messages}
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.name).where(User.id.in_(ids))).tuples()
    return {user_id: name for user_id, name in rows}


def seen_by_customer(ticket: Ticket) -> None:
    ticket.customer_unread = False


def seen_by_staff(ticket: Ticket) -> None:
    ticket.staff_unread = False


def customer_tickets(session: Session, user_id: int, page: int) -> Page[Ticket]:
    query = select(Ticket).where(Ticket.user_id == user_id).order_by(Ticket.id.desc())
    return paginate(session, query, page)


def unread_for_customer(session: Session, user_id: int) -> int:
    return int(session.scalar(
        select(func.count()).select_from(Ticket)
        .where(Ticket.user_id == user_id, Ticket.customer_unread.is_(True))
    ) or 0)


# --- staff --------------------------------------------------------------------------------
@dataclass(frozen=True)
class InboxFilter:
    status: str = ""  # one of STATUSES, or "" for all
    subject: str = ""
    assignee: str = ""  # "", "none", or a staff user's id
    unread: bool = False


def inbox(session: Session, wanted: InboxFilter, page: int) -> Page[tuple[Ticket, str]]:
    query = select(Ticket, User.name).join(User, User.id == Ticket.user_id)
    if wanted.status in ts.STATUSES:
        query = query.where(Ticket.status == wanted.status)
    if wanted.subject in ts.SUBJECTS:
        query = query.where(Ticket.subject == wanted.subject)
    if wanted.assignee == "none":
        query = query.where(Ticket.assignee_id.is_(None))
    elif (assignee := parse_id(wanted.assignee)) is not None:
        query = query.where(Ticket.assignee_id == assignee)
    if wanted.unread:
        query = query.where(Ticket.staff_unread.is_(True))
    return paginate(session, query.order_by(Ticket.updated_at.desc(), Ticket.id.desc()), page)


def unread_for_staff(session: Session) -> int:
    return int(session.scalar(
        select(func.count()).select_from(Ticket).where(Ticket.staff_unread.is_(True))
    ) or 0)


def staff_members(session: Session) -> list[User]:
    return list(session.scalars(select(User).where(User.is_admin.is_(True)).order_by(User.name)))


def _target(ticket: Ticket) -> str:
    return f"ticket:{ticket.id}"


def _staff_message(
    session: Session, ticket: Ticket, author_id: int, *, body: str = "", action: str | None = None,
    params: dict[str, Any] | None = None,
) -> TicketMessage:
    now = utcnow()
    message = TicketMessage(ticket_id=ticket.id, author_id=author_id, from_staff=True, body=body,
                            action=action, params=params, created_at=now)
    session.add(message)
    ticket.status = ts.ANSWERED
    ticket.customer_unread = True
    ticket.staff_unread = False
    ticket.updated_at = now
    session.flush()
    return message


def staff_reply(
    session: Session, actor: Actor, ticket_id: int, message: str, *, base_url: str = ""
) -> TicketMessage:
    body = _message_text(message)
    ticket = lock_ticket(session, ticket_id)
    assert actor.user_id is not None
    reply = _staff_message(session, ticket, actor.user_id, body=body)
    audit.record(session, actor, "ticket.reply", _target(ticket), ticket=ticket.id)
    notify.staff_replied(session, ticket, reply, base_url=base_url)
    return reply


def assign(session: Session, actor: Actor, ticket_id: int, assignee_id: int | None) -> Ticket:
    ticket = lock_ticket(session, ticket_id)
    if assignee_id is None:
        ticket.assignee_id = None
        audit.record(session, actor, "ticket.unassign", _target(ticket), ticket=ticket.id)
        return ticket
    assignee = session.get(User, assignee_id) if parse_id(assignee_id) is not None else None
    if assignee is None or not assignee.is_admin:
        raise TicketRefused(N_("Tickets can only be assigned to staff"))
    ticket.assignee_id = assignee.id
    audit.record(session, actor, "ticket.assign", _target(ticket), ticket=ticket.id,
                 assignee=assignee.name)
    return ticket


def set_closed(session: Session, actor: Actor, ticket_id: int, closed: bool) -> Ticket:
    ticket = lock_ticket(session, ticket_id)
    if closed == (ticket.status == ts.CLOSED):
        return ticket  # already so (a second click, or another staff member)
    ticket.status = ts.CLOSED if closed else ts.OPEN
    ticket.updated_at = utcnow()
    if closed:
        ticket.staff_unread = False
    audit.record(session, actor, "ticket.close" if closed else "ticket.reopen", _target(ticket),
                 ticket=ticket.id)
    return ticket


def act_on_order(
    session: Session, actor: Actor, ticket_id: int, order_id: int, action: str, *,
    base_url: str = "",
) -> TicketMessage:
    """Refill or cancel one of the orders a Refill or Cancel ticket names, through the same
    service the API calls for the customer (``request_refill``, ``cancel_by_customer``): the
    same rules, the same ledger. The outcome, done or refused, is posted in the thread."""
    ticket = lock_ticket(session, ticket_id)
    if action not in ts.ACTIONABLE or ticket.subject != action:
        raise TicketRefused(N_("This ticket does not ask for that"))
    if order_id not in ticket.orders:
        raise orders.OrderNotFound()
    customer = session.get(User, ticket.user_id)
    if customer is None:
        raise TicketNotFound()
    assert actor.user_id is not None
    params: dict[str, Any] = {"order": order_id}
    try:
        with session.begin_nested():
            if action == ts.REFILL:
                params["refill"] = refills.request_refill(session, customer, order_id).id
                code = REFILLED
            else:
                order = orders.cancel_by_customer(session, customer, order_id)
                code = CANCELED if order.status == order_statuses.CANCELED else CANCEL_REQUESTED
    except DomainError as exc:
        code = REFUSED
        params["reason"] = exc.template
        params["values"] = {k: str(v) for k, v in exc.params.items()}
        # Values that are words of the catalogs (an order's status) are translated too.
        params["terms"] = sorted(k for k, v in exc.params.items() if isinstance(v, Term))
    message = _staff_message(session, ticket, actor.user_id, action=code, params=params)
    # The refusal's reason is in the thread, translated where shown; the audit names it.
    audited: dict[str, Any] = {"ticket": ticket.id, "order": order_id}
    if "refill" in params:
        audited["refill"] = params["refill"]
    code_name = f"ticket.{action}_refused" if code == REFUSED else f"ticket.{action}"
    audit.record(session, actor, code_name, _target(ticket), **audited)
    notify.staff_replied(session, ticket, message, base_url=base_url)
    return message


def describe(message: TicketMessage) -> tuple[str, dict[str, Any]] | None:
    """An action message's English template and values, for the translator; ``None`` for
    a message a person typed. A refusal's ``reason`` is itself a template, filled with
    ``values`` (those named in ``terms`` are catalog words, translated as well)."""
    if message.action is None:
        return None
    params = dict(message.params or {})
    template = ACTIONS.get(message.action)
    if template is None:
        return None
    if message.action == REFUSED:
        terms = set(params.get("terms") or ())
        values = {k: Term(v) if k in terms else v
                  for k, v in dict(params.get("values") or {}).items()}
        return template, {"order": params.get("order"), "reason": params.get("reason", ""),
                          "values": values}
    return template, params


# --- canned replies -----------------------------------------------------------------------
def canned_replies(session: Session) -> list[CannedReply]:
    return list(session.scalars(select(CannedReply).order_by(CannedReply.title, CannedReply.id)))


def get_canned(session: Session, canned_id: int) -> CannedReply:
    row = session.get(CannedReply, canned_id) if parse_id(canned_id) is not None else None
    if row is None:
        raise CannedReplyNotFound()
    return row


def add_canned(session: Session, actor: Actor, title: str, body: str) -> CannedReply:
    title = _text(title, CANNED_TITLE_MAX, N_("Please give the canned reply a title"),
                  N_("A title is at most {max} characters"), one_line=True)
    row = CannedReply(title=title, body=_message_text(body))
    session.add(row)
    session.flush()
    audit.record(session, actor, "canned.create", f"canned:{row.id}", title=row.title)
    return row


def delete_canned(session: Session, actor: Actor, canned_id: int) -> None:
    row = get_canned(session, canned_id)
    audit.record(session, actor, "canned.delete", f"canned:{row.id}", title=row.title)
    session.delete(row)

