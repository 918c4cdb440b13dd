"""Customer pages for news: staff announcements, and the catalog's updates."""

from __future__ import annotations

from starlette.responses import Response

from opensmm.catalog import updates
from opensmm.db.pagination import page_number
from opensmm.i18n import N_
from opensmm.news import service as news
from opensmm.web.context import Ctx
from opensmm.web.framework import Pages

pages = Pages()

UPDATE_LABELS = {
    updates.NEW: N_("New service"),
    updates.RATE: N_("Rate changed"),
    updates.DISABLED: N_("Disabled"),
    updates.ENABLED: N_("Enabled again"),
}


def default_language(ctx: Ctx) -> str:
    return str(ctx.panel_settings()["default_language"])


@pages.get("/news")
def news_page(ctx: Ctx) -> Response:
    page = news.page_of(ctx.db, ctx.lang, default_language(ctx), page_number(ctx.arg("page")))
    return ctx.render("news.html", page=page)


@pages.get("/updates")
def updates_page(ctx: Ctx) -> Response:
    page = news.catalog_updates(ctx.db, page_number(ctx.arg("page")))
    return ctx.render("updates.html", page=page, labels=UPDATE_LABELS)
