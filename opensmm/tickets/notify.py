"""The customer's email when staff answer their ticket: the one place tickets send mail.

The mail's subject and body are written here, translated into the customer's language (a
staff reply's words, or a described action on the ticket's orders), and queued in the mail
outbox (``opensmm.mail``, template ``ticket_reply``) in the reply's own unit of work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opensmm.accounts.models import User
from opensmm.i18n import N_
from opensmm.i18n.languages import LANGUAGES, language
from opensmm.i18n.translate import Translator
from opensmm.mail import service
from opensmm.notifications import service as notifications
from opensmm.panel_settings import service as panel_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from opensmm.tickets.models import Ticket, TicketMessage

TEMPLATE = "ticket_reply"
SUBJECT = N_("Ticket {ticket}: {title} – new reply")
BODY = N_(
    "Hello {name},\n\n"
    "Our support team answered your ticket {ticket} ({title}):\n\n"
    "{reply}\n\n"
    "Read the ticket and reply here: {link}\n"
)


def reply_text(t: Translator, message: TicketMessage) -> str:
    """What a staff message says, in ``t``'s language (typed text, or a described action)."""
    from opensmm.tickets.service import describe

    described = describe(message)
    if described is None:
        return message.body
    template, values = described
    if "reason" in values:
        reason = t(str(values["reason"]), **dict(values.get("values") or {}))
        return t(template, order=values.get("order"), reason=reason)
    return t(template, **values)


def mail_text(
    session: Session, ticket: Ticket, message: TicketMessage, *, base_url: str = ""
) -> dict[str, Any] | None:
    """The mail's address, language, subject and body; None for a customer without email."""
    customer = session.get(User, ticket.user_id)
    if customer is None or not customer.email:
        return None
    settings = panel_settings.values(session)
    code = customer.language if customer.language in LANGUAGES else ""
    code = code or str(settings.get("default_language") or "en")
    t = Translator(language(code))
    link = f"{base_url.rstrip('/')}/tickets/{ticket.id}"
    return {
        "to": customer.email,
        "language": language(code).code,
        "subject": t(SUBJECT, ticket=ticket.id, title=ticket.title),
        "body": t(BODY, name=customer.name, ticket=ticket.id, title=ticket.title,
                  reply=reply_text(t, message), link=link),
        "link": link,
    }


def staff_replied(
    session: Session, ticket: Ticket, message: TicketMessage, *, base_url: str = ""
) -> int | None:
    """Queue the customer's mail about a staff reply, in the same unit of work (it is sent
    only if the reply commits). The id of the queued mail, or None when nothing is sent."""
    if not notifications.get(session, ticket.user_id).ticket_replies:
        return None  # the customer chose not to be mailed about replies
    text = mail_text(session, ticket, message, base_url=base_url)
    if text is None:
        return None
    queued: int = service.queue(
        session,
        to=text["to"],
        template=TEMPLATE,
        language=text["language"],
        subject=text["subject"],
        body=text["body"],
        ticket=str(ticket.id),
        link=text["link"],
    )
    return queued
