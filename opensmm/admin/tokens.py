"""Staff page for the admin API's tokens: who made which, their scope, revoking one.
(Tokens are made on the server, ``opensmm admin-token create``: a page would show a secret.)"""

from __future__ import annotations

from starlette.responses import Response

from opensmm.admin.users import staff
from opensmm.adminapi import tokens
from opensmm.web.context import Ctx
from opensmm.web.framework import Pages

pages = Pages()


@pages.get("/admin/tokens", who="staff")
def token_list(ctx: Ctx) -> Response:
    return ctx.render("admin/tokens.html", tokens=tokens.all_tokens(ctx.db))


@pages.post("/admin/tokens/{token_id:int}/revoke", who="staff")
def revoke(ctx: Ctx) -> Response:
    row = tokens.revoke(ctx.db, staff(ctx), ctx.path_int("token_id"))
    ctx.flash("ok", ctx.t("Admin token {name} revoked.", name=row.name))
    return ctx.redirect("/admin/tokens")
