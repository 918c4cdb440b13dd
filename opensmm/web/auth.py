"""Signing up, logging in and out, changing the password, choosing the language."""

from __future__ import annotations

from starlette.responses import Response

from opensmm.accounts import service as accounts
from opensmm.accounts.models import USER_ACTIVE, User
from opensmm.affiliates import service as affiliates
from opensmm.errors import DomainError
from opensmm.i18n import N_
from opensmm.panel_settings import service as panel_settings
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
    return ctx.render("home.html")


# --- sign up -------------------------------------------------------------------------------
@pages.get("/signup", who="anyone")
def signup_form(ctx: Ctx) -> Response:
    if ctx.user is not None:
        return ctx.redirect(_home_of(ctx))
    return ctx.render(
        "signup.html", values=ctx.form, signups_open=panel_settings.signups_open(ctx.db)
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
    if not sessions.signup_allowed(ctx.db, ctx.ip, ctx.web.settings.signups_per_ip_per_hour):
        ctx.error = ctx.t("Too many sign-ups from your address. Please try again in an hour.")
        return ctx.render("signup.html", status_code=429, values=ctx.form, signups_open=True)
    user = accounts.create_user(ctx.db, ctx.field("name").strip(), email=email, password=password)
    sessions.record_signup(ctx.db, ctx.ip)
    if affiliates.record_referral(ctx.db, user.id, referral_code(ctx)) is not None:
        ctx.set_cookie(REF_COOKIE, "", 0)
    user.language = ctx.lang
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
        return _log_in(ctx, user, next_path)


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
    return ctx.render("password.html")


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
