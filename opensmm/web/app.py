"""Builds the Starlette app for the customer pages and the back office.

Everything a page needs is served from here (stylesheet, script, icon): no CDN, so the
panel works offline and its Content-Security-Policy can allow only itself.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import anyio
import jinja2
from jinja2.runtime import Context
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opensmm.db import Database
from opensmm.i18n import N_, formatting
from opensmm.i18n.languages import DEFAULT_LANGUAGE
from opensmm.i18n.translate import Translator
from opensmm.security.network import parse_trusted_proxies
from opensmm.settings import Settings
from opensmm.web.context import Web
from opensmm.web.framework import Pages, PlainError
from opensmm.web.secret import SecretKey

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        b"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


class SecurityHeaders:
    """Adds the headers above to every page (the API endpoint does not pass through here)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(n, v) for n, v in SECURITY_HEADERS if n not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _static_version() -> str:
    """A hash of the static files, appended to their URLs so browsers fetch new versions."""
    digest = hashlib.sha256()
    for path in sorted(STATIC.rglob("*")):
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def template_environment(settings: Settings) -> jinja2.Environment:
    """Templates translate with ``_("…", name=value)`` and ``_n("{n} order", "{n} orders",
    n)`` (the visitor's ``Translator``, passed with each render; ``jinja2.ext.i18n`` makes
    ``{% trans %}`` use the same callables) and format with the filters below, each in the
    visitor's language: ``money``, ``decimal``, ``number``, ``when``."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    english = Translator("en")
    env.install_gettext_callables(  # type: ignore[attr-defined]
        english.gettext, english.ngettext, newstyle=True
    )
    currency = settings.currency

    def code(context: Context) -> str:
        lang = context.get("lang")
        return str(getattr(lang, "code", DEFAULT_LANGUAGE))

    @jinja2.pass_context
    def money(context: Context, amount: Decimal | None) -> str:
        return "" if amount is None else formatting.money(amount, currency, code(context))

    @jinja2.pass_context
    def decimal(context: Context, value: Decimal | None, min_places: int = 2) -> str:
        if value is None:
            return ""
        return formatting.decimal(value, code(context), min_places=min_places)

    @jinja2.pass_context
    def number(context: Context, value: int | None) -> str:
        return "" if value is None else formatting.number(value, code(context))

    @jinja2.pass_context
    def when(context: Context, moment: datetime | None) -> Markup:
        if moment is None:
            return Markup("")
        return Markup('<time datetime="{}">{}</time>').format(
            moment.strftime("%Y-%m-%dT%H:%MZ"), formatting.when(moment, code(context))
        )

    env.filters["money"] = money
    env.filters["plain_money"] = decimal  # a figure without the panel's currency
    env.filters["decimal"] = decimal
    env.filters["number"] = number
    env.filters["when"] = when
    env.filters["status_class"] = lambda status: str(status).lower().replace(" ", "-")
    env.globals["static_version"] = _static_version()
    return env


def build(
    db: Database, settings: Settings, extra_routes: list[BaseRoute] | None = None
) -> Starlette:
    from opensmm.admin.pages import all_pages as admin_pages
    from opensmm.web import (
        account,
        affiliates,
        auth,
        branding,
        funds,
        news,
        notifications,
        orders,
        recovery,
        tickets,
        twofactor,
    )
    from opensmm.web.callbacks import callback_routes

    web = Web(
        db=db,
        settings=settings,
        templates=template_environment(settings),
        secret=SecretKey(db, settings.secret_key),
        limiter=anyio.CapacityLimiter(settings.db_threads),
        trusted_proxies=parse_trusted_proxies(settings.trusted_proxies),
    )
    collections: list[Pages] = [
        auth.pages, recovery.pages, account.pages, funds.pages, orders.pages,
        twofactor.pages, tickets.pages, news.pages, affiliates.pages,
        notifications.pages, branding.pages, *admin_pages()
    ]
    routes: list[BaseRoute] = list(extra_routes or [])
    routes += callback_routes(web)
    routes += branding.branding_routes(web)
    for pages in collections:
        routes += pages.routes(web)
    routes.append(Mount("/static", StaticFiles(directory=STATIC), name="static"))

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        messages = {
            404: N_("This page does not exist."),
            405: N_("This page does not accept that."),
        }
        message = messages.get(status, N_("Something went wrong on our side."))
        return PlainError.response(web, request, status, message)

    app = Starlette(
        routes=routes,
        exception_handlers={404: http_error, 405: http_error, 500: http_error},
    )
    app.state.web = web
    return SecurityHeaders(app)  # type: ignore[return-value]
