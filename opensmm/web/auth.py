"""Signing up, logging in and out, changing the password, choosing the language."""

from __future__ import annotations

from starlette.responses import Response

from opensmm.accounts import recovery
from opensmm.accounts import service as accounts
from opensmm.accounts.models import USER_ACTIVE, User
from opensmm.affiliates import service as affiliates
from opensmm.branding import content
from opensmm.catalog import storefront
from opensmm.currencies import service as currencies
from opensmm.db import utcnow
from opensmm.errors import DomainError
from opensmm.i18n import N_
from opensmm.notifications import service as notifications
from opensmm.panel_settings import service as panel_settings
from opensmm.security.secrets import panel_secret_text
from opensmm.twofactor import service as twofactor
from opensmm.web import sessions
from opensmm.web.affiliates import REF_COOKIE, referral_code
from opensmm.web.context import ANON_COOKIE, LANG_COOKIE, SESSION_COOKIE, Ctx, local_path
from opensmm.web.framework import Pages
from opensmm.web.i18n import enabled_languages

pages = Pages()

YEAR_SECONDS = 365 * 24 * 3600


def _home_of(ctx: Ctx) -> str:
    return "/admin" if ctx.user is not None and ctx.user.is_admin else "/dashboard"


def _log_in(ctx: Ctx, user: User, next_path: str | None = None) -> Response:
    """Start a fresh session (a new token, never the one from before the log-in)."""
    sessions.end_session(ctx.db, ctx.session_token)
    token = sessions.start_session(ctx.db, user)
    ctx.session_token, ctx.user = token, user
    max_age = int(sessions.SESSION_LIFETIME.total_seconds())
    ctx.set_cookie(SESSION_COOKIE, token, max_age)
    ctx.set_cookie(ANON_COOKIE, "", 0)
    # The account's language, also on pages without a session.
    if user.language in enabled_languages(ctx.web):
        ctx.lang = user.language
        ctx.set_cookie(LANG_COOKIE, user.language, YEAR_SECONDS, http_only=False)
    return ctx.redirect(local_path(next_path, _home_of(ctx)))


@pages.get("/", who="anyone")
def home(ctx: Ctx) -> Response:
    if ctx.user is not None:
        return ctx.redirect(_home_of(ctx))
    default = panel_settings.default_language(ctx.db)
    # The platforms on sale: one read of the catalog's stamp while the catalog is unchanged.
    offers = [
        (offer, ctx.money(offer.cheapest) if offer.cheapest is not None else "",
         ctx.approx(offer.cheapest))
        for offer in storefront.offers(ctx.db)
    ]
    return ctx.render("home.html", hero=content.shown(ctx.db, "home", ctx.lang, default),
                      features=content.shown(ctx.db, "features", ctx.lang, default),
                      offers=offers, total=sum(offer.services for offer, _, _ in offers),
                      offered=[row.code for row in currencies.listing(ctx.db)])


# --- sign up -------------------------------------------------------------------------------
@pages.get("/signup", who="anyone")
def signup_form(ctx: Ctx) -> Response:
    if ctx.user is not None:
        return ctx.redirect(_home_of(ctx))
    return ctx.render(
        "signup.html", values=ctx.form, signups_open=panel_settings.signups_open(ctx.db),
        terms=content.current_terms_version(ctx.db) is not None,
    )


