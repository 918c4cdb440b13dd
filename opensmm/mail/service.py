"""Queueing mails, and what staff do with the outbox.

``queue`` is the one way any package sends a mail: it renders the template now, in the
recipient's language, and adds the outbox row to the caller's unit of work (the mail
exists if and only if what caused it commits). The worker sends it later
(``opensmm.mail.sender``).
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from opensmm.audit import service as audit
from opensmm.audit.actor import Actor
from opensmm.db import utcnow
from opensmm.db.pagination import Page, paginate
from opensmm.errors import DomainError, NotFound
from opensmm.i18n import N_
from opensmm.i18n.languages import DEFAULT_LANGUAGE, LANGUAGES
from opensmm.mail import render as templates
from opensmm.mail.models import FAILED, QUEUED, STATUSES, MailOutbox
from opensmm.panel_settings import service as panel_settings

# One address, as the accounts accept it; no line breaks (no header injection).
_ADDRESS = re.compile(r"^[^@\s<>,;\"\x00-\x1f\x7f]{1,64}@[^@\s<>,;\"\x00-\x1f\x7f]{1,185}$")
MAX_PARAM = 2000


class MailNotFound(NotFound):
    message = N_("Mail not found")


class MailRefused(DomainError):
    message = N_("This mail cannot be queued")


def queue(session: Session, *, to: str, template: str, language: str, **params: str) -> int:
    """Render ``template`` in ``language`` (the panel's default when it is not one of the
    panel's languages) with ``params`` and add it to the outbox in the caller's unit of
    work; the row's id. ``panel_name`` is given to every template."""
    recipient = to.strip()
    if len(recipient) > 254 or not _ADDRESS.match(recipient):
        raise MailRefused(N_("That email address does not look valid"))
    if template not in templates.TEMPLATES_KNOWN:
        raise MailRefused(N_("Unknown mail template {name!r}"), name=template[:64])
    if language not in LANGUAGES:
        language = panel_settings.default_language(session) or DEFAULT_LANGUAGE
    values = {name: str(value)[:MAX_PARAM] for name, value in params.items()}
    values.setdefault("panel_name", panel_settings.panel_name(session))
    rendered = templates.render(template, language, values)
    row = MailOutbox(
        recipient=recipient,
        language=language,
        template=template,
        subject=rendered.subject,
        text_body=rendered.text,
        html_body=rendered.html,
        status=QUEUED,
        attempts=0,
        next_attempt_at=utcnow(),
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row.id


def search(session: Session, status: str = "", page: int = 1) -> Page[MailOutbox]:
    """The outbox, newest first; ``status`` one of ``STATUSES`` or empty for all."""
    query = select(MailOutbox)
    if status in STATUSES:
        query = query.where(MailOutbox.status == status)
    return paginate(session, query.order_by(MailOutbox.id.desc()), page)


def get(session: Session, mail_id: int) -> MailOutbox:
    row = session.get(MailOutbox, mail_id)
    if row is None:
        raise MailNotFound()
    return row


def retry(session: Session, actor: Actor, mail_id: int) -> MailOutbox:
    """Staff: send a failed mail again, now, with a fresh count of attempts."""
    row = get(session, mail_id)
    if row.status != FAILED:
        raise MailRefused(N_("Only a failed mail can be retried"))
    row.status = QUEUED
    row.attempts = 0
    row.next_attempt_at = utcnow()
    row.lease_owner = row.lease_until = None
    audit.record(session, actor, "mail.retry", f"mail:{row.id}", mail=row.id,
                 to=row.recipient)
    return row
