"""Staff pages for announcements: write one in each enabled language, delete one."""

from __future__ import annotations

from starlette.responses import Response

from opensmm.admin.users import staff
from opensmm.db.pagination import page_number
from opensmm.i18n.languages import LANGUAGES
from opensmm.news import service as news
from opensmm.web.context import Ctx
from opensmm.web.framework import Pages

pages = Pages()


def _languages(ctx: Ctx) -> list[str]:
    settings = ctx.panel_settings()
    enabled = [code for code in settings["languages"] if code in LANGUAGES]
    default = str(settings["default_language"])
    return [default, *[code for code in enabled if code != default]]


@pages.get("/admin/news", who="staff")
def news_list(ctx: Ctx) -> Response:
    codes = _languages(ctx)
    return ctx.render(
        "admin/news.html",
        page=news.all_announcements(ctx.db, page_number(ctx.arg("page"))),
        forms=[(LANGUAGES[code], ctx.field(f"title_{code}"), ctx.field(f"body_{code}"))
               for code in codes],
        default_language=codes[0],
        language_names={code: language.name for code, language in LANGUAGES.items()},
        limits={"title": news.TITLE_MAX, "body": news.BODY_MAX},
    )


@pages.post("/admin/news", who="staff", refused=news_list)
def post(ctx: Ctx) -> Response:
    codes = _languages(ctx)
    texts = {code: (ctx.field(f"title_{code}"), ctx.field(f"body_{code}")) for code in codes}
    row = news.post(ctx.db, staff(ctx), texts, codes[0])
    ctx.flash("ok", ctx.t("Announcement {id} posted.", id=row.id))
    return ctx.redirect("/admin/news")


@pages.post("/admin/news/{announcement_id:int}/delete", who="staff")
def delete(ctx: Ctx) -> Response:
    news.delete(ctx.db, staff(ctx), ctx.path_int("announcement_id"))
    ctx.flash("ok", ctx.t("Announcement deleted."))
    return ctx.redirect("/admin/news")
