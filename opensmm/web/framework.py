"""The little machinery every page shares.

A page is a plain function ``view(ctx) -> Response`` registered on a ``Pages`` collection
with who may see it. For each request the machinery, in a worker thread:

1. refuses a POST whose CSRF token does not match the visitor's cookies;
2. opens one unit of work (``db.read()`` for GET, ``db.write()`` for POST), finds the
   visitor's session and refuses those the page is not for (anonymous: to the log-in page;
   a customer on a staff page: 403);
3. runs the view. A ``DomainError`` escaping it rolls the whole unit back (nothing is half
   done); the refusal is then shown: by the view's ``refused`` handler (a form shown again
   with the message and what was typed) or as a flash message on the previous page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal
from urllib.parse import urlencode

import anyio
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from opensmm.branding.theme import brand_of
from opensmm.db.types import MAX_ID
from opensmm.errors import DomainError, NotFound
from opensmm.i18n import N_
from opensmm.panel_settings import service as panel_settings
from opensmm.security.network import is_https
from opensmm.twofactor import service as twofactor
from opensmm.web import sessions
from opensmm.web.context import (
    ANON_COOKIE,
    LANG_COOKIE,
    SESSION_COOKIE,
    Ctx,
    Web,
    query_with,
    referer_path,
)
from opensmm.web.i18n import (
    Translator,
    enabled_languages,
    from_accept_language,
    language,
    offered,
    panel_default_language,
)
from opensmm.web.tokens import csrf_valid

log = logging.getLogger("opensmm.web")

MAX_FORM_BYTES = 1_048_576
MAX_FORM_FIELDS = 500
# A page that opts in to one file field (``upload=``) takes a file of at most this much,
# on top of the form's own limit; every other page still refuses files.
MAX_UPLOAD_BYTES = 2 * 1024 * 1024

Who = Literal["anyone", "customer", "staff"]
Unit = Literal["auto", "read", "write", "none"]
View = Callable[[Ctx], Response]


class FormRefused(Exception):
    """A request whose form cannot be read at all (too large, malformed)."""


@dataclass(frozen=True)
class PageSpec:
    path: str
    methods: tuple[str, ...]
    view: View
    who: Who
    unit: Unit
    refused: View | None
    upload: str | None = None  # the one file field this page takes, if any


class Pages:
    """A collection of pages; ``routes(web)`` turns them into Starlette routes."""

    def __init__(self) -> None:
        self.specs: list[PageSpec] = []

    def _register(
        self, path: str, methods: tuple[str, ...], who: Who, unit: Unit, refused: View | None,
        upload: str | None = None,
    ) -> Callable[[View], View]:
        def decorator(view: View) -> View:
            self.specs.append(PageSpec(path, methods, view, who, unit, refused, upload))
            return view

        return decorator

    def get(self, path: str, *, who: Who = "customer", unit: Unit = "auto") -> Callable[
        [View], View
    ]:
        return self._register(path, ("GET",), who, unit, None)

    def post(
        self, path: str, *, who: Who = "customer", unit: Unit = "auto",
        refused: View | None = None, upload: str | None = None,
    ) -> Callable[[View], View]:
        """``upload``: the name of the one file field this page accepts (bounded by
        ``MAX_UPLOAD_BYTES``; the view reads it from ``ctx.files``)."""
        return self._register(path, ("POST",), who, unit, refused, upload)

    def routes(self, web: Web) -> list[Route]:
        return [
            Route(spec.path, partial(_endpoint, web, spec), methods=list(spec.methods))
            for spec in self.specs
        ]


def visitor_language(web: Web, request: Request) -> str:
    """Before the visitor is known: the language picked in the switch (a cookie), else the
    browser's ``Accept-Language``, else the panel's default. ``_admit`` then lets a
    logged-in account's own language win."""
    enabled = enabled_languages(web)
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in enabled:
        return chosen
    header = request.headers.get("accept-language", "")
    return from_accept_language(header, default=panel_default_language(web), enabled=enabled)


class UploadTooLarge(FormRefused):
    """The one file a page takes is larger than ``MAX_UPLOAD_BYTES``."""


