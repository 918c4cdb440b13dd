"""What the owner's branding serves: ``/theme.css``, the logo and favicon, the content
pages (terms, privacy, refund policy, FAQ), and the maintenance page.

The stylesheet and the pictures are answered outside the page machinery: no session, no
unit of work held open, and caching headers (an ETag, revalidated) instead of ``no-store``.
"""

from __future__ import annotations

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from opensmm.branding import assets, content, theme
from opensmm.panel_settings import service as panel_settings
from opensmm.panel_settings.registry import DEFAULT_MAINTENANCE_MESSAGE
from opensmm.web.context import Ctx, Web
from opensmm.web.framework import Pages

pages = Pages()

RETRY_AFTER_SECONDS = 300
# Cached by browsers and proxies for a while, then revalidated with the ETag; the pages
# link each with its hash in the URL, so a change shows at once anyway.
CACHE = "public, max-age=300"


def _cached(request: Request, body: bytes, etag: str, media_type: str) -> Response:
    quoted = f'"{etag}"'
    headers = {"etag": quoted, "cache-control": CACHE}
    if quoted in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


def branding_routes(web: Web) -> list[Route]:
    async def theme_css(request: Request) -> Response:
        def read() -> tuple[str, str]:
            with web.db.read() as session:
                values = panel_settings.values(session)
            return theme.stylesheet(values), theme.brand_of(values).theme

        css, etag = await anyio.to_thread.run_sync(read, limiter=web.limiter)
        return _cached(request, css.encode(), etag, "text/css; charset=utf-8")

    async def picture(request: Request) -> Response:
        name = str(request.path_params["name"])

        def read() -> assets.Asset | None:
            with web.db.read() as session:
                return assets.load(session, name)

        found = await anyio.to_thread.run_sync(read, limiter=web.limiter)
        if found is None:
            return Response("not found", status_code=404, media_type="text/plain",
                            headers={"cache-control": "no-store"})
        response = _cached(request, found.data, found.etag, found.content_type)
        response.headers["content-disposition"] = "inline"
        return response

    return [
        Route("/theme.css", theme_css, methods=["GET", "HEAD"]),
        Route("/branding/{name}", picture, methods=["GET", "HEAD"]),
    ]


def maintenance_page(ctx: Ctx) -> Response:
    """503 with Retry-After, in the visitor's language (the owner's own words, or ours)."""
    message = str(ctx.panel_settings()["maintenance_message"])
    if message == DEFAULT_MAINTENANCE_MESSAGE:
        message = ctx.t(DEFAULT_MAINTENANCE_MESSAGE)
    response = ctx.render("maintenance.html", status_code=503, message=message)
    response.headers["retry-after"] = str(RETRY_AFTER_SECONDS)
    return response


def _content_page(slug: str) -> None:
    path, title = content.PAGES[slug]

    def view(ctx: Ctx) -> Response:
        page = content.shown(ctx.db, slug, ctx.lang, panel_settings.default_language(ctx.db))
        if page is None:
            return ctx.render("error.html", status_code=404, status=404,
                              message=ctx.t("This page does not exist."))
        return ctx.render("content.html", page=page, title=ctx.t(title))

    view.__name__ = f"content_{slug}"
    pages.get(path, who="anyone")(view)


for _slug in content.FOOTER:
    _content_page(_slug)
