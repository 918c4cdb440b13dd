"""Forgotten passwords, email verification and the account's email address."""

from __future__ import annotations

from starlette.responses import Response

from opensmm.accounts import links, recovery
from opensmm.accounts.models import RESET_LINK, VERIFY_LINK
from opensmm.errors import DomainError
from opensmm.i18n import N_
from opensmm.notifications import service as notifications
from opensmm.web.context import SESSION_COOKIE, Ctx
from opensmm.web.framework import Pages

pages = Pages()


def _token(ctx: Ctx) -> str:
    return (ctx.field("token") or ctx.arg("token")).strip()[: links.MAX_TOKEN + 1]


# --- forgot password ---------------------------------------------------------------------
@pages.get("/password/forgot", who="anyone")
def forgot_form(ctx: Ctx) -> Response:
    return ctx.render("forgot.html", login=ctx.field("login")[:254], sent=False)


@pages.post("/password/forgot", who="anyone", refused=forgot_form)
def forgot(ctx: Ctx) -> Response:
    login = ctx.field("login").strip()
    if not login:
        raise DomainError(N_("Please enter your user name or email address."))
    if not recovery.request_reset(ctx.db, login[:254], ctx.public_url(), ctx.ip):
        ctx.error = ctx.t("Too many requests from your address. Please try again in an hour.")
        return ctx.render("forgot.html", status_code=429, login=login[:254], sent=False)
    # The same answer whether or not the account exists.
    return ctx.render("forgot.html", login="", sent=True)


@pages.get("/password/reset", who="anyone")
def reset_form(ctx: Ctx) -> Response:
    token = _token(ctx)
    links.check(ctx.db, RESET_LINK, token)
    return ctx.render("reset.html", token=token)


@pages.post("/password/reset", who="anyone", refused=reset_form)
def reset(ctx: Ctx) -> Response:
    password = ctx.field("password")
    if password != ctx.field("password2"):
        raise DomainError(N_('The two passwords do not match'))
    user = recovery.reset_password(ctx.db, _token(ctx), password)
    if ctx.user is not None and ctx.user.id == user.id:
        ctx.set_cookie(SESSION_COOKIE, "", 0)  # this session ended with the others
        ctx.session_token, ctx.user = None, None
    ctx.flash("ok", ctx.t("Your password has been changed. Please log in with it."))
    return ctx.redirect("/login")


# --- email verification ------------------------------------------------------------------
@pages.get("/email/verify", who="anyone")
def verify_form(ctx: Ctx) -> Response:
    token = _token(ctx)
    valid = links.check(ctx.db, VERIFY_LINK, token)
    return ctx.render("verify.html", token=token, email=valid.token.email or "")


@pages.post("/email/verify", who="anyone")
def verify(ctx: Ctx) -> Response:
    user = recovery.verify_email(ctx.db, _token(ctx))
    ctx.flash("ok", ctx.t("Your email address {email} is confirmed.", email=user.email or ""))
    return ctx.redirect("/dashboard" if ctx.user is not None else "/login")


@pages.post("/account/email/resend")
def resend_verification(ctx: Ctx) -> Response:
    recovery.resend_verification(ctx.db, ctx.me, ctx.public_url(), ctx.ip)
    ctx.flash("ok", ctx.t("We have sent a new link to {email}.", email=ctx.me.email or ""))
    return ctx.back("/account/password")


# --- the account's email -------------------------------------------------------------------
@pages.get("/account/email")
def email_form(ctx: Ctx) -> Response:
    return ctx.redirect("/account/password")


def _account_page(ctx: Ctx) -> Response:
    return ctx.render("password.html", new_email=ctx.field("email")[:254],
                      notify=notifications.get(ctx.db, ctx.me.id))


@pages.post("/account/email", refused=_account_page)
def change_email(ctx: Ctx) -> Response:
    user = recovery.change_email(
        ctx.db, ctx.me, ctx.field("email"), ctx.field("password"), ctx.public_url()
    )
    ctx.flash("ok", ctx.t("Your email address is now {email}. Please open the link we mailed "
                          "there to confirm it.", email=user.email or ""))
    return ctx.redirect("/account/password")