async def read_form(request: Request, upload: str | None = None
                    ) -> tuple[dict[str, str], dict[str, bytes]]:
    """The form fields of a POST, bounded in size, and the file of the field ``upload``
    (a page's opt-in); any other file is refused."""
    limit = MAX_FORM_BYTES + (MAX_UPLOAD_BYTES if upload else 0)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise UploadTooLarge() if upload else FormRefused()
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise UploadTooLarge() if upload else FormRefused()

    async def replay() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(request.scope, replay).form(
            max_files=1 if upload else 0, max_fields=MAX_FORM_FIELDS
        )
    except Exception:  # noqa: BLE001 - any unreadable form is the client's error
        raise FormRefused() from None
    fields: dict[str, str] = {}
    files: dict[str, bytes] = {}
    try:
        for key, value in form.multi_items():
            if isinstance(value, str):
                if key not in fields:
                    fields[key] = value.replace("\x00", "")
            elif key != upload:
                raise FormRefused()
            else:
                data = await value.read(MAX_UPLOAD_BYTES + 1)
                if len(data) > MAX_UPLOAD_BYTES:
                    raise UploadTooLarge()
                files[key] = data
    finally:
        await form.close()
    return fields, files


def ids_in_range(request: Request) -> bool:
    """Whether every ``{name:int}`` of the path can name a row: a larger number cannot even
    be bound on PostgreSQL (32-bit ids) nor on SQLite (64-bit), so no view ever sees one."""
    return all(
        0 <= value <= MAX_ID
        for value in request.path_params.values()
        if isinstance(value, int)
    )


async def _endpoint(web: Web, spec: PageSpec, request: Request) -> Response:
    if not ids_in_range(request):
        return PlainError.response(web, request, 404, "This page does not exist.")
    files: dict[str, bytes] = {}
    try:
        form: dict[str, str] = {}
        if request.method == "POST":
            form, files = await read_form(request, spec.upload)
    except UploadTooLarge:
        return PlainError.response(web, request, 413, N_("The file is too large (at most 2 MB)."))
    except FormRefused:
        return PlainError.response(web, request, 400, N_("The form could not be read."))
    try:
        return await anyio.to_thread.run_sync(
            partial(_run, web, spec, request, form, files), limiter=web.limiter
        )
    except Exception:
        # Logged with its context; the visitor sees an error page, never a traceback.
        log.exception("page %s %s failed", request.method, request.url.path)
        return PlainError.response(web, request, 500, N_("Something went wrong on our side."))


@contextmanager
def _unit(web: Web, spec: PageSpec, method: str) -> Iterator[Session | None]:
    kind = spec.unit if spec.unit != "auto" else ("write" if method == "POST" else "read")
    if kind == "write":
        with web.db.write() as session:
            yield session
    else:
        with web.db.read() as session:
            yield session


def _new_ctx(web: Web, request: Request, form: dict[str, str],
             files: dict[str, bytes] | None = None) -> Ctx:
    return Ctx(
        request=request,
        web=web,
        form=form,
        files=files or {},
        lang=visitor_language(web, request),
        session_token=request.cookies.get(SESSION_COOKIE) or None,
        anon=request.cookies.get(ANON_COOKIE) or None,
    )


def _admit(ctx: Ctx, spec: PageSpec, session: Session) -> Response | None:
    """Find the visitor; the response that turns them away, or None to go on."""
    ctx.session = session
    ctx.user = sessions.session_user(session, ctx.session_token)
    if ctx.user is not None and ctx.user.language in enabled_languages(ctx.web):
        ctx.lang = ctx.user.language  # the account's own language wins after log-in
    if _closed_for_maintenance(ctx, session):
        from opensmm.web.branding import maintenance_page

        return maintenance_page(ctx)
    if ctx.user is None:
        if ctx.session_token:
            ctx.set_cookie(SESSION_COOKIE, "", 0)  # expired or ended elsewhere
        ctx.session_token = None
        if spec.who == "anyone":
            return None
        wanted = ctx.request.url.path
        if ctx.request.url.query:
            wanted += "?" + ctx.request.url.query
        if ctx.request.method == "GET":
            return ctx.redirect("/login?" + urlencode({"next": wanted}))
        return ctx.redirect("/login")
    if spec.who == "staff" and not ctx.user.is_admin:
        return ctx.render("forbidden.html", status_code=403)
    if spec.who == "staff" and _must_enrol(session, ctx.user.id):
        # Here, where every staff page is admitted, not in each view: no staff page, GET or
        # POST, opens before the staff member has set up two-factor log-in.
        ctx.flash("error", ctx.t(
            "This panel requires two-factor log-in for staff: set it up to open the staff "
            "pages."
        ))
        return ctx.redirect(ENROL_PATH)
    return None


ENROL_PATH = "/account/2fa"
# Open while maintenance is on: the log-in (staff must get in), the language switch, and
# the return from a payment gateway (it captures money the customer has already approved).
MAINTENANCE_OPEN = frozenset({"/login", "/login/code", "/logout"})


