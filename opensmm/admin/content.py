"""Staff → Content: the public texts (home page, terms, privacy, refund policy, FAQ), one
per language, written in Markdown, previewed as visitors will see them, then saved."""

from __future__ import annotations

from starlette.responses import Response

from opensmm.admin.users import staff
from opensmm.branding import content
from opensmm.errors import NotFound
from opensmm.i18n import N_
from opensmm.web.context import Ctx
from opensmm.web.framework import Pages
from opensmm.web.i18n import LANGUAGES

pages = Pages()


def _page(ctx: Ctx) -> tuple[str, str]:
    slug, language = str(ctx.request.path_params["slug"]), str(ctx.request.path_params["lang"])
    if slug not in content.PAGES or language not in LANGUAGES:
        raise NotFound(N_("This page does not exist."))
    return slug, language


@pages.get("/admin/content", who="staff")
def content_list(ctx: Ctx) -> Response:
    return ctx.render("admin/content.html", pages=content.PAGES, all_languages=LANGUAGES,
                      written=content.written(ctx.db))


@pages.get("/admin/content/{slug}/{lang}", who="staff")
def content_editor(ctx: Ctx) -> Response:
    slug, language = _page(ctx)
    body = ctx.field("body")[: content.MAX_BODY + 1] if ctx.form else content.source(
        ctx.db, slug, language
    )
    return ctx.render("admin/content_edit.html", slug=slug, page_language=LANGUAGES[language],
                      title=content.PAGES[slug][1], body=body, preview=None)


@pages.post("/admin/content/{slug}/{lang}", who="staff", refused=content_editor)
def content_save(ctx: Ctx) -> Response:
    slug, language = _page(ctx)
    body = ctx.field("body")
    if ctx.field("action") == "preview":
        text = content.clean_body(body)
        return ctx.render("admin/content_edit.html", slug=slug,
                          page_language=LANGUAGES[language], title=content.PAGES[slug][1],
                          body=text, preview=content.render(text))
    content.save(ctx.db, slug, language, body, staff(ctx))
    ctx.flash("ok", ctx.t("Page saved."))
    return ctx.redirect(f"/admin/content/{slug}/{language}")
