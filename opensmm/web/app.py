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
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opensmm.db import Database
from opensmm.money import format_money
from opensmm.security.network import parse_trusted_proxies
from opensmm.settings import Settings
from opensmm.web.context import Web
from opensmm.web.framework import Pages, PlainError
from opensmm.web.secret import SecretKey

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
CURRENCY_SIGNS = {"USD": "$", "EUR": "€", "GBP": "£"}

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
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    sign = CURRENCY_SIGNS.get(settings.currency)

    def money(amount: Decimal | None) -> str:
        if amount is None:
            return ""
        text = format_money(amount)
        if sign is None:
            return f"{text} {settings.currency}"
        return f"-{sign}{text[1:]}" if text.startswith("-") else f"{sign}{text}"

    def when(moment: datetime | None) -> Markup:
        # Left to right also in Arabic pages, or the time would come before the date.
        if moment is None:
            return Markup("")
        return Markup('<bdi dir="ltr">{}</bdi>').format(moment.strftime("%Y-%m-%d %H:%M"))

    env.filters["money"] = money
    env.filters["plain_money"] = format_money
    env.filters["when"] = when
    env.filters["status_class"] = lambda status: str(status).lower().replace(" ", "-")
    env.globals["static_version"] = _static_version()
    return env


def build(
    db: Database, settings: Settings, extra_routes: list[BaseRoute] | None = None
) -> Starlette:
    from opensmm.admin.pages import all_pages as admin_pages
    from opensmm.web import account, auth, orders

    web = Web(
        db=db,
        settings=settings,
        templates=template_environment(settings),
        secret=SecretKey(db, settings.secret_key),
        limiter=anyio.CapacityLimiter(settings.db_threads),
        trusted_proxies=parse_trusted_proxies(settings.trusted_proxies),
    )
    collections: list[Pages] = [auth.pages, account.pages, orders.pages, *admin_pages()]
    routes: list[BaseRoute] = list(extra_routes or [])
    for pages in collections:
        routes += pages.routes(web)
    routes.append(Mount("/static", StaticFiles(directory=STATIC), name="static"))

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        message = {404: "This page does not exist.", 405: "This page does not accept that."}.get(
            status, "Something went wrong on our side."
        )
        return PlainError.response(web, request, status, message)

    app = Starlette(
        routes=routes,
        exception_handlers={404: http_error, 405: http_error, 500: http_error},
    )
    app.state.web = web
    return SecurityHeaders(app)  # type: ignore[return-value]
