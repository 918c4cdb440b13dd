"""Staff → Emails: the outbox, one mail, and "retry now" for a failed one."""

from __future__ import annotations

from starlette.responses import Response

from opensmm.admin.users import staff
from opensmm.db.pagination import page_number
from opensmm.i18n import N_
from opensmm.mail import service as mail
from opensmm.mail import smtp
from opensmm.mail.models import STATUSES
from opensmm.notifications import telegram
from opensmm.web.context import Ctx
from opensmm.web.framework import Pages

pages = Pages()

# The statuses as the filter shows them (translated by the template).
STATUS_LABELS = (N_("queued"), N_("sent"), N_("failed"))


def _smtp_description(ctx: Ctx) -> str:
    """Where mail goes (never the password), or "" when nothing usable is configured (the
    worker logs why once, at its start)."""
    url = ctx.web.settings.smtp_url.strip()
    if not url:
        return ""
    try:
        return smtp.parse_smtp_url(url).describe()
    except smtp.SmtpUrlRefused:
        return ""


@pages.get("/admin/emails", who="staff")
def email_list(ctx: Ctx) -> Response:
    status = ctx.arg("status")
    status = status if status in STATUSES else ""
    page = mail.search(ctx.db, status, page_number(ctx.arg("page")))
    settings = ctx.web.settings
    return ctx.render("admin/emails.html", page=page, status=status,
                      status_tabs=["", *STATUSES], smtp=_smtp_description(ctx),
                      telegram_on=bool(settings.telegram_bot_token.strip()
                                       and settings.telegram_chat_id.strip()),
                      telegram_messages=telegram.recent(ctx.db))


@pages.get("/admin/emails/{mail_id:int}", who="staff")
def email_detail(ctx: Ctx) -> Response:
    row = mail.get(ctx.db, ctx.path_int("mail_id"))
    return ctx.render("admin/email.html", mail=row, smtp=_smtp_description(ctx))


@pages.post("/admin/emails/{mail_id:int}/retry", who="staff")
def email_retry(ctx: Ctx) -> Response:
    row = mail.retry(ctx.db, staff(ctx), ctx.path_int("mail_id"))
    ctx.flash("ok", ctx.t("Mail {id} will be sent again.", id=row.id))
    return ctx.redirect(f"/admin/emails/{row.id}")


@pages.post("/admin/telegram/{message_id:int}/retry", who="staff", refused=email_list)
def telegram_retry(ctx: Ctx) -> Response:
    row = telegram.retry(ctx.db, staff(ctx), ctx.path_int("message_id"))
    ctx.flash("ok", ctx.t("Telegram message {id} will be sent again.", id=row.id))
    return ctx.redirect("/admin/emails#telegram")
