"""The account's two-factor log-in page, for customers and staff alike: set it up (scan,
confirm with a code, keep the ten recovery codes shown once), make new recovery codes,
turn it off (the password and a current code).

A wrong code or password is shown on the page and its failure committed (the form is not
refused by raising, which would roll the counted failure back): the code checks of an
account share the log-in limit of its codes."""

from __future__ import annotations

from markupsafe import Markup
from starlette.responses import Response

from opensmm.accounts import service as accounts
from opensmm.audit.actor import Actor
from opensmm.errors import DomainError
from opensmm.i18n import N_
from opensmm.panel_settings import service as panel_settings
from opensmm.security.secrets import panel_secret_text
from opensmm.twofactor import service as twofactor
from opensmm.twofactor import staff as audited
from opensmm.web import sessions
from opensmm.web.context import Ctx
from opensmm.web.framework import ENROL_PATH, Pages

pages = Pages()


def _secret(ctx: Ctx) -> str:
    return panel_secret_text(ctx.web.secret.get())


def _actor(ctx: Ctx) -> Actor:
    return Actor.own(ctx.me.id, ctx.me.name, ctx.ip)


def _required_for(ctx: Ctx) -> bool:
    return ctx.me.is_admin and panel_settings.staff_2fa_required(ctx.db)


def _page(ctx: Ctx, status_code: int = 200, new_codes: list[str] | None = None) -> Response:
    enabled = twofactor.is_enabled(ctx.db, ctx.me.id)
    secret = None if enabled else twofactor.pending_secret(ctx.db, ctx.me.id, _secret(ctx))
    qr = shown_secret = None
    if secret is not None:
        uri = twofactor.provisioning_uri(secret, ctx.me.name, panel_settings.panel_name(ctx.db))
        qr = Markup(twofactor.qr_svg(uri))  # noqa: S704 - drawn by segno from our own URI
        shown_secret = twofactor.grouped(secret)
    return ctx.render(
        "two_factor.html",
        status_code=status_code,
        enabled=enabled,
        pending=secret is not None,
        qr=qr,
        secret=shown_secret,
        new_codes=new_codes,
        codes_left=twofactor.recovery_codes_left(ctx.db, ctx.me.id) if enabled else 0,
        required=_required_for(ctx),
    )


def _refused(ctx: Ctx, message: str, status_code: int = 400) -> Response:
    """The page again with the reason; the unit of work commits (the failure counts)."""
    ctx.error = ctx.t(message)
    return _page(ctx, status_code)


def _spend_code(ctx: Ctx, *, recovery: bool) -> Response | None:
    """Check the form's code under the log-in limit; the refusal, or None when it passed."""
    attempt = sessions.reserve_attempt(ctx.db, twofactor.attempt_key(ctx.me.id), ctx.ip)
    if attempt is None:
        return _refused(ctx, N_("Too many wrong codes. Please wait 15 minutes and try again."),
                        429)
    if twofactor.check_code(ctx.db, ctx.me.id, ctx.field("code"), _secret(ctx),
                            recovery=recovery) is None:
        return _refused(ctx, N_("That code is not right, or was already used."))
    sessions.attempt_succeeded(ctx.db, attempt)
    return None


@pages.get(ENROL_PATH)
def two_factor_page(ctx: Ctx) -> Response:
    return _page(ctx)


@pages.post(ENROL_PATH + "/start", refused=two_factor_page)
def start(ctx: Ctx) -> Response:
    twofactor.start_enrolment(ctx.db, ctx.me, _secret(ctx))
    return ctx.redirect(ENROL_PATH)


@pages.post(ENROL_PATH + "/cancel")
def cancel(ctx: Ctx) -> Response:
    twofactor.cancel_enrolment(ctx.db, ctx.me.id)
    return ctx.redirect(ENROL_PATH)


@pages.post(ENROL_PATH + "/confirm", refused=two_factor_page)
def confirm(ctx: Ctx) -> Response:
    attempt = sessions.reserve_attempt(ctx.db, twofactor.attempt_key(ctx.me.id), ctx.ip)
    if attempt is None:
        return _refused(ctx, N_("Too many wrong codes. Please wait 15 minutes and try again."),
                        429)
    codes = twofactor.confirm_enrolment(ctx.db, ctx.me, ctx.field("code"), _secret(ctx))
    if codes is None:
        return _refused(ctx, N_("That code is not right. Check the time on your phone and "
                                "type the code the app shows now."))
    sessions.attempt_succeeded(ctx.db, attempt)
    audited.enabled(ctx.db, _actor(ctx), ctx.me)
    ctx.flash("ok", ctx.t("Two-factor log-in is on."))
    # Shown on this response only: the codes are stored hashed and cannot be shown again.
    return _page(ctx, new_codes=codes)


@pages.post(ENROL_PATH + "/recovery-codes", refused=two_factor_page)
def renew_recovery_codes(ctx: Ctx) -> Response:
    if not twofactor.is_enabled(ctx.db, ctx.me.id):
        raise twofactor.NotEnabled()
    refusal = _spend_code(ctx, recovery=False)
    if refusal is not None:
        return refusal
    codes = twofactor.new_recovery_codes(ctx.db, ctx.me.id)
    audited.recovery_codes_renewed(ctx.db, _actor(ctx), ctx.me)
    ctx.flash("ok", ctx.t("New recovery codes made; the old ones no longer work."))
    return _page(ctx, new_codes=codes)


@pages.post(ENROL_PATH + "/disable", refused=two_factor_page)
def disable(ctx: Ctx) -> Response:
    if not twofactor.is_enabled(ctx.db, ctx.me.id):
        raise twofactor.NotEnabled()
    if _required_for(ctx):
        raise DomainError(N_("This panel requires two-factor log-in for staff: it cannot be "
                             "turned off."))
    attempt = sessions.reserve_attempt(ctx.db, twofactor.attempt_key(ctx.me.id), ctx.ip)
    if attempt is None:
        return _refused(ctx, N_("Too many wrong codes. Please wait 15 minutes and try again."),
                        429)
    if not accounts.password_matches(ctx.me.password_hash, ctx.field("password")):
        return _refused(ctx, N_("The current password is not correct"))
    if twofactor.check_code(ctx.db, ctx.me.id, ctx.field("code"), _secret(ctx)) is None:
        return _refused(ctx, N_("That code is not right, or was already used."))
    sessions.attempt_succeeded(ctx.db, attempt)
    twofactor.disable(ctx.db, ctx.me.id)
    audited.disabled(ctx.db, _actor(ctx), ctx.me)
    ctx.flash("ok", ctx.t("Two-factor log-in is off."))
    return ctx.redirect(ENROL_PATH)