def _closed_for_maintenance(ctx: Ctx, session: Session) -> bool:
    if ctx.user is not None and ctx.user.is_admin:
        return False
    path = ctx.request.url.path
    if path in MAINTENANCE_OPEN or path.startswith("/lang/") or (
        path.startswith("/funds/payments/") and path.endswith("/return")
    ):
        return False
    return panel_settings.maintenance(session)


def _must_enrol(session: Session, user_id: int) -> bool:
    return panel_settings.staff_2fa_required(session) and not twofactor.is_enabled(
        session, user_id
    )


def _run(web: Web, spec: PageSpec, request: Request, form: dict[str, str],
         files: dict[str, bytes] | None = None) -> Response:
    ctx = _new_ctx(web, request, form, files)
    if request.method == "POST":
        binding = ctx.session_token or ctx.anon
        if not csrf_valid(web.secret.get(), binding, form.get("csrf")):
            return _finish(ctx, _expired_form(ctx))
    try:
        if spec.unit == "none":
            # The view opens its own units of work (one per line of a mass order, ...).
            with web.db.read() as session:
                refusal = _admit(ctx, spec, session)
            ctx.session = None
            return _finish(ctx, refusal or spec.view(ctx))
        with _unit(web, spec, request.method) as session:
            assert session is not None
            refusal = _admit(ctx, spec, session)
            return _finish(ctx, refusal or spec.view(ctx))
    except DomainError as exc:
        # The unit of work has been rolled back: nothing of the refused action remains.
        return _finish(ctx, _show_refusal(ctx, spec, exc))


def _show_refusal(ctx: Ctx, spec: PageSpec, exc: DomainError) -> Response:
    """A page that cannot be shown answers 404 (or 400) with the reason; a refused form is
    shown again by its ``refused`` view, or the reason is flashed on the previous page."""
    message = ctx.t.error(exc)
    if ctx.request.method == "GET":
        status = 404 if isinstance(exc, NotFound) else 400
        return PlainError.response(ctx.web, ctx.request, status, message)
    if spec.refused is not None:
        try:
            with ctx.web.db.read() as session:
                ctx.session = session
                ctx.user = sessions.session_user(session, ctx.session_token)
                ctx.error = message
                response = spec.refused(ctx)
                response.status_code = 400
                return response
        except DomainError:
            pass  # the form's own page cannot be shown either (its record is gone)
    ctx.error = None
    ctx.flash("error", message)
    return ctx.back(referer_path(ctx.request))


def _expired_form(ctx: Ctx) -> Response:
    """A form without a valid CSRF token (expired, or posted from another site)."""
    ctx.error = ctx.t("This form has expired or did not come from this site. Please try again.")
    with ctx.web.db.read() as session:
        ctx.session = session
        ctx.user = sessions.session_user(session, ctx.session_token)
        if ctx.user is None:
            ctx.session_token = None
        return ctx.render("forbidden.html", status_code=403, reason="csrf")


def served_over_https(request: Request, trusted_proxies: frozenset[str]) -> bool:
    """HTTPS to us, or to a trusted reverse proxy that says so (``X-Forwarded-Proto``)."""
    return is_https(request.scope, trusted_proxies)


def _finish(ctx: Ctx, response: Response) -> Response:
    secure = served_over_https(ctx.request, ctx.web.trusted_proxies)
    for cookie in ctx.cookies:
        if cookie.max_age == 0:
            response.delete_cookie(
                cookie.name, path="/", secure=secure, httponly=cookie.http_only, samesite="lax"
            )
        else:
            response.set_cookie(
                cookie.name,
                cookie.value,
                max_age=cookie.max_age,
                path="/",
                secure=secure,
                httponly=cookie.http_only,
                samesite="lax",
            )
    if "cache-control" not in response.headers:
        # Pages show balances and keys: never keep them in a shared or back-button cache.
        response.headers["cache-control"] = "no-store"
    return response


class PlainError:
    """Error pages rendered without the database (404, 405, 400, 500)."""

    @staticmethod
    def response(web: Web, request: Request, status: int, message: str) -> HTMLResponse:
        lang = language(visitor_language(web, request))
        translate = Translator(lang)
        panel = panel_settings.last_known(web.db)
        html = web.templates.get_template("error.html").render(
            brand=brand_of(panel),
            _=translate,
            gettext=translate.gettext,
            ngettext=translate.ngettext,
            _n=translate.ngettext,
            lang=lang,
            languages=offered(panel["languages"]),
            panel_name=panel["panel_name"],
            user=None,
            csrf="",
            flashes=[],
            status=status,
            message=translate(message),
            path=request.url.path,
            query_with=partial(query_with, request),
            currency=web.settings.currency,
            ctx=None,
        )
        return HTMLResponse(html, status_code=status, headers={"cache-control": "no-store"})
