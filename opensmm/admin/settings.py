"""Staff → Settings: every panel setting, shown and changed through the one service; the
logo and favicon are uploaded here too."""

from __future__ import annotations

from starlette.responses import Response

from opensmm.admin.users import staff
from opensmm.branding import assets
from opensmm.panel_settings import service as panel_settings
from opensmm.panel_settings.registry import SETTINGS, get_setting
from opensmm.web.context import Ctx
from opensmm.web.framework import Pages

pages = Pages()


@pages.get("/admin/settings", who="staff")
def settings_page(ctx: Ctx) -> Response:
    values = panel_settings.values(ctx.db)
    shown = {name: setting.show(values[name]) for name, setting in SETTINGS.items()}
    failed = ""
    if ctx.error is not None and ctx.field("name") in SETTINGS:
        failed = ctx.field("name")
        if SETTINGS[failed].kind != "image":
            shown[failed] = ctx.field("value")[:2000]  # what was typed, to be corrected
    return ctx.render("admin/settings.html", settings=SETTINGS.values(), shown=shown,
                      failed=failed)


@pages.post("/admin/settings", who="staff", refused=settings_page)
def change_setting(ctx: Ctx) -> Response:
    name = ctx.field("name")
    setting = get_setting(name)
    value = panel_settings.set_value(ctx.db, name, ctx.field("value"), staff(ctx))
    ctx.flash("ok", ctx.t("{name} set to {value}.", name=name, value=setting.show(value)))
    return ctx.redirect("/admin/settings")


@pages.post("/admin/settings/picture", who="staff", refused=settings_page, upload="file")
def change_picture(ctx: Ctx) -> Response:
    """Upload the logo or the favicon (checked by its bytes), or remove it."""
    name = ctx.field("name")
    if ctx.field("action") == "remove":
        assets.remove(ctx.db, name, staff(ctx))
        ctx.flash("ok", ctx.t("{name} removed.", name=name))
    else:
        assets.store(ctx.db, name, ctx.files.get("file", b""), staff(ctx))
        ctx.flash("ok", ctx.t("{name} uploaded.", name=name))
    return ctx.redirect("/admin/settings#setting-" + name)
