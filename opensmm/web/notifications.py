"""The customer's (and staff member's) choice of mails: the Notifications section of the
account page (``/account/password#notifications``)."""

from __future__ import annotations

from starlette.responses import Response

from opensmm.notifications import service as notifications
from opensmm.web.auth import password_form
from opensmm.web.context import Ctx
from opensmm.web.framework import Pages

pages = Pages()


@pages.get("/account/notifications")
def notifications_form(ctx: Ctx) -> Response:
    return ctx.redirect("/account/password#notifications")


@pages.post("/account/notifications", refused=password_form)
def save_notifications(ctx: Ctx) -> Response:
    choice = notifications.Prefs(
        ticket_replies=ctx.field("ticket_replies") == "1",
        payments=ctx.field("payments") == "1",
        digest=ctx.field("digest") == "1",
        low_balance=notifications.parse_threshold(ctx.field("low_balance")),
        staff_alerts=ctx.field("staff_alerts") == "1",
    )
    notifications.save(ctx.db, ctx.me, choice)
    ctx.flash("ok", ctx.t("Your notification settings are saved."))
    return ctx.redirect("/account/password#notifications")