@pages.post("/signup", who="anyone", refused=signup_form)
def signup(ctx: Ctx) -> Response:
    panel_settings.check_signups_open(ctx.db)
    password = ctx.field("password")
    if password != ctx.field("password2"):
        raise DomainError(N_('The two passwords do not match'))
    email = ctx.field("email").strip()
    if not email:
        raise DomainError(N_('An email address is required'))
    terms_version = content.current_terms_version(ctx.db)
    if terms_version is not None and ctx.field("accept_terms") != "yes":
        raise DomainError(N_('Please read and accept the terms of service to sign up'))
    if not sessions.signup_allowed(ctx.db, ctx.ip, ctx.web.settings.signups_per_ip_per_hour):
        ctx.error = ctx.t("Too many sign-ups from your address. Please try again in an hour.")
        return ctx.render("signup.html", status_code=429, values=ctx.form, signups_open=True,
                          terms=terms_version is not None)
    user = accounts.create_user(ctx.db, ctx.field("name").strip(), email=email, password=password)
    sessions.record_signup(ctx.db, ctx.ip)
    if affiliates.record_referral(ctx.db, user.id, referral_code(ctx)) is not None:
        ctx.set_cookie(REF_COOKIE, "", 0)
    user.language = ctx.lang
    if terms_version is not None:
        user.terms_accepted_at, user.terms_version = utcnow(), terms_version
    recovery.send_verification(ctx.db, user, ctx.public_url())
    ctx.flash("ok", ctx.t("Welcome, {name}! Your account is ready.", name=user.name))
    return _log_in(ctx, user)


# --- log in and out ------------------------------------------------------------------------
@pages.get("/login", who="anyone")
def login_form(ctx: Ctx) -> Response:
    if ctx.user is not None:
        return ctx.redirect(_home_of(ctx))
    return ctx.render("login.html", login=ctx.field("login"), next=ctx.arg("next"))


@pages.post("/login", who="anyone", unit="none")
def login(ctx: Ctx) -> Response:
    """Reserve the attempt in a short write unit (the limits are checked and the attempt
    recorded as a failure in one serialized step, so parallel guesses cannot all slip
    under the limit), check the password outside any unit (argon2 is slow on purpose:
    SQLite's write lock is not held meanwhile), then clear the attempt and start the
    session in a second write unit."""
    name, password = ctx.field("login").strip(), ctx.field("password")
    next_path = ctx.field("next")

    def again(message: str, status: int) -> Response:
        ctx.error = ctx.t(message)
        return ctx.render("login.html", status_code=status, login=name, next=next_path)

    with ctx.web.db.write() as session:
        found = accounts.find_login(session, name)
        user_id = found.id if found is not None else None
        password_hash = found.password_hash if found is not None else None
        attempt = sessions.reserve_attempt(
            session, sessions.attempt_key(user_id, name), ctx.ip
        )
    if attempt is None:
        return again(N_("Too many failed log-ins. Please wait 15 minutes and try again."), 429)
    matches = accounts.password_matches(password_hash, password)  # also for unknown names
    if user_id is None or not matches:
        return again(N_("Wrong user name or password."), 400)  # the attempt stays a failure
    with ctx.web.db.write() as session:
        user = session.get(User, user_id)
        if user is None:
            return again(N_("Wrong user name or password."), 400)
        sessions.attempt_succeeded(session, attempt)
        if user.status != USER_ACTIVE:
            return again(N_("Your account is suspended"), 403)
        ctx.session = session
        if twofactor.is_enabled(session, user.id):
            return _ask_for_code(ctx, user, next_path)
        return _log_in(ctx, user, next_path)


# --- the second step: a code ----------------------------------------------------------------
CHALLENGE_COOKIE = "opensmm_2fa"


def _ask_for_code(ctx: Ctx, user: User, next_path: str) -> Response:
    """The password was right and the account has two-factor log-in: no session yet, only
    a short-lived challenge (its own cookie) that opens the code form and nothing else."""
    sessions.end_session(ctx.db, ctx.session_token)
    if ctx.session_token:
        ctx.set_cookie(SESSION_COOKIE, "", 0)
    ctx.session_token, ctx.user = None, None
    token = twofactor.start_challenge(ctx.db, user.id, local_path(next_path, ""))
    max_age = int(twofactor.CHALLENGE_LIFETIME.total_seconds())
    ctx.set_cookie(CHALLENGE_COOKIE, token, max_age)
    return ctx.redirect("/login/code")


def _challenge_expired(ctx: Ctx) -> Response:
    ctx.set_cookie(CHALLENGE_COOKIE, "", 0)
    ctx.flash("error", ctx.t("Your log-in has expired. Please log in again."))
    return ctx.redirect("/login")


@pages.get("/login/code", who="anyone")
def code_form(ctx: Ctx) -> Response:
    if ctx.user is not None:
        return ctx.redirect(_home_of(ctx))
    if twofactor.find_challenge(ctx.db, ctx.request.cookies.get(CHALLENGE_COOKIE)) is None:
        return _challenge_expired(ctx)
    return ctx.render("login_code.html")


@pages.post("/login/code", who="anyone", unit="none")
def check_code(ctx: Ctx) -> Response:
    """One write unit: the limit is checked and the attempt recorded (serialized per
    account, as for passwords), the code spent (atomically: a code passes once), the
    challenge ended and the session started. A wrong code commits its failure."""
    token = ctx.request.cookies.get(CHALLENGE_COOKIE)

    def again(message: str, status: int) -> Response:
        ctx.error = ctx.t(message)
        return ctx.render("login_code.html", status_code=status)

    with ctx.web.db.write() as session:
        ctx.session = session
        challenge = twofactor.find_challenge(session, token)
        if challenge is None:
            return _challenge_expired(ctx)
        attempt = sessions.reserve_attempt(
            session, twofactor.attempt_key(challenge.user_id), ctx.ip
        )
        if attempt is None:
            return again(N_("Too many wrong codes. Please wait 15 minutes and try again."), 429)
        secret = panel_secret_text(ctx.web.secret.get())
        kind = twofactor.check_code(session, challenge.user_id, ctx.field("code"), secret)
        if kind is None:
            return again(N_("That code is not right, or was already used."), 400)
        sessions.attempt_succeeded(session, attempt)
        user = session.get(User, challenge.user_id)
        next_path = challenge.next_path
        twofactor.end_challenge(session, challenge)
        ctx.set_cookie(CHALLENGE_COOKIE, "", 0)
        if user is None or user.status != USER_ACTIVE:
            ctx.flash("error", ctx.t("Your account is suspended"))
            return ctx.redirect("/login")
        if kind == twofactor.CODE_RECOVERY:
            left = twofactor.recovery_codes_left(session, user.id)
            ctx.flash("ok", ctx.t.ngettext(
                "You used a recovery code: {n} is left. Make new ones on your account page.",
                "You used a recovery code: {n} are left. Make new ones on your account page.",
                left,
            ))
        return _log_in(ctx, user, next_path or None)


@pages.post("/logout", who="anyone")
def logout(ctx: Ctx) -> Response:
    sessions.end_session(ctx.db, ctx.session_token)
    ctx.set_cookie(SESSION_COOKIE, "", 0)
    ctx.session_token, ctx.user = None, None
    ctx.flash("ok", ctx.t("You are logged out."))
    return ctx.redirect("/login")


# --- password ------------------------------------------------------------------------------
@pages.get("/account/password")
def password_form(ctx: Ctx) -> Response:
    return ctx.render("password.html", new_email="",
                      notify=notifications.get(ctx.db, ctx.me.id))


@pages.post("/account/password", refused=password_form)
def change_password(ctx: Ctx) -> Response:
    if ctx.field("new_password") != ctx.field("new_password2"):
        raise DomainError(N_('The two passwords do not match'))
    accounts.change_password(ctx.db, ctx.me, ctx.field("password"), ctx.field("new_password"))
    # Whoever knew the old password is logged out everywhere else.
    sessions.end_other_sessions(ctx.db, ctx.me.id, keep=ctx.session_token)
    ctx.flash("ok", ctx.t("Your password has been changed."))
    return ctx.redirect("/account/password")


# --- language ------------------------------------------------------------------------------
@pages.get("/lang/{code}", who="anyone", unit="write")
def switch_language(ctx: Ctx) -> Response:
    """The switch: remembered in a cookie, and as the account's language when logged in."""
    code = ctx.request.path_params["code"]
    if code in enabled_languages(ctx.web):
        ctx.lang = code
        ctx.set_cookie(LANG_COOKIE, code, YEAR_SECONDS, http_only=False)
        if ctx.user is not None:
            ctx.user.language = code
    return ctx.redirect(local_path(ctx.arg("next"), "/"))
